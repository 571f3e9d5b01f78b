/**
 * The evidence store attached to the log's connection: a recorded call's arguments and
 * result are kept by the digest their commitments carry, and committed with the log entry
 * in one transaction: when the evidence cannot be written the entry is not appended (the
 * call fails before anything is forwarded), and when the entry cannot be, no evidence stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initHome } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { EvidenceStore } from '../../src/store/evidence.js';
import { canonicalBytes } from '../../src/jcs/index.js';
import { sha256, useSha256 } from '../../src/bytes/digest.js';
import { nodeSha256 } from '../../src/platform/node.js';
import { toHex } from '../../src/bytes/index.js';
import { tempDir } from './log-helper.js';


const FP = `sha256:${'11'.repeat(32)}`;
const call = { tool: 'echo', args: { message: 'kept' }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP };

test('arguments and result are kept by the digest of their JCS bytes, not indexed (nothing looks them up); a session action\'s evidence is indexed as it is stored', async (t) => {
  const home = tempDir(t);
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const result = { content: [{ type: 'text', text: 'Echo: kept' }] };
  const { attestation, callId, index } = await r.attest(call);
  await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result });
  const evidence = { step: 'looked up by a session receipt' };
  const { sessionId } = r.sessions.start({ task: 't', delegator: 'd' });
  r.sessions.action(sessionId, { name: 'step', evidence });
  await r.close();
  const db = new Database(homePaths(home).evidence, { readonly: true });
  const kept = db.prepare('SELECT data FROM payloads WHERE digest = ?');
  for (const v of [call.args, result, evidence]) assert.deepEqual(new Uint8Array((kept.get(sha256(canonicalBytes(v))) as { data: Buffer }).data), canonicalBytes(v));
  const indexed = (db.prepare('SELECT digest FROM payload_index').all() as Array<{ digest: Buffer }>).map((row) => toHex(row.digest));
  db.close();
  assert.deepEqual(indexed, [toHex(sha256(canonicalBytes(evidence)))]);
  const store = new EvidenceStore(homePaths(home).evidence, true);
  assert.deepEqual(store.get(toHex(sha256(canonicalBytes(evidence)))), canonicalBytes(evidence), 'the session evidence is looked up');
  assert.equal(store.get(toHex(sha256(canonicalBytes(call.args)))), null, 'settled at close: the table is not read for a call\'s arguments');
  store.close();
});

test('a payload is hashed once: the commitment\'s digest is the one the evidence store keeps it by', async (t) => {
  const home = tempDir(t);
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const big = { message: 'x'.repeat(100_000) };
  const hashed: number[] = [];
  useSha256((d) => (hashed.push(d.length), nodeSha256(d)));
  try {
    await r.attest({ ...call, args: big });
  } finally {
    useSha256(nodeSha256);
  }
  await r.close();
  const size = canonicalBytes(big).length;
  assert.equal(hashed.filter((n) => n === size).length, 1, `one SHA-256 of the arguments' ${size} bytes (hashed: ${hashed.join(', ')})`);
  const db = new Database(homePaths(home).evidence, { readonly: true });
  assert.deepEqual(new Uint8Array((db.prepare('SELECT data FROM payloads WHERE digest = ?').get(sha256(canonicalBytes(big))) as { data: Buffer }).data), canonicalBytes(big));
  db.close();
});

test('evidence that cannot be written stops the append: the log does not grow', async (t) => {
  const home = tempDir(t);
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  await r.attest(call);
  const size = r.db.size();
  const ev = new Database(homePaths(home).evidence);
  ev.exec("CREATE TRIGGER refuse BEFORE INSERT ON payloads BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  ev.close();
  await assert.rejects(r.attest({ ...call, args: { message: 'not kept' } }), /disk full/);
  assert.equal(r.db.size(), size);
  await r.close();
});

test('an append that fails keeps no evidence of its call: both commit together or neither', async (t) => {
  const home = tempDir(t);
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const args = { message: 'never logged' };
  await assert.rejects(r.attest({ ...call, args, requestDigest: 'x'.repeat(70_000) }), (e: unknown) => (e as { code?: string }).code === 'ERR_ENTRY_TOO_LARGE');
  assert.equal(r.db.size(), 1n, 'only the parameters entry');
  assert.equal(r.evidence?.get(toHex(sha256(canonicalBytes(args)))), null);
  await r.close();
});

test('payloads put to be looked up are indexed and found; others only until the store is settled; every copy is erased; an earlier version\'s table is read and erased', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'evidence.db');
  // An evidence.db as earlier versions wrote it: content-addressed, hex digests.
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec('CREATE TABLE evidence (digest TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID');
  const legacy = canonicalBytes({ kept: 'by an earlier version' });
  old.prepare('INSERT INTO evidence VALUES (?, ?)').run(toHex(sha256(legacy)), legacy);
  old.close();
  const readOld = new EvidenceStore(path, true);
  assert.deepEqual(readOld.get(toHex(sha256(legacy))), legacy, 'an earlier version\'s file, read-only');
  readOld.close();

  const store = new EvidenceStore(path);
  const a = canonicalBytes({ a: 1 });
  const b = canonicalBytes({ b: 2 });
  const ha = store.putBytes(a);
  store.putBytes(a);
  const hb = store.putBytes(b);
  assert.equal(ha, toHex(sha256(a)));
  for (const [h, v] of [[ha, a], [hb, b]] as const) assert.deepEqual(store.get(h), v, 'a payload not indexed (a call\'s) is found until the store is settled');
  const c = canonicalBytes({ c: 3 });
  const hc = store.putBytes(c, sha256(c), true);
  const indexed = new Database(path, { readonly: true });
  assert.deepEqual((indexed.prepare('SELECT digest FROM payload_index').all() as Array<{ digest: Buffer }>).map((r) => toHex(r.digest)), [hc], 'only the payload put to be looked up is indexed');
  indexed.close();
  store.settle();
  assert.equal(store.get(ha), null, 'settled: a call\'s payload is not read from the table');
  for (const [h, v] of [[hc, c], [toHex(sha256(legacy)), legacy]] as const) assert.deepEqual(store.get(h), v, 'found through the index (nothing else finds it once settled), and in the earlier version\'s table');
  assert.equal(store.get('00'.repeat(32)), null);
  assert.equal(store.get('not hex'), null);
  assert.equal(store.erase([ha, toHex(sha256(legacy))]), 3, 'both copies of a, and the earlier version\'s row');
  for (const h of [ha, toHex(sha256(legacy))]) assert.equal(store.get(h), null);
  const kept = new Database(path, { readonly: true });
  assert.equal((kept.prepare('SELECT count(*) AS n FROM payloads WHERE digest = ?').get(sha256(b)) as { n: number }).n, 1, 'b is kept');
  kept.close();
  store.close();
  const bytes = readFileSync(path);
  assert.equal(bytes.indexOf(Buffer.from(a)), -1, 'no copy left in the file');
  assert.equal(bytes.indexOf(Buffer.from(legacy)), -1);
});

test('a payload appended after the newest (or every) payload was erased is found and indexed, past the mark; the erased one is not found under the id given again', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'evidence.db');
  const store = new EvidenceStore(path);
  const put = (v: unknown): string => {
    const bytes = canonicalBytes(v);
    return store.putBytes(bytes, sha256(bytes), true);
  };
  const a = put({ a: 1 });
  const b = put({ b: 2 });
  store.settle();
  assert.equal(store.erase([b]), 1, 'the newest payload');
  const c = put({ c: 3 });
  assert.equal(store.get(b), null, 'erased: not found, though its id is c\'s now');
  const entries = new Database(path, { readonly: true });
  assert.deepEqual((entries.prepare('SELECT digest FROM payload_index ORDER BY id').all() as Array<{ digest: Buffer }>).map((r) => toHex(r.digest)), [a, c], 'the erased payload\'s index entry is gone');
  entries.close();
  assert.deepEqual(store.get(c), canonicalBytes({ c: 3 }));
  const state = new Database(path, { readonly: true });
  const [{ indexed }, { id }] = [state.prepare('SELECT indexed FROM payload_state').get() as { indexed: number }, state.prepare('SELECT max(id) AS id FROM payloads').get() as { id: number }];
  state.close();
  assert.ok(indexed < id, `the id given again is past the mark (mark ${indexed}, id ${id})`);
  assert.equal(store.erase([a, c]), 2, 'every payload');
  const d = put({ d: 4 });
  assert.deepEqual(store.get(d), canonicalBytes({ d: 4 }));
  assert.equal(store.erase([d]), 1);
  assert.equal(store.get(d), null);
  store.close();
});

test('getMany finds what get does not: a payload below the mark that is not indexed (an earlier version writing beside this one) is found by one read of the table', (t) => {
  const path = join(tempDir(t), 'evidence.db');
  const store = new EvidenceStore(path);
  const put = (v: unknown, indexed: boolean): string => {
    const bytes = canonicalBytes(v);
    return store.putBytes(bytes, sha256(bytes), indexed);
  };
  const early = put({ early: 'an earlier version\'s session evidence, not indexed' }, false);
  const looked = put({ looked: 'up' }, true);
  store.settle();
  assert.equal(store.get(early), null, 'below the mark and not indexed: get does not read the table');
  const found = store.getMany([early, looked, looked, '00'.repeat(32), 'not hex']);
  assert.deepEqual([...found.keys()].sort(), [early, looked].sort());
  assert.deepEqual(found.get(early), canonicalBytes({ early: 'an earlier version\'s session evidence, not indexed' }));
  store.close();
});

test('a payload and its index entry are written together or not at all', (t) => {
  const path = join(tempDir(t), 'evidence.db');
  const store = new EvidenceStore(path);
  const other = new Database(path);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON payload_index BEGIN SELECT RAISE(ABORT, 'refused'); END");
  const x = canonicalBytes({ x: 1 });
  assert.throws(() => store.putBytes(x, sha256(x), true), /refused/);
  assert.equal((other.prepare('SELECT count(*) AS n FROM payloads').get() as { n: number }).n, 0, 'no payload without its index entry');
  other.close();
  store.close();
});

test('opening the store writable indexes what an earlier version stored past its mark; read-only, those payloads are still found', (t) => {
  const path = join(tempDir(t), 'evidence.db');
  new EvidenceStore(path).close();
  // As an earlier version killed before its once-a-second catch-up leaves it: payloads past the mark, not indexed.
  const old = new Database(path);
  const y = canonicalBytes({ y: 'stored by an earlier version' });
  old.prepare('INSERT INTO payloads (digest, data) VALUES (?, ?)').run(sha256(y), y);
  old.close();
  const readOnly = new EvidenceStore(path, true);
  assert.deepEqual(readOnly.get(toHex(sha256(y))), y, 'past the mark: read from the table');
  readOnly.close();
  const store = new EvidenceStore(path);
  store.settle();
  assert.deepEqual(store.get(toHex(sha256(y))), y, 'indexed when opened: found once settled');
  store.close();
});
