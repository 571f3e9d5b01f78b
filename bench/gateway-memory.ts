/**
 * Section 8.3 [gateway]: VmRSS and open file descriptors of a fresh gateway holding idle
 * sessions to its HTTP upstream (raw `initialize` and `notifications/initialized` POSTs,
 * then nothing), beside the same gateway with none.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { BenchSetup } from './gatekeeper.js';
import { AUTH_HEADERS, metric, startGateway, stopGateway, type GatewayProc } from './gateway-procs.js';
import { fdCount, rssKiB } from './spawned.js';

/** Idle sessions opened (and deleted) at once in the memory run. */
const OPEN_PARALLEL = 20;
/** Idle sessions opened and deleted before the 0-session reading. */
const MEMORY_WARMUP_SESSIONS = 10;
/** Wait before an RSS reading, ms. */
const SETTLE_MS = 2000;
/** Wait before the reading after all sessions were deleted, ms: past the 4 to 5 s keep-alive of the upstream connections they used. */
const DRAINED_MS = 6000;

/** One RSS reading of the memory run. */
export interface MemoryRow {
  state: string;
  /** Live conversations by the gateway's own `/metrics`. */
  live: number;
  rssKiB: number;
  /** Open file descriptors of the gateway process. */
  fds: number;
}

/** Headers of a POST to the gateway with the bench token. */
function postHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...AUTH_HEADERS, ...extra };
}

/** Open a legacy session on `url` (initialize, notifications/initialized) and leave it idle; its id. */
async function openIdleSession(url: string): Promise<string> {
  const init = await fetch(url, {
    method: 'POST', headers: postHeaders(),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench-idle', version: '1.0.0' } } }),
  });
  const sid = init.headers.get('mcp-session-id');
  const body = await init.text();
  if (init.status !== 200 || sid === null || !body.includes('"result"')) throw new Error(`bench: idle session: initialize answered HTTP ${init.status}: ${body.slice(0, 1000)}`);
  const version = /"protocolVersion":"([^"]+)"/.exec(body)?.[1] ?? LATEST_PROTOCOL_VERSION;
  const note = await fetch(url, {
    method: 'POST', headers: postHeaders({ 'mcp-session-id': sid, 'mcp-protocol-version': version }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  const text = await note.text();
  if (note.status !== 202) throw new Error(`bench: idle session: notifications/initialized answered HTTP ${note.status}: ${text.slice(0, 1000)}`);
  return sid;
}

/** Delete the session `sid` on `url`. */
async function deleteSession(url: string, sid: string): Promise<void> {
  const res = await fetch(url, { method: 'DELETE', headers: { ...AUTH_HEADERS, 'mcp-session-id': sid } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`bench: DELETE of a session answered HTTP ${res.status}: ${text.slice(0, 1000)}`);
}

/** Run `f` over `items`, {@link OPEN_PARALLEL} at a time. */
async function inParallel<T>(items: readonly T[], f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(OPEN_PARALLEL, items.length) }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

/** Open `n` idle sessions on `url`, {@link OPEN_PARALLEL} at a time; their ids. */
async function openIdleSessions(url: string, n: number): Promise<string[]> {
  const sids: string[] = [];
  await inParallel(Array.from({ length: n }, (_, i) => i), async () => { sids.push(await openIdleSession(url)); });
  return sids;
}

/** After `settleMs`: the gateway's live sessions, VmRSS and open file descriptors. */
async function reading(g: GatewayProc, state: string, settleMs = SETTLE_MS): Promise<MemoryRow> {
  await sleep(settleMs);
  return { state, live: await metric(g, 'mcp_attest_gateway_sessions'), rssKiB: rssKiB(g.spawned.pid), fds: fdCount(g.spawned.pid) };
}

/** Section 8.3 on a fresh gateway (`full`, to `remote`): 0 sessions (after a warm-up), `sessions` idle ones, all deleted. */
export async function measureMemory(s: BenchSetup, remote: string, sessions: number, problems: string[]): Promise<MemoryRow[]> {
  const g = await startGateway(s, 'memory', 'full', remote);
  const url = `${g.base}/remote/mcp`;
  try {
    const warm = await openIdleSessions(url, MEMORY_WARMUP_SESSIONS);
    await inParallel(warm, (sid) => deleteSession(url, sid));
    const rows = [await reading(g, `0 sessions (after ${MEMORY_WARMUP_SESSIONS} opened and deleted)`)];
    const sids = await openIdleSessions(url, sessions);
    rows.push(await reading(g, `${sessions} idle sessions`));
    await inParallel(sids, (sid) => deleteSession(url, sid));
    rows.push(await reading(g, `all ${sessions} deleted (${DRAINED_MS / 1000} s later)`, DRAINED_MS));
    return rows;
  } finally {
    await stopGateway(g, problems);
  }
}
