/**
 * Group commit (store/wal-sync.ts): appends written with synchronous=NORMAL, made durable by
 * a shared fdatasync of the WAL. What can be observed without pulling the power: the pragmas,
 * that concurrent waiters share syncs, that a waiter arriving during a sync waits for the
 * next one, that a failed sync is final, and that several processes appending this way build
 * one consistent tree. Real files, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LogDb } from '../../src/store/log-db.js';
import { WalSync } from '../../src/store/wal-sync.js';
import { verifyInclusion } from '../../src/log/proof.js';
import { leafHash } from '../../src/log/hash.js';
import { runScript } from './child.js';
import { fdsOn, tempDir } from './log-helper.js';

const entry = (i: bigint): Uint8Array => new TextEncoder().encode(`entry ${i}`);

test('group commit opens the log with synchronous=NORMAL in WAL mode; without it, full durability is synchronous=FULL', (t) => {
  const dir = tempDir(t);
  const group = new LogDb(join(dir, 'a.db'), 'full', false, { groupCommit: true });
  const plain = new LogDb(join(dir, 'b.db'), 'full');
  try {
    assert.equal(group.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(group.db.pragma('synchronous', { simple: true }), 1);
    assert.equal(plain.db.pragma('synchronous', { simple: true }), 2);
  } finally {
    group.close();
    plain.close();
  }
});

test('50 appends waiting at once share at most two syncs; each waits for a sync begun after its commit', async (t) => {
  const db = new LogDb(join(tempDir(t), 'log.db'), 'full', false, { groupCommit: true });
  try {
    db.append(entry);
    const first = db.durable();
    assert.equal(db.syncs, 1, 'the first waiter starts a sync at once');
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) {
      db.append(entry);
      waits.push(db.durable());
    }
    assert.equal(db.syncs, 1, 'the 50 that came during the first sync wait for the next, not a sync each');
    await first;
    await Promise.all(waits);
    assert.equal(db.syncs, 2);
    assert.equal(db.size(), 51n);
  } finally {
    db.close();
  }
});

test('without group commit, or with durability normal, durable() has nothing to wait for', async (t) => {
  const dir = tempDir(t);
  for (const db of [new LogDb(join(dir, 'a.db')), new LogDb(join(dir, 'b.db'), 'normal', false, { groupCommit: true })]) {
    db.append(entry);
    await db.durable();
    assert.equal(db.syncs, 0);
    db.close();
  }
});

test('a sync that fails is final: every later wait is refused with ERR_STORE_IO', async (t) => {
  const dir = tempDir(t);
  const sync = new WalSync(join(dir, 'never-created.db'));
  await assert.rejects(sync.sync(), { code: 'ERR_STORE_IO' });
  await assert.rejects(sync.sync(), { code: 'ERR_STORE_IO' });
  // Even once the file exists: what the failed sync should have covered is unknown.
  const db = new LogDb(join(dir, 'never-created.db'), 'normal');
  db.append(entry);
  db.close();
  await assert.rejects(sync.sync(), { code: 'ERR_STORE_IO' });
});

test('the WAL\'s sync descriptor is open from the moment a group-commit log is, before anything waits on a sync (a later one could miss a write-back error another took)', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true, prefill: false });
  try {
    assert.equal(db.syncs, 0, 'no sync has run');
    assert.equal(fdsOn(`${path}-wal`, true), 1, 'WalSync\'s descriptor of the WAL is open');
  } finally {
    db.close();
  }
  assert.equal(fdsOn(`${path}-wal`, true), 0, 'closed with the log');
});

test('a log opened through a symlink syncs the WAL SQLite writes, beside the file the link names', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  mkdirSync(join(dir, 'home'));
  const real = join(dir, 'real', 'log.db');
  new LogDb(real, 'full', false, { groupCommit: true, prefill: false }).close();
  symlinkSync(real, join(dir, 'home', 'log.db'));
  const db = new LogDb(join(dir, 'home', 'log.db'), 'full', false, { groupCommit: true });
  try {
    assert.equal(fdsOn(`${real}-wal`, true), 1, 'the real WAL is the one synced');
    assert.equal(await db.appendDurable(entry), 0n);
    assert.equal(db.syncs, 1);
  } finally {
    db.close();
  }
});

test('after a failed sync the log takes no more commits: an append or a checkpoint is refused ERR_STORE_IO and leaves no record', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true, prefill: false });
  t.after(() => db.close());
  (db as unknown as { walSync: WalSync }).walSync = new WalSync(path, ((fd: number, cb: (e: NodeJS.ErrnoException) => void) => {
    setImmediate(() => cb(Object.assign(new Error('EIO'), { code: 'EIO' })));
  }) as never);
  // The first append is committed, then its sync fails: it is refused, its record stays (no power was lost).
  await assert.rejects(db.appendDurable(entry), { code: 'ERR_STORE_IO' });
  assert.equal(db.size(), 1n);
  await assert.rejects(db.appendDurable(entry), { code: 'ERR_STORE_IO' });
  assert.throws(() => db.append(entry), { code: 'ERR_STORE_IO' });
  assert.equal(db.size(), 1n, 'nothing committed after the failure');
  assert.throws(() => db.addCheckpoint(1n, 'a signed note', 0), { code: 'ERR_STORE_IO' });
  assert.equal(db.latestCheckpointSize(), -1n, 'no checkpoint stored after the failure');
});

test('four processes appending with group commit build one tree: 400 entries, every inclusion proof verifies', { timeout: 120_000 }, async (t) => {
  const path = join(tempDir(t), 'log.db');
  new LogDb(path).close();
  const start = Date.now() + 3000;
  const script = `
import { LogDb } from ${JSON.stringify(new URL('../../src/store/log-db.ts', import.meta.url).href)};
const db = new LogDb(${JSON.stringify(path)}, 'full', false, { groupCommit: true });
while (Date.now() < ${start});
const waits = [];
for (let i = 0; i < 100; i++) {
  db.append((n) => new TextEncoder().encode('entry ' + n));
  waits.push(db.durable());
  if (i % 10 === 9) await Promise.all(waits.splice(0));
}
await Promise.all(waits);
const syncs = db.syncs;
db.close();
process.stdout.write(JSON.stringify(syncs));`;
  const syncs = await Promise.all(Array.from({ length: 4 }, () => runScript<number>(script)));
  for (const n of syncs) assert.ok(n >= 1 && n <= 100, `syncs per process: ${n}`);
  const db = new LogDb(path, 'full', true);
  try {
    assert.equal(db.size(), 400n);
    const root = db.root();
    for (const [i, data] of db.entries()) {
      assert.deepEqual(data, entry(i), `entry ${i} names its own index`);
      assert.ok(verifyInclusion(i, 400n, leafHash(data), db.inclusionProof(i, 400n), root), `inclusion of ${i}`);
    }
  } finally {
    db.close();
  }
});

test('after a failed sync, a caller queued behind it is refused too, never told its append is durable', async (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true });
  t.after(() => db.close());
  db.append(() => new TextEncoder().encode('first'));
  let calls = 0;
  // The first fdatasync fails (later, after the caller B queued behind it); any later one would succeed.
  const sync = new WalSync(path, ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    calls++;
    setTimeout(() => cb(calls === 1 ? Object.assign(new Error('EIO'), { code: 'EIO' }) : null), 20);
  }) as never);
  const a = sync.sync();
  const b = sync.sync(); // arrives while the first sync runs: queued for the next one
  const results = await Promise.allSettled([a, b]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) assert.equal(((r as PromiseRejectedResult).reason as { code: string }).code, 'ERR_STORE_IO');
  assert.equal(calls, 1, 'no second fdatasync after a failed one');
  await assert.rejects(sync.sync(), (e: unknown) => (e as { code?: string }).code === 'ERR_STORE_IO');
  sync.close();
});

test('appendDurable: appends that come while a sync runs commit in one transaction just before the next sync, in order, each failing alone', async (t) => {
  const dir = tempDir(t);
  const db = new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true });
  try {
    const first = db.appendDurable(entry);
    assert.equal(db.size(), 1n, 'no sync running: committed at once');
    assert.equal(db.syncs, 1);
    const wal = (): number => statSync(join(dir, 'log.db-wal')).size;
    const wal0 = wal();
    const queued = Array.from({ length: 20 }, (_, i) => db.appendDurable(i === 7 ? () => new Uint8Array(70_000) : entry));
    assert.equal(db.size(), 1n, 'queued while the first sync runs: nothing committed yet');
    assert.equal(await first, 0n);
    const settled = await Promise.allSettled(queued);
    assert.equal(db.syncs, 2, 'the 20 shared the second sync');
    assert.deepEqual(settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code: string }).code)),
      [1n, 2n, 3n, 4n, 5n, 6n, 7n, 'ERR_ENTRY_TOO_LARGE', 8n, 9n, 10n, 11n, 12n, 13n, 14n, 15n, 16n, 17n, 18n, 19n]);
    for (let i = 1n; i < 20n; i++) assert.deepEqual(db.entry(i), entry(i), `entry ${i} is the one built for it`);
    assert.equal(db.size(), 20n);
    // A commit writes at least one WAL frame (a page and its 24-byte header): 19 commits would write 19.
    assert.ok((wal() - wal0) / (4096 + 24) <= 3, `one transaction: ${(wal() - wal0) / (4096 + 24)} frames`);
  } finally {
    db.close();
  }
});

test('appendDurable: a queued append is refused with ERR_STORE_IO when the sync it waits for fails, and never committed after a failed one', async (t) => {
  const dir = tempDir(t);
  const db = new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true });
  t.after(() => db.close());
  let calls = 0;
  (db as unknown as { walSync: WalSync }).walSync = new WalSync(join(dir, 'log.db'), ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    calls++;
    setTimeout(() => cb(calls === 1 ? Object.assign(new Error('EIO'), { code: 'EIO' }) : null), 20);
  }) as never);
  const a = db.appendDurable(entry);
  const b = db.appendDurable(entry);
  const results = await Promise.allSettled([a, b]);
  assert.deepEqual(results.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code), ['ERR_STORE_IO', 'ERR_STORE_IO']);
  assert.equal(db.size(), 1n, 'the queued append was never committed');
  assert.equal(calls, 1);
});

test('appendDurable: a failure that ends the batch\'s transaction (a full disk) fails the whole batch, never commits part of it', async (t) => {
  const dir = tempDir(t);
  const db = new LogDb(join(dir, 'log.db'), 'full', false, { groupCommit: true });
  t.after(() => db.close());
  const rec = (pad: number) => (i: bigint): Uint8Array => new TextEncoder().encode(`entry ${i} ${'x'.repeat(pad)}`);
  const first = db.appendDurable(rec(10));
  db.db.pragma(`max_page_count = ${(db.db.pragma('page_count', { simple: true }) as number) + 3}`);
  const queued = [db.appendDurable(rec(10)), db.appendDurable(rec(60_000)), db.appendDurable(rec(10)), db.appendDurable(rec(10))];
  assert.equal(await first, 0n);
  const settled = await Promise.allSettled(queued);
  assert.deepEqual(settled.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code), ['ERR_STORE_IO', 'ERR_STORE_IO', 'ERR_STORE_IO', 'ERR_STORE_IO']);
  assert.equal(db.size(), 1n, 'nothing of the batch is in the log: its callers were told so');
  assert.equal(db.db.inTransaction, false);
});

test('close: the descriptor of a sync still running on the pool stays open until it ends; the sync queued behind it is refused ERR_STORE_IO', async (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true, prefill: false });
  t.after(() => db.close());
  db.append(entry);
  const base = fdsOn(`${path}-wal`); // SQLite's own
  let finish: ((e: null) => void) | null = null;
  const sync = new WalSync(path, ((fd: number, cb: (e: null) => void) => void (finish = cb)) as never, (() => undefined) as never, () => 0);
  const running = sync.sync();
  const queued = sync.sync();
  assert.equal(fdsOn(`${path}-wal`), base + 1);
  sync.close();
  assert.equal(fdsOn(`${path}-wal`), base + 1, 'not closed under the running sync');
  finish!(null);
  await running;
  await assert.rejects(queued, { code: 'ERR_STORE_IO', message: /closed/ });
  assert.equal(fdsOn(`${path}-wal`), base, 'closed once it ended');
  sync.close();
  assert.equal(sync.syncs, 1, 'the queued sync never ran');
});

test('close: a sync requested after the log is closed is refused ERR_STORE_IO and opens nothing', async (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path, 'full', false, { groupCommit: true, prefill: false });
  db.append(entry);
  await db.durable();
  db.append(entry);
  const running = db.durable();
  db.append(entry);
  const soon = db.durable(true);
  db.close();
  await running;
  await assert.rejects(soon, { code: 'ERR_STORE_IO', message: /closed/ });
  await assert.rejects(db.durable(), { code: 'ERR_STORE_IO' });
  assert.equal(fdsOn(`${path}-wal`), 0, 'no descriptor left on the WAL');
  const reopened = new LogDb(path, 'full', true);
  assert.equal(reopened.size(), 3n, 'the database\'s close kept every commit');
  reopened.close();
});
