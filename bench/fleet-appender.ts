/**
 * One appending process of the [fleet] bench section (bench/fleet.ts): opens the log
 * (`sqlite PATH` with group commit, or `postgres URL`), appends 50 untimed records, says
 * `ready`, waits for `go` on stdin, then appends `N` records keeping `C` in flight and
 * prints `{ times }` (each append's latency, ms, until durable) as JSON.
 */
import { createInterface } from 'node:readline';
import { LogDb } from '../src/store/log-db.js';
import { SqliteLogStore, type LogStore } from '../src/store/log-store.js';
import { PgLog } from '../src/store/pg-log.js';
import '../src/platform/node.js';

const [driver, target, count, inFlight] = process.argv.slice(2);
const N = Number(count);
const C = Number(inFlight);
const store: LogStore = driver === 'postgres'
  ? await PgLog.open(target!, { entries: 'private', max: 2 })
  : new SqliteLogStore(new LogDb(target!, 'full', false, { groupCommit: true, entries: 'private' }));
const payload = 'x'.repeat(1300); // about an attestation record's size
const record = (i: bigint): Uint8Array => new TextEncoder().encode(`{"index":"${i}","pad":"${payload}","type":"bench/record"}`);
for (let i = 0; i < 50; i++) await store.append(record);
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
rl.close();
const times: number[] = [];
let started = 0;
async function lane(): Promise<void> {
  while (started < N) {
    started++;
    const t0 = performance.now();
    await store.append(record);
    times.push(performance.now() - t0);
  }
}
await Promise.all(Array.from({ length: C }, lane));
process.stdout.write(`${JSON.stringify({ times })}\n`);
await store.close();
process.exit(0);
