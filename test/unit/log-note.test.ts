/**
 * C2SP signed notes and vkeys (src/log/vkey.ts, note.ts, note-sign.ts) against
 * test/vectors/published/c2sp/signed-note.json (C2SP signed-note.md example,
 * golang.org/x/mod sumdb/note tests, sigsum-go tests, a real sum.golang.org checkpoint;
 * provenance in c2sp/SOURCE.md), plus adversarial cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, fromBase64, fromHex, toBase64, utf8 } from '../../src/bytes/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';
import {
  formatKeyId,
  formatVerifierKey,
  isValidKeyName,
  keyId,
  parseVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
} from '../../src/log/vkey.js';
import {
  ed25519NoteVerifier,
  formatSignatureLine,
  MAX_NOTE_SIZE,
  openNote,
  parseNote,
  parseNoteBytes,
  type NoteVerifier,
} from '../../src/log/note.js';
import { ed25519NoteSigner, importEd25519Seed, signNote } from '../../src/log/note-sign.js';
import { vectorUrl } from '../vectors.js';

const C2SP = vectorUrl('c2sp/');
const V = JSON.parse(readFileSync(new URL('signed-note.json', C2SP), 'utf8'));
const code = (c: ErrorCode) => (e: unknown) => isAttestError(e, c);

const PETER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_TEXT = V.sign[0].text as string;
const PETER_NOTE = V.sign[0].want as string;

/** The Go x/mod private key encoding `PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)`. */
function goSkeySeed(skey: string): { name: string; seed: Uint8Array } {
  const parts = skey.split('+');
  const raw = fromBase64(parts.slice(4).join('+'));
  assert.equal(raw[0], SIG_TYPE_ED25519);
  return { name: parts[2]!, seed: raw.slice(1) };
}

async function vkeyFromSeed(name: string, seedHex: string): Promise<string> {
  const { publicKey } = await importEd25519Seed(fromHex(seedHex));
  return formatVerifierKey(name, SIG_TYPE_ED25519, publicKey);
}

test('vkey: parse, key ID and format round-trip for every vkey in the vectors', () => {
  const vkeys = new Set<string>([...V.verify.flatMap((c: any) => c.vkeys), ...V.goVerifierKeyParsing.valid]);
  assert.ok(vkeys.size >= 4);
  for (const vkey of vkeys) {
    const k = parseVerifierKey(vkey);
    assert.equal(k.type, SIG_TYPE_ED25519);
    assert.equal(k.publicKey.length, 32);
    assert.equal(keyId(k.name, k.type, k.publicKey), k.keyId);
    assert.equal(vkey.split('+')[1], formatKeyId(k.keyId));
    assert.equal(formatVerifierKey(k.name, k.type, k.publicKey), vkey);
  }
  const foo = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
  assert.equal(foo.keyId, 0x530d903a);
  assert.equal(foo.name, 'example.com/foo');
});

test('vkey: Go TestNewVerifier invalid keys are rejected', () => {
  for (const c of V.goVerifierKeyParsing.invalid) {
    assert.throws(() => parseVerifierKey(c.vkey), code('ERR_VKEY_MALFORMED'), c.why);
  }
});

test('vkey: every proper substring and every single-byte increment is rejected', () => {
  for (const vkey of V.goVerifierKeyParsing.valid as string[]) {
    for (let i = 0; i < vkey.length; i++) {
      for (let j = i + 1; j <= vkey.length; j++) {
        if (j - i === vkey.length) continue;
        assert.throws(() => parseVerifierKey(vkey.slice(i, j)), code('ERR_VKEY_MALFORMED'), `[${i}, ${j})`);
      }
      const bumped = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1);
      assert.throws(() => parseVerifierKey(bumped), code('ERR_VKEY_MALFORMED'), `increment @${i}`);
    }
  }
});

test('vkey: strict forms (uppercase ID, bad names, base64, types)', () => {
  const bad = (v: string) => assert.throws(() => parseVerifierKey(v), code('ERR_VKEY_MALFORMED'), v);
  bad('PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
  bad('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=');
  bad('PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
  bad('PeterNeumann c74f20a3 ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
  bad('');
  bad('+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
  const pub = ed25519.getPublicKey(new Uint8Array(32).fill(7));
  for (const name of ['a b', 'a+b', 'a\u00a0b', 'a\u2003b', 'a\tb', 'a\u0085b', '']) {
    assert.equal(isValidKeyName(name), false, JSON.stringify(name));
    assert.throws(() => formatVerifierKey(name, 1, pub), code('ERR_VKEY_MALFORMED'));
  }
  assert.throws(() => formatVerifierKey('x', 1, new Uint8Array(31)), code('ERR_VKEY_MALFORMED'));
  assert.throws(() => formatVerifierKey('x', 0x02, pub), code('ERR_VKEY_MALFORMED'));
  const cosigner = formatVerifierKey('w.example/1', SIG_TYPE_COSIGNATURE_V1, pub);
  assert.equal(parseVerifierKey(cosigner).type, SIG_TYPE_COSIGNATURE_V1);
  assert.throws(() => ed25519NoteVerifier(cosigner), code('ERR_VKEY_MALFORMED'));
  // Same key and name, another type: a different key ID (signed-note "Signature types").
  assert.notEqual(keyId('w.example/1', 1, pub), keyId('w.example/1', 4, pub));
});

test('vkey: Ed25519 keys of small order or in a non-canonical encoding are refused', () => {
  const identity = new Uint8Array(32);
  identity[0] = 1; // the neutral point: with it, (R = identity, S = 0) verifies for every message
  const yIsP = new Uint8Array(32).fill(0xff);
  yIsP[0] = 0xee; // y = p = 2^255 - 19 (>= p: non-canonical)
  yIsP[31] = 0x7f;
  const negZero = identity.slice();
  negZero[31] = 0x80; // x = 0 with the sign bit set
  for (const key of [identity, yIsP, negZero, new Uint8Array(32)]) {
    assert.throws(() => formatVerifierKey('x', 1, key), code('ERR_VKEY_MALFORMED'));
    const id = keyId('x', 1, key).toString(16).padStart(8, '0');
    assert.throws(() => parseVerifierKey(`x+${id}+${toBase64(Uint8Array.of(1, ...key))}`), code('ERR_VKEY_MALFORMED'));
  }
});

test('open/verify: every case of signed-note.json', async () => {
  for (const c of V.verify) {
    const vkeys: string[] = [...c.vkeys];
    if (c.vkeyFromSeedHex) vkeys.push(await vkeyFromSeed(c.wantVerified[0], c.vkeyFromSeedHex));
    const verifiers = vkeys.map(ed25519NoteVerifier);
    if (c.wantError) {
      const want = c.wantError.startsWith('no verifiable') ? 'ERR_NOTE_UNVERIFIED' : 'ERR_NOTE_SIGNATURE_INVALID';
      await assert.rejects(openNote(c.note, verifiers), code(want), c.id);
      continue;
    }
    const opened = await openNote(c.note, verifiers);
    if (c.wantText !== undefined) assert.equal(opened.text, c.wantText, c.id);
    assert.deepEqual(opened.verified.map((s) => s.name), c.wantVerified, c.id);
    assert.equal(opened.ignored, (c.wantUnverified ?? []).length, c.id);
    const bytes = await openNote(utf8(c.note), verifiers);
    assert.equal(bytes.text, opened.text);
  }
});

test('sign: Go TestSign reproduces the deterministic Ed25519 note byte for byte', async () => {
  for (const c of V.sign) {
    const { name, seed } = goSkeySeed(c.goSkey);
    const { privateKey, publicKey } = await importEd25519Seed(seed);
    assert.equal(formatVerifierKey(name, SIG_TYPE_ED25519, publicKey), c.vkey);
    const note = await signNote(c.text, [ed25519NoteSigner(name, privateKey, publicKey)]);
    assert.equal(note, c.want, c.id);
    const opened = await openNote(note, [ed25519NoteVerifier(c.vkey)]);
    assert.equal(opened.text, c.text);
  }
});

test('sign: multiple signers, and bad inputs', async () => {
  const a = await importEd25519Seed(new Uint8Array(32).fill(1));
  const b = await importEd25519Seed(new Uint8Array(32).fill(2));
  const sa = ed25519NoteSigner('a.example/log', a.privateKey, a.publicKey);
  const sb = ed25519NoteSigner('b.example/log', b.privateKey, b.publicKey);
  const text = 'line one\n\nline three after an empty line\n';
  const note = await signNote(text, [sa, sb]);
  const va = ed25519NoteVerifier(formatVerifierKey(sa.name, 1, a.publicKey));
  const vb = ed25519NoteVerifier(formatVerifierKey(sb.name, 1, b.publicKey));
  const both = await openNote(note, [va, vb]);
  assert.equal(both.text, text);
  assert.deepEqual(both.verified.map((s) => s.name), ['a.example/log', 'b.example/log']);
  const one = await openNote(note, [vb]);
  assert.deepEqual([one.verified.length, one.ignored], [1, 1]);
  await assert.rejects(signNote('no final newline', [sa]), code('ERR_NOTE_MALFORMED'));
  await assert.rejects(signNote('text\n', []), code('ERR_NOTE_MALFORMED'));
  await assert.rejects(signNote('tab\there\n', [sa]), code('ERR_NOTE_MALFORMED'));
  await assert.rejects(signNote('cr\r\n', [sa]), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => ed25519NoteSigner('bad name', a.privateKey, a.publicKey), code('ERR_VKEY_MALFORMED'));
  await assert.rejects(importEd25519Seed(new Uint8Array(31)), code('ERR_VKEY_MALFORMED'));
});

/** The vector's invalid-UTF-8 case stores byte 0xFF as U+00FF: re-encode it as a raw byte. */
function malformedBytes(note: string): Uint8Array {
  const parts = note.split('\u00ff').map(utf8);
  return parts.reduce((acc, p, i) => (i === 0 ? p : concatBytes(acc, Uint8Array.of(0xff), p)));
}

test('malformed: every malformed note of signed-note.json is rejected', async () => {
  const verifiers = [ed25519NoteVerifier(PETER)];
  for (const c of V.malformed) {
    const note: string = c.noteRepeat
      ? c.noteRepeat.text + '\n' + c.noteRepeat.sigLine.repeat(c.noteRepeat.count)
      : c.note;
    const bytes = malformedBytes(note);
    assert.throws(() => parseNoteBytes(bytes), code('ERR_NOTE_MALFORMED'), c.why);
    await assert.rejects(openNote(bytes, verifiers), code('ERR_NOTE_MALFORMED'), c.why);
    if (!note.includes('\u00ff')) assert.throws(() => parseNote(note), code('ERR_NOTE_MALFORMED'), c.why);
  }
});

test('limits: 100 signature lines accepted (>= 16 required), 101 rejected, 1 MiB cap', async () => {
  const sig = PETER_NOTE.slice(PETER_TEXT.length + 1);
  const note100 = PETER_TEXT + '\n' + sig.repeat(100);
  const opened = await openNote(note100, [ed25519NoteVerifier(PETER)]);
  assert.equal(opened.verified.length, 1); // repeated signatures of one key are listed once
  assert.equal(parseNote(note100).signatures.length, 100);
  assert.throws(() => parseNote(PETER_TEXT + '\n' + sig.repeat(101)), code('ERR_NOTE_MALFORMED'));
  const big = 'a'.repeat(MAX_NOTE_SIZE) + '\n\n' + sig;
  assert.throws(() => parseNote(big), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => parseNoteBytes(utf8(big)), code('ERR_NOTE_MALFORMED'));
  // 3-byte characters: under 1 MiB in UTF-16 units, over it in UTF-8 bytes.
  assert.throws(() => parseNote('\u2014'.repeat(MAX_NOTE_SIZE / 2) + '\n\n' + sig), code('ERR_NOTE_MALFORMED'));
});

test('malformed: strict syntax beyond the vectors', () => {
  const sig = PETER_NOTE.slice(PETER_TEXT.length + 1); // "— PeterNeumann <b64>\n"
  const b64 = sig.slice(sig.lastIndexOf(' ') + 1, -1);
  const bad = (note: string, why: string) => assert.throws(() => parseNote(note), code('ERR_NOTE_MALFORMED'), why);
  bad(PETER_TEXT + '\n' + sig.replace('\u2014', '-'), 'hyphen instead of EM DASH');
  bad(PETER_TEXT + '\n' + sig.replace('\u2014 ', '\u2014'), 'no space after the dash');
  bad(PETER_TEXT + '\n' + sig.replace('\u2014 ', '\u2014  '), 'empty key name');
  bad(PETER_TEXT + '\n' + sig.replace('PeterNeumann', 'Peter+Neumann'), '+ in key name');
  bad(PETER_TEXT + '\n' + sig.replace('PeterNeumann', 'Peter\u00a0Neumann'), 'Unicode space in key name');
  bad(PETER_TEXT + '\n' + sig.replace(b64, b64.replace(/=+$/, '')), 'unpadded base64');
  bad(PETER_TEXT + '\n' + sig.replace(b64, b64 + ' '), 'trailing space');
  bad(PETER_TEXT + '\n' + sig.replace(b64, 'AAAA'), 'signature shorter than 5 bytes');
  bad(PETER_TEXT + '\n' + sig.replace(b64, ''), 'empty signature');
  bad(PETER_TEXT.replace('\n', '\r\n') + '\n' + sig, 'CR');
  bad(PETER_TEXT + '\n' + sig.slice(0, -1) + '\r\n', 'CRLF signature line');
  bad(PETER_TEXT + '\n' + sig + '\n', 'blank line after the signatures');
  bad('\ud800' + PETER_TEXT + '\n' + sig, 'lone surrogate');
  bad('', 'empty');
  bad('\n', 'just a newline');
  assert.throws(() => parseNoteBytes(Uint8Array.of(0xc0, 0x80, 0x0a, 0x0a)), code('ERR_NOTE_MALFORMED'));
  // The separator is the LAST blank line: earlier blank lines belong to the text.
  const n = parseNote('a\n\nb\n\n' + sig);
  assert.equal(n.text, 'a\n\nb\n');
  assert.equal(n.signatures[0]!.keyId, 0xc74f20a3);
  assert.equal(formatSignatureLine('PeterNeumann', n.signatures[0]!.keyId, n.signatures[0]!.signature), sig);
  assert.throws(() => formatSignatureLine('a b', 1, new Uint8Array(64)), code('ERR_NOTE_MALFORMED'));
  assert.throws(() => formatSignatureLine('a', 2 ** 32, new Uint8Array(64)), code('ERR_NOTE_MALFORMED'));
});

test('verification rules: unknown (name, keyID) ignored; known must verify', async () => {
  const peter = ed25519NoteVerifier(PETER);
  const sig = PETER_NOTE.slice(PETER_TEXT.length + 1);
  const b64 = sig.slice(sig.lastIndexOf(' ') + 1, -1);
  const raw = fromBase64(b64);
  const withId = (id: number) => formatSignatureLine('PeterNeumann', id, raw.slice(4));
  // Same name, other key ID: ignored, so the note is unverified.
  await assert.rejects(openNote(PETER_TEXT + '\n' + withId(0x01020304), [peter]), code('ERR_NOTE_UNVERIFIED'));
  // Same key ID, other name: ignored.
  const renamed = formatSignatureLine('PaulNeumann', 0xc74f20a3, raw.slice(4));
  await assert.rejects(openNote(PETER_TEXT + '\n' + renamed, [peter]), code('ERR_NOTE_UNVERIFIED'));
  // Ignored lines are counted, the valid one verifies.
  const ok = await openNote(PETER_TEXT + '\n' + withId(7) + sig + renamed, [peter]);
  assert.deepEqual([ok.verified.length, ok.ignored], [1, 2]);
  // A second, bad signature by the known key fails the whole note (Go would skip it).
  const badSig = raw.slice(4);
  badSig[10]! ^= 1;
  const dup = PETER_TEXT + '\n' + sig + formatSignatureLine('PeterNeumann', 0xc74f20a3, badSig);
  await assert.rejects(openNote(dup, [peter]), code('ERR_NOTE_SIGNATURE_INVALID'));
  // Wrong signature length for a known key.
  const short = formatSignatureLine('PeterNeumann', 0xc74f20a3, raw.slice(4, 40));
  await assert.rejects(openNote(PETER_TEXT + '\n' + short, [peter]), code('ERR_NOTE_SIGNATURE_INVALID'));
  // Signature over other text.
  await assert.rejects(openNote('Other text.\n\n' + sig, [peter]), code('ERR_NOTE_SIGNATURE_INVALID'));
  // Two verifiers share (name, keyID): every matching verifier must accept the signature.
  const liar: NoteVerifier = { name: 'PeterNeumann', keyId: 0xc74f20a3, verify: async () => false };
  await assert.rejects(openNote(PETER_NOTE, [peter, liar]), code('ERR_NOTE_SIGNATURE_INVALID'));
  await assert.rejects(openNote(PETER_NOTE, []), code('ERR_NOTE_UNVERIFIED'));
});

test('a signature line repeated byte for byte is verified once (a hostile sender\'s repeats cost it nothing); a bad repeat of another signature still fails the note', async () => {
  const peter = ed25519NoteVerifier(PETER);
  let calls = 0;
  const counting: NoteVerifier = { ...peter, verify: (m, s) => { calls++; return peter.verify(m, s); } };
  const [text, sigLine] = [PETER_NOTE.slice(0, PETER_NOTE.indexOf('\n\n') + 2), PETER_NOTE.slice(PETER_NOTE.indexOf('\n\n') + 2)];
  const opened = await openNote(text + sigLine.repeat(50), [counting]);
  assert.equal(calls, 1);
  assert.deepEqual(opened.verified.map((s) => s.name), ['PeterNeumann']);
  // Another signature under the same key (one byte changed) is checked, and fails the note.
  const sig = fromBase64(sigLine.slice(sigLine.lastIndexOf(' ') + 1).trimEnd());
  sig[sig.length - 1]! ^= 1;
  await assert.rejects(openNote(text + sigLine + `\u2014 PeterNeumann ${toBase64(sig)}\n`, [peter]), code('ERR_NOTE_SIGNATURE_INVALID'));
});
