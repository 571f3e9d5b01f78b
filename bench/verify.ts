/**
 * Section [verify]: `mcp-attest verify` of a whole log, as a process, beside the machine's
 * limit measured in the same run. The log is `BENCH_VERIFY_CALLS` calls (default 10,000:
 * 20,000 entries, attestation + receipt, ES256) written through a `Recorder`. Rows: the
 * verifier in one thread (`--threads 1`) and with its default threads (the cores), median
 * of `REPS` interleaved runs, entries per second of wall time (start-up included) and the
 * process's peak resident set size (bench/maxrss.cjs; workers included); the limit
 * is what raw node:crypto does per entry (SHA-256 of the entry's bytes + one ES256 verify
 * over them) in one thread and in one worker thread per core at once. The same rows again
 * for a range bundle of the whole log (`mcp-attest bundle --range`, `mcp-attest/bundle@2`),
 * verified as a process under the log's exported trust policy, with its bytes per call. And
 * the same rows for a log of receipt sessions (`BENCH_VERIFY_SESSIONS` sessions, default 20,
 * of 1,000 actions each, written through the session store): its statements' signatures are
 * checked in the workers, each session as it is read.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import '../src/platform/node.js';
import { initHome } from '../src/store/identity.js';
import { Recorder } from '../src/proxy/recorder.js';
import { SessionHome } from '../src/store/session-export.js';
import { TOOL, callArgs } from './agent.js';
import { printTable } from './stats.js';

const CALLS = Number(process.env['BENCH_VERIFY_CALLS'] ?? 10_000);
const SESSIONS = Number(process.env['BENCH_VERIFY_SESSIONS'] ?? 20);
const ACTIONS = 1000;
const REPS = 3;
const FINGERPRINT = `sha256:${'11'.repeat(32)}`;
/** The preload that reports a process's peak memory (bench/maxrss.cjs). */
const MAXRSS = fileURLToPath(new URL('./maxrss.cjs', import.meta.url));

/** Results of the section: entries per second of each row. */
export interface VerifyBench {
  entries: number;
  entryBytes: number;
  oneThread: number;
  threads: { count: number; perSecond: number };
  /** Peak resident set size of the verify process, MiB (median of the runs): one thread, and the default threads. */
  rssMiB: { one: number; many: number };
  limitOne: number;
  limitAll: number;
  /** The range bundle of the whole log: bytes per call, and entries per second as above; null when it would pass a bundle's 256 MiB limit. */
  bundle: { bytesPerCall: number; oneThread: number; perSecond: number; rssMiB: { one: number; many: number } } | null;
  /** The same range bundle written gzip'd (`--out FILE.gz`, bundle/gzip.ts). */
  gzipped: VerifyBench['bundle'];
  /** The log of receipt sessions: its entries, and entries per second as above. */
  sessions: { entries: number; oneThread: number; perSecond: number; rssMiB: { one: number; many: number } };
}

/** A log of {@link SESSIONS} sealed sessions of {@link ACTIONS} actions; returns its entries. */
async function buildSessionLog(home: string): Promise<number> {
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'normal' });
  for (let k = 0; k < SESSIONS; k++) {
    const { sessionId } = h.sessions.start({ task: `bench ${k}`, delegator: 'bench' });
    for (let i = 1; i <= ACTIONS; i++) h.sessions.action(sessionId, { name: `step/${i}`, evidence: { i } });
    h.sessions.seal(sessionId);
  }
  await h.recorder.checkpoint();
  const entries = Number(h.recorder.db.size());
  await h.close();
  return entries;
}

async function buildLog(home: string): Promise<number> {
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 60_000 });
  for (let i = 0; i < CALLS; i++) {
    const { attestation, callId, index } = await r.attest({ tool: TOOL, args: callArgs(i), intent: 'bench', server: { name: 'bench', fingerprint: FINGERPRINT }, requestDigest: FINGERPRINT });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { content: [{ type: 'text', text: `Echo: ${callArgs(i).message}` }] } });
  }
  let bytes = 0;
  for (const [, b] of r.db.entries()) bytes += b.length;
  await r.close();
  return bytes / (2 * CALLS);
}

/** `mcp-attest ARGS` to completion, its peak RSS written to `rssFile` when given (bench/maxrss.cjs); its standard output. Throws on a non-zero exit. */
function run(cli: string, args: string[], rssFile?: string): string {
  const preload = rssFile === undefined ? [] : ['--require', MAXRSS];
  const env = rssFile === undefined ? process.env : { ...process.env, BENCH_MAXRSS_FILE: rssFile };
  const r = spawnSync(process.execPath, [...preload, cli, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  if (r.status !== 0) throw new Error(`bench: mcp-attest ${args[0]} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Wall seconds and peak resident set size (MiB) of one `verify TARGET` process (`--home DIR`, or a file and `--trust FILE`); `dir` holds its RSS file. */
function verifyRun(cli: string, dir: string, target: string[], threads: string | null): { seconds: number; rssMiB: number } {
  const rssFile = join(dir, 'verify-maxrss');
  rmSync(rssFile, { force: true });
  const t = performance.now();
  run(cli, ['verify', ...target, '--json', ...(threads ? ['--threads', threads] : [])], rssFile);
  const seconds = (performance.now() - t) / 1000;
  return { seconds, rssMiB: Number(readFileSync(rssFile, 'utf8').trim()) / 1024 };
}

/** The raw per-entry work, as source for a CommonJS worker: SHA-256 + ES256 verify of `n` entries of `size` bytes; posts entries/s. */
const RAW = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, verify, createPublicKey } = require('node:crypto');
const { pem, sig, size, n } = workerData;
const key = createPublicKey(pem);
const data = Buffer.alloc(size, 7);
const t = performance.now();
for (let i = 0; i < n; i++) {
  createHash('sha256').update(data).digest();
  if (!verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig))) throw new Error('raw verify failed');
}
parentPort.postMessage(n / ((performance.now() - t) / 1000));
`;

/** Entries/s of the raw work in `threads` worker threads at once (summed). */
async function rawRate(threads: number, size: number): Promise<number> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sig = sign('sha256', Buffer.alloc(size, 7), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const n = Math.max(2000, Math.floor((2 * CALLS) / threads));
  const rates = await Promise.all(Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(RAW, { eval: true, workerData: { pem, sig: new Uint8Array(sig), size, n } });
    w.once('message', (r: number) => { resolve(r); void w.terminate(); });
    w.once('error', reject);
  })));
  return rates.reduce((a, b) => a + b, 0);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Entries per second and median peak RSS of `REPS` interleaved runs, one thread and the default threads. */
function verifyRuns(cli: string, dir: string, target: string[], entries: number): { oneThread: number; perSecond: number; rssMiB: { one: number; many: number } } {
  const one: Array<{ seconds: number; rssMiB: number }> = [];
  const many: Array<{ seconds: number; rssMiB: number }> = [];
  verifyRun(cli, dir, target, '1'); // warm the page cache
  for (let i = 0; i < REPS; i++) {
    one.push(verifyRun(cli, dir, target, '1'));
    many.push(verifyRun(cli, dir, target, null));
  }
  const seconds = (runs: typeof one): number => median(runs.map((r) => r.seconds));
  const rss = (runs: typeof one): number => median(runs.map((r) => r.rssMiB));
  return { oneThread: entries / seconds(one), perSecond: entries / seconds(many), rssMiB: { one: rss(one), many: rss(many) } };
}

/** Run the section in `dir`; `cli` is dist/cli/main.cjs. */
export async function benchVerify(dir: string, cli: string): Promise<VerifyBench> {
  const home = join(dir, 'verify-log');
  const entryBytes = await buildLog(home);
  const cores = availableParallelism();
  const entries = 2 * CALLS;
  const log = verifyRuns(cli, dir, ['--home', home], entries);
  const trust = join(dir, 'verify-trust.json');
  writeFileSync(trust, run(cli, ['trust', 'export', '--home', home]));
  // A bundle is its entries, JSON-escaped (~1.16x), plus a few hashes: skipped when that passes the verifier's 256 MiB.
  const fits = 1.25 * entries * entryBytes < 256 * 2 ** 20;
  /** The whole log as a range bundle written to `out` (gzip'd when it ends .gz), and its verify runs. */
  const bundled = (out: string): VerifyBench['bundle'] => {
    if (!fits) return null;
    run(cli, ['bundle', '--home', home, '--range', `0..${entries - 1}`, '--out', out]);
    return { bytesPerCall: statSync(out).size / CALLS, ...verifyRuns(cli, dir, [out, '--trust', trust], entries) };
  };
  const file = join(dir, 'verify-range.bundle.json');
  const bundle = bundled(file);
  const gzipped = bundled(`${file}.gz`);
  const sessionHome = join(dir, 'verify-sessions');
  const sessionEntries = await buildSessionLog(sessionHome);
  const sessions = { entries: sessionEntries, ...verifyRuns(cli, dir, ['--home', sessionHome], sessionEntries) };
  return {
    entries, entryBytes, oneThread: log.oneThread, threads: { count: cores, perSecond: log.perSecond }, rssMiB: log.rssMiB, bundle, gzipped, sessions,
    limitOne: await rawRate(1, Math.round(entryBytes)), limitAll: await rawRate(cores, Math.round(entryBytes)),
  };
}

/** Print the section and the issue's target (printed, not asserted). */
export function printVerify(v: VerifyBench): void {
  console.log(`\n## verify of a ${v.entries}-entry log (whole process, median of ${REPS}), beside raw node:crypto per entry (SHA-256 + ES256 verify of ${v.entryBytes.toFixed(0)} bytes)`);
  const table = (r: { oneThread: number; perSecond: number; rssMiB: { one: number; many: number } }): void => printTable(['path', 'entries/s', 'limit', 'ratio', 'peak RSS MiB'], [
    ['mcp-attest verify --threads 1', r.oneThread.toFixed(0), `raw, one thread: ${v.limitOne.toFixed(0)}`, (v.limitOne / r.oneThread).toFixed(2), r.rssMiB.one.toFixed(0)],
    [`mcp-attest verify (${v.threads.count} threads)`, r.perSecond.toFixed(0), `raw, ${v.threads.count} threads: ${v.limitAll.toFixed(0)}`, (v.limitAll / r.perSecond).toFixed(2), r.rssMiB.many.toFixed(0)],
  ]);
  table({ oneThread: v.oneThread, perSecond: v.threads.perSecond, rssMiB: v.rssMiB });
  const b = v.bundle;
  if (b !== null) {
    console.log(`\n## verify of a range bundle of the same ${v.entries / 2} calls (mcp-attest/bundle@2, ${b.bytesPerCall.toFixed(0)} bytes per call; whole process, median of ${REPS}), beside the same limit`);
    table(b);
  }
  const g = v.gzipped;
  if (g !== null) {
    console.log(`\n## the same range bundle gzip'd (bundle --out FILE.gz: ${g.bytesPerCall.toFixed(0)} bytes per call; whole process, median of ${REPS})`);
    table(g);
  }
  console.log(`\n## verify of a log of ${SESSIONS} receipt sessions of ${ACTIONS} actions (${v.sessions.entries} entries; whole process, median of ${REPS}), beside the same limit`);
  table(v.sessions);
  const sized = (what: string): string => `${what}${v.entries === 20_000 ? '' : ` (this one: ${v.entries} entries)`}`;
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`\nTargets (issue 14), printed, not asserted:`);
  console.log(`- verify of ${sized('a 20,000-entry log')} >= 15000 entries/s: ${v.threads.perSecond.toFixed(0)} (${met(v.threads.perSecond >= 15_000)})`);
  if (b === null) console.log(`- a range bundle of ${v.entries} entries would pass a bundle's 256 MiB limit: not made`);
  else console.log(`- verify of ${sized('a 10,000-call range bundle')} >= 15000 entries/s: ${b.perSecond.toFixed(0)} (${met(b.perSecond >= 15_000)}); <= 1600 bytes per call: ${b.bytesPerCall.toFixed(0)} (${met(b.bytesPerCall <= 1600)}), the entries alone ${(2 * v.entryBytes).toFixed(0)}`);
  if (g !== null) console.log(`- the same gzip'd: ${g.perSecond.toFixed(0)} entries/s (${met(g.perSecond >= 15_000)}); ${g.bytesPerCall.toFixed(0)} bytes per call (${met(g.bytesPerCall <= 1600)})`);
}
