/**
 * Remove named tools from a `tools/list` response line, touching nothing else: the
 * elements of `result.tools` are cut out of the text, so every other byte (the JSON-RPC
 * `id`, number spellings, escapes, key order, whitespace) reaches the client as sent. As
 * in `JSON.parse`, the last of duplicate members is the one that counts. Runtime-neutral.
 */
import { memberStart, skipValue, skipWs } from '../jcs/locate.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `[start, end)` of each element of the array opening at `open`, and the index past its `]`. */
function elements(text: string, open: number): { spans: Array<[number, number]>; end: number } {
  const spans: Array<[number, number]> = [];
  let i = skipWs(text, open + 1);
  while (i < text.length && text[i] !== ']') {
    const end = skipValue(text, i);
    spans.push([i, end]);
    i = skipWs(text, end);
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return { spans, end: i + 1 };
}

/** The line with the elements of `result.tools` flagged in `drop` cut out, or null if the text disagrees. */
function cut(line: string, drop: readonly boolean[]): string | null {
  const root = skipWs(line, 0);
  const result = line[root] === '{' ? memberStart(line, root, 'result') : -1;
  const tools = result >= 0 && line[result] === '{' ? memberStart(line, result, 'tools') : -1;
  if (tools < 0 || line[tools] !== '[') return null;
  const { spans, end } = elements(line, tools);
  if (spans.length !== drop.length) return null;
  const kept = spans.filter((_, i) => !drop[i]).map(([s, e]) => line.slice(s, e));
  return `${line.slice(0, tools)}[${kept.join(',')}]${line.slice(end)}`;
}

/** `msg.result.tools` when it is an array, else null. */
function toolsOf(msg: unknown): unknown[] | null {
  if (!isRecord(msg) || !isRecord(msg['result'])) return null;
  const tools = msg['result']['tools'];
  return Array.isArray(tools) ? tools : null;
}

/**
 * Given the exact text of a JSON-RPC response line to `tools/list`, return it with every
 * element of `result.tools` whose `name` (a string) is in `names` removed. When nothing is
 * removed (no such tool, no `result.tools` array, unparseable text, an empty `names`) the
 * input is returned unchanged, byte for byte. When something is removed, only the array is
 * rewritten (its kept elements verbatim, joined by `,`); should the text and its parse
 * ever disagree, the whole message is re-serialized with `JSON.stringify` instead, so a
 * named tool is never let through. Never throws. Does not check that the line answers a
 * `tools/list` request (the caller matches ids) and does not look inside batches.
 */
export function hideTools(line: string, names: ReadonlySet<string>): string {
  if (names.size === 0) return line;
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return line;
  }
  const tools = toolsOf(msg);
  if (tools === null) return line;
  const hidden = (t: unknown): boolean => isRecord(t) && typeof t['name'] === 'string' && names.has(t['name']);
  const drop = tools.map(hidden);
  if (!drop.includes(true)) return line;
  const kept = tools.filter((_, i) => !drop[i]);
  try {
    const text = cut(line, drop);
    const check = text === null ? null : toolsOf(JSON.parse(text));
    if (check !== null && check.length === kept.length && !check.some(hidden)) return text!;
  } catch { /* fall through to re-serialization */ }
  (msg as { result: { tools: unknown[] } }).result.tools = kept;
  let end = line.length; // keep the line's trailing whitespace (its newline), scanning backwards: linear time
  while (end > 0 && ' \t\r\n'.includes(line[end - 1]!)) end--;
  return JSON.stringify(msg) + line.slice(end);
}
