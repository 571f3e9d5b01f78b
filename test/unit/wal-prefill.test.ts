/**
 * The WAL allocated at open (store/sqlite.ts `prefillWal`: the log, the nonce store) and the
 * sync on the caller's thread for a call alone (`WalSync.syncNow`, proxy/in-flight.ts `alone`,
 * the gatekeeper's `decision` hint). What can be observed
 * without pulling the power: the WAL's size before and after use, that a copy of the files
 * taken while the log is open (what a crash leaves) recovers every durable entry past the
 * zeros, that a held lock or a failing sync changes nothing SQLite reads or says, and which
 * sync (the thread pool's or the caller's) a call uses. Real files.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs, { copyFileSync, existsSync, readlinkSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { LogDb } from '../../src/store/log-db.js';
import { INLINE_SYNC_MAX_MS, WalSync } from '../../src/store/wal-sync.js';
import { prefillWal } from '../../src/store/sqlite.js';
import { AUTOCHECKPOINT_PAGES } from '../../src/store/wal-checkpointer.js';
import { initHome } from '../../src/store/identity.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { NonceStore } from '../../src/store/nonce-store.js';
import { SessionHome } from '../../src/store/session-export.js';
import { createSessionServer } from '../../src/server/session-server.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fdsOn, tempDir } from './log-helper.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.cjs');


/** A clock that does not move: every sync takes no time. */
const STOPPED = (): number => 0;

const entry = (i: bigint): Uint8Array => new TextEncoder().encode(JSON.stringify({ index: i.toString(), pad: 'x'.repeat(300 + Number(i % 700n)) }));
/** The WAL's size for SQLite's default 1,000 frames of 1 KiB pages plus 64: header 32, frames 24 + 1,024 each. */
const WORKING = 32 + (AUTOCHECKPOINT_PAGES + 64) * (1024 + 24);
const walSize = (path: string): number => statSync(`${path}-wal`).size;

test('a group-commit log opens with its WAL at its working size, and 3,000 appends overwrite it in place, never growing it', async (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  assert.equal(walSize(path), WORKING);
  for (let i = 0; i < 3000; i++) await db.appendDurable(entry);
  assert.equal(db.size(), 3000n);
  assert.equal(walSize(path), WORKING, 'rewound at its checkpoints, never past its working size');
});

test('durability normal and plain full logs are not prefilled (no fdatasync per commit to spare)', (t) => {
  const dir = tempDir(t);
  for (const [name, db] of [['a', new LogDb(join(dir, 'a.db'), 'normal', false, { groupCommit: true })], ['b', new LogDb(join(dir, 'b.db'), 'full')]] as const) {
    assert.ok(walSize(join(dir, `${name}.db`)) < 100_000, `${name}: ${walSize(join(dir, `${name}.db`))}`);
    db.close();
  }
});

test('a copy of the files taken while the log is open (a crash) recovers every durable entry, past a rewind and the zeros after the frames', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  for (const n of [5, 1500, 2600]) {
    while (db.size() < BigInt(n)) await db.appendDurable(entry);
    const copy = join(dir, `copy-${n}.db`);
    copyFileSync(path, copy);
    copyFileSync(`${path}-wal`, `${copy}-wal`);
    const recovered = new LogDb(copy, 'full', true);
    try {
      assert.equal(recovered.size(), BigInt(n));
      for (const i of [0n, BigInt(n - 1)]) assert.deepEqual(recovered.entry(i), entry(i));
      assert.deepEqual(recovered.root(), db.root());
    } finally {
      recovered.close();
    }
  }
});

test('the gatekeeper\'s nonce store in durability full opens with its WAL allocated too (an fsync per accepted nonce); in normal, not', (t) => {
  const dir = tempDir(t);
  const full = new NonceStore(join(dir, 'full.db'));
  const normal = new NonceStore(join(dir, 'normal.db'), { durability: 'normal' });
  try {
    assert.equal(walSize(join(dir, 'full.db')), 32 + (AUTOCHECKPOINT_PAGES + 64) * (4096 + 24));
    assert.ok(walSize(join(dir, 'normal.db')) < 100_000);
    for (let i = 0; i < 2000; i++) assert.equal(full.record('iss', `n${i}`, 2_000_000_000, 1_800_000_000), 'recorded');
    assert.equal(full.record('iss', 'n7', 2_000_000_000, 1_800_000_000), 'replay');
    assert.equal(walSize(join(dir, 'full.db')), 32 + (AUTOCHECKPOINT_PAGES + 64) * (4096 + 24));
  } finally {
    full.close();
    normal.close();
  }
});

test('prefillWal leaves a longer WAL as it is, and gives up at once, changing nothing, while another connection holds the write lock', (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  assert.equal(prefillWal(db.db, path, 10), true);
  assert.equal(walSize(path), WORKING);
  const other = new Database(path, { timeout: 15_000 });
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const started = Date.now();
  assert.equal(prefillWal(db.db, path, 4000), false);
  assert.ok(Date.now() - started < 5000, 'no wait for the lock');
  assert.equal(walSize(path), WORKING);
  assert.equal(db.db.pragma('busy_timeout', { simple: true }), 15_000, 'the busy timeout is restored');
  other.exec('ROLLBACK');
  assert.equal(prefillWal(db.db, path, 4000), true);
  assert.equal(walSize(path), 32 + 4064 * 1048);
  assert.equal(db.db.inTransaction, false);
});

test('a failed fsync of the WAL at open is not best effort: the log and the nonce store refuse to open, ERR_STORE_IO (the frames already committed may be lost)', (t) => {
  const dir = tempDir(t);
  // Write-back errors of the WAL, as the kernel reports them to an fsync (EIO); the directory's fsync is left alone.
  const real = fs.fsyncSync;
  fs.fsyncSync = ((fd: number) => {
    if (readlinkSync(`/proc/self/fd/${fd}`).endsWith('-wal')) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    real(fd);
  }) as typeof fs.fsyncSync;
  syncBuiltinESMExports();
  t.after(() => {
    fs.fsyncSync = real;
    syncBuiltinESMExports();
  });
  assert.throws(() => new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true }), { code: 'ERR_STORE_IO' });
  assert.equal(fdsOn(join(dir, 'log.db')), 0, 'the failed open left no descriptor behind');
  assert.throws(() => new NonceStore(join(dir, 'nonces.db')), { code: 'ERR_STORE_IO' });
  // Where nothing is synced at open (durability normal, a short-lived open), nothing changes.
  new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true, prefill: false }).close();
  new NonceStore(join(dir, 'nonces.db'), { durability: 'normal' }).close();
});

test('a group-commit log whose WAL directory cannot be opened to sync is not opened: ERR_STORE_IO, no descriptor left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const real = fs.openSync;
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    if (p === dir) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    return (real as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  t.after(() => {
    fs.openSync = real;
    syncBuiltinESMExports();
  });
  assert.throws(() => new LogDb(path, 'full', false, { groupCommit: true }), { code: 'ERR_STORE_IO' });
  assert.equal(fdsOn(path), 0);
  // Without group commit nothing is synced apart from SQLite's commits: it opens.
  new LogDb(path, 'full').close();
});

test('syncNow: false while a sync runs on the pool; a failure throws ERR_STORE_IO and is final for both kinds of sync', async (t) => {
  const dir = tempDir(t);
  const db = new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true });
  t.after(() => db.close());
  db.append(entry);
  let now = 0;
  const sync = new WalSync(join(dir, 'log.db'), ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setImmediate(() => cb(null))) as never, (() => {
    now++;
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  }) as never, STOPPED);
  const running = sync.sync();
  assert.equal(sync.syncNow(), false, 'a sync begun on the pool may predate the caller\'s commit');
  assert.equal(now, 0);
  await running;
  assert.throws(() => sync.syncNow(), { code: 'ERR_STORE_IO' });
  assert.throws(() => sync.syncNow(), { code: 'ERR_STORE_IO' });
  await assert.rejects(sync.sync(), { code: 'ERR_STORE_IO' });
  assert.equal(now, 1, 'never tried again after a failure');
  sync.close();
});

/** A data directory in a temporary directory, initialized, and its log's path. */
async function tempHome(t: TestContext): Promise<{ home: string; path: string }> {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  return { home, path: join(home, 'log.db') };
}

/**
 * Give `db` a WAL sync whose syncs are test doubles: `pooled(done)` for the pool's (call `done`
 * to finish it), `inline` for the loop's, all taking no time (a loaded machine's slow event
 * loop must not turn the loop's syncs off here).
 */
function fakeSyncs(db: LogDb, path: string, pooled: (done: (e: null) => void) => void, inline: () => void): void {
  (db as unknown as { walSync: WalSync }).walSync = new WalSync(path, ((fd: number, cb: (e: null) => void) => pooled(cb)) as never, inline as never, STOPPED);
}

/** A recorder whose log's syncs are counted: `pooled` on the thread pool, `inline` on the caller's thread (both succeed). */
async function countingRecorder(t: TestContext): Promise<{ r: Recorder; counts: { inline: number; pooled: number; seen: number[] } }> {
  const { home, path } = await tempHome(t);
  const r = await Recorder.open(home, { durability: 'full', checkpointMs: 1e9 });
  t.after(() => r.close());
  const counts = { inline: 0, pooled: 0, seen: [] as number[] };
  assert.ok(existsSync(path));
  // Each sync checks, from another connection, that the appends it serves are committed
  // before it starts (a sync begun earlier would not cover them): `seen` is the entries then.
  const other = new Database(path, { readonly: true });
  t.after(() => other.close());
  const committed = (): number => (other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
  fakeSyncs(r.db, path, (done) => { counts.pooled++; counts.seen.push(committed()); setImmediate(() => done(null)); }, () => { counts.inline++; counts.seen.push(committed()); });
  return { r, counts };
}

const FP = `sha256:${'11'.repeat(32)}`;

test('the recorder syncs a call alone on its own thread and calls in flight together on the pool, shared', async (t) => {
  const { r, counts } = await countingRecorder(t);
  const call = async (i: number): Promise<void> => {
    const a = await r.attest({ tool: 'echo', args: { i }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP });
    await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { i } });
  };
  const before = Number(r.db.size());
  for (let i = 0; i < 3; i++) await call(i);
  assert.deepEqual([counts.inline, counts.pooled], [6, 0], 'sequential calls: each append synced inline');
  assert.deepEqual(counts.seen, [1, 2, 3, 4, 5, 6].map((k) => before + k), 'each sync began after its own append was committed');
  // One call upstream (attested, not answered) keeps the next off the fast path.
  const upstream = await r.attest({ tool: 'slow', args: {}, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP });
  assert.deepEqual([counts.inline, counts.pooled], [7, 0]);
  await call(10);
  assert.deepEqual([counts.inline, counts.pooled], [7, 2], 'with a call upstream, the other call\'s appends use the pool');
  await r.receipt({ callId: upstream.callId, attestation: upstream.attestation, attestationIndex: upstream.index, status: 'executed', result: {} });
  assert.deepEqual([counts.inline, counts.pooled], [8, 2], 'its answer, the only call in flight by then: inline');
  const calls = await Promise.all([20, 21, 22].map((i) => r.attest({ tool: 'echo', args: { i }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP })));
  assert.equal(counts.inline, 8, 'calls attested together: the pool (the others are being recorded or upstream)');
  assert.ok(counts.pooled >= 3 && counts.pooled <= 5, `their appends: ${counts.pooled - 2} syncs`);
  await Promise.all(calls.map((a) => r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: {} })));
  // However the machine schedules them, only the last receipt can find itself alone.
  assert.ok(counts.inline <= 9, `answered together: the pool, but for the last one, if alone by then: ${counts.inline - 8}`);
  const inline = counts.inline;
  await call(30);
  assert.equal(counts.inline, inline + 2, 'alone again: inline');
  assert.equal(counts.seen.at(-1), Number(r.db.size()), 'the last sync covered every append');
});

test('a call alone whose inline sync fails is never forwarded: ERR_STORE_IO, and every later append fails too', async (t) => {
  const { home, path } = await tempHome(t);
  const r = await Recorder.open(home, { durability: 'full', checkpointMs: 1e9 });
  t.after(() => r.close().catch(() => undefined));
  let tries = 0;
  fakeSyncs(r.db, path, (done) => setImmediate(() => done(null)), () => {
    tries++;
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  });
  const input = { tool: 'echo', args: {}, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP };
  await assert.rejects(r.attest(input), { code: 'ERR_STORE_IO' });
  await assert.rejects(r.attest(input), { code: 'ERR_STORE_IO' });
  assert.equal(tries, 1, 'the failed sync is final: not tried again');
});

/** A clock for the syncs of a test: `ms` is its time; `slow()` is a sync taking 8 times the longest average kept on the loop. */
function testClock(): { ms: number; now: () => number; slow: () => void } {
  const c = { ms: 0, now: () => c.ms, slow: () => void (c.ms += 8 * INLINE_SYNC_MAX_MS) };
  return c;
}

test('syncNow stays off while recent syncs are slow (a loaded disk would stall the loop), and comes back once they are fast again', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  db.append(entry);
  let slow = true;
  let inline = 0;
  const clock = testClock();
  const sync = new WalSync(path, ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setImmediate(() => cb(null))) as never, (() => {
    inline++;
    if (slow) clock.slow();
  }) as never, clock.now);
  t.after(() => sync.close());
  assert.equal(sync.syncNow(), true);
  assert.equal(sync.syncNow(), false, 'one slow sync on the loop is enough: the next goes to the pool');
  assert.equal(inline, 1);
  slow = false;
  let pooled = 0;
  while (!sync.syncNow()) {
    await sync.sync();
    pooled++;
    assert.ok(pooled < 50, 'fast syncs on the pool bring the loop\'s back');
  }
  assert.ok(pooled >= 2, `the average forgets a slow sync gradually: ${pooled}`);
  assert.equal(inline, 2);
});

test('a short-lived open (prefill false: log checkpoint, receipt commands; log erase too, which truncates the WAL anyway) leaves the WAL unallocated', async (t) => {
  const dir = tempDir(t);
  const db = new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true, prefill: false });
  db.append(entry);
  await db.durable();
  assert.ok(walSize(join(dir, 'log.db')) < 100_000);
  db.close();
  const home = join(dir, 'home');
  await initHome(home);
  const r = await Recorder.open(home, { shortLived: true });
  assert.ok(walSize(join(home, 'log.db')) < 100_000);
  await r.close();
  // The commands themselves, with a connection of ours keeping the WAL (SQLite removes it at
  // the last close): each leaves it as small as it found it.
  const held = new Database(join(home, 'log.db'));
  try {
    held.prepare('SELECT count(*) FROM entries').get();
    for (const args of [['log', 'checkpoint'], ['receipt', 'list'], ['log', 'checkpoint']]) {
      const run = spawnSync(process.execPath, [CLI, ...args, '--home', home], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(walSize(join(home, 'log.db')) < 100_000, `${args.join(' ')}: ${walSize(join(home, 'log.db'))}`);
    }
    const long = await Recorder.open(home);
    assert.ok(walSize(join(home, 'log.db')) >= WORKING);
    await long.close();
  } finally {
    held.close();
  }
});

test('a gatekeeper decision syncs inline only when its relay has no call upstream and the recorder no call of its own', async (t) => {
  const { r, counts } = await countingRecorder(t);
  const decision = { callId: 'c', server: { name: 's', fingerprint: FP }, tool: 'echo', requestDigest: FP, decision: 'refused' as const, reason: 'test', code: 'ERR_TEST', attestation: null };
  await r.decision(decision, true);
  assert.deepEqual([counts.inline, counts.pooled], [1, 0]);
  await r.decision(decision, false);
  assert.deepEqual([counts.inline, counts.pooled], [1, 1], 'a call upstream: the pool');
  const own = r.attest({ tool: 'echo', args: {}, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP });
  await r.decision(decision, true);
  await own;
  assert.equal(counts.inline, 1, 'a call of the recorder\'s own in flight: the pool for both');
});

test('syncSoon: the callers of one turn of the event loop share one sync, made on the loop while syncs are fast, else on the pool', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  const other = new Database(path, { readonly: true });
  t.after(() => other.close());
  const committed = (): number => (other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
  const seen = { inline: [] as number[], pooled: [] as number[] };
  let slow = false;
  // A sync on the pool ends when the test says (`finish`): the running sync is running.
  const pending: Array<(e: null) => void> = [];
  const finish = async (): Promise<void> => {
    for (let turns = 0; pending.length === 0; turns++) {
      assert.ok(turns < 1000, 'a sync on the pool was expected');
      await new Promise((r) => setImmediate(r));
    }
    pending.shift()!(null);
  };
  const clock = testClock();
  const sync = new WalSync(path, ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    seen.pooled.push(committed());
    pending.push(cb);
  }) as never, (() => {
    seen.inline.push(committed());
    if (slow) clock.slow();
  }) as never, clock.now);
  t.after(() => sync.close());
  // As handlers of requests read together run: each appends a few microtasks after the last.
  const burst = (n: number): Array<Promise<void>> => Array.from({ length: n }, async (_, k) => {
    for (let j = 0; j < 3 * k; j++) await null;
    db.append(entry);
    return sync.syncSoon();
  });
  await Promise.all(burst(5));
  assert.deepEqual(seen, { inline: [5], pooled: [] }, 'one sync on the loop for the five, after the last was committed');
  const running = sync.sync();
  const two = Promise.all(burst(2));
  await new Promise((r) => setImmediate(r));
  await finish();
  await finish();
  await Promise.all([running, two]);
  assert.deepEqual(seen, { inline: [5], pooled: [5, 7] }, 'a sync already running may predate the commits: the next one, on the pool');
  slow = true;
  await Promise.all(burst(1));
  slow = false;
  const next = Promise.all(burst(1));
  await finish();
  await next;
  assert.deepEqual(seen, { inline: [5, 8], pooled: [5, 7, 9] }, 'a slow sync on the loop sends the next to the pool');
});

test('serve answers every writing tool only after a sync that began after its append, on the loop; a failed sync is an ERR_STORE_IO result', async (t) => {
  const { home, path } = await tempHome(t);
  const h = await SessionHome.open(home, { durability: 'full', checkpointMs: 1e9 });
  t.after(() => h.close().catch(() => undefined));
  const other = new Database(path, { readonly: true });
  t.after(() => other.close());
  const committed = (): number => (other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
  const counts = { inline: 0, pooled: 0, synced: -1 };
  let fail = false;
  fakeSyncs(h.recorder.db, path, (done) => { counts.pooled++; setImmediate(() => done(null)); }, () => {
    counts.inline++;
    if (fail) throw Object.assign(new Error('EIO'), { code: 'EIO' });
    counts.synced = committed();
  });
  const { server, flush } = createSessionServer(h, { checkpointMs: 1e9 });
  t.after(flush);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  t.after(() => client.close());
  const called = new Set<string>();
  const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
    const before = committed();
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    assert.ok(fail || !r.isError, JSON.stringify(r.content));
    if (!fail) {
      assert.ok(committed() > before, `${name} appended`);
      assert.equal(counts.synced, committed(), `${name} answered after a sync that saw every entry appended`);
    }
    called.add(name);
    return r;
  };
  const { sessionId } = (await call('start_session', { task: 't', delegator: 'd' })).structuredContent as { sessionId: string };
  for (let i = 0; i < 3; i++) await call('record_action', { sessionId, name: `step/${i}` });
  await call('record_approval', { sessionId, declared: { party: 'approver:alice', seq: 1 } });
  await call('record_counterparty_confirmation', { sessionId, declared: { party: 'counterparty:bob', seq: 2 } });
  await call('finalize_session', { sessionId });
  await call('attach_approval', { sessionId, declared: { party: 'approver:carol', seq: 3 } });
  await call('attach_counterparty_confirmation', { sessionId, declared: { party: 'counterparty:bob' } });
  assert.deepEqual([counts.inline, counts.pooled], [9, 0]);
  const { tools } = await client.listTools();
  assert.deepEqual([...called].sort(), tools.filter((x) => x.annotations?.readOnlyHint === false).map((x) => x.name).sort(), 'every tool that writes is covered');
  // A read is answered once the syncs pending meanwhile have ended; with none pending it costs none.
  const read = (id: string) => client.readResource({ uri: `mcp-attest://sessions/${id}` });
  assert.match(JSON.stringify((await read(sessionId)).contents), /step\/2/);
  assert.equal((await client.listResources()).resources.length, 3, 'the list, the session and its receipt');
  assert.equal(counts.inline, 9, 'a read made no sync of its own');
  const { sessionId: other2 } = (await call('start_session', { task: 't2', delegator: 'd' })).structuredContent as { sessionId: string };
  fail = true;
  const entries = committed();
  for (let i = 3; i < 5; i++) {
    const r = await call('record_action', { sessionId: other2, name: `step/${i}` });
    assert.equal((r.structuredContent as { code?: string }).code, 'ERR_STORE_IO');
  }
  assert.equal(counts.inline, 11, 'never tried again after a failure');
  // The first action was committed before its sync failed; the second was refused before it: nothing after the failure is in the log.
  assert.equal(committed(), entries + 1);
  // Neither the state nor the list shows what may be lost: the reads fail as the tools did.
  await assert.rejects(read(other2), /ERR_STORE_IO/);
  await assert.rejects(client.readResource({ uri: 'mcp-attest://sessions' }), /ERR_STORE_IO/);
  await assert.rejects(client.listResources(), /ERR_STORE_IO/);
  // A tool's own error (an unknown session) is not answered as if the log were sound either.
  const unknown = await call('record_action', { sessionId: `ses_${'A'.repeat(22)}`, name: 'x' });
  assert.equal((unknown.structuredContent as { code?: string }).code, 'ERR_STORE_IO');
});
