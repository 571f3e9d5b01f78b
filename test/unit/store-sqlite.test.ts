/**
 * Several processes creating the same new SQLite store at once: every one opens it (the
 * switch to WAL can deadlock two fresh connections, and SQLite then fails at once instead of
 * waiting; `openSqlite` retries). Real processes, real files.
 */
import { runScript } from './child.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDb } from '../../src/store/log-db.js';

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
