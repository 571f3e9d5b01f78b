/**
 * Add one member to a nested object of a JSON text without re-serializing anything else:
 * every other byte of the message (number spellings, escapes, key order, integers beyond
 * 2^53, whitespace) reaches the other side exactly as it was sent. The text must already
 * be valid JSON (the relay has parsed it); member names are compared after unescaping and,
 * as in `JSON.parse`, the last of duplicate members is the one that counts.
 */
import { memberStart, skipValue, skipWs } from '../jcs/locate.js';

export { memberStart } from '../jcs/locate.js';

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
