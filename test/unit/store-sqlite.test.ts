/**
 * Several processes creating the same new SQLite store at once: every one opens it (the
 * switch to WAL can deadlock two fresh connections, and SQLite then fails at once instead of
 * waiting; `openSqlite` retries). Real processes, real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
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
  const run = (): Promise<string[]> => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`exit ${code}`))));
  });
  const failures = (await Promise.all(Array.from({ length: 4 }, run))).flat();
  assert.deepEqual(failures, []);
  for (let i = 0; i < 40; i++) {
    const db = new LogDb(join(dir, `log${i}.db`), 'full', true);
    assert.equal(db.size(), 0n);
    db.close();
  }
});
