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

test('arguments and result are kept by the digest of their JCS bytes', async (t) => {
  const home = tempDir(t);
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const result = { content: [{ type: 'text', text: 'Echo: kept' }] };
  const { attestation, callId, index } = await r.attest(call);
  await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result });
  await r.close();
  const store = new EvidenceStore(homePaths(home).evidence, true);
  for (const v of [call.args, result]) assert.deepEqual(store.get(toHex(sha256(canonicalBytes(v)))), canonicalBytes(v));
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
  const store = new EvidenceStore(homePaths(home).evidence, true);
  assert.deepEqual(store.get(toHex(sha256(canonicalBytes(big)))), canonicalBytes(big));
  store.close();
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

test('payloads are found before and after the index catches up, every copy is erased, and an earlier version\'s table is read and erased', (t) => {
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
  for (const [h, v] of [[ha, a], [hb, b]] as const) assert.deepEqual(store.get(h), v, 'found before the index catches up');
  assert.equal(store.catchUp(), 3);
  assert.equal(store.catchUp(), 0, 'nothing new to index');
  const hc = store.putBytes(canonicalBytes({ c: 3 }));
  for (const [h, v] of [[ha, a], [hb, b], [toHex(sha256(legacy)), legacy]] as const) assert.deepEqual(store.get(h), v, 'found through the index');
  assert.notEqual(store.get(hc), null, 'found past the index');
  assert.equal(store.get('00'.repeat(32)), null);
  assert.equal(store.get('not hex'), null);
  assert.equal(store.erase([ha, toHex(sha256(legacy))]), 3, 'both copies of a, and the earlier version\'s row');
  for (const h of [ha, toHex(sha256(legacy))]) assert.equal(store.get(h), null);
  assert.deepEqual(store.get(hb), b);
  store.close();
  const bytes = readFileSync(path);
  assert.equal(bytes.indexOf(Buffer.from(a)), -1, 'no copy left in the file');
  assert.equal(bytes.indexOf(Buffer.from(legacy)), -1);
});

test('a payload appended after the newest (or every) payload was erased is found, indexed and erasable: an id given again is past the index mark', (t) => {
  const dir = tempDir(t);
  const store = new EvidenceStore(join(dir, 'evidence.db'));
  const bytes = (v: unknown): Uint8Array => canonicalBytes(v);
  const a = store.putBytes(bytes({ a: 1 }));
  const b = store.putBytes(bytes({ b: 2 }));
  store.catchUp();
  assert.equal(store.erase([b]), 1, 'the newest payload');
  const c = store.putBytes(bytes({ c: 3 }));
  assert.deepEqual(store.get(c), bytes({ c: 3 }), 'found past the index before it catches up');
  assert.equal(store.catchUp(), 1);
  assert.deepEqual(store.get(c), bytes({ c: 3 }), 'found through the index');
  assert.equal(store.erase([a, c]), 2, 'every payload');
  const d = store.putBytes(bytes({ d: 4 }));
  assert.deepEqual(store.get(d), bytes({ d: 4 }));
  assert.equal(store.erase([d]), 1, 'erased before it was ever indexed');
  assert.equal(store.get(d), null);
  store.close();
});
