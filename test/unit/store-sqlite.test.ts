/**
 * Several processes creating the same new SQLite store at once: every one opens it (the
 * switch to WAL can deadlock two fresh connections, and SQLite then fails at once instead of
 * waiting; `openSqlite` retries, and so does attaching the evidence store to a log's
 * connection). Real processes, real files.
 */
import { runScript } from './child.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDb } from '../../src/store/log-db.js';
import { EvidenceStore } from '../../src/store/evidence.js';

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
