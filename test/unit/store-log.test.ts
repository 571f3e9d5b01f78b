/**
 * The durable log: init (0600 keys, never overwritten), SQLite appends from two connections
 * against the in-memory reference tree, proofs, tiles export read back, and log
 * verification of what the recorder writes; a hostile file's checkpoint notes and
 * cosignature lines read only as long as a note may be.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { LOG_PAGE_SIZE } from '../../src/store/log-schema.js';
import Database from 'better-sqlite3';
import { readTilesDir } from '../../src/store/tiles.js';
import { publishTiles } from '../../src/store/publish.js';
import { SqliteLogStore } from '../../src/store/log-store.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { leafHash } from '../../src/log/hash.js';
import { verifyInclusion, verifyConsistency } from '../../src/log/proof.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { verifyLog } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { loadIdentity, trustPolicyOf } from '../../src/store/identity.js';
import { MAX_NOTE_SIZE, parseNote } from '../../src/log/note.js';
import { isAttestError } from '../../src/errors.js';
import { recordCalls } from './log-helper.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'mcp-attest-unit-'));

test('init writes private keys 0600 and never overwrites them', async () => {
  const home = tmp();
  await initHome(home);
  const p = homePaths(home);
  assert.equal(statSync(p.issuerKey).mode & 0o777, 0o600);
  assert.equal(statSync(p.logKey).mode & 0o777, 0o600);
  await assert.rejects(initHome(home), (e) => isAttestError(e, 'ERR_KEY_EXISTS'));
  rmSync(home, { recursive: true });
});

test('appends from two connections build the same tree as the reference; proofs verify', () => {
  const dir = tmp();
  const a = new LogDb(join(dir, 'log.db'));
  const b = new LogDb(join(dir, 'log.db'));
  const ref = new MemoryTree();
  for (let i = 0; i < 300; i++) {
    const data = new TextEncoder().encode(`entry ${i}`);
    const index = (i % 3 === 0 ? b : a).append(() => data);
    assert.equal(index, ref.append(data));
  }
  assert.deepEqual(a.root(), ref.root());
  for (const size of [1n, 7n, 256n, 257n, 300n]) assert.deepEqual(b.root(size), ref.root(size));
  const proof = a.inclusionProof(123n, 300n);
  assert.ok(verifyInclusion(123n, 300n, leafHash(new TextEncoder().encode('entry 123')), proof, a.root()));
  assert.ok(verifyConsistency(100n, 300n, a.root(100n), a.root(), a.consistencyProof(100n, 300n)));
  a.close();
  b.close();
  rmSync(dir, { recursive: true });
});

test('a recorded log verifies; its tiles export reads back and verifies too', async () => {
  const home = await (async () => { const h = tmp(); await initHome(h); return h; })();
  await recordCalls(home, 140);
  const policy = trustPolicyOf((await import('../../src/store/identity.js')).loadIdentity(home));
  const keys = policyKeyResolver(policy);
  const db = new LogDb(homePaths(home).db);
  const report = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) }, policy, keys);
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.size, '281', 'the parameters entry and 140 calls');
  assert.equal(report.calls, 140);
  const out = join(home, 'tiles');
  await publishTiles(new SqliteLogStore(db), out);
  const t = readTilesDir(out);
  const again = await verifyLog({ entries: t.entries, checkpoints: [t.checkpoint] }, policy, keys);
  assert.equal(again.ok, true);
  assert.deepEqual(t.findings(), []);
  assert.equal(again.size, '281');
  assert.equal(again.sealed, 280, 'the tiles hold commitments only: tree and checkpoints verified, records not');
  assert.equal(again.calls, 0);
  db.close();
  rmSync(home, { recursive: true });
});

test('an attestation without a receipt is reported in flight, not failed', async () => {
  const home = tmp();
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  await r.attest({ tool: 'echo', args: {}, intent: 'x', server: { name: 's', fingerprint: 'sha256:' + '11'.repeat(32) }, requestDigest: 'sha256:' + '22'.repeat(32) });
  await r.close();
  const policy = trustPolicyOf((await import('../../src/store/identity.js')).loadIdentity(home));
  const db = new LogDb(homePaths(home).db);
  const report = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) }, policy, policyKeyResolver(policy));
  db.close();
  assert.equal(report.ok, true);
  assert.equal(report.inFlight, 1);
  assert.deepEqual(report.findings.map((f) => f.code), ['NOTE_IN_FLIGHT', 'NOTE_UNWITNESSED']);
  rmSync(home, { recursive: true });
});

test('a new log file has 1 KiB pages; a log created with 4 KiB pages keeps them and takes appends', () => {
  const dir = tmp();
  try {
    const fresh = new LogDb(join(dir, 'new.db'), 'normal');
    fresh.append((i) => new TextEncoder().encode(`{"index":"${i}"}`));
    assert.equal(fresh.db.pragma('page_size', { simple: true }), LOG_PAGE_SIZE);
    fresh.close();
    const oldPath = join(dir, 'old.db');
    const made = new Database(oldPath);
    made.pragma('page_size = 4096');
    made.pragma('journal_mode = WAL');
    made.close();
    const old = new LogDb(oldPath, 'normal');
    for (let k = 0; k < 3; k++) old.append((i) => new TextEncoder().encode(`{"index":"${i}"}`));
    assert.equal(old.db.pragma('page_size', { simple: true }), 4096);
    assert.equal(old.size(), 3n);
    old.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hostile log file\'s checkpoint notes and cosignature lines are read only as long as a note may be (an empty line counted too): refused as too large, never read whole', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'log.db');
    new LogDb(path, 'normal').close();
    const edit = new Database(path);
    const big = `origin\n1\n${'A'.repeat(3 * MAX_NOTE_SIZE)}\n`;
    edit.prepare('INSERT INTO checkpoints (size, note, created) VALUES (?, ?, 0), (?, ?, 0)').run(1, big, 2, 'origin\n2\nAAAA\n');
    const insert = edit.prepare('INSERT INTO cosignatures (size, witness, line, received) VALUES (2, ?, ?, 0)');
    for (let k = 0; k < 40; k++) insert.run(`w${String(k).padStart(2, '0')}`, `\u2014 w${k} ${'B'.repeat(MAX_NOTE_SIZE / 8)}\n`);
    insert.run('zz', `\u2014 zz ${'C'.repeat(3 * MAX_NOTE_SIZE)}\n`);
    edit.close();
    const db = new LogDb(path, 'full', true);
    const [one, two] = db.checkpoints();
    assert.equal(one!.note.length, MAX_NOTE_SIZE + 1, 'the note is cut one character past the limit');
    assert.ok(two!.note.length > MAX_NOTE_SIZE && two!.note.length < 2 * MAX_NOTE_SIZE, `the lines stop once the note is too large: ${two!.note.length}`);
    assert.equal(db.latestCheckpoint()!.cosigned, two!.note);
    for (const c of [one!, two!]) assert.throws(() => parseNote(c.note), (e) => isAttestError(e, 'ERR_NOTE_MALFORMED'));
    // Empty lines count too: 100,000 of them for one size are read only until they would make a note too large.
    const fill = new Database(path);
    const empty = fill.prepare("INSERT INTO cosignatures (size, witness, line, received) VALUES (3, ?, '', 0)");
    fill.transaction(() => { for (let k = 0; k < 100_000; k++) empty.run(`e${String(k).padStart(6, '0')}`); })();
    fill.close();
    assert.equal(db.cosignatureLines(3n).length, MAX_NOTE_SIZE / 64 + 1);
    const policy = trustPolicyOf(await (async () => { const h = join(dir, 'home'); await initHome(h); return loadIdentity(h); })());
    const r = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) }, policy, policyKeyResolver(policy));
    assert.ok(r.findings.some((f) => f.code === 'ERR_NOTE_MALFORMED'), JSON.stringify(r.findings.slice(0, 3)));
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
