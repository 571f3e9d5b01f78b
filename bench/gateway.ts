/**
 * Section 8 [gateway]: `mcp-attest gateway` (one HTTP server, MCP Streamable HTTP, 2025-11-25
 * sessions) in front of the real `@modelcontextprotocol/server-everything`, every `echo` call
 * attested (attestation and execution receipt appended to the gateway's log before the answer
 * is released). Each gateway is a separate process with two upstreams: `remote`, one
 * server-everything process serving Streamable HTTP (shared by the whole section, the direct
 * rows included), and `stdio`, server-everything over stdio (the gateway spawns one process
 * per session). Callers are the official SDK client (`StreamableHTTPClientTransport`, or
 * `StdioClientTransport` for the direct stdio rows); every answer is checked after its timer
 * stopped, and anything unexpected aborts the bench.
 *
 * 1. Latency, one client, sequential calls: direct HTTP (SDK client straight to
 *    server-everything's port: the physical limit), a raw HTTP relay (a minimal `node:http`
 *    process forwarding each request to server-everything and piping the answer back, no
 *    parsing: the cost of one more loopback HTTP hop on this machine), gateway -> `remote`
 *    in durability `full` and `normal`; and for reference direct stdio, gateway -> `stdio`
 *    in both modes. All seven paths are connected and warmed up (`BENCH_WARMUP` calls
 *    each) first; then the `BENCH_CALLS` timed calls of each path run in 10 (`ROUNDS`)
 *    interleaved rounds (each path in turn, a tenth of its calls per turn), so drift on a
 *    shared machine hits every path alike. calls/s is the path's calls over the summed wall
 *    time of its turns. The gateway's access log gives its inside time per call beside.
 * 2. Throughput: `BENCH_CLIENTS` (default 50) clients at once, each its own SDK client and
 *    session, `BENCH_CLIENT_CALLS` (default 100) sequential calls each after
 *    5 (`CLIENT_WARMUP`) untimed ones; calls/s is all timed calls over the wall time from
 *    the start of the first to the end of the last. Rows: direct HTTP (the limit of the rows
 *    to `remote`), the raw HTTP relay, gateway `full` and `normal` -> `remote`, direct stdio
 *    (one server process per client: the limit of the `stdio` row), gateway `full` ->
 *    `stdio`. Beside them: the CPU time the relay or gateway process used per call
 *    (/proc/PID/stat, over the timed region), and the log's own limit, measured in the bench
 *    process: sequential attest + receipt through the gateway's `Recorder` (signatures,
 *    SQLite appends, evidence store; no transport), and one-row SQLite commits on the same
 *    disk. The gateway's log must grow by two entries per call (attestation and receipt),
 *    and every session must be gone (and every spawned server with it) once the clients
 *    deleted theirs.
 * 3. Memory: VmRSS (/proc/PID/status) of a fresh gateway (`full`) holding `BENCH_SESSIONS`
 *    (default 1000) idle sessions to `remote` (raw `initialize` and `notifications/initialized`
 *    POSTs, then nothing; the gateway holds an upstream session and its GET stream for each),
 *    beside its VmRSS with 0 sessions (the limit; measured after 10 sessions were opened and
 *    deleted, so code warm-up is not counted per session), then after all were deleted; with
 *    its open file descriptors (one upstream GET socket per session).
 *
 * Here the section is run; bench/gateway-procs.ts starts and stops its processes (writing
 * the gateway configs), bench/gateway-load.ts measures 1 and 2, bench/gateway-memory.ts 3,
 * and bench/gateway-print.ts prints the tables.
 */
import { DURABILITIES, type BenchSetup } from './gatekeeper.js';
import { measureLatency, measureThroughput, type Latency, type Throughput } from './gateway-load.js';
import { measureMemory, type MemoryRow } from './gateway-memory.js';
import { startGateway, startHttpServer, startRawRelay, stopGateway, type GatewayProc, type Served } from './gateway-procs.js';

/** How many clients, calls and sessions the section uses (from the environment). */
export interface GatewayParams {
  warmup: number;
  calls: number;
  /** `BENCH_CLIENTS`, default 50. */
  clients: number;
  /** `BENCH_CLIENT_CALLS`, default 100. */
  clientCalls: number;
  /** `BENCH_SESSIONS`, default 1000. */
  sessions: number;
}

/** Everything section 8 measured, and what went wrong on the way. */
export interface GatewayResult extends Latency, Throughput {
  params: GatewayParams;
  /** 0 sessions (the limit), `sessions` idle, all deleted. */
  memory: MemoryRow[];
  /** Anomalies seen (error statuses, stderr notes, leftover sessions or processes). */
  problems: string[];
}

/** Read the section's parameters from the environment. Throws on a value that is not a whole number >= 1. */
export function gatewayParams(warmup: number, calls: number): GatewayParams {
  const int = (name: string, def: number): number => {
    const v = Number(process.env[name] ?? def);
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`bench: ${name} must be a whole number >= 1`);
    return v;
  };
  return { warmup, calls, clients: int('BENCH_CLIENTS', 50), clientCalls: int('BENCH_CLIENT_CALLS', 100), sessions: int('BENCH_SESSIONS', 1000) };
}

/**
 * Section 8: latency (one client, interleaved), throughput (`clients` at once) and memory
 * (idle sessions) of `mcp-attest gateway`, each beside its physical limit measured in the
 * same run. Every process it starts is stopped, whatever happens; files go under `s.dir`.
 */
export async function benchGateway(s: BenchSetup, p: GatewayParams): Promise<GatewayResult> {
  const problems: string[] = [];
  const http = await startHttpServer(s.server);
  let relay: Served | null = null;
  const gateways: GatewayProc[] = [];
  try {
    relay = await startRawRelay(http.url);
    for (const d of DURABILITIES) gateways.push(await startGateway(s, d, d, http.url));
    const latency = await measureLatency(s, p, http.url, relay.url, gateways);
    const throughput = await measureThroughput(s, p, http.url, relay, gateways as [GatewayProc, GatewayProc], problems);
    const memory = await measureMemory(s, http.url, p.sessions, problems);
    return { params: p, ...latency, ...throughput, memory, problems };
  } finally {
    for (const g of gateways) await stopGateway(g, problems);
    if (relay !== null) problems.push(...(await relay.spawned.stop('SIGTERM', 5000)).forced);
    problems.push(...(await http.spawned.stop('SIGTERM', 5000)).forced);
  }
}
