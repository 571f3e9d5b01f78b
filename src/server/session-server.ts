/**
 * The receipt-session MCP server (`mcp-attest serve`, docs/session.md): an agent records
 * what it does for a delegator as a signed, chained receipt session in this data
 * directory's log, over MCP tools (`start_session`, `record_action`, `record_approval`,
 * `record_counterparty_confirmation`, `finalize_session`, `verify_session`,
 * `attach_approval`, `attach_counterparty_confirmation`: tools.ts) and reads sessions and
 * their receipts as resources (`mcp-attest://sessions...`: resources.ts). Built on the
 * official SDK v1 `McpServer`; transport-agnostic (the CLI connects it to stdio).
 *
 * Tool errors are results, never protocol errors: every `AttestError` becomes
 * `{isError: true, content: [{type: 'text', text: '<CODE>: <message>'}], structuredContent:
 * {code, message}}`; any other exception is reported as `ERR_STORE_IO`. Because the v1
 * SDK client validates `structuredContent` against a tool's `outputSchema` even on error
 * results, every advertised output schema admits both shapes (tools.ts `outputSchema`).
 * Nothing here writes to stdout or stderr, and no file name is ever derived from a session
 * id or an action name.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { SessionHome } from '../store/session-export.js';
import { registerSessionTools } from './tools.js';
import { registerSessionResources } from './resources.js';
import type { SessionAccess } from '../store/session-owners.js';

/** Server name and version reported in `initialize`. */
export const SERVER_INFO = { name: 'mcp-attest-sessions', version: '0.1.0' } as const;

/** What the tools and resources share: the data directory and its open session home. */
export interface SessionServerContext {
  /** The data directory (for its identity and witness list). */
  home: string;
  /** The open session home (log, keys, session store). */
  sessions: SessionHome;
  /** Called after every append, so a checkpoint follows soon (see {@link SessionServerOptions.checkpointMs}). */
  changed(): void;
  /** The sessions this client may use (over HTTP: those its principal started, store/session-owners.ts); absent: every session of the directory. */
  access?: SessionAccess;
}

/** Options of {@link createSessionServer}. */
export interface SessionServerOptions {
  /** Sign a checkpoint this long after the first uncheckpointed append (ms, default 1000). */
  checkpointMs?: number;
  /** Called with a failure of a background checkpoint (default: ignored; the next one retries). */
  onCheckpointError?: (e: unknown) => void;
  /** The sessions this server's client may use, and where the ones it starts are recorded as its own (default: every session). */
  access?: SessionAccess;
}

const INSTRUCTIONS = [
  'Receipt sessions: a signed, hash-chained record of what you do for a delegator, verifiable offline.',
  'Call start_session once per task, record_action after each step (or route tool calls through `mcp-attest proxy --session ID`),',
  'record_approval / record_counterparty_confirmation when a party agrees, then finalize_session. verify_session checks the result;',
  'the receipt to hand over is the resource mcp-attest://sessions/{sessionId}/receipt. Errors are tool results whose text starts with an ERR_ code.',
].join(' ');

/**
 * Build the server over an open session home (closing it stays the caller's job): the eight
 * session tools and the session resources. Returns the server (connect it to a transport) and `flush`, which
 * cancels a pending background checkpoint (call it before closing the home, whose close
 * writes the final one).
 */
export function createSessionServer(sessions: SessionHome, o: SessionServerOptions = {}): { server: McpServer; flush(): void } {
  const server = new McpServer(SERVER_INFO, { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS });
  let timer: NodeJS.Timeout | null = null;
  const changed = (): void => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      sessions.recorder.checkpoint().catch((e: unknown) => o.onCheckpointError?.(e));
    }, o.checkpointMs ?? 1000);
    timer.unref();
  };
  const ctx: SessionServerContext = { home: sessions.home, sessions, changed, ...(o.access ? { access: o.access } : {}) };
  registerSessionTools(server, ctx);
  registerSessionResources(server, ctx);
  return { server, flush: () => { if (timer !== null) clearTimeout(timer); timer = null; } };
}
