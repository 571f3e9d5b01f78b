/**
 * Mangling (issue 3 item 5): for a valid attestation (HS256 and ES256 in compact JCS text,
 * HS256 pretty-printed), an execution receipt, a signed checkpoint and a signed note, every
 * single-byte change and every truncation is rejected, or accepted only where provably
 * harmless (outside what is signed), and the verifier never throws out of its API. Sweeps
 * run through test/mangle.ts; attestations in both wire shapes. The HS256 vector-shape attestation, the checkpoint and the note try all
 * 255 other values at each offset; the ES256, pretty and receipt sweeps (8-10 s each when
 * exhaustive) one value per byte class (`representativeBytes`, ~57 per offset) unless
 * MANGLE_EXHAUSTIVE=1.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex, utf8 } from '../../src/bytes/index.js';
import { canonicalBytes, canonicalize, type ParseLimits } from '../../src/jcs/index.js';
import { contentAddressedResolver } from '../../src/envelope/commitment.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { verifyAttestation, type AttestationVerdict } from '../../src/attestation/verify.js';
import type { Attestation } from '../../src/attestation/schema.js';
import { issueReceipt } from '../../src/receipt/build.js';
import { verifyReceipt, type ReceiptVerdict } from '../../src/receipt/verify.js';
import type { KeyResolver } from '../../src/envelope/signature.js';
import type { AlgName } from '../../src/keys/algorithms.js';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../../src/log/checkpoint.js';
import { leafHash } from '../../src/log/hash.js';
import { ed25519NoteVerifier } from '../../src/log/note.js';
import { ed25519NoteSigner, importEd25519Seed, signNote } from '../../src/log/note-sign.js';
import { formatVerifierKey } from '../../src/log/vkey.js';
import {
  costlyPicker, everyOtherByte, exhaustiveCount, jcsHarmless, mutantCount, sweep, sweepNote, type SweepCounts, type ValuePicker,
} from '../mangle.js';
import { signerFor } from './keys-helper.js';

const T0 = Date.parse('2026-11-21T12:00:00Z') / 1000;
const FP = 'sha256:' + 'ab'.repeat(32);
const ARGS = { path: '/a.md', recursive: false, depth: 2 };
const INPUT = {
  tool: 'delete_file', args: ARGS, serverFingerprint: FP, intent: 'tidy up', requestedCapability: 'fs.write',
  now: T0, nonceBytes: new Uint8Array(16).fill(7),
};
/** The limits the envelope verifiers parse with (attestation/verify.ts, receipt/verify.ts). */
const LIMITS: ParseLimits = { floats: 'reject', maxBytes: 64 * 1024, maxDepth: 16 };
const ATT_DIMENSIONS = ['canonicalization', 'schema', 'algorithm', 'signature', 'ttl', 'server', 'tool', 'args_commitment'];
const RECEIPT_DIMENSIONS = ['canonicalization', 'schema', 'signature', 'back_link', 'result_commitment'];

/** The unmangled input passes every check, and each of `dimensions` is among them. */
function assertAllPass(checks: Array<{ dimension: string; status: string }>, dimensions: string[]): void {
  assert.deepEqual(checks.filter((c) => c.status !== 'pass'), []);
  for (const d of dimensions) assert.ok(checks.some((c) => c.dimension === d), `dimension ${d} evaluated`);
}

function report(t: TestContext, what: string, bytes: number, c: SweepCounts): void {
  t.diagnostic(`${what}: ${bytes} bytes, tried ${c.tried}, rejected ${c.rejected}, harmless-accepted ${c.harmless}, ${c.ms} ms`);
}

/** Sweep an attestation text through verifyAttestation with every dimension exercised. */
async function sweepAttestation(att: Attestation, text: string, alg: AlgName, keys: KeyResolver, pick: ValuePicker): Promise<SweepCounts> {
  const resolve = contentAddressedResolver([canonicalBytes(ARGS)]);
  const options = { keys, acceptedAlgs: [alg], now: T0, serverFingerprint: FP, toolName: INPUT.tool, args: ARGS, resolve };
  const verify = async (b: Uint8Array): Promise<AttestationVerdict | null> => {
    const v = await verifyAttestation(b, options);
    return v.ok ? v : null;
  };
  assertAllPass((await verifyAttestation(utf8(text), options)).checks, ATT_DIMENSIONS);
  return sweep(utf8(text), { verify, harmless: jcsHarmless(att as never, LIMITS), pick });
}

test('the sweep runner counts every mutant and reports accepted and throwing ones', async () => {
  const original = utf8('{}\n');
  const isOriginal = (b: Uint8Array) => toHex(b) === toHex(original);
  const seen = new Set<string>();
  const rejectAll = async (b: Uint8Array) => (seen.add(toHex(b)), isOriginal(b) ? true : null);
  const c = await sweep(original, { verify: rejectAll, harmless: () => false, concurrency: 3 });
  assert.deepEqual([c.tried, c.rejected, c.harmless], [exhaustiveCount(3), exhaustiveCount(3), 0]);
  assert.equal(seen.size, exhaustiveCount(3) + 1, 'distinct mutants, plus the original');
  const acceptAll = sweep(original, { verify: async () => true, harmless: () => false });
  await assert.rejects(acceptAll, /768 mangled input\(s\) failed[^]*truncated to 0 of 3 bytes: accepted though not harmless[^]*byte 0 0x7b -> 0x00/);
  const throwing = async (b: Uint8Array) => (b[2] === 0x20 ? (JSON.parse('{') as null) : isOriginal(b) || null);
  const threw = /: 1 mangled input\(s\) failed[^\n]*\n {2}byte 2 0x0a -> 0x20 [^\n]*: verifier threw: SyntaxError/;
  await assert.rejects(sweep(original, { verify: throwing, harmless: () => false }), threw);
  const dropLf = async (b: Uint8Array) => isOriginal(b) || b.length === 2 || null;
  const counts = await sweep(original, { verify: dropLf, harmless: (m) => m.kind === 'truncate' && m.offset === 2 });
  assert.deepEqual([counts.tried, counts.rejected, counts.harmless], [exhaustiveCount(3), exhaustiveCount(3) - 1, 1]);
});

// HS256, the cheapest envelope verifier, is swept exhaustively (~180k mutants); ES256 with
// one value per byte class (test/mangle.ts representativeBytes) unless MANGLE_EXHAUSTIVE=1.
// The SEP-text shape (argsRef to content-addressed evidence) is swept like ES256.
for (const [alg, pick, profile] of [['HS256', everyOtherByte, 'vector'], ['ES256', costlyPicker, 'vector'], ['HS256', costlyPicker, 'sep-text']] as const) {
  test(`mangling: every byte change and truncation of a compact ${alg} ${profile}-shape attestation is rejected`, async (t) => {
    const { signer, keys } = await signerFor(alg);
    const att = await issueAttestation(signer, { ...INPUT, profile });
    const text = canonicalize(att);
    const c = await sweepAttestation(att, text, alg, keys, pick);
    report(t, `${alg} ${profile} attestation (JCS)`, text.length, c);
    assert.equal(c.tried, mutantCount(utf8(text), pick));
    assert.equal(c.harmless, 0, 'compact JCS text has no byte outside what is signed');
    assert.equal(c.rejected, c.tried);
  });
}

test('mangling: a pretty-printed attestation accepts only whitespace changes', async (t) => {
  const { signer, keys } = await signerFor('HS256');
  const att = await issueAttestation(signer, INPUT);
  const text = JSON.stringify(att, null, 2) + '\n';
  const c = await sweepAttestation(att, text, 'HS256', keys, costlyPicker);
  report(t, 'HS256 attestation (pretty, trailing LF)', text.length, c);
  assert.equal(c.tried, mutantCount(utf8(text), costlyPicker));
  // Each structural whitespace byte (the length over compact JSON.stringify, final LF
  // included) may become any of the other three JSON whitespace bytes; so may the final
  // LF be dropped. Nothing else is harmless.
  const whitespace = text.length - JSON.stringify(att).length;
  assert.equal(c.harmless, whitespace * 3 + 1);
  assert.equal(c.rejected, c.tried - c.harmless);
});

test('mangling: every byte change and truncation of a receipt is rejected', async (t) => {
  const { signer, keys } = await signerFor('HS256');
  const attestation = await issueAttestation(signer, INPUT);
  const result = { content: [{ type: 'text', text: 'deleted /a.md' }], isError: false };
  const receipt = await issueReceipt(signer, { attestation, status: 'executed', result, now: T0 + 1, nonceBytes: new Uint8Array(16).fill(9) });
  const text = canonicalize(receipt);
  const options = { keys, acceptedAlgs: ['HS256'] as AlgName[], attestation, result };
  assertAllPass((await verifyReceipt(utf8(text), options)).checks, RECEIPT_DIMENSIONS);
  const verify = async (b: Uint8Array): Promise<ReceiptVerdict | null> => {
    const v = await verifyReceipt(b, options);
    return v.ok ? v : null;
  };
  const c = await sweep(utf8(text), { verify, harmless: jcsHarmless(receipt as never, LIMITS), pick: costlyPicker });
  report(t, 'HS256 receipt (JCS)', text.length, c);
  assert.equal(c.tried, mutantCount(utf8(text), costlyPicker));
  assert.equal(c.harmless, 0);
  assert.equal(c.rejected, c.tried);
});

test('mangling: every byte change and truncation of a signed checkpoint is rejected', async (t) => {
  const key = await importEd25519Seed(fromHex('0f'.repeat(32)));
  const name = 'example.com/adversarial';
  const cp: Checkpoint = { origin: name, size: 130n, rootHash: leafHash(utf8('root')), extensions: ['ext'] };
  const note = await signNote(formatCheckpoint(cp), [ed25519NoteSigner(name, key.privateKey, key.publicKey)]);
  const verifiers = [ed25519NoteVerifier(formatVerifierKey(name, 1, key.publicKey))];
  const c = await sweepNote(note, { verifiers, check: (o) => void parseCheckpoint(o.text) });
  report(t, 'signed checkpoint', utf8(note).length, c);
  assert.equal(c.tried, mutantCount(utf8(note), everyOtherByte));
  assert.equal(c.harmless, 0, 'the only signature line is needed');
  assert.equal(c.rejected, c.tried);
});

test('mangling: a signed note accepts changes only in the ignored signature line', async (t) => {
  const [a, b] = await Promise.all(['a1', 'b2'].map((s) => importEd25519Seed(fromHex(s.repeat(32)))));
  const text = 'mcp-attest mangling note\nnon-ASCII text: é — 漢字 🙂\n';
  const signers = [ed25519NoteSigner('log.example/a', a!.privateKey, a!.publicKey), ed25519NoteSigner('witness.example/b', b!.privateKey, b!.publicKey)];
  const note = await signNote(text, signers);
  // Only a's key is known: b's line is ignored, so changes confined to it (and dropping
  // it) keep the note valid with the same text and signers; everything else is rejected.
  const known = [ed25519NoteVerifier(formatVerifierKey('log.example/a', 1, a!.publicKey))];
  const c = await sweepNote(note, { verifiers: known });
  report(t, 'signed note (one known, one unknown signer)', utf8(note).length, c);
  assert.equal(c.tried, mutantCount(utf8(note), everyOtherByte));
  assert.ok(c.harmless > 0, 'the ignored line was exercised');
  assert.equal(c.rejected + c.harmless, c.tried);
});
