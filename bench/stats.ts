/**
 * Statistics and printing shared by the bench sections: nearest-rank quantiles over
 * per-call times, the machine line, and Markdown tables. Times are milliseconds unless a
 * name says otherwise.
 */
import { cpus } from 'node:os';

/** Median and 99th percentile of a set of per-call times (milliseconds). */
export interface Summary {
  median: number;
  p99: number;
}

/** One measured path: per-call latency (ms) and sequential throughput (calls per second). */
export interface Row extends Summary {
  path: string;
  perSecond: number;
}

/** Nearest-rank quantile of an ascending array. Requires `sorted.length > 0`, `0 <= q <= 1`. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Median and p99 of `times` (any order; not modified). Requires a non-empty array. */
export function summarize(times: readonly number[]): Summary {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** A row from per-call times (ms) and the wall time of the whole timed loop (ms). */
export function toRow(path: string, times: readonly number[], totalMs: number): Row {
  return { path, ...summarize(times), perSecond: (times.length / totalMs) * 1000 };
}

/** A row of `n` timed sequential calls `call(i)` for i = warmup .. warmup + n - 1, after `warmup` untimed ones (i = 0 .. warmup - 1). */
export async function timedRow(path: string, warmup: number, n: number, call: (i: number) => unknown): Promise<Row> {
  for (let i = 0; i < warmup; i++) await call(i);
  const times: number[] = [];
  const start = performance.now();
  for (let i = warmup; i < warmup + n; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  return toRow(path, times, performance.now() - start);
}

/** `node vX, N x CPU model`: the machine the numbers were taken on. */
export function machine(): string {
  const list = cpus();
  return `node ${process.version}, ${list.length} x ${list[0]?.model ?? 'cpu'}`;
}

/** Print a Markdown table. */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

/**
 * Print latency rows against a baseline row: median, p99, the added median and added p99
 * (difference of the quantiles, not a quantile of differences) and calls per second.
 */
export function printVersus(baseline: Row, rows: readonly Row[], perSecondLabel = 'calls/s'): void {
  const added = (r: Row, v: number, b: number): string => (r === baseline ? '-' : (v - b).toFixed(3));
  printTable(['path', 'median ms', 'p99 ms', 'added median ms', 'added p99 ms', perSecondLabel], rows.map((r) => [
    r.path, r.median.toFixed(3), r.p99.toFixed(3), added(r, r.median, baseline.median), added(r, r.p99, baseline.p99), r.perSecond.toFixed(0),
  ]));
}
