/**
 * WAL checkpoints off the event loop (store/wal-checkpointer.ts), on the compiled recorder a
 * proxy runs (the worker exists in dist/ only), in a process of its own: while calls are
 * recorded the log's database file grows before SQLite's own checkpoint would have run (the
 * worker copies the WAL into it), the WAL stays bounded with group commit (the writer still
 * rewinds it), every entry verifies afterwards, the WAL files are gone after close (the
 * worker's connections closed first), and a worker that dies hands the checkpoints back to
 * SQLite's own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'node:test';
import { cli, ROOT, scope } from './helpers.js';

const dist = (m: string): string => pathToFileURL(join(ROOT, 'dist', m)).href;

/** Records `calls` calls (attestation + receipt) in `home` with the compiled recorder; prints what it saw as JSON. */
const SCRIPT = `
import { statSync, existsSync } from 'node:fs';
await import(${JSON.stringify(dist('platform/node.js'))});
const { initHome } = await import(${JSON.stringify(dist('store/identity.js'))});
const { Recorder } = await import(${JSON.stringify(dist('proxy/recorder.js'))});
const [home, calls, kill, durability] = [process.argv[1], Number(process.argv[2]), process.argv[3] === 'kill', process.argv[4]];
const size = (f) => (existsSync(f) ? statSync(f).size : -1);
await initHome(home);
const r = await Recorder.open(home, { durability, checkpointMs: 60000 });
const autocheckpoint = () => r.db.db.pragma('wal_autocheckpoint', { simple: true });
const out = { dbBefore: size(home + '/log.db'), maxWal: 0, autocheckpoint: [autocheckpoint()] };
for (let i = 0; i < calls; i++) {
  if (i === 100) out.autocheckpoint.push(autocheckpoint());
  if (i === 100 && kill) {
    const w = r.db.checkpointer.worker;
    await new Promise((resolve) => { w.once('exit', resolve); void w.terminate(); });
    out.autocheckpoint.push(autocheckpoint());
  }
  const args = { message: 'call ' + i };
  const a = await r.attest({ tool: 'echo', args, intent: 'test', server: { name: 't', fingerprint: 'sha256:' + '11'.repeat(32) }, requestDigest: 'sha256:' + '22'.repeat(32) });
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { content: [{ type: 'text', text: 'Echo: ' + args.message }] } });
  if (i % 50 === 0) out.maxWal = Math.max(out.maxWal, size(home + '/log.db-wal'), size(home + '/evidence.db-wal'));
}
// A pause that reaches the event loop: the worker's last checkpoint ends meanwhile.
await new Promise((resolve) => setTimeout(resolve, 500));
out.dbDuring = size(home + '/log.db');
await r.close();
out.walAfter = [size(home + '/log.db-wal'), size(home + '/evidence.db-wal')];
console.log(JSON.stringify(out));
`;

function record(home: string, calls: number, o: { kill?: boolean; durability?: 'full' | 'normal' } = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, home, String(calls), o.kill === true ? 'kill' : '', o.durability ?? 'normal'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** `mcp-attest verify` of `home`: [ok, size, calls, receipts]. */
function verified(home: string): [boolean, string, number, number] {
  const v = cli(['verify', '--home', home, '--json']);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const r = JSON.parse(v.stdout) as { ok: boolean; size: string; calls: number; receipts: number };
  return [r.ok, r.size, r.calls, r.receipts];
}

test('100 calls (200 appends, ~630 WAL pages, below SQLite\'s own 1,000): the worker has already copied them into the database file', (t) => {
  const out = record(scope(t).home, 100);
  assert.deepEqual(out['autocheckpoint'], [1000]);
  assert.ok((out['dbDuring'] as number) >= (out['dbBefore'] as number) + 100 * 1024, `log.db grew before close: ${JSON.stringify(out)}`);
});

test('recording 3,000 calls with group commit (durability full, the default): the WAL stays bounded, all verifies, no WAL left after close', (t) => {
  const { home } = scope(t);
  const out = record(home, 3000, { durability: 'full' });
  assert.deepEqual((out['autocheckpoint'] as number[]).slice(-1), [4000], 'the worker ran');
  // 6,000 entries of ~1 KB: the log's pages reach the database file before close.
  assert.ok((out['dbDuring'] as number) > 4 * 1024 * 1024, `log.db grew while appending: ${JSON.stringify(out)}`);
  // 4,000 pages of the writer's rewind threshold plus what is appended meanwhile, far below an unbounded WAL (~25 MB here).
  assert.ok((out['maxWal'] as number) <= 18 * 1024 * 1024, `WAL bounded: ${JSON.stringify(out)}`);
  assert.deepEqual(out['walAfter'], [-1, -1]);
  assert.deepEqual(verified(home), [true, '6001', 3000, 3000]);
});

test('a checkpoint worker that dies hands checkpoints back to SQLite (wal_autocheckpoint 1000), and recording goes on', (t) => {
  const { home } = scope(t);
  const out = record(home, 300, { kill: true });
  // No worker before the first 128 appends (SQLite's 1,000); while it runs, the writer's
  // own checkpoint only rewinds a WAL of 4,000 pages; once it is gone, 1,000 again.
  assert.deepEqual(out['autocheckpoint'], [1000, 4000, 1000]);
  assert.deepEqual(out['walAfter'], [-1, -1]);
  assert.deepEqual(verified(home), [true, '601', 300, 300]);
});
