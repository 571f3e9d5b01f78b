/**
 * Tampering with a real log is detected, each kind with its own stable code. One log is
 * built through the proxy (four calls to server-everything, one final checkpoint); every
 * scenario edits a copy of the whole home with better-sqlite3 (or an exported tiles
 * directory with plain file writes) and runs `mcp-attest verify --trust --json` on it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { cli, codes, connectProxied, editedCopy, exportTrust, readLog, scope, verify, waitCheckpointed, type Report, type Scope } from './helpers.js';

const DISTINCT = [
  'ERR_SIGNATURE_INVALID', 'ERR_LOG_ENTRY_MISSING', 'ERR_LOG_ENTRY_REORDERED', 'ERR_LOG_TRUNCATED',
  'ERR_CHECKPOINT_SIGNATURE_INVALID', 'ERR_CHECKPOINT_UNTRUSTED',
];

/** A home with 9 entries (its parameters entry and 4 calls) and exactly one checkpoint, its trust policy; a private log unless `public`. */
async function buildLog(t: TestContext, entries: 'private' | 'public' = 'private'): Promise<{ s: Scope; trust: string }> {
  const s = scope(t);
  if (entries === 'public') assert.equal(cli(['init', '--home', s.home, '--public-log']).status, 0);
  const { client } = await connectProxied(s, undefined, ['--checkpoint-ms', '600000']);
  await client.callTool({ name: 'echo', arguments: { message: 'one' } });
  await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
  await client.callTool({ name: 'echo', arguments: { message: 'three' } });
  await client.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } });
  await client.close();
  const log = await waitCheckpointed(s.home, 8);
  assert.deepEqual(log.checkpoints.map((c) => c.size), [9]);
  const trust = exportTrust(s.home);
  const base = verify(s.home, trust);
  assert.equal(base.status, 0, base.stdout);
  return { s, trust };
}

/** Copy the home to `<dir>/<name>` and edit its log.db with `edit`. */
function tampered(s: Scope, name: string, edit: (db: Database.Database) => void): string {
  return editedCopy(s.home, join(s.dir, name), edit);
}

/** The record at `idx`: a private entry's opened record, else the entry. */
function data(db: Database.Database, idx: number): Buffer {
  return (db.prepare('SELECT coalesce(record, data) AS r FROM entries WHERE idx = ?').get(idx) as { r: Buffer }).r;
}

/** Replace the record at `idx` (the opening's record of a private entry, else the entry). */
function setData(db: Database.Database, idx: number, bytes: Buffer): void {
  const clear = (db.prepare('SELECT record FROM entries WHERE idx = ?').get(idx) as { record: Buffer | null }).record === null;
  db.prepare(`UPDATE entries SET ${clear ? 'data' : 'record'} = ? WHERE idx = ?`).run(bytes, idx);
}

/** Swap two whole entries (entry, opening, hashes stay with the row content). */
function swapRows(db: Database.Database, a: number, b: number): void {
  const get = db.prepare('SELECT data, salt, record FROM entries WHERE idx = ?');
  const put = db.prepare('UPDATE entries SET data = ?, salt = ?, record = ? WHERE idx = ?');
  const [x, y] = [get.get(a) as { data: Buffer; salt: Buffer | null; record: Buffer | null }, get.get(b) as { data: Buffer; salt: Buffer | null; record: Buffer | null }];
  put.run(y.data, y.salt, y.record, a);
  put.run(x.data, x.salt, x.record, b);
}

/** Verify must fail (exit 1) with `code` among its errors, and none of `absent`. */
function assertFails(target: string, trust: string, code: string, absent: string[] = []): Report {
  const { status, report } = verify(target, trust);
  const errors = codes(report);
  assert.equal(status, 1, `expected exit 1 for ${code}: ${JSON.stringify(report.findings)}`);
  assert.equal(report.verified, false);
  assert.ok(errors.includes(code), `${code} not in ${errors.join(', ')}`);
  for (const a of absent) assert.ok(!errors.includes(a), `${a} unexpectedly in ${errors.join(', ')}`);
  return report;
}

/** The note text and its one signature line's parts. */
function splitNote(note: string): { text: string; name: string; sig: Buffer } {
  const cut = note.lastIndexOf('\n\n');
  const [, name, b64] = /^\u2014 (\S+) (\S+)\n$/.exec(note.slice(cut + 2))!;
  return { text: note.slice(0, cut + 1), name: name!, sig: Buffer.from(b64!, 'base64') };
}

function setNote(db: Database.Database, note: string): void {
  db.prepare('UPDATE checkpoints SET note = ?').run(note);
}

test('every kind of tampering with the SQLite log fails verification with its own code', { timeout: 120_000 }, async (t) => {
  const { s, trust } = await buildLog(t);
  const others = (code: string) => DISTINCT.filter((c) => c !== code);

  // One byte inside a signed attestation (its declared intent), valid JSON still.
  const byte = tampered(s, 'byte', (db) => {
    const text = data(db, 3).toString('utf8');
    assert.ok(text.includes('relayed by'));
    setData(db, 3, Buffer.from(text.replace('relayed by', 'relayeD by'), 'utf8'));
  });
  const r1 = assertFails(byte, trust, 'ERR_SIGNATURE_INVALID', others('ERR_SIGNATURE_INVALID'));
  assert.ok(codes(r1).includes('ERR_LOG_ROOT_MISMATCH'));
  assert.ok(r1.findings.some((f) => f.code === 'ERR_OPENING_MISMATCH' && f.index === '3'), 'the altered opening no longer makes the stored entry');
  assert.ok(r1.findings.some((f) => f.code === 'ERR_SIGNATURE_INVALID' && f.index === '3'));

  // An entry dropped from the middle, the following ones renumbered down.
  const dropped = tampered(s, 'drop', (db) => {
    db.prepare('DELETE FROM entries WHERE idx = 4').run();
    for (let i = 5; i < 9; i++) db.prepare('UPDATE entries SET idx = ? WHERE idx = ?').run(i - 1, i);
  });
  const r2 = assertFails(dropped, trust, 'ERR_LOG_ENTRY_MISSING', ['ERR_SIGNATURE_INVALID', 'ERR_LOG_ENTRY_REORDERED']);
  assert.deepEqual(r2.findings.filter((f) => f.code === 'ERR_LOG_ENTRY_MISSING').map((f) => f.index), ['4']);

  // Two entries swapped (two attestations).
  const swapped = tampered(s, 'swap', (db) => swapRows(db, 3, 5));
  const r3 = assertFails(swapped, trust, 'ERR_LOG_ENTRY_REORDERED', ['ERR_SIGNATURE_INVALID', 'ERR_LOG_ENTRY_MISSING', 'ERR_LOG_TRUNCATED']);
  assert.deepEqual(r3.findings.filter((f) => f.code === 'ERR_LOG_ENTRY_REORDERED').map((f) => f.index), ['3', '5']);

  // An opening's record replaced by the record in clear as the entry: the log's form is broken there.
  const clear = tampered(s, 'clear', (db) => db.prepare('UPDATE entries SET data = record, salt = NULL, record = NULL WHERE idx = 3').run());
  const r5 = assertFails(clear, trust, 'ERR_ENTRY_MALFORMED');
  assert.ok(r5.findings.some((f) => f.code === 'ERR_ENTRY_MALFORMED' && f.index === '3'));

  // The tail cut off: the checkpoint covers more than the log holds.
  const cut = tampered(s, 'tail', (db) => db.prepare('DELETE FROM entries WHERE idx >= 6').run());
  const r4 = assertFails(cut, trust, 'ERR_LOG_TRUNCATED', others('ERR_LOG_TRUNCATED'));
  assert.equal(r4.size, '6');

  // The checkpoint's signature bytes replaced (same key id).
  const badSig = tampered(s, 'badsig', (db) => {
    const { checkpoints } = readLog(s.home);
    const n = splitNote(checkpoints[0]!.note);
    for (let i = 4; i < n.sig.length; i++) n.sig[i] = n.sig[i]! ^ 0x5a;
    setNote(db, `${n.text}\n\u2014 ${n.name} ${n.sig.toString('base64')}\n`);
  });
  assertFails(badSig, trust, 'ERR_CHECKPOINT_SIGNATURE_INVALID', others('ERR_CHECKPOINT_SIGNATURE_INVALID'));

  // The checkpoint re-signed by another Ed25519 key under the same name: its key id
  // (SHA-256(name || LF || 0x01 || public key)[:4], c2sp.org/signed-note) names no trusted
  // key, so the note has no verified signature: ERR_CHECKPOINT_UNTRUSTED.
  const forged = tampered(s, 'forged', (db) => {
    const { checkpoints } = readLog(s.home);
    const n = splitNote(checkpoints[0]!.note);
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(n.name + '\n'), Buffer.from([1]), raw])).digest().subarray(0, 4);
    const signature = sign(null, Buffer.from(n.text, 'utf8'), privateKey);
    assert.notDeepEqual(keyId, n.sig.subarray(0, 4));
    setNote(db, `${n.text}\n\u2014 ${n.name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`);
  });
  assertFails(forged, trust, 'ERR_CHECKPOINT_UNTRUSTED', others('ERR_CHECKPOINT_UNTRUSTED'));

  // The original still verifies: every scenario edited a copy.
  assert.equal(verify(s.home, trust).status, 0);
});

test('tampering with an exported tiles directory fails verification (public log: records in the tiles)', { timeout: 120_000 }, async (t) => {
  const { s, trust } = await buildLog(t, 'public');
  const out = join(s.dir, 'tiles');
  const exported = cli(['log', 'export', '--home', s.home, '--out', out]);
  assert.equal(exported.status, 0, exported.stderr);
  const ok = verify(out, trust);
  assert.equal(ok.status, 0, ok.stdout);
  assert.deepEqual([ok.report.size, ok.report.checkpointSize, ok.report.calls, ok.report.receipts], ['9', '9', 4, 4]);

  // The first file under `sub` of a tiles directory, as a path relative to the directory.
  const firstFile = (sub: string): string => {
    const d = readdirSync(join(out, sub), { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    return relative(out, join(d.parentPath, d.name));
  };
  const copy = (name: string): string => {
    const dir = join(s.dir, name);
    cpSync(out, dir, { recursive: true });
    return dir;
  };

  // One byte of one entry inside the entry bundle (the unsigned record wrapper's tool name).
  const flipped = copy('tiles-entry');
  const bundle = join(flipped, firstFile('tile/entries'));
  const bytes = readFileSync(bundle);
  const at = bytes.indexOf('"tool":"echo"');
  assert.ok(at > 0);
  bytes[at + 11] = bytes[at + 11]! ^ 0x01; // echo -> echn
  writeFileSync(bundle, bytes);
  const r1 = assertFails(flipped, trust, 'ERR_LOG_ROOT_MISMATCH');
  assert.ok(codes(r1).includes('ERR_LOG_TILE_MISMATCH'));

  // One byte of the level-0 hash tile: the tile no longer matches the entries.
  const hashed = copy('tiles-hash');
  const tile = join(hashed, firstFile('tile/0'));
  const hashes = readFileSync(tile);
  hashes[0] = hashes[0]! ^ 0xff;
  writeFileSync(tile, hashes);
  assertFails(hashed, trust, 'ERR_LOG_TILE_MISMATCH', ['ERR_LOG_ROOT_MISMATCH', 'ERR_SIGNATURE_INVALID']);
});

test('a private log\'s tiles verify as sealed commitments; one flipped commitment byte fails', { timeout: 120_000 }, async (t) => {
  const { s, trust } = await buildLog(t);
  const out = join(s.dir, 'tiles');
  assert.equal(cli(['log', 'export', '--home', s.home, '--out', out]).status, 0);
  const ok = verify(out, trust);
  assert.equal(ok.status, 0, ok.stdout);
  assert.deepEqual([ok.report.size, ok.report.calls, codes(ok.report, 'notice')], ['9', 0, ['NOTE_SEALED', 'NOTE_UNWITNESSED']]);
  const bundle = join(out, 'tile/entries/000.p/9');
  const bytes = readFileSync(bundle);
  assert.equal(bytes.includes('"tool"'), false, 'no record in clear');
  // Entry 0 (the parameters entry) first; entry 1's commitment follows its u16 length.
  const at = 2 + bytes.readUInt16BE(0) + 2 + 5;
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(bundle, bytes);
  const r = assertFails(out, trust, 'ERR_LOG_ROOT_MISMATCH');
  assert.ok(codes(r).includes('ERR_LOG_TILE_MISMATCH'));
});
