/**
 * Add one member to a nested object of a JSON text without re-serializing anything else:
 * every other byte of the message (number spellings, escapes, key order, integers beyond
 * 2^53, whitespace) reaches the other side exactly as it was sent. The text must already
 * be valid JSON (the relay has parsed it); member names are compared after unescaping and,
 * as in `JSON.parse`, the last of duplicate members is the one that counts.
 */

function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return i;
}

/** Index just past the JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
  if (text[i] === '"') return skipString(text, i);
  if (text[i] !== '{' && text[i] !== '[') {
    while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = skipString(text, i) - 1;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
  }
  return i;
}

/** Start index of the value of member `key` of the object opening at `open`, or -1. */
export function memberStart(text: string, open: number, key: string): number {
  let found = -1;
  let i = skipWs(text, open + 1);
  while (i < text.length && text[i] === '"') {
    const end = skipString(text, i);
    const name = JSON.parse(text.slice(i, end)) as string;
    const value = skipWs(text, skipWs(text, end) + 1);
    if (name === key) found = value;
    i = skipWs(text, skipValue(text, value));
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return found;
}

/** Insert `"key":<valueJson>` as the first member of the object opening at `open`. */
export function insertMember(text: string, open: number, key: string, valueJson: string): string {
  const empty = text[skipWs(text, open + 1)] === '}';
  return `${text.slice(0, open + 1)}${JSON.stringify(key)}:${valueJson}${empty ? '' : ','}${text.slice(open + 1)}`;
}

/**
 * Set `<outer>._meta[key] = value` in a JSON-RPC message text (`outer` is `params` or
 * `result`), creating `_meta` if absent. Returns null when `outer` is not an object, or
 * `_meta` is not one, or `key` is already there (nothing is ever replaced).
 */
export function addMeta(line: string, outer: 'params' | 'result', key: string, value: unknown): string | null {
  const root = skipWs(line, 0);
  if (line[root] !== '{') return null;
  const o = memberStart(line, root, outer);
  if (o < 0 || line[o] !== '{') return null;
  const m = memberStart(line, o, '_meta');
  if (m < 0) return insertMember(line, o, '_meta', JSON.stringify({ [key]: value }));
  if (line[m] !== '{' || memberStart(line, m, key) >= 0) return null;
  return insertMember(line, m, key, JSON.stringify(value));
}

/**
 * The exact text of the value at `path` (member names from the top-level object), or
 * undefined when a member on the way is absent or not an object. The text must be valid
 * JSON (the relay has parsed it). Used to hand the attestation to a strict parser as sent.
 */
export function memberText(line: string, path: readonly string[]): string | undefined {
  let at = skipWs(line, 0);
  for (const key of path) {
    if (line[at] !== '{') return undefined;
    at = memberStart(line, at, key);
    if (at < 0) return undefined;
  }
  return line.slice(at, skipValue(line, at));
}

/**
 * Set `path...key = value` in a JSON text, creating the objects of `path` that are absent,
 * changing nothing else. Returns null when an object on the way is not an object, or `key`
 * is already there (nothing is ever replaced).
 */
export function addNested(line: string, path: readonly string[], key: string, value: unknown): string | null {
  let at = skipWs(line, 0);
  for (let i = 0; i < path.length; i++) {
    if (line[at] !== '{') return null;
    const next = memberStart(line, at, path[i]!);
    if (next < 0) {
      let nested: unknown = { [key]: value };
      for (let j = path.length - 1; j > i; j--) nested = { [path[j]!]: nested };
      return insertMember(line, at, path[i]!, JSON.stringify(nested));
    }
    at = next;
  }
  if (line[at] !== '{' || memberStart(line, at, key) >= 0) return null;
  return insertMember(line, at, key, JSON.stringify(value));
}
