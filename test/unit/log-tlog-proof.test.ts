/**
 * C2SP tlog-proof@v1 files (src/log/tlog-proof.ts): test/vectors/published/c2sp/
 * derived-example.tlog-proof (derived for this project; keys and leaf described in
 * c2sp/SOURCE.md and cosignature-v1.json `derivedEndToEnd`) parsed and verified along the
 * documented pipeline, plus strict-syntax and adversarial cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBase64, fromHex, toBase64, utf8 } from '../../src/bytes/index.js';
import { AttestError, isAttestError, type ErrorCode } from '../../src/errors.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { cosignatureVerifier } from '../../src/log/cosignature.js';
import { leafHash } from '../../src/log/hash.js';
import { ed25519NoteVerifier, openNote, type NoteVerifier } from '../../src/log/note.js';
import { verifyInclusion } from '../../src/log/proof.js';
import { formatTlogProof, parseTlogProof, TLOG_PROOF_HEADER } from '../../src/log/tlog-proof.js';
import { costlyPicker, mutantCount, NOTE_REJECT, rejectCodes, sweep, type ValuePicker } from '../mangle.js';
import { vectorUrl } from '../vectors.js';

const VECTORS = vectorUrl('');
const read = (name: string): string => readFileSync(new URL(name, VECTORS), 'utf8');
const D = JSON.parse(read('c2sp/cosignature-v1.json')).derivedEndToEnd;
const D130 = JSON.parse(read('merkle/derived-rfc6962-d130.json'));
const FILE = read('c2sp/derived-example.tlog-proof');
const code = (c: ErrorCode) => (e: unknown) => isAttestError(e, c);
const invalid = code('ERR_PROOF_INVALID');

const logVerifier = ed25519NoteVerifier(D.log.vkey);
const witnessVerifiers = D.witnesses.map((w: any) => cosignatureVerifier(w.vkey)) as NoteVerifier[];

/**
 * The tlog-proof verification order: leaf hash, log signature, witness cosignatures (here
 * the example policy "all of W1, W2"), then inclusion against the checkpoint. Throws.
 */
async function verifyProofFile(text: string, entry: Uint8Array): Promise<bigint> {
  const p = parseTlogProof(text);
  const leaf = leafHash(entry); // 1. leaf hash (application-specific)
  const opened = await openNote(p.checkpointNote, [logVerifier, ...witnessVerifiers]);
  const signed = (v: NoteVerifier) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  if (!signed(logVerifier)) throw new AttestError('ERR_NOTE_UNVERIFIED', 'log did not sign'); // 2.
  if (!witnessVerifiers.every(signed)) throw new AttestError('ERR_NOTE_UNVERIFIED', 'quorum not met'); // 3.
  const cp = parseCheckpoint(opened.text);
  if (cp.origin !== D.log.origin) throw new AttestError('ERR_CHECKPOINT_MALFORMED', 'wrong origin');
  if (!verifyInclusion(p.index, cp.size, leaf, p.proof, cp.rootHash)) {
    throw new AttestError('ERR_PROOF_INVALID', 'inclusion proof failed'); // 4.
  }
  return p.index;
}

test('derived-example.tlog-proof parses, re-formats byte for byte, and verifies', async () => {
  assert.equal(FILE, D.tlogProof);
  const p = parseTlogProof(FILE);
  assert.equal(p.index, BigInt(D.leafIndex));
  assert.equal(p.extra, undefined);
  assert.equal(p.proof.length, 8);
  assert.equal(p.checkpointNote, D.checkpoint);
  assert.equal(formatTlogProof(p), FILE);
  // The leaf is the single byte 100 of the d130 tree; its proof is the published one.
  const entry = fromHex(D.leafDataHex);
  assert.equal(toBase64(leafHash(entry)), D.leafHashB64);
  const published = D130.inclusion.find((c: any) => c.leafIdx === 100 && c.treeSize === 130);
  assert.deepEqual(p.proof.map(toBase64), published.proof);
  assert.equal(parseCheckpoint((await openNote(p.checkpointNote, [logVerifier])).text).size, 130n);
  assert.equal(await verifyProofFile(FILE, entry), 100n);
  // Wrong leaf, or another entry's proof: rejected.
  await assert.rejects(verifyProofFile(FILE, Uint8Array.of(101)), invalid);
  // Without the witnesses' keys, their cosignatures are ignored, so the quorum fails.
  const opened = await openNote(p.checkpointNote, [logVerifier]);
  assert.equal(opened.ignored, 2);
});

test('extra data round-trips and is opaque', () => {
  const extra = fromBase64('YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ'); // C2SP tlog-proof.md example
  const p = { ...parseTlogProof(FILE), extra };
  const text = formatTlogProof(p);
  assert.ok(text.startsWith(`${TLOG_PROOF_HEADER}\nextra YWdlLXYx`));
  assert.deepEqual(parseTlogProof(text), p);
  assert.throws(() => formatTlogProof({ ...p, extra: new Uint8Array(0) }), invalid);
  const zero = formatTlogProof({ index: 0n, proof: [], checkpointNote: D.checkpoint });
  assert.equal(zero, `${TLOG_PROOF_HEADER}\nindex 0\n\n${D.checkpoint}`);
  assert.deepEqual(parseTlogProof(zero).proof, []);
});

test('strict syntax: malformed proof files are rejected', () => {
  const [head, note] = [FILE.slice(0, FILE.indexOf('\n\n') + 1), D.checkpoint as string];
  const h = head.split('\n').slice(0, -1); // [header, index line, 8 hashes]
  const build = (lines: string[], n: string = note): string => lines.join('\n') + '\n\n' + n;
  const cases: Array<[string, string]> = [
    ['wrong header', build(['c2sp.org/tlog-proof@v2', ...h.slice(1)])],
    ['no header', build(h.slice(1))],
    ['leading zero index', build([h[0]!, 'index 0100', ...h.slice(2)])],
    ['signed index', build([h[0]!, 'index +100', ...h.slice(2)])],
    ['index over uint64', build([h[0]!, 'index 18446744073709551616', ...h.slice(2)])],
    ['missing index', build([h[0]!, ...h.slice(2)])],
    ['index twice', build([h[0]!, h[1]!, ...h.slice(1)])],
    ['empty extra', build([h[0]!, 'extra ', ...h.slice(1)])],
    ['bad extra', build([h[0]!, 'extra @@@@', ...h.slice(1)])],
    ['extra after index', build([h[0]!, h[1]!, 'extra YQ==', ...h.slice(2)])],
    ['short hash', build([...h.slice(0, 2), toBase64(new Uint8Array(31)), ...h.slice(3)])],
    ['unpadded hash', build([...h.slice(0, 2), h[2]!.replace('=', ''), ...h.slice(3)])],
    ['65 hashes', build([...h.slice(0, 2), ...Array.from({ length: 65 }, () => h[2]!)])],
    ['CRLF', build(h).replace('\n', '\r\n')],
    ['no blank line', h.join('\n') + '\n' + note],
    ['empty', ''],
  ];
  for (const [why, text] of cases) assert.throws(() => parseTlogProof(text), invalid, why);
  assert.throws(() => parseTlogProof(build(h, note.slice(0, -1))), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => parseTlogProof(build(h, 'not a note\n')), code('ERR_NOTE_MALFORMED'));
  assert.equal(parseTlogProof(build([...h.slice(0, 2), ...Array.from({ length: 64 }, () => h[2]!)])).proof.length, 64);
  assert.throws(() => formatTlogProof({ index: -1n, proof: [], checkpointNote: note }), invalid);
  assert.throws(() => formatTlogProof({ index: 0n, proof: [new Uint8Array(33)], checkpointNote: note }), invalid);
  assert.throws(() => formatTlogProof({ index: 0n, proof: [], checkpointNote: 'x\n' }), code('ERR_NOTE_MALFORMED'));
});

test('adversarial: every single-byte change and truncation of the proof file is rejected', async (t) => {
  const entry = fromHex(D.leafDataHex);
  const bytes = utf8(FILE);
  const REJECT: ErrorCode[] = [...NOTE_REJECT, 'ERR_PROOF_INVALID'];
  // The file is text: mutants are decoded as a reader would (invalid UTF-8 becomes U+FFFD)
  // and must still be rejected. Every byte, including the signature lines, is needed: the
  // policy requires all three signers, so no mutant is harmless.
  const verify = (m: Uint8Array) => rejectCodes(REJECT, () => verifyProofFile(new TextDecoder().decode(m), entry));
  // The embedded checkpoint is the cosigned note log-checkpoint.test.ts sweeps with the same
  // keys, so it gets one flip per byte here; the proof head (ASCII, so string index = byte
  // offset) gets one value per byte class. MANGLE_EXHAUSTIVE=1: all 255 values everywhere.
  const head = FILE.indexOf('\n\n') + 2;
  const pick: ValuePicker = process.env['MANGLE_EXHAUSTIVE'] === '1' ? costlyPicker : (i, b) => (i < head ? costlyPicker(i, b) : [b ^ 0x01]);
  const c = await sweep(bytes, { verify, harmless: () => false, pick });
  t.diagnostic(`tlog-proof file: ${bytes.length} bytes, tried ${c.tried}, rejected ${c.rejected}, ${c.ms} ms`);
  assert.equal(c.tried, mutantCount(bytes, pick));
  assert.equal(c.rejected, c.tried);
});
