/**
 * Attestations and receipts issued by mcp-attest verify under each algorithm of the table,
 * and our own negative dimensions the published vectors do not cover: server and tool
 * mismatch, TTL edges at exactly +-30 s, `iat` in the future, signed-but-mismatched `alg`,
 * duplicate keys and -0 in the envelope text, a refused receipt carrying a result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueAttestation } from '../../src/attestation/build.js';
import { verdictReason, verifyAttestation } from '../../src/attestation/verify.js';
import { issueReceipt } from '../../src/receipt/build.js';
import { verifyReceipt } from '../../src/receipt/verify.js';
import { signEnvelope } from '../../src/envelope/sign.js';
import { signerFor } from './keys-helper.js';

const T0 = Date.parse('2026-11-21T12:00:00Z') / 1000;
const FP = 'sha256:' + 'ab'.repeat(32);

const input = { tool: 'delete_file', args: { path: '/a.md' }, serverFingerprint: FP, intent: 'tidy up', now: T0, nonceBytes: new Uint8Array(16).fill(7) };
const failed = (v: { checks: Array<{ status: string; code?: string }> }): string[] => v.checks.filter((c) => c.status === 'fail').map((c) => c.code!);

for (const alg of ['ES256', 'EdDSA', 'RS256', 'HS256'] as const) {
  test(`${alg}: issued attestation and receipt verify, all dimensions`, async () => {
    const { signer, keys } = await signerFor(alg);
    const att = await issueAttestation(signer, input);
    const v = await verifyAttestation(JSON.stringify(att), { keys, acceptedAlgs: [alg], now: T0, serverFingerprint: FP, toolName: 'delete_file', args: { path: '/a.md' } });
    assert.deepEqual(failed(v), []);
    assert.equal(v.ok, true);
    assert.equal(v.projectionMatch, true);
    const r = await issueReceipt(signer, { attestation: att, status: 'executed', result: { ok: 1 }, now: T0 + 1, nonceBytes: new Uint8Array(16) });
    const rv = await verifyReceipt(JSON.stringify(r), { keys, acceptedAlgs: [alg], attestation: att, result: { ok: 1 } });
    assert.deepEqual(failed(rv), []);
  });
}

test('server mismatch decides alone (tool and arguments are not evaluated); tool and argument mismatches fail with their code', async () => {
  const { signer, keys } = await signerFor('ES256');
  const att = await issueAttestation(signer, input);
  const base = { keys, acceptedAlgs: ['ES256'] as const, now: T0, toolName: 'rm', args: { path: '/b.md' } };
  const other = await verifyAttestation(att as never, { ...base, serverFingerprint: 'sha256:' + '00'.repeat(32) });
  assert.deepEqual(failed(other), ['ERR_SERVER_MISMATCH']);
  assert.deepEqual(other.checks.filter((c) => c.status === 'skip').map((c) => c.dimension), ['tool', 'args_commitment']);
  const same = await verifyAttestation(att as never, { ...base, serverFingerprint: input.serverFingerprint });
  assert.deepEqual(failed(same).sort(), ['ERR_ARGS_COMMITMENT_MISMATCH', 'ERR_TOOL_MISMATCH']);
});

test('TTL edges: exactly iat-30 and iat+exp+30 pass, one second beyond fails', async () => {
  const { signer, keys } = await signerFor('ES256');
  const att = await issueAttestation(signer, input);
  const at = async (now: number): Promise<string[]> => failed(await verifyAttestation(att as never, { keys, acceptedAlgs: ['ES256'], now }));
  assert.deepEqual(await at(T0 - 30), []);
  assert.deepEqual(await at(T0 + 300 + 30), []);
  assert.deepEqual(await at(T0 - 31), ['ERR_TTL_NOT_YET_VALID']);
  assert.deepEqual(await at(T0 + 331), ['ERR_TTL_EXPIRED']);
});

test('a top-level alg that differs from issuerAsserted.alg fails even when signed', async () => {
  const { signer, keys } = await signerFor('HS256');
  const att = await issueAttestation(signer, input);
  const { signature: _s, ...body } = att;
  const resigned = await signEnvelope(signer, { ...body, alg: 'ES256' });
  const v = await verifyAttestation(resigned as never, { keys, acceptedAlgs: ['HS256', 'ES256'], now: T0 });
  assert.ok(failed(v).includes('ERR_ALG_DOWNGRADE'));
  assert.equal(v.ok, false);
});

test('hostile envelope text: duplicate keys, -0, a non-canonical timestamp', async () => {
  const { signer, keys } = await signerFor('ES256');
  const text = JSON.stringify(await issueAttestation(signer, input));
  const dup = text.replace('"version":1', '"version":1,"version":1');
  assert.deepEqual(failed(await verifyAttestation(dup, { keys, now: T0 })), ['ERR_JSON_DUPLICATE_KEY']);
  const negZero = text.replace('"expSeconds":300', '"expSeconds":-0');
  assert.deepEqual(failed(await verifyAttestation(negZero, { keys, now: T0 })), ['ERR_JSON_NUMBER']);
  const offset = text.replace(/"iat":"([^"]+)Z"/, '"iat":"$1+00:00"');
  const codes = failed(await verifyAttestation(offset, { keys, acceptedAlgs: ['ES256'], now: T0 }));
  assert.deepEqual(codes.sort(), ['ERR_SCHEMA', 'ERR_SIGNATURE_INVALID', 'ERR_TIME_INVALID']);
});

test('a refused receipt must not carry a result commitment', async () => {
  const { signer, keys } = await signerFor('ES256');
  const att = await issueAttestation(signer, input);
  const r = await issueReceipt(signer, { attestation: att, status: 'executed', result: { ok: 1 }, now: T0, nonceBytes: new Uint8Array(16) });
  const { signature: _s, ...body } = r;
  const bad = await signEnvelope(signer, { ...body, outcomeDerived: { ...body.outcomeDerived, status: 'refused' as const } });
  const v = await verifyReceipt(bad as never, { keys, attestation: att });
  assert.deepEqual(failed(v), ['ERR_SCHEMA']);
});

test('the verifier API never throws and never passes on a bad caller input: throwing resolver, NaN clock, non-string iss, unencodable arguments', async () => {
  const { signer, keys } = await signerFor('HS256');
  const att = await issueAttestation(signer, input) as unknown as Record<string, any>;
  const base = { keys, acceptedAlgs: ['HS256'] as const };
  const boom = await verifyAttestation(att as never, { ...base, keys: async () => { throw new Error('key server down'); } });
  assert.deepEqual(failed(boom), ['ERR_KEY_UNAVAILABLE']);
  assert.match(boom.checks.find((c) => c.status === 'fail')!.message ?? '', new RegExp(`no trusted key for issuer "${att['issuerAsserted'].iss}", alg HS256 and secretVersion "`), 'the message names what no key was found for');
  for (const [now, skewSeconds] of [[Number.NaN, 30], [T0, Number.NaN], [T0, -1]] as const) {
    assert.deepEqual(failed(await verifyAttestation(att as never, { ...base, now, skewSeconds })), ['ERR_TIME_INVALID']);
  }
  const odd = { ...att, issuerAsserted: { ...att['issuerAsserted'], iss: Object.create(null) as object } };
  const v = await verifyAttestation(odd as never, base);
  assert.equal(v.ok, false);
  assert.equal(v.checks.find((c) => c.dimension === 'signature')?.code, 'ERR_SCHEMA');
  const nan = await verifyAttestation(att as never, { ...base, args: { a: Number.NaN } });
  assert.deepEqual(failed(nan), ['ERR_ARGS_COMMITMENT_MISMATCH']);
  assert.equal(verdictReason(nan), 'args_commitment_mismatch');
  const receipt = await issueReceipt(signer, { attestation: att as never, status: 'executed', result: { ok: true }, now: T0, nonceBytes: new Uint8Array(16) });
  const r = await verifyReceipt(receipt as never, { keys: async () => { throw new Error('down'); }, attestation: { x: Number.NaN }, result: { y: Number.NaN } });
  assert.deepEqual(r.checks.filter((c) => c.status === 'fail').map((c) => c.code), ['ERR_KEY_UNAVAILABLE', 'ERR_BACK_LINK_MISMATCH', 'ERR_RESULT_COMMITMENT_MISMATCH']);
});

test('an attestation or receipt issued without nonceBytes gets a fresh 16-byte nonce of its own, and verifies', async () => {
  const { signer, keys } = await signerFor('ES256');
  const { nonceBytes: _given, ...fresh } = input;
  const [a, b] = [await issueAttestation(signer, fresh), await issueAttestation(signer, fresh)];
  const nonces = [a.issuerAsserted.nonce, b.issuerAsserted.nonce];
  for (const n of nonces) assert.equal(Buffer.from(n, 'base64url').length, 16, `${n}: not 16 bytes`);
  assert.notEqual(nonces[0], nonces[1], 'two attestations drew the same nonce');
  assert.notEqual(nonces[0], Buffer.from(new Uint8Array(16).fill(7)).toString('base64url'));
  const v = await verifyAttestation(JSON.stringify(a), { keys, acceptedAlgs: ['ES256'], now: T0, serverFingerprint: FP, toolName: 'delete_file', args: { path: '/a.md' } });
  assert.deepEqual(failed(v), []);
  const r = await issueReceipt(signer, { attestation: a, status: 'executed', result: { ok: 1 }, now: T0 + 1 });
  assert.equal(Buffer.from(r.receiptAsserted.nonce, 'base64url').length, 16);
  assert.ok(!nonces.includes(r.receiptAsserted.nonce), 'the receipt reused an attestation\'s nonce');
  assert.deepEqual(failed(await verifyReceipt(JSON.stringify(r), { keys, acceptedAlgs: ['ES256'], attestation: a, result: { ok: 1 } })), []);
});

test('given nonceBytes must be 16 bytes: an empty or short nonce is ERR_USAGE at issue, not an envelope a verifier refuses later', async () => {
  const { signer } = await signerFor('ES256');
  for (const bytes of [new Uint8Array(0), new Uint8Array(15), new Uint8Array(17)]) {
    await assert.rejects(issueAttestation(signer, { ...input, nonceBytes: bytes }), { code: 'ERR_USAGE' });
    const att = await issueAttestation(signer, input);
    await assert.rejects(issueReceipt(signer, { attestation: att, status: 'executed', now: T0, nonceBytes: bytes }), { code: 'ERR_USAGE' });
  }
});
