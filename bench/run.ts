/**
 * `npm run bench`: sequential `tools/call` (`echo` on the real
 * `@modelcontextprotocol/server-everything`, the official SDK client; client, proxies and
 * server are separate processes over stdio), `BENCH_WARMUP` untimed warm-up calls (default
 * 100) then `BENCH_CALLS` timed ones (default 1000) per row. Sections (their
 * `BENCH_SECTIONS` names in brackets; a comma list runs only those, default all):
 *
 * 1. [client] the attesting client proxy: direct, the raw line relay (bench/raw-relay.mjs,
 *    a minimal Node process copying lines both ways, no parsing: the physical limit of a
 *    stdio relay on this machine, to read each proxy figure against), then `mcp-attest
 *    proxy` in both durability modes (`full`: fsync per append; `normal`: survives process
 *    crashes only); and start-up, spawn to `initialize` answered, direct and through the
 *    proxy (median of `BENCH_STARTS` rounds, default 15);
 * 2. [gatekeeper] the gatekeeper (`proxy --role server`): direct with pre-signed
 *    attestations vs the gatekeeper enforcing them, added median and p99 latency, verified
 *    calls per second (bench/gatekeeper.ts);
 * 3. [decision] the decision alone, in process: `Gate.check` with the SQLite nonce store and
 *    the in-memory one, and the SQLite store alone in steady state, 300,000 live pairs at
 *    1,000 records a simulated second (bench/gate-check.ts);
 * 4. [chain] client proxy -> gatekeeper -> server with bilateral receipts vs plain direct;
 * 5. [witness] witness round trip per checkpoint and cosigned checkpoints per second
 *    (bench/witness.ts, `BENCH_CHECKPOINTS` rounds, default 200);
 * 6. [bundles] receipt bundles of 1, 100 and 10,000 calls: size and offline verification;
 * 7. [sessions] receipt sessions: `record_action` through `mcp-attest serve`
 *    (`BENCH_ACTIONS`, default 500, after `BENCH_ACTIONS_WARMUP`, default 50) beside its limit (the same action in
 *    process, full durability, plus an SDK stdio round trip to `echo`), and session receipts of 10, 100 and
 *    1,000 actions: export, size, offline verification (bench/session.ts); and `serve`'s
 *    start-up beside server-everything's (`BENCH_STARTS` rounds).
 * 8. [gateway] `mcp-attest gateway` (HTTP) in front of server-everything over Streamable HTTP
 *    and over stdio: added latency vs direct (one client, both durability modes), calls per
 *    second with `BENCH_CLIENTS` clients at once (default 50, `BENCH_CLIENT_CALLS` calls
 *    each, default 100) vs direct, and the gateway's RSS with `BENCH_SESSIONS` idle sessions
 *    (default 1000) vs none (bench/gateway.ts).
 * 9. [hotpath] the recorder's hot path in process (sequential in both durabilities, and
 *    `BENCH_CONCURRENT` callers at once, default 16, also on an evidence store already holding
 *    `BENCH_STORED_PAYLOADS`, default 1,000,000, 0 to skip), bytes written per call beside bare
 *    SQLite's for the same bytes, library sign + verify, and start-up, each beside its limit in
 *    the same run (bench/hotpath.ts).
 * 10. [verify] `mcp-attest verify` of a `BENCH_VERIFY_CALLS`-call log (default 10,000) and of
 *    a range bundle of it, in one thread and with its default threads, beside raw node:crypto
 *    per entry (bench/verify.ts).
 * 11. [fleet] durable appends from 1, 4 and 8 processes into one PostgreSQL log (a real
 *    server, one integrator stepping) and into one SQLite log with group commit, beside an
 *    fdatasync and PostgreSQL's own one-row commit (bench/fleet.ts).
 * 12. [page] the verify page in headless Chromium: its size, and the time to verify 1, 100
 *    and `BENCH_PAGE_CALLS` (10,000) call bundles, beside the CLI on the same files and the
 *    browser's raw WebCrypto for as many signatures (bench/page.ts).
 * 13. [identity] agent credentials: the gate's per-call decision plain and under a credential
 *    chain of 1 and 2 beside raw node:crypto, and the bytes and verify time a bundle of 1, 100
 *    and 10,000 calls adds for its identity proof (bench/identity.ts).
 *
 * Median and p99 are nearest-rank over per-call latency; "added" is the difference of a
 * quantile to the baseline row's; calls per second is `calls / wall time` of the timed loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPLAY_RATE, REPLAY_WINDOW, benchGateCheck, benchReplaySteady } from './gate-check.js';
import { benchIdentityBundles, benchIdentityGate } from './identity.js';
import { DURABILITIES, benchChain, benchGatekeeper, type BenchSetup } from './gatekeeper.js';
import { connectMedians, measureStdio } from './stdio.js';
import { machine, printTable, printVersus, type Row } from './stats.js';
import { benchBundles, benchWitness } from './witness.js';
import { benchRecordAction, benchRecordActionLimit, benchSessionReceipts } from './session.js';
import { benchGateway, gatewayParams } from './gateway.js';
import { printGateway } from './gateway-print.js';
import { benchHotPath, printHotPath } from './hotpath.js';
import { benchVerify, printVerify } from './verify.js';
import { benchFleet, printFleet } from './fleet.js';
import { benchPage } from './page.js';

const CALLS = Number(process.env['BENCH_CALLS'] ?? 1000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 100);
const CHECKPOINTS = Number(process.env['BENCH_CHECKPOINTS'] ?? 200);
const ACTIONS = Number(process.env['BENCH_ACTIONS'] ?? 500);
const ACTIONS_WARMUP = Number(process.env['BENCH_ACTIONS_WARMUP'] ?? 50);
/** Rounds of the start-up rows of sections 1 and 7. */
const STARTS = Number(process.env['BENCH_STARTS'] ?? 15);
const CLI = fileURLToPath(new URL('../dist/cli/main.cjs', import.meta.url));
const RAW_RELAY = fileURLToPath(new URL('./raw-relay.mjs', import.meta.url));
const SERVER = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

/** `BENCH_SECTIONS` names, in run order. */
const SECTIONS = ['client', 'gatekeeper', 'decision', 'chain', 'witness', 'bundles', 'sessions', 'gateway', 'hotpath', 'verify', 'fleet', 'page', 'identity'] as const;
type Section = (typeof SECTIONS)[number];

/** The sections `BENCH_SECTIONS` names (comma list; unset or empty: all). Throws on an unknown name. */
function selectedSections(): ReadonlySet<Section> {
  const names = (process.env['BENCH_SECTIONS'] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`bench: unknown BENCH_SECTIONS ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  return new Set(names.length === 0 ? SECTIONS : (names as Section[]));
}

/** Section 1's baseline (also section 4's): the SDK client straight to the server. */
function benchDirect(s: BenchSetup): Promise<Row> {
  return measureStdio('direct', process.execPath, [s.server], { warmup: s.warmup, calls: s.calls });
}

/** Section 1 after direct: the raw line relay, then the attesting client proxy (fresh data directory per row). */
async function benchClientProxy(s: BenchSetup): Promise<Row[]> {
  const run = { warmup: s.warmup, calls: s.calls };
  const rows = [await measureStdio('raw line relay', process.execPath, [RAW_RELAY, process.execPath, s.server], run)];
  const proxy = (d: string, home: string): string[] => [s.cli, 'proxy', '--home', join(s.dir, home), '--durability', d, '--', process.execPath, s.server];
  for (const d of DURABILITIES) rows.push(await measureStdio(`proxy, durability ${d}`, process.execPath, proxy(d, `client-${d}`), run));
  return rows;
}

/** Section 1's start-up rows: server-everything started directly and behind `mcp-attest proxy` (its data directory made by the untimed first start). */
function benchStarts(s: BenchSetup): Promise<Record<string, number>> {
  const proxy = [s.cli, 'proxy', '--home', join(s.dir, 'client-start'), '--', process.execPath, s.server];
  return connectMedians({ direct: [process.execPath, [s.server]], 'proxy, durability full': [process.execPath, proxy] }, STARTS);
}

/** Section 7 (a): record_action through serve, beside its limit (the same action in process + one SDK stdio round trip), and the issue 14 target. */
function printRecordAction(recorded: Row, limit: { inProcess: Row; roundTrip: Row }): void {
  console.log(`\n## Receipt sessions: ${ACTIONS} sequential record_action calls (SDK client -> mcp-attest serve, stdio) after ${ACTIONS_WARMUP} warm-up, beside the limit measured in the same run`);
  const bound = limit.inProcess.median + limit.roundTrip.median;
  printTable(['path', 'median ms', 'p99 ms', 'actions/s'], [recorded, limit.inProcess, limit.roundTrip].map((r) => [r.path, r.median.toFixed(3), r.p99.toFixed(3), r.perSecond.toFixed(0)]));
  console.log(`limit (in process + round trip): ${bound.toFixed(3)} ms; record_action via serve is ${(recorded.median / bound).toFixed(2)}x it, ${(recorded.median - bound).toFixed(3)} ms over`);
  console.log(`Target (issue 14), printed, not asserted: record_action through serve <= 0.7 ms in full: ${recorded.median.toFixed(3)} ms (${recorded.median <= 0.7 ? 'met' : 'NOT met'})`);
}

/** A start-up table (sections 1 and 7): each row's median, and what it adds to the first row's. */
function printStarts(what: string, starts: Record<string, number>): void {
  console.log(`\n## Start-up of ${what}: spawn to initialize answered (the SDK client's connect), median of ${STARTS} rounds`);
  const [first] = Object.values(starts);
  printTable(['path', 'median ms', 'added ms'], Object.entries(starts).map(([k, ms], i) => [k, ms.toFixed(0), i === 0 ? '-' : (ms - first!).toFixed(0)]));
}

/** Section 3's table: per-decision latency in microseconds. */
function printGateCheck(rows: readonly Row[]): void {
  printTable(['replay store', 'median µs', 'p99 µs', 'verified calls/s'], rows.map((r) => [
    r.path, (r.median * 1000).toFixed(0), (r.p99 * 1000).toFixed(0), r.perSecond.toFixed(0),
  ]));
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(CALLS) || CALLS < 1 || !Number.isSafeInteger(WARMUP) || WARMUP < 0 || !Number.isSafeInteger(STARTS) || STARTS < 1) throw new Error('bench: BENCH_CALLS >= 1, BENCH_WARMUP >= 0 and BENCH_STARTS >= 1, whole numbers');
  const on = selectedSections();
  const s: BenchSetup = { cli: CLI, server: SERVER, dir: mkdtempSync(join(tmpdir(), 'mcp-attest-bench-')), warmup: WARMUP, calls: CALLS };
  try {
    const direct = on.has('client') || on.has('chain') ? await benchDirect(s) : undefined;
    const client = on.has('client') ? [direct!, ...await benchClientProxy(s)] : undefined;
    const starts = on.has('client') ? await benchStarts(s) : undefined;
    const gated = on.has('gatekeeper') ? await benchGatekeeper(s) : undefined;
    const decisions = on.has('decision') ? await benchGateCheck(s) : undefined;
    const steady = on.has('decision') ? benchReplaySteady(s.dir) : undefined;
    const chain = on.has('chain') ? await benchChain(s) : undefined;
    const witnessed = on.has('witness') ? await benchWitness(CLI, s.dir, CHECKPOINTS) : undefined;
    const bundles = on.has('bundles') ? await benchBundles(s.dir, [1, 100, 10_000], 5) : undefined;
    const recorded = on.has('sessions') ? await benchRecordAction(CLI, s.dir, ACTIONS_WARMUP, ACTIONS) : undefined;
    const recordLimit = on.has('sessions') ? await benchRecordActionLimit(s.dir, SERVER, ACTIONS_WARMUP, ACTIONS) : undefined;
    const sessions = on.has('sessions') ? await benchSessionReceipts(s.dir, [10, 100, 1000], 5) : undefined;
    const serveStarts = on.has('sessions') ? await connectMedians({ 'server-everything': [process.execPath, [s.server]], 'mcp-attest serve': [process.execPath, [s.cli, 'serve', '--home', join(s.dir, 'serve-start')]] }, STARTS) : undefined;
    const gateway = on.has('gateway') ? await benchGateway(s, gatewayParams(WARMUP, CALLS)) : undefined;
    const hot = on.has('hotpath') ? await benchHotPath(s.dir, CLI) : undefined;
    const verified = on.has('verify') ? await benchVerify(s.dir, CLI) : undefined;
    const fleet = on.has('fleet') ? await benchFleet(s.dir) : undefined;
    const idGate = on.has('identity') ? await benchIdentityGate(s.dir, CALLS, WARMUP, 1000) : undefined;
    const idBundles = on.has('identity') ? await benchIdentityBundles(s.dir, [1, 100, 10_000], 1000, 3) : undefined;
    const paged = on.has('page') ? await benchPage(s.dir, CLI, fileURLToPath(new URL('..', import.meta.url))) : undefined;
    console.log(`mcp-attest bench: ${CALLS} sequential tools/call (echo, server-everything) after ${WARMUP} warm-up; ${machine()}`);
    if (client !== undefined) {
      console.log('\n## Attesting client proxy (proxy -> server) vs direct, beside a raw line relay (no parsing)');
      printVersus(client[0]!, client);
    }
    if (starts !== undefined) printStarts('the proxy in front of server-everything', starts);
    if (gated !== undefined) {
      console.log('\n## Gatekeeper (proxy --role server -> server) vs direct, same pre-signed ES256 attestations');
      printVersus(gated.rows[0]!, gated.rows, 'verified calls/s');
      console.log(`agent signing, outside the timed region: median ${gated.signing.median.toFixed(3)} ms, p99 ${gated.signing.p99.toFixed(3)} ms per attestation`);
    }
    if (decisions !== undefined) {
      console.log(`\n## Decision alone, in process: Gate.check over ${CALLS} pre-signed ES256 attestations after ${WARMUP} warm-up`);
      printGateCheck(decisions);
    }
    if (steady !== undefined) {
      console.log(`\n## Replay store (NonceStore, durability normal) in steady state: ${REPLAY_RATE} records a simulated second, each live ${REPLAY_WINDOW} s; the last 20 s timed`);
      printTable(['median µs', 'p99.9 ms', 'longest ms'], [[(steady.median * 1000).toFixed(0), steady.p999.toFixed(2), steady.max.toFixed(2)]]);
    }
    if (chain !== undefined) {
      console.log('\n## Full chain: client proxy (--response-receipts require) -> gatekeeper -> server vs direct (plain, section 1)');
      printVersus(direct!, [direct!, ...chain], 'verified calls/s');
    }
    if (witnessed !== undefined) {
      console.log(`\n## Witness round trip: ${CHECKPOINTS} checkpoints, each submitted to one witness process (loopback HTTP, fsynced state) and cosigned`);
      printTable(['path', 'median ms', 'p99 ms', 'cosigned checkpoints/s'], [[witnessed.path, witnessed.median.toFixed(2), witnessed.p99.toFixed(2), witnessed.perSecond.toFixed(0)]]);
    }
    if (bundles !== undefined) {
      console.log('\n## Receipt bundles (2 entries per call): size and offline verification, in process, median of 5');
      printTable(['calls', 'format', 'bytes', 'bytes per call', 'entries alone per call', 'verify median ms', 'verify p99 ms', 'entries/s'], bundles.map((b) => [
        String(b.calls), b.format, String(b.bytes), (b.bytes / b.calls).toFixed(0), (b.entryBytes / b.calls).toFixed(0), b.median.toFixed(1), b.p99.toFixed(1), ((2 * b.calls) / (b.median / 1000)).toFixed(0),
      ]));
    }
    if (recorded !== undefined && recordLimit !== undefined && sessions !== undefined) printRecordAction(recorded, recordLimit);
    if (serveStarts !== undefined) printStarts('mcp-attest serve beside server-everything (an SDK server too)', serveStarts);
    if (sessions !== undefined) {
      console.log('\n## Session receipts (sealed, one entry per action): export, size, offline verification in process (median of 5)');
      printTable(['actions', 'bytes', 'bytes per action', 'export ms', 'verify median ms', 'verify p99 ms'], sessions.map((r) => [
        String(r.actions), String(r.bytes), (r.bytes / r.actions).toFixed(0), r.exportMs.toFixed(1), r.median.toFixed(1), r.p99.toFixed(1),
      ]));
    }
    if (gateway !== undefined) printGateway(gateway);
    if (hot !== undefined) printHotPath(hot);
    if (verified !== undefined) printVerify(verified);
    if (fleet !== undefined) {
      console.log(`\n## A fleet's log: durable appends from several processes at once (${process.env['BENCH_FLEET_ENTRIES'] ?? 2000} each, ${process.env['BENCH_FLEET_IN_FLIGHT'] ?? 8} in flight each; private entries of ~1.4 KB), beside the limits`);
      printFleet(fleet);
    }
    if (paged !== undefined) {
      console.log(`\n## The verify page in headless Chromium (${paged.size} bytes, ${paged.gzip} gzipped) against the CLI on the same bundles, beside the browser's raw WebCrypto (median of 3)`);
      printTable(['calls', 'bundle bytes', 'page ms (click to verdict)', 'CLI ms (whole process)', 'raw WebCrypto ES256 verifies, 2 per call, ms'], paged.rows.map((r) => [
        String(r.calls), String(r.bytes), r.pageMs.toFixed(1), r.cliMs.toFixed(1), r.rawMs.toFixed(1),
      ]));
    }
    if (idGate !== undefined) {
      console.log('\n## Agent credentials: the gate\'s decision (Gate.check, memory replay store) per call, plain and under credentials read from an identity log of 1,000 other credentials, beside raw node:crypto');
      printTable(['path', 'median µs', 'p99 µs', 'calls/s'], idGate.map((r) => [r.path, (r.median * 1000).toFixed(0), (r.p99 * 1000).toFixed(0), r.perSecond.toFixed(0)]));
    }
    if (idBundles !== undefined) {
      console.log('\n## Agent credentials: what a bundle carries for the identity proof (calls under one credential; other credentials issued before the identity checkpoint), verify median of 3');
      printTable(['calls', 'other credentials in range', 'identity entries', 'bytes', 'bytes without identity', 'added per call', 'verify ms', 'verify ms, key trusted outright'], idBundles.map((r) => [
        String(r.calls), String(r.others), String(r.identityEntries), String(r.bytes), String(r.bytesWithout), ((r.bytes - r.bytesWithout) / r.calls).toFixed(0), r.verify.median.toFixed(1), r.verifyWithout.median.toFixed(1),
      ]));
    }
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
}

await main();
