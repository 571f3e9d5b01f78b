/**
 * An upstream's tool allow/deny list (docs/gateway.md): wildcard patterns (`*` any run of
 * characters, `?` one character, everything else literal, case-sensitive, matching the whole
 * name). A tool is allowed when it matches some `allow` pattern (or there is no `allow` list)
 * and no `deny` pattern. Hidden tools are cut from `tools/list` answers; calls to them are
 * refused before anything is logged or forwarded.
 */
import type { RpcMessage } from '../proxy/message.js';
import { hideTools } from '../pins/hide.js';

/** Longest tool name the gateway lets through, characters (a longer one is refused or hidden unmatched). */
export const MAX_TOOL_NAME = 512;

/**
 * `name` matches the wildcard `pattern` (code points; `*` any run, `?` one). Iterative, with
 * one backtrack point: at most |pattern| x |name| steps, never exponential.
 */
export function globMatch(pattern: string, name: string): boolean {
  const p = [...pattern], s = [...name];
  let pi = 0, si = 0, star = -1, mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** The allow/deny decision of an upstream's `tools` setting (allow everything when absent; a name over {@link MAX_TOOL_NAME} never). */
export function toolFilter(cfg: { allow?: string[] | undefined; deny?: string[] | undefined } | undefined): (name: string) => boolean {
  const allow = cfg?.allow ?? null;
  const deny = cfg?.deny ?? [];
  return (name) => name.length <= MAX_TOOL_NAME && (allow === null || allow.some((p) => globMatch(p, name))) && !deny.some((p) => globMatch(p, name));
}

/** A `tools/list` answer line without the tools `allowed` refuses (unchanged when it refuses none). */
export function filterTools(line: string, msg: RpcMessage, allowed: (name: string) => boolean): string {
  const tools = msg.result?.['tools'];
  if (!Array.isArray(tools)) return line;
  const hidden = new Set<string>();
  for (const t of tools) {
    const name = typeof t === 'object' && t !== null && !Array.isArray(t) ? t['name'] : undefined;
    if (typeof name === 'string' && !allowed(name)) hidden.add(name);
  }
  return hideTools(line, hidden);
}
