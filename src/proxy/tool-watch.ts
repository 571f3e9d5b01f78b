/**
 * Tool definition pinning as both proxies apply it (docs/tool-pinning.md): every
 * `tools/list` result is observed against the pins of one server; a definition that
 * changed since it was pinned is reported on stderr and recorded in `pins.db`, and, by
 * policy, `warn` (passes), `hide` (removed from the list the client sees) or `refuse`
 * (listed, but calls to it are refused with `ERR_TOOL_CHANGED` by the gatekeeper).
 */
import { isObject } from '../envelope/schema.js';
import { ToolPins, hideTools } from '../pins/tool-pins.js';
import type { ToolChangeAction } from '../gate/policy.js';
import type { RpcMessage } from './lines.js';
import { report } from './stdio-relay.js';

/** The pins of one server, seen through one proxy. */
export class ToolWatch {
  private readonly pins: ToolPins;

  /** `path`: the pins file; `serverKey()`: the key pins are kept under (the server fingerprint, which a client proxy may learn late). */
  constructor(path: string, private readonly serverKey: () => string, private readonly now: () => number) {
    this.pins = new ToolPins(path);
  }

  /** Observe a `tools/list` response; returns the line to relay (changed tools removed under `hide`). Never throws. */
  onList(line: string, msg: RpcMessage, action: ToolChangeAction): string {
    const tools = isObject(msg.result) && Array.isArray(msg.result['tools']) ? (msg.result['tools'] as unknown[]) : null;
    if (tools === null) return line;
    try {
      const seen = this.pins.observe(this.serverKey(), tools, this.now());
      for (const c of seen.changed) report(new Error(`tool ${c.name} changed since it was pinned (${c.pinnedDigest} -> ${c.seenDigest}); policy: ${action}; see mcp-attest tools diff`));
      const changed = new Set<string>();
      for (const t of tools) {
        const name = isObject(t) ? t['name'] : undefined;
        if (typeof name === 'string' && this.pins.status(this.serverKey(), name) === 'changed') changed.add(name);
      }
      return action === 'hide' && changed.size > 0 ? hideTools(line, changed) : line;
    } catch (e) {
      report(e);
      return line;
    }
  }

  /** True when the tool's last seen definition differs from its pin. */
  changed(name: string): boolean {
    try {
      return this.pins.status(this.serverKey(), name) === 'changed';
    } catch (e) {
      report(e);
      // Fail closed: a tool whose pin cannot be read counts as changed.
      return true;
    }
  }

  close(): void {
    this.pins.close();
  }
}
