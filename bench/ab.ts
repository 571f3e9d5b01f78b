/**
 * A/B of the relay's added latency: the same measurement as `npm run bench` sections 1-2
 * (SDK client -> [relay] -> server-everything echo, sequential tools/call, nearest-rank
 * median/p99), builds BEFORE and AFTER interleaved, REPS repetitions, B/A order alternating
 * per repetition (ABBA) so drift does not favour one side.
 *
 * Both builds are CLI entry points, e.g. a worktree of the base revision built beside this one
 * (`git worktree add ../before REV && cd ../before && npm ci && npm run build`):
 *
 *   AB_BEFORE=../before/dist/cli/main.cjs AB_AFTER=dist/cli/main.cjs \
 *   BENCH_CALLS=1000 BENCH_WARMUP=100 AB_REPS=3 npm run bench:ab
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureStdio } from './stdio.js';
import { benchGatekeeper, type BenchSetup } from './gatekeeper.js';
import { machine, type Row } from './stats.js';

const CALLS = Number(process.env['BENCH_CALLS'] ?? 1000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 100);
const REPS = Number(process.env['AB_REPS'] ?? 3);
const BEFORE = process.env['AB_BEFORE'] ?? '';
const AFTER = process.env['AB_AFTER'] ?? '';
if (BEFORE === '' || AFTER === '') {
  process.stderr.write('bench:ab: set AB_BEFORE and AB_AFTER to the two builds\' dist/cli/main.cjs\n');
  process.exit(2);
}
const GATEKEEPER = process.env['AB_GATEKEEPER'] !== '0';
const RAW = fileURLToPath(new URL('./raw-relay.mjs', import.meta.url));
const DURS = (process.env['AB_DURABILITIES'] ?? 'normal,full').split(',');
const req = createRequire(import.meta.url);
const SERVER = join(dirname(req.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

type Side = 'before' | 'after';
/** label -> per-rep rows */
const results = new Map<string, Row[]>();
const put = (label: string, r: Row): void => {
  results.set(label, [...(results.get(label) ?? []), r]);
  console.error(`  ${label.padEnd(34)} median ${r.median.toFixed(3)}  p99 ${r.p99.toFixed(3)}  ${r.perSecond.toFixed(0)}/s`);
};

const med = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const f = (x: number): string => x.toFixed(3);
const spread = (xs: number[]): string => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ab-bench-'));
  const run = { warmup: WARMUP, calls: CALLS };
  const cli = (side: Side): string => (side === 'before' ? BEFORE : AFTER);
  console.error(`A/B: ${REPS} reps x ${CALLS} calls after ${WARMUP} warm-up; ${machine()}`);
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const order: Side[] = rep % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
      console.error(`rep ${rep + 1} (order ${order.join(', ')})`);
      put('direct', await measureStdio('direct', process.execPath, [SERVER], run));
      put('raw line relay', await measureStdio('raw', process.execPath, [RAW, process.execPath, SERVER], run));
      for (const d of DURS) {
        for (const side of order) {
          const home = join(root, `r${rep}-${side}-${d}`);
          put(`proxy ${d} ${side}`, await measureStdio(`proxy ${d} ${side}`, process.execPath, [cli(side), 'proxy', '--home', home, '--durability', d, '--', process.execPath, SERVER], run));
        }
      }
      if (GATEKEEPER) {
        for (const side of order) {
          const s: BenchSetup = { cli: cli(side), server: SERVER, dir: mkdtempSync(join(root, `gk-r${rep}-${side}-`)), warmup: WARMUP, calls: CALLS };
          const g = await benchGatekeeper(s);
          put(`gk direct, attested (${side} run)`, g.rows[0]!);
          put(`gatekeeper full ${side}`, g.rows[1]!);
          put(`gatekeeper normal ${side}`, g.rows[2]!);
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (process.env['AB_OUT']) writeFileSync(process.env['AB_OUT'], JSON.stringify(Object.fromEntries(results), null, 1));

  const meds = (label: string): number[] => results.get(label)!.map((r) => r.median);
  const p99s = (label: string): number[] => results.get(label)!.map((r) => r.p99);
  const direct = meds('direct');
  console.log(`\nA/B, ${REPS} interleaved reps x ${CALLS} calls after ${WARMUP} warm-up; ${machine()}`);
  console.log('| row | median of medians ms | spread (min–max) | added vs direct ms | p99 (median of reps) ms |');
  console.log('|---|---|---|---|---|');
  const row = (label: string, base: number[]): void => {
    const m = meds(label);
    const added = label === 'direct' || label.startsWith('gk direct') ? '-' : f(med(m) - med(base));
    console.log(`| ${label} | ${f(med(m))} | ${spread(m)} | ${added} | ${f(med(p99s(label)))} |`);
  };
  row('direct', direct);
  row('raw line relay', direct);
  for (const d of DURS) for (const side of ['before', 'after']) row(`proxy ${d} ${side}`, direct);
  if (GATEKEEPER) {
    for (const side of ['before', 'after']) {
      const base = meds(`gk direct, attested (${side} run)`);
      row(`gk direct, attested (${side} run)`, base);
      for (const d of ['normal', 'full']) row(`gatekeeper ${d} ${side}`, base);
    }
  }
  console.log('\n| before → after | Δ added median ms (median of per-rep paired Δ) | per-rep Δ | Δ of medians-of-medians |');
  console.log('|---|---|---|---|');
  const delta = (name: string, b: string, a: string, bBase?: string, aBase?: string): void => {
    const B = meds(b), A = meds(a);
    const bb = bBase === undefined ? B.map(() => 0) : meds(bBase);
    const ab = aBase === undefined ? A.map(() => 0) : meds(aBase);
    const per = A.map((x, i) => (x - ab[i]!) - (B[i]! - bb[i]!));
    const mom = (med(A) - med(ab)) - (med(B) - med(bb));
    console.log(`| ${name} | ${f(med(per))} | ${per.map(f).join(', ')} | ${f(mom)} |`);
  };
  for (const d of DURS) delta(`proxy ${d}`, `proxy ${d} before`, `proxy ${d} after`);
  if (GATEKEEPER) for (const d of ['normal', 'full']) delta(`gatekeeper ${d}`, `gatekeeper ${d} before`, `gatekeeper ${d} after`, 'gk direct, attested (before run)', 'gk direct, attested (after run)');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
