/**
 * `npm run bench`: 1,000 sequential `tools/call` (`echo` on the real
 * `@modelcontextprotocol/server-everything`) direct vs through `mcp-attest proxy`, after 100
 * warm-up calls. Client, proxy and server are separate processes over stdio. Prints median
 * and p99 latency, the added median latency, and attested calls per second, for both
 * durability modes (`full`: fsync per append; `normal`: survives process crashes only).
 * Environment: BENCH_CALLS (default 1000), BENCH_WARMUP (default 100).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const CALLS = Number(process.env['BENCH_CALLS'] ?? 1000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 100);
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SERVER = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

interface Row { path: string; median: number; p99: number; perSecond: number }

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(path: string, command: string, args: string[]): Promise<Row> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  for (let i = 0; i < WARMUP; i++) await client.callTool({ name: 'echo', arguments: { message: `warm ${i}` } });
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
    times.push(performance.now() - t);
  }
  const total = performance.now() - start;
  await client.close();
  times.sort((a, b) => a - b);
  return { path, median: quantile(times, 0.5), p99: quantile(times, 0.99), perSecond: (CALLS / total) * 1000 };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  rows.push(await measure('direct', process.execPath, [SERVER]));
  for (const durability of ['full', 'normal']) {
    const home = mkdtempSync(join(tmpdir(), 'mcp-attest-bench-'));
    rows.push(await measure(`proxy, durability ${durability}`, process.execPath, [CLI, 'proxy', '--home', home, '--durability', durability, '--', process.execPath, SERVER]));
    rmSync(home, { recursive: true, force: true });
  }
  const direct = rows[0]!;
  console.log(`mcp-attest bench: ${CALLS} sequential tools/call (echo, server-everything) after ${WARMUP} warm-up; node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
  console.log('| path | median ms | p99 ms | added median ms | calls/s |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.path} | ${r.median.toFixed(3)} | ${r.p99.toFixed(3)} | ${r === direct ? '-' : (r.median - direct.median).toFixed(3)} | ${r.perSecond.toFixed(0)} |`);
}

await main();
