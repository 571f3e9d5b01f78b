/**
 * cosignature/v1 witness cosignatures (src/log/cosignature.ts, cosignature-sign.ts) against
 * test/vectors/published/c2sp/cosignature-v1.json (C2SP tlog-cosignature.md,
 * sigsum-go checkpoint_test.go / cosignature_test.go, and a derived end-to-end example with
 * TEST-ONLY seeds; provenance in c2sp/SOURCE.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBase64, fromHex, toHex, utf8 } from '../../src/bytes/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';
import {
  COSIGNATURE_V1_SIZE,
  cosignatureMessage,
  cosignatureVerifier,
  formatCosignature,
  parseCosignature,
} from '../../src/log/cosignature.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { ed25519NoteVerifier, formatSignatureLine, openNote, parseNote } from '../../src/log/note.js';
import { ed25519NoteSigner, importEd25519Seed, signNote } from '../../src/log/note-sign.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../src/log/vkey.js';
import { vectorUrl } from '../vectors.js';

const C2SP = vectorUrl('c2sp/');
const read = (name: string): string => readFileSync(new URL(name, C2SP), 'utf8');
const V = JSON.parse(read('cosignature-v1.json'));
const code = (c: ErrorCode) => (e: unknown) => isAttestError(e, c);
const MAX_I64 = (1n << 63n) - 1n;

test('signed message: the C2SP spec example, byte for byte', () => {
  const ex = V.specMessageExample;
  const msg = cosignatureMessage(ex.checkpointBody, BigInt(ex.timestamp));
  assert.equal(new TextDecoder().decode(msg), ex.signedMessage);
  assert.equal(new TextDecoder().decode(msg), read('spec-examples/cosignature-v1-signed-message.txt'));
});

test('sigsum vector: key ID, vkey, message and the deterministic line (t = 1234)', async () => {
  for (const v of V.vectors) {
    const { privateKey, publicKey } = await importEd25519Seed(fromHex(v.witnessSeedHex));
    assert.equal(toHex(publicKey), v.witnessPubHex);
    assert.equal(formatVerifierKey(v.witnessName, SIG_TYPE_COSIGNATURE_V1, publicKey), v.witnessVkey);
    const key = parseVerifierKey(v.witnessVkey);
    assert.equal(key.keyId.toString(16).padStart(8, '0'), v.keyIdHex);
    const timestamp = BigInt(v.timestamp);
    assert.equal(new TextDecoder().decode(cosignatureMessage(v.checkpointBody, timestamp)), v.signedMessage);
    const signer = cosignatureSigner(v.witnessName, privateKey, publicKey, () => timestamp);
    assert.equal(signer.keyId, key.keyId);
    const note = await signNote(v.checkpointBody, [signer]);
    const valid = v.lines.find((l: any) => l.expect.startsWith('valid')).line;
    assert.equal(note, `${v.checkpointBody}\n${valid}\n`);
  }
});

test('sigsum vector lines: valid, ignored (wrong key ID / name), malformed', async () => {
  for (const v of V.vectors) {
    const verifier = cosignatureVerifier(v.witnessVkey);
    const open = (line: string) => openNote(`${v.checkpointBody}\n${line}\n`, [verifier]);
    for (const { line, expect } of v.lines) {
      if (expect.startsWith('valid')) {
        const opened = await open(line);
        assert.equal(opened.verified.length, 1);
        const cosig = parseCosignature(opened.verified[0]!.signature);
        assert.equal(cosig.timestamp, BigInt(v.timestamp));
        assert.equal(cosig.signature.length, 64);
      } else if (expect.startsWith('ignored')) {
        await assert.rejects(open(line), code('ERR_NOTE_UNVERIFIED'), expect);
      } else {
        // "…CgXX" is canonical base64 of a 74-byte payload. Sigsum's parser drops the line;
        // here the (name, keyID) is known, so its payload must verify: the note is rejected.
        await assert.rejects(open(line), code('ERR_NOTE_SIGNATURE_INVALID'), expect);
      }
    }
  }
});

test('mutation: timestamp + 1 (line re-encoded) fails verification', async () => {
  for (const v of V.vectors) {
    const valid: string = v.lines.find((l: any) => l.expect.startsWith('valid')).line;
    const sig = parseNote(`${v.checkpointBody}\n${valid}\n`).signatures[0]!;
    const cosig = parseCosignature(sig.signature);
    const bumped = formatCosignature({ ...cosig, timestamp: cosig.timestamp + 1n });
    const line = formatSignatureLine(sig.name, sig.keyId, bumped);
    await assert.rejects(
      openNote(`${v.checkpointBody}\n${line}`, [cosignatureVerifier(v.witnessVkey)]),
      code('ERR_NOTE_SIGNATURE_INVALID'),
    );
  }
});

test('derived end-to-end: log + 2 witnesses re-signed byte for byte and verified', async () => {
  const d = V.derivedEndToEnd;
  const log = await importEd25519Seed(fromHex(d.log.seedHex));
  assert.equal(formatVerifierKey(d.log.origin, SIG_TYPE_ED25519, log.publicKey), d.log.vkey);
  const signers = [ed25519NoteSigner(d.log.origin, log.privateKey, log.publicKey)];
  for (const w of d.witnesses) {
    const k = await importEd25519Seed(fromHex(w.seedHex));
    assert.equal(formatVerifierKey(w.name, SIG_TYPE_COSIGNATURE_V1, k.publicKey), w.vkey);
    signers.push(cosignatureSigner(w.name, k.privateKey, k.publicKey, () => BigInt(w.timestamp)));
  }
  const text = parseNote(d.checkpoint).text;
  assert.equal(await signNote(text, signers), d.checkpoint);
  const verifiers = [ed25519NoteVerifier(d.log.vkey), ...d.witnesses.map((w: any) => cosignatureVerifier(w.vkey))];
  const opened = await openNote(d.checkpoint, verifiers);
  assert.deepEqual(opened.verified.map((s) => s.name), [d.log.origin, ...d.witnesses.map((w: any) => w.name)]);
  assert.deepEqual(
    opened.verified.slice(1).map((s) => parseCosignature(s.signature).timestamp),
    d.witnesses.map((w: any) => BigInt(w.timestamp)),
  );
  // The tlog-policy example names the same vkeys.
  for (const vkey of [d.log.vkey, ...d.witnesses.map((w: any) => w.vkey)]) assert.ok(d.policyExample.includes(vkey));
  // A witness key is not a log key: type 0x04 vkeys are refused by the Ed25519 verifier.
  assert.throws(() => ed25519NoteVerifier(d.witnesses[0].vkey), code('ERR_VKEY_MALFORMED'));
  assert.throws(() => cosignatureVerifier(d.log.vkey), code('ERR_VKEY_MALFORMED'));
});

test('extension lines are part of the cosigned message', async () => {
  const k = await importEd25519Seed(new Uint8Array(32).fill(9));
  const signer = cosignatureSigner('w.example/ext', k.privateKey, k.publicKey, () => 5n);
  const verifier = cosignatureVerifier(formatVerifierKey('w.example/ext', SIG_TYPE_COSIGNATURE_V1, k.publicKey));
  const body = `example.com/log\n1\n${'A'.repeat(43)}=\nextension line\n`;
  const note = await signNote(body, [signer]);
  assert.equal((await openNote(note, [verifier])).verified.length, 1);
  const stripped = note.replace('extension line\n', '');
  await assert.rejects(openNote(stripped, [verifier]), code('ERR_NOTE_SIGNATURE_INVALID'));
});

test('timestamps: 0..2^63-1 accepted, above rejected; payload must be 72 bytes', async () => {
  assert.equal(COSIGNATURE_V1_SIZE, 72);
  const sig = new Uint8Array(64);
  for (const t of [0n, 1n, MAX_I64]) assert.equal(parseCosignature(formatCosignature({ timestamp: t, signature: sig })).timestamp, t);
  assert.throws(() => cosignatureMessage('x\n', MAX_I64 + 1n), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => cosignatureMessage('x\n', -1n), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => cosignatureMessage('no newline', 1n), code('ERR_CHECKPOINT_MALFORMED'));
  assert.throws(() => formatCosignature({ timestamp: MAX_I64 + 1n, signature: sig }), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => formatCosignature({ timestamp: 1n, signature: new Uint8Array(63) }), code('ERR_NOTE_MALFORMED'));
  const high = new Uint8Array(72);
  high[0] = 0x80;
  assert.throws(() => parseCosignature(high), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => parseCosignature(new Uint8Array(71)), code('ERR_NOTE_MALFORMED'));
  // A known key whose payload is malformed fails the note (the verifier returns false).
  const v = V.vectors[0];
  const verifier = cosignatureVerifier(v.witnessVkey);
  assert.equal(await verifier.verify(utf8(v.checkpointBody), high), false);
  const line = formatSignatureLine(v.witnessName, verifier.keyId, high);
  await assert.rejects(openNote(`${v.checkpointBody}\n${line}`, [verifier]), code('ERR_NOTE_SIGNATURE_INVALID'));
  // A clock beyond 2^63-1 makes signing fail.
  const k = await importEd25519Seed(new Uint8Array(32).fill(3));
  const bad = cosignatureSigner('w.example/x', k.privateKey, k.publicKey, () => MAX_I64 + 1n);
  await assert.rejects(signNote('a\n', [bad]), code('ERR_NOTE_MALFORMED'));
  assert.ok(fromBase64(v.lines[1].line.split(' ')[2]).length === 76);
});
