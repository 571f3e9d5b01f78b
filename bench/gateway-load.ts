/**
 * Sections 8.1 and 8.2 [gateway]: latency (one SDK client per path, interleaved rounds) and
 * throughput (many clients at once) of the gateway beside direct paths and the raw HTTP
 * relay, and the log's own limit measured in the bench process (attested calls through a
 * `Recorder`, one-row SQLite commits).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Recorder } from '../src/proxy/recorder.js';
import { initHome } from '../src/store/identity.js';
import type { Durability } from '../src/store/log-db.js';
import { openSqlite } from '../src/store/sqlite.js';
import { TOOL, callArgs } from './agent.js';
import { DURABILITIES, type BenchSetup } from './gatekeeper.js';
import { AUTH_HEADERS, metric, type GatewayProc, type Served } from './gateway-procs.js';
import { childrenOf, cpuMs } from './spawned.js';
import { timedCall } from './stdio.js';
import { summarize, toRow, type Row, type Summary } from './stats.js';

/** Interleaved rounds of the latency runs. */
export const ROUNDS = 10;
/** Untimed calls per client before a throughput run. */
export const CLIENT_WARMUP = 5;
/** Clients connected at once while a throughput run sets up (a stdio session spawns a server). */
const CONNECT_BATCH = 10;
/** Untimed one-row commits, and untimed in-process attested calls, before the timed ones. */
export const LOG_WARMUP = 20;
/** Timed one-row commits, and timed in-process attested calls, per durability mode for the log's limit. */
export const COMMITS = 300;
/** Bytes of each such row (about one attestation or receipt entry). */
export const COMMIT_ROW_BYTES = 1500;
/** Log entries a gateway appends per attested call (attestation, receipt). */
export const ENTRIES_PER_CALL = 2;

/** Access-log time per `tools/call` inside one gateway (request in to response closed), ms. */
export interface InsideRow extends Summary {
  path: string;
}

/** Section 8.1's rows. */
export interface Latency {
  /** Direct HTTP first (the limit), the raw HTTP relay, then the gateway to `remote` in both modes. */
  httpLatency: Row[];
  /** Direct stdio first, then the gateway to `stdio` in both modes. */
  stdioLatency: Row[];
  /** Gateway-side time of the latency rows, from the access log. */
  inside: InsideRow[];
}

/** One throughput row and the limits it is read against. */
export interface ThroughputRow extends Row {
  limit: Row;
  /** A gateway row: attested calls per second of its log alone, in its durability (null: not a gateway). */
  logLimit: number | null;
  /** CPU time of the relay or gateway process per timed call, ms (null: a direct row). */
  cpuMsPerCall: number | null;
  /** Log entries the gateway appended per timed or warm-up call (null: a direct row). */
  entriesPerCall: number | null;
}

/** Section 8.2's rows. */
export interface Throughput {
  throughput: ThroughputRow[];
  /** Attested calls through the `Recorder` alone, both modes: the log limit of the gateway rows. */
  logRates: Row[];
  /** One-row commits on the same disk, both modes. */
  commits: Row[];
}

/** A connected SDK client and how to end its session. */
interface Conn {
  client: Client;
  close(): Promise<void>;
}

/** The SDK client over Streamable HTTP to `url` (with the bench token when `auth`); closing deletes the session. */
async function connectHttp(url: string, auth: boolean): Promise<Conn> {
  const transport = new StreamableHTTPClientTransport(new URL(url), auth ? { requestInit: { headers: AUTH_HEADERS } } : undefined);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    close: async () => {
      try {
        await transport.terminateSession();
      } finally {
        await client.close();
      }
    },
  };
}

/** The SDK client over stdio to its own server-everything process. */
async function connectStdio(server: string): Promise<Conn> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [server], stderr: 'ignore' }));
  return { client, close: () => client.close() };
}

/** Connect `n` clients, {@link CONNECT_BATCH} at a time; on any failure the connected ones are closed and the first error thrown. */
async function connectMany(n: number, connect: () => Promise<Conn>): Promise<Conn[]> {
  const conns: Conn[] = [];
  for (let b = 0; b < n; b += CONNECT_BATCH) {
    const settled = await Promise.allSettled(Array.from({ length: Math.min(CONNECT_BATCH, n - b) }, connect));
    for (const r of settled) if (r.status === 'fulfilled') conns.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await closeAll(conns);
      throw failed.reason;
    }
  }
  return conns;
}

/** Close every client; the first failure is rethrown after all were tried. */
async function closeAll(conns: readonly Conn[]): Promise<void> {
  const failed = (await Promise.allSettled(conns.map((c) => c.close()))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Run `f` over `conns`, then close them all; when `f` throws, they are closed (errors ignored) and its error rethrown. */
async function thenCloseAll<T>(conns: readonly Conn[], f: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await f();
  } catch (e) {
    await closeAll(conns).catch(() => undefined);
    throw e;
  }
  await closeAll(conns);
  return result;
}

/** One path of the latency run. */
interface LatencyPath {
  path: string;
  conn: Conn;
}

/**
 * Warm every path up (`warmup` sequential calls each), call `afterWarmup`, then `calls`
 * timed sequential calls per path in {@link ROUNDS} interleaved rounds (the order rotating
 * by one each round). One row per path, in the order given.
 */
async function measureInterleaved(paths: readonly LatencyPath[], warmup: number, calls: number, afterWarmup: () => void): Promise<Row[]> {
  for (const p of paths) for (let i = 0; i < warmup; i++) await timedCall(p.conn.client, p.path, i, {});
  afterWarmup();
  const times = paths.map((): number[] => []);
  const wall = paths.map(() => 0);
  const rounds = Math.min(ROUNDS, calls);
  for (let r = 0; r < rounds; r++) {
    const from = warmup + Math.floor((r * calls) / rounds);
    const to = warmup + Math.floor(((r + 1) * calls) / rounds);
    for (let k = 0; k < paths.length; k++) {
      const j = (k + r) % paths.length;
      const p = paths[j]!;
      const t = performance.now();
      for (let i = from; i < to; i++) times[j]!.push(await timedCall(p.conn.client, p.path, i, {}));
      wall[j] = wall[j]! + performance.now() - t;
    }
  }
  return paths.map((p, j) => toRow(p.path, times[j]!, wall[j]!));
}

/** Connect one client per latency path, in row order: the HTTP paths, then the stdio ones. */
async function connectLatencyPaths(s: BenchSetup, http: string, relay: string, gateways: readonly GatewayProc[]): Promise<LatencyPath[]> {
  const paths: LatencyPath[] = [];
  const add = async (path: string, connect: () => Promise<Conn>): Promise<void> => {
    paths.push({ path, conn: await connect() });
  };
  try {
    await add('direct HTTP', () => connectHttp(http, false));
    await add('raw HTTP relay (no parsing) -> HTTP upstream', () => connectHttp(relay, false));
    for (const g of gateways) await add(`gateway -> HTTP upstream, durability ${g.label}`, () => connectHttp(`${g.base}/remote/mcp`, true));
    await add('direct stdio', () => connectStdio(s.server));
    for (const g of gateways) await add(`gateway -> stdio upstream, durability ${g.label}`, () => connectHttp(`${g.base}/stdio/mcp`, true));
  } catch (e) {
    await closeAll(paths.map((p) => p.conn)).catch(() => undefined);
    throw e;
  }
  return paths;
}

/**
 * Section 8.1: one client per path (direct HTTP to `http`, the relay at `relay`, each of
 * `gateways` to both upstreams, direct stdio), interleaved; then the gateways' own time per
 * timed call from their access logs. The clients are closed afterwards.
 */
export async function measureLatency(s: BenchSetup, run: { warmup: number; calls: number }, http: string, relay: string, gateways: readonly GatewayProc[]): Promise<Latency> {
  const paths = await connectLatencyPaths(s, http, relay, gateways);
  return thenCloseAll(paths.map((p) => p.conn), async () => {
    const rows = await measureInterleaved(paths, run.warmup, run.calls, () => { for (const g of gateways) g.log.resetCallMs(); });
    const inside: InsideRow[] = [];
    for (const upstream of ['remote', 'stdio'] as const) {
      for (const g of gateways) {
        const ms = g.log.takeCallMs(upstream);
        if (ms.length > 0) inside.push({ path: `gateway ${g.label} -> ${upstream === 'remote' ? 'HTTP' : 'stdio'} upstream`, ...summarize(ms) });
      }
    }
    return { httpLatency: rows.slice(0, 4), stdioLatency: rows.slice(4), inside };
  });
}

/**
 * `clients` clients at once, `callsEach` timed sequential calls each after
 * {@link CLIENT_WARMUP}; closed (sessions deleted) afterwards. With `pid`, the CPU time that
 * process used per timed call (ms) is returned too.
 */
async function measureConcurrent(path: string, connect: () => Promise<Conn>, clients: number, callsEach: number, pid?: number): Promise<{ row: Row; cpuMsPerCall: number | null }> {
  const conns = await connectMany(clients, connect);
  return thenCloseAll(conns, async () => {
    await Promise.all(conns.map(async (c) => { for (let i = 0; i < CLIENT_WARMUP; i++) await timedCall(c.client, path, i, {}); }));
    const times: number[] = [];
    const cpu0 = pid === undefined ? 0 : cpuMs(pid);
    const start = performance.now();
    await Promise.all(conns.map(async (c) => { for (let i = CLIENT_WARMUP; i < CLIENT_WARMUP + callsEach; i++) times.push(await timedCall(c.client, path, i, {})); }));
    const wall = performance.now() - start;
    return { row: toRow(path, times, wall), cpuMsPerCall: pid === undefined ? null : (cpuMs(pid) - cpu0) / times.length };
  });
}

/** A direct throughput row: its own limit. */
async function directConcurrent(path: string, connect: () => Promise<Conn>, run: { clients: number; clientCalls: number }): Promise<ThroughputRow> {
  const { row } = await measureConcurrent(path, connect, run.clients, run.clientCalls);
  return { ...row, limit: row, logLimit: null, cpuMsPerCall: null, entriesPerCall: null };
}

/**
 * A gateway throughput row: the log's growth per call (two entries expected: attestation,
 * receipt), and after the clients deleted their sessions, no live session and no server
 * process left.
 */
async function gatewayConcurrent(g: GatewayProc, upstream: 'remote' | 'stdio', run: { clients: number; clientCalls: number }, limit: Row, log: Row, problems: string[]): Promise<ThroughputRow> {
  const before = await metric(g, 'mcp_attest_log_size');
  const path = `gateway ${g.label} -> ${upstream === 'remote' ? 'HTTP upstream' : `stdio upstream (${run.clients} server processes)`}`;
  const { row, cpuMsPerCall } = await measureConcurrent(path, () => connectHttp(`${g.base}/${upstream}/mcp`, true), run.clients, run.clientCalls, g.spawned.pid);
  await sleep(1000);
  const entries = (await metric(g, 'mcp_attest_log_size')) - before;
  const live = await metric(g, 'mcp_attest_gateway_sessions');
  if (live !== 0) problems.push(`gateway ${g.label}: ${live} session(s) still live 1 s after ${run.clients} ${upstream} clients deleted theirs`);
  const children = childrenOf(g.spawned.pid);
  if (children.length > 0) problems.push(`gateway ${g.label}: ${children.length} child process(es) still running 1 s after ${run.clients} ${upstream} sessions were deleted`);
  return { ...row, limit, logLimit: log.perSecond, cpuMsPerCall, entriesPerCall: entries / (run.clients * (run.clientCalls + CLIENT_WARMUP)) };
}

/**
 * Section 8.2: the log's limit in both modes, then `clients` at once on each path: direct
 * HTTP to `http`, the relay, the `full` and `normal` gateways to `remote`, direct stdio, the
 * `full` gateway to `stdio`.
 */
export async function measureThroughput(s: BenchSetup, run: { clients: number; clientCalls: number }, http: string, relay: Served, [full, normal]: readonly [GatewayProc, GatewayProc], problems: string[]): Promise<Throughput> {
  const logRates: Row[] = [];
  for (const d of DURABILITIES) logRates.push(await measureRecorder(s.dir, d));
  const commits: Row[] = [];
  for (const d of DURABILITIES) commits.push(await measureCommits(s.dir, d));
  const [fullLog, normalLog] = logRates as [Row, Row];
  const directHttp = await directConcurrent('direct HTTP', () => connectHttp(http, false), run);
  const throughput: ThroughputRow[] = [directHttp];
  const relayed = await measureConcurrent('raw HTTP relay -> HTTP upstream', () => connectHttp(relay.url, false), run.clients, run.clientCalls, relay.spawned.pid);
  throughput.push({ ...relayed.row, limit: directHttp, logLimit: null, cpuMsPerCall: relayed.cpuMsPerCall, entriesPerCall: null });
  throughput.push(await gatewayConcurrent(full, 'remote', run, directHttp, fullLog, problems));
  throughput.push(await gatewayConcurrent(normal, 'remote', run, directHttp, normalLog, problems));
  const directStdio = await directConcurrent(`direct stdio (${run.clients} server processes)`, () => connectStdio(s.server), run);
  throughput.push(directStdio, await gatewayConcurrent(full, 'stdio', run, directStdio, fullLog, problems));
  return { throughput, logRates, commits };
}

/**
 * {@link LOG_WARMUP} untimed calls of `call`, then {@link COMMITS} timed ones, one after
 * another; a `call` returning nothing is timed without an await.
 */
async function timeSequential(path: string, call: (i: number) => void | Promise<void>): Promise<Row> {
  for (let i = 0; i < LOG_WARMUP; i++) await call(i);
  const times: number[] = [];
  const start = performance.now();
  for (let i = LOG_WARMUP; i < LOG_WARMUP + COMMITS; i++) {
    const t = performance.now();
    const pending = call(i);
    if (pending !== undefined) await pending;
    times.push(performance.now() - t);
  }
  return toRow(path, times, performance.now() - start);
}

/**
 * The store's limit, measured in the bench process on the same disk: {@link COMMITS}
 * one-row `BEGIN IMMEDIATE` transactions of {@link COMMIT_ROW_BYTES} bytes, one after
 * another, in a SQLite file opened as the log opens its own (WAL; `full`: fsync per commit).
 * A gateway commits each log append on its one event loop, so its attested calls per second
 * cannot exceed this rate over {@link ENTRIES_PER_CALL}.
 */
async function measureCommits(dir: string, durability: Durability): Promise<Row> {
  const db = openSqlite(join(dir, `commits-${durability}.db`), 'CREATE TABLE IF NOT EXISTS t (i INTEGER PRIMARY KEY, data BLOB NOT NULL)', { durability, code: 'ERR_STORE_IO', what: 'bench commit file' });
  try {
    const insert = db.prepare('INSERT INTO t (i, data) VALUES (?, ?)');
    const commit = db.transaction((i: number) => insert.run(i, randomBytes(COMMIT_ROW_BYTES)));
    return await timeSequential(`one-row SQLite commit, durability ${durability}`, (i) => { commit.immediate(i); });
  } finally {
    db.close();
  }
}

/**
 * The log's own limit: {@link COMMITS} sequential attested calls through a `Recorder` in the
 * bench process (fresh data directory, evidence store on, as the gateway opens it): sign and
 * append the attestation, sign and append the receipt; no transport, no relay. A gateway does
 * this work on its one event loop for every call of every caller.
 */
async function measureRecorder(dir: string, durability: Durability): Promise<Row> {
  const home = join(dir, `recorder-${durability}`);
  await initHome(home);
  const r = await Recorder.open(home, { durability, checkpointMs: 1000 });
  const fingerprint = `sha256:${'11'.repeat(32)}`;
  try {
    return await timeSequential(`log alone: attest + receipt in process, durability ${durability}`, async (i) => {
      const { attestation, callId, index } = await r.attest({ tool: TOOL, args: callArgs(i), intent: 'bench', server: { name: 'bench', fingerprint }, requestDigest: fingerprint, sub: 'bench' });
      await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { content: [{ type: 'text', text: `Echo: ${callArgs(i).message}` }] } });
    });
  } finally {
    await r.close();
  }
}
