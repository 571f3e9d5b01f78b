/** Printing of section 8 [gateway]: its tables, any problems seen, and the targets beside the figures. */
import { CLIENT_WARMUP, COMMITS, COMMIT_ROW_BYTES, ENTRIES_PER_CALL, LOG_WARMUP, ROUNDS } from './gateway-load.js';
import type { GatewayResult } from './gateway.js';
import { printTable, printVersus } from './stats.js';

/** Targets of the gateway issue, printed beside the measured figures (never asserted): added median latency, ms. */
const TARGET_ADDED_MEDIAN_MS = 1.5;
/** The target of attested calls per second with many clients. */
const TARGET_CALLS_PER_SECOND = 1000;

/** `v` with `digits` decimals; `-` for null. */
function orDash(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

/** Print section 8's tables, the access-log times, any problems seen, and the issue's targets beside the figures. */
export function printGateway(r: GatewayResult): void {
  printLatency(r);
  printThroughput(r);
  printMemory(r);
  printTargets(r);
  if (r.problems.length > 0) {
    console.log('\nProblems seen in this section:');
    for (const x of r.problems) console.log(`- ${x}`);
  }
}

/** Section 8.1: both latency tables and the gateways' inside times. */
function printLatency(r: GatewayResult): void {
  const { params: p } = r;
  console.log(`\n## Gateway -> HTTP upstream vs direct HTTP (the limit), beside a raw HTTP relay: one SDK client per path, ${p.calls} sequential calls each after ${p.warmup} warm-up, ${Math.min(ROUNDS, p.calls)} interleaved rounds`);
  printVersus(r.httpLatency[0]!, r.httpLatency);
  console.log('\n## Gateway -> stdio upstream vs direct stdio (reference), same interleaved run');
  printVersus(r.stdioLatency[0]!, r.stdioLatency);
  console.log('\nInside the gateway (its access log: request received to response closed), timed tools/call of the run above:');
  printTable(['path', 'median ms', 'p99 ms'], r.inside.map((i) => [i.path, i.median.toFixed(3), i.p99.toFixed(3)]));
}

/** Section 8.2: the throughput table, then the log's own limit. */
function printThroughput(r: GatewayResult): void {
  const { params: p } = r;
  console.log(`\n## Gateway throughput: ${p.clients} clients at once (own SDK client and session each), ${p.clientCalls} sequential calls each after ${CLIENT_WARMUP} warm-up`);
  printTable(['path', 'calls/s', 'limit: direct calls/s', '% of limit', 'limit: log alone calls/s', 'median ms', 'p99 ms', 'relay/gateway CPU ms per call', 'log entries per call'], r.throughput.map((t) => [
    t.path, t.perSecond.toFixed(0), t.limit === t ? '-' : `${t.limit.perSecond.toFixed(0)} (${t.limit.path})`,
    t.limit === t ? '-' : ((100 * t.perSecond) / t.limit.perSecond).toFixed(0), orDash(t.logLimit, 0),
    t.median.toFixed(2), t.p99.toFixed(2), orDash(t.cpuMsPerCall, 2), orDash(t.entriesPerCall, 2),
  ]));
  console.log(`The log alone, in the bench process, ${COMMITS} sequential calls after ${LOG_WARMUP} (a gateway does this on its one event loop for every call), and one-row SQLite commits (${COMMIT_ROW_BYTES} bytes, WAL, opened as the log is; ${ENTRIES_PER_CALL} appends per call) on the same disk:`);
  printTable(['path', 'median ms', 'p99 ms', 'per second'], [...r.logRates, ...r.commits].map((c) => [c.path, c.median.toFixed(3), c.p99.toFixed(3), c.perSecond.toFixed(0)]));
}

/** Section 8.3: each memory reading beside the 0-session one. */
function printMemory(r: GatewayResult): void {
  const mib = (kib: number): string => (kib / 1024).toFixed(1);
  const base = r.memory[0]!;
  console.log(`\n## Gateway memory (VmRSS of the gateway process, full durability) with ${r.params.sessions} idle sessions to the HTTP upstream, beside 0 sessions (the limit)`);
  printTable(['state', 'live sessions', 'VmRSS MiB', 'limit: 0 sessions MiB', 'added MiB', 'KiB per session', 'open fds'], r.memory.map((m) => [
    m.state, String(m.live), mib(m.rssKiB), mib(base.rssKiB), m === base ? '-' : mib(m.rssKiB - base.rssKiB),
    m === base || m.live === 0 ? '-' : ((m.rssKiB - base.rssKiB) / m.live).toFixed(0), String(m.fds),
  ]));
}

/** The targets beside the measured figures (printed, not asserted). */
function printTargets(r: GatewayResult): void {
  const fullHttp = r.httpLatency.find((x) => x.path.startsWith('gateway') && x.path.endsWith('durability full'))!;
  const added = fullHttp.median - r.httpLatency[0]!.median;
  const gwHttp = r.throughput.find((t) => t.path.startsWith('gateway full -> HTTP'))!;
  const gwStdio = r.throughput.find((t) => t.path.startsWith('gateway full -> stdio'))!;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log('\nTargets (issue), printed, not asserted:');
  console.log(`- added median <= ${TARGET_ADDED_MEDIAN_MS} ms, full durability, one client, HTTP upstream: ${added.toFixed(3)} ms (${verdict(added <= TARGET_ADDED_MEDIAN_MS)}; a raw HTTP relay adds ${(r.httpLatency[1]!.median - r.httpLatency[0]!.median).toFixed(3)} ms here)`);
  console.log(`- >= ${TARGET_CALLS_PER_SECOND} attested calls/s with ${r.params.clients} clients, full durability: HTTP upstream ${gwHttp.perSecond.toFixed(0)} (${verdict(gwHttp.perSecond >= TARGET_CALLS_PER_SECOND)}; direct ${gwHttp.limit.perSecond.toFixed(0)}, log alone ${orDash(gwHttp.logLimit, 0)}), stdio upstream ${gwStdio.perSecond.toFixed(0)} (${verdict(gwStdio.perSecond >= TARGET_CALLS_PER_SECOND)}; direct ${gwStdio.limit.perSecond.toFixed(0)}, log alone ${orDash(gwStdio.logLimit, 0)})`);
}
