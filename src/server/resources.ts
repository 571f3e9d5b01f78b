/**
 * The resources of the receipt-session MCP server (session-server.ts), all JSON:
 *
 * | URI | content |
 * |---|---|
 * | `mcp-attest://sessions` | the sessions of this data directory: `[{sessionId, task, delegator, actionCount, sealed, created}]`, oldest first |
 * | `mcp-attest://sessions/{sessionId}` | one session's state: start, actions (seq, name, digest, log index), approvals, confirmations, seal |
 * | `mcp-attest://sessions/{sessionId}/receipt` | its session receipt (`mcp-attest/session-receipt@1`, evidence not disclosed), as `mcp-attest verify` takes it |
 *
 * Both templates list every session and complete `sessionId`. A read of anything that is not
 * a known session id (`/`, `..` included: ids are `ses_` and 22 base64url characters) is the
 * JSON-RPC error -32002 (resource not found) with `data.code` `ERR_SESSION_UNKNOWN`; other
 * failures are -32603 with the error code in `data.code`.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type ReadResourceResult, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { isAttestError } from '../errors.js';
import { statementDigest } from '../receipt/session.js';
import type { SessionRow, SessionStore } from '../store/sessions.js';
import type { SessionServerContext } from './session-server.js';
import { jsonText, usableSession } from './tools.js';

/** The URI of the session list. */
export const SESSIONS_URI = 'mcp-attest://sessions';
/** JSON-RPC error code of a resource that does not exist (MCP resources: "Resource not found"). */
export const RESOURCE_NOT_FOUND = -32002;

/** The URI of one session's state. */
export function sessionUri(sessionId: string): string {
  return `${SESSIONS_URI}/${sessionId}`;
}

/** The URI of one session's receipt. */
export function receiptUri(sessionId: string): string {
  return `${SESSIONS_URI}/${sessionId}/receipt`;
}

const JSON_TYPE = 'application/json';

/** A session row as listed. */
function listed(r: SessionRow): Record<string, unknown> {
  return { sessionId: r.session_id, task: r.task, delegator: r.delegator, actionCount: r.action_count, sealed: r.seal_idx !== null, created: r.created };
}

/**
 * The state of a session, from its logged statements: `{sessionId, task, delegator,
 * policyDigest, created, agentKeyId, sealed, start, actions, approvals, confirmations,
 * seal}`; log indexes are decimal strings, digests `sha256:<hex>`. Throws
 * `ERR_SESSION_UNKNOWN`.
 */
export function sessionState(store: SessionStore, sessionId: string): Record<string, unknown> {
  const row = store.row(sessionId);
  const state = {
    sessionId: row.session_id, task: row.task, delegator: row.delegator, policyDigest: row.policy_digest, created: row.created, agentKeyId: row.agent_key,
    sealed: row.seal_idx !== null, start: null as unknown, actions: [] as unknown[], approvals: [] as unknown[], confirmations: [] as unknown[], seal: null as unknown,
  };
  for (const { index, statement: s } of store.statements(sessionId)) {
    const at = { index: index.toString(), digest: statementDigest(s), iat: s.iat };
    if (s.kind === 'start') state.start = { ...at, genesis: s.genesis };
    else if (s.kind === 'action') state.actions.push({ seq: s.seq, name: s.name, ...at, summary: s.summary ?? null, evidence: s.evidence ?? null, call: s.call ?? null });
    else if (s.kind === 'seal') state.seal = { ...at, actionCount: s.actionCount, actionsDigest: s.actionsDigest };
    else {
      const target = 'seq' in s.target ? { seq: s.target.seq } : { seal: true };
      (s.kind === 'approval' ? state.approvals : state.confirmations).push({ party: s.party, declared: s.declared, decision: s.decision, target, signerKeyId: s.signer.keyId, note: s.note ?? null, ...at });
    }
  }
  return state;
}

/** The session id of a template read, checked (and this client's: tools.ts `usableSession`); a bad or unknown one is "resource not found". */
function sessionOf(ctx: SessionServerContext, uri: URL, value: string | string[] | undefined): string {
  try {
    return ctx.sessions.sessions.row(usableSession(ctx, Array.isArray(value) ? value[0] : value)).session_id;
  } catch (e) {
    throw resourceError(e, uri);
  }
}

/** A JSON-RPC error for a failed read, with the error code in `data.code`. */
function resourceError(e: unknown, uri: URL): McpError {
  if (e instanceof McpError) return e;
  const code = isAttestError(e) ? e.code : 'ERR_STORE_IO';
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'ERR_SESSION_UNKNOWN') return new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri.href.slice(0, 200)}: ${message}`, { code, uri: uri.href.slice(0, 200) });
  return new McpError(ErrorCode.InternalError, `${code}: ${message}`, { code });
}

function jsonContents(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: JSON_TYPE, text: jsonText(value, 2) }] };
}

/** Most sessions a list or a completion shows: the latest (one is read by its id whatever its age). */
export const MAX_LISTED_SESSIONS = 1000;

/**
 * The sessions this client may use (every one without an access rule), oldest first, at most
 * `limit` (the latest), with ids starting with `prefix`: the database finds them, so a list
 * costs what the client's own sessions cost, whatever others started.
 */
function visible(ctx: SessionServerContext, limit = MAX_LISTED_SESSIONS, prefix?: string): SessionRow[] {
  return ctx.sessions.sessions.list({ limit, ...(prefix !== undefined ? { prefix } : {}), ...(ctx.access !== undefined ? { owner: ctx.access.principal } : {}) });
}

/** A template listing every session the client may use as `uriOf(id)`, completing `sessionId` by prefix. */
function sessionTemplate(ctx: SessionServerContext, pattern: string, uriOf: (id: string) => string, describe: (r: SessionRow) => string): ResourceTemplate {
  return new ResourceTemplate(pattern, {
    list: () => coded(durably(ctx, () => ({
      resources: visible(ctx).map((r): Resource => ({ uri: uriOf(r.session_id), name: r.session_id, title: describe(r), mimeType: JSON_TYPE })),
    }))),
    complete: { sessionId: (value) => coded(durably(ctx, () => visible(ctx, 100, value).map((r) => r.session_id))) },
  });
}

const clip = (s: string, n = 80): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * `read()`, answered once what it read is on disk, as the writing tools are (tools.ts
 * `written`): once the syncs the tools asked for meanwhile have ended (`Recorder.settled`,
 * no sync of its own), so a statement is not shown as logged before its tool answers; after
 * a failed sync a read fails `ERR_STORE_IO` instead of showing what may be lost.
 */
async function durably<T>(ctx: SessionServerContext, read: () => T): Promise<T> {
  const value = read();
  await ctx.sessions.recorder.settled();
  return value;
}

/** `p`, its failure as the resource reads give theirs (code first: {@link resourceError}). */
function coded<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw resourceError(e, new URL(SESSIONS_URI));
  });
}

/** Register the session list, the session state template and the session receipt template. */
export function registerSessionResources(server: McpServer, ctx: SessionServerContext): void {
  const store = ctx.sessions.sessions;
  server.registerResource('sessions', SESSIONS_URI, {
    title: 'Receipt sessions',
    description: 'The receipt sessions of this data directory you may use (over HTTP: those your principal started), oldest first, the latest 1,000: id, task, delegator, action count, sealed or not.',
    mimeType: JSON_TYPE,
  }, async (uri) => {
    try {
      return await durably(ctx, () => jsonContents(uri, visible(ctx).map(listed)));
    } catch (e) {
      throw resourceError(e, uri);
    }
  });
  server.registerResource('session', sessionTemplate(ctx, `${SESSIONS_URI}/{sessionId}`, sessionUri, (r) => `Session: ${clip(r.task)}`), {
    title: 'Receipt session state',
    description: 'One session as logged: its start, its actions (seq, name, digest, log index), approvals and confirmations (signed or declared), and its seal.',
    mimeType: JSON_TYPE,
  }, async (uri, vars) => {
    const id = sessionOf(ctx, uri, vars['sessionId']);
    try {
      return await durably(ctx, () => jsonContents(uri, sessionState(store, id)));
    } catch (e) {
      throw resourceError(e, uri);
    }
  });
  server.registerResource('session-receipt', sessionTemplate(ctx, `${SESSIONS_URI}/{sessionId}/receipt`, receiptUri, (r) => `Receipt: ${clip(r.task)}`), {
    title: 'Session receipt',
    description: 'The session receipt to hand to the delegator, approvers or counterparties: the session\'s log entries with inclusion proofs under a freshly signed checkpoint (evidence not disclosed). Verify it offline with `mcp-attest verify FILE --trust POLICY`; it passes once the session is finalized.',
    mimeType: JSON_TYPE,
  }, async (uri, vars) => {
    const id = sessionOf(ctx, uri, vars['sessionId']);
    try {
      const { text } = await ctx.sessions.exportReceipt(id, { witness: false });
      return { contents: [{ uri: uri.href, mimeType: JSON_TYPE, text }] };
    } catch (e) {
      throw resourceError(e, uri);
    }
  });
}
