/**
 * Several processes creating the same new SQLite store at once: every one opens it (the
 * switch to WAL can deadlock two fresh connections, and SQLite then fails at once instead of
 * waiting; `openSqlite` retries, and so does attaching the evidence store to a log's
 * connection). Real processes, real files.
 */
import { runScript } from './child.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDb } from '../../src/store/log-db.js';
import { EvidenceStore } from '../../src/store/evidence.js';
import { openSqlite, truncateWal, WAL_SIZE_LIMIT } from '../../src/store/sqlite.js';

test('four processes creating the same 40 new log files at once all open every one', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = Date.now() + 4000;
  const script = `
import { LogDb } from ${JSON.stringify(new URL('../../src/store/log-db.ts', import.meta.url).href)};
while (Date.now() < ${start});
const failures = [];
for (let i = 0; i < 40; i++) {
  try { new LogDb(${JSON.stringify(dir)} + '/log' + i + '.db').close(); } catch (e) { failures.push(i + ': ' + e.message); }
}
process.stdout.write(JSON.stringify(failures));`;
  const run = (): Promise<string[]> => runScript<string[]>(script);
  const failures = (await Promise.all(Array.from({ length: 4 }, run))).flat();
  assert.deepEqual(failures, []);
  for (let i = 0; i < 40; i++) {
    const db = new LogDb(join(dir, `log${i}.db`), 'full', true);
    assert.equal(db.size(), 0n);
    db.close();
  }
});

test('four processes attaching the same 40 new evidence files to their logs at once all attach every one', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-attach-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = Date.now() + 4000;
  const script = `
import { LogDb } from ${JSON.stringify(new URL('../../src/store/log-db.ts', import.meta.url).href)};
import { EvidenceStore } from ${JSON.stringify(new URL('../../src/store/evidence.ts', import.meta.url).href)};
const dbs = Array.from({ length: 40 }, (_, i) => new LogDb(${JSON.stringify(dir)} + '/log' + process.pid + '-' + i + '.db'));
while (Date.now() < ${start});
const failures = [];
for (let i = 0; i < 40; i++) {
  try { new EvidenceStore(${JSON.stringify(dir)} + '/evidence' + i + '.db', false, dbs[i].db); } catch (e) { failures.push(i + ': ' + e.message); }
  dbs[i].close();
}
process.stdout.write(JSON.stringify(failures));`;
  const run = (): Promise<string[]> => runScript<string[]>(script);
  const failures = (await Promise.all(Array.from({ length: 4 }, run))).flat();
  assert.deepEqual(failures, []);
  for (let i = 0; i < 40; i++) {
    const store = new EvidenceStore(join(dir, `evidence${i}.db`), true);
    assert.equal(store.get('00'.repeat(32)), null);
    store.close();
  }
});

test('a WAL truncation beside another process checkpointing the same file in a loop waits its turn instead of reporting busy', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-truncate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'busy.db');
  const db = openSqlite(path, 'CREATE TABLE IF NOT EXISTS t (b BLOB)', { durability: 'normal', code: 'ERR_STORE_IO', what: 'test store' });
  t.after(() => db.close());
  const ready = join(dir, 'ready');
  const stop = join(dir, 'stop');
  // The other process keeps putting frames in the WAL and checkpointing them until told to
  // stop (a file, not a clock: a loaded machine must not shorten the overlap): a single try
  // reports busy about half the time here.
  const other = runScript<number>(`
import Database from 'better-sqlite3';
import { existsSync, writeFileSync } from 'node:fs';
const db = new Database(${JSON.stringify(path)}, { timeout: 15000 });
db.pragma('wal_autocheckpoint = 0');
const put = db.prepare('INSERT INTO t (b) VALUES (?)');
const blob = Buffer.alloc(256 * 1024, 7);
let checkpoints = 0;
while (!existsSync(${JSON.stringify(stop)})) {
  db.transaction(() => { for (let i = 0; i < 8; i++) put.run(blob); })();
  db.prepare('DELETE FROM t').run();
  db.pragma('wal_checkpoint(PASSIVE)');
  if (++checkpoints === 1) writeFileSync(${JSON.stringify(ready)}, '');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3);
}
db.close();
process.stdout.write(JSON.stringify(checkpoints));`);
  let exited = false;
  void other.then(() => (exited = true), () => (exited = true));
  while (!existsSync(ready) && !exited) await new Promise((r) => setTimeout(r, 50));
  const results: boolean[] = [];
  const since = Date.now();
  while (results.length < 15 || Date.now() < since + 1500) {
    results.push(truncateWal(db));
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(stop, '');
  const checkpoints = await other;
  assert.ok(checkpoints > 10, 'the other process checkpointed all along');
  assert.deepEqual(results.filter((ok) => !ok), []);
});

test('a WAL a long reader let grow past the size limit is cut back to it once the reader is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-walsize-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'normal');
  t.after(() => db.close());
  const record = (i: bigint): Uint8Array => new TextEncoder().encode(JSON.stringify({ index: i.toString(), pad: 'x'.repeat(60_000) }));
  db.append(record);
  // A reader holding a snapshot: no checkpoint may pass it, so the WAL only grows.
  const reader = new Database(path, { readonly: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM entries').get();
  for (let i = 0; i < 500; i++) db.append(record);
  const grown = statSync(`${path}-wal`).size;
  assert.ok(grown > WAL_SIZE_LIMIT, `the WAL grew to ${grown} bytes`);
  reader.exec('COMMIT');
  reader.close();
  for (let i = 0; i < 20; i++) db.append(record);
  const after = statSync(`${path}-wal`).size;
  assert.ok(after <= WAL_SIZE_LIMIT, `the WAL is back to ${after} bytes`);
  assert.equal(db.size(), 521n);
});

test('a log, its WAL and shared memory, and an evidence store (alone or attached) are made 0600, whatever the umask and the directory: private openings and payloads are not for the machine\'s other users', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-modes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const was = process.umask(0o022);
  t.after(() => process.umask(was));
  const log = new LogDb(join(dir, 'log.db'));
  log.append(() => new TextEncoder().encode('{"type":"x"}'));
  const attached = new EvidenceStore(join(dir, 'attached.db'), false, log.db);
  attached.put({ payload: 1 });
  const alone = new EvidenceStore(join(dir, 'evidence.db'));
  alone.put({ payload: 2 });
  const modes = ['log.db', 'log.db-wal', 'log.db-shm', 'attached.db', 'attached.db-wal', 'evidence.db', 'evidence.db-wal'].map((f) => [f, (statSync(join(dir, f)).mode & 0o777).toString(8)]);
  assert.deepEqual(modes, modes.map(([f]) => [f, '600']));
  alone.close();
  log.close();
  // A file that is there already keeps its own mode: nothing is made through it, nor changed.
  writeFileSync(join(dir, 'old.db'), '', { mode: 0o644 });
  new LogDb(join(dir, 'old.db')).close();
  assert.equal(statSync(join(dir, 'old.db')).mode & 0o777, 0o644);
});
