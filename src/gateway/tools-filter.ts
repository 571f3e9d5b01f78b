/**
 * An upstream's tool allow/deny list (docs/gateway.md): wildcard patterns (`*` any run of
 * characters, `?` one character, everything else literal, case-sensitive, matching the whole
 * name). A tool is allowed when it matches some `allow` pattern (or there is no `allow` list)
 * and no `deny` pattern. Hidden tools are cut from `tools/list` answers; calls to them are
 * refused before anything is logged or forwarded.
 */
import type { RpcMessage } from '../proxy/message.js';
import { hideTools } from '../pins/hide.js';

/** A matcher for one wildcard pattern. */
export function wildcard(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

/** The allow/deny decision of an upstream's `tools` setting (allow everything when absent). */
export function toolFilter(cfg: { allow?: string[] | undefined; deny?: string[] | undefined } | undefined): (name: string) => boolean {
  const allow = cfg?.allow?.map(wildcard) ?? null;
  const deny = (cfg?.deny ?? []).map(wildcard);
  return (name) => (allow === null || allow.some((r) => r.test(name))) && !deny.some((r) => r.test(name));
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
