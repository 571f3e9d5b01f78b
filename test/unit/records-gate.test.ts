/**
 * The gatekeeper's log records: strict decoding of decision and response-receipt records,
 * and what a log verification makes of them (an allowed replay is an error; refusals are
 * counted; a response receipt is re-checked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECISION_RECORD, RESPONSE_RECEIPT_RECORD, decodeRecord, encodeRecord, type LogRecord } from '../../src/records/record.js';
import { verifyLog } from '../../src/verify/log.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { issueReceipt } from '../../src/receipt/build.js';
import { canonicalBytes, type JsonValue } from '../../src/jcs/index.js';
import type { TrustPolicy } from '../../src/verify/policy.js';
import { signerFor } from './keys-helper.js';

const FP = `sha256:${'22'.repeat(32)}`;
const POLICY: TrustPolicy = { version: 1, issuers: [], logs: [], witnesses: [], quorum: 0, parties: [], acceptedAlgorithms: ['ES256'], clockSkewSeconds: 30 };

function decision(index: number, over: Record<string, unknown>): Record<string, unknown> {
  return { type: DECISION_RECORD, index: String(index), callId: '', server: { name: 's', fingerprint: FP }, tool: 'pay', requestDigest: `sha256:${'33'.repeat(32)}`, decision: 'refused', reason: 'expired', code: 'ERR_TTL_EXPIRED', attestation: null, ...over };
}

test('decision records decode strictly: reason present exactly when refused, nullable members typed', () => {
  assert.equal(decodeRecord(canonicalBytes(decision(0, {}) as JsonValue)).type, DECISION_RECORD);
  for (const bad of [{ reason: null }, { decision: 'maybe' }, { decision: 'allowed' }, { code: 5 }, { attestation: 'x' }, { extra: 1 }]) {
    assert.throws(() => decodeRecord(canonicalBytes(decision(0, bad) as JsonValue)), { code: 'ERR_ENTRY_MALFORMED' }, JSON.stringify(bad));
  }
  const rr = { type: RESPONSE_RECEIPT_RECORD, index: '1', callId: 'c', attestationIndex: '0', receipt: {}, code: null };
  assert.equal(decodeRecord(canonicalBytes(rr)).type, RESPONSE_RECEIPT_RECORD);
  assert.throws(() => decodeRecord(canonicalBytes({ ...rr, code: 1 })), { code: 'ERR_ENTRY_MALFORMED' });
});

test('log verification: an allowed attestation accepted twice is a replay error; refusals are counted, not verified; receipts answer decisions', async () => {
  const { signer, keys } = await signerFor('ES256');
  const a = await issueAttestation(signer, { tool: 'pay', args: {}, serverFingerprint: FP, intent: 'i', now: 1_800_000_000, nonceBytes: new Uint8Array(16).fill(4) });
  const receipt = await issueReceipt(signer, { attestation: a, status: 'executed', result: { content: [] }, now: 1_800_000_001, nonceBytes: new Uint8Array(16).fill(5) });
  const nonce = a.issuerAsserted.nonce;
  const allowed = (i: number) => decision(i, { callId: nonce, decision: 'allowed', reason: null, code: null, attestation: a });
  const records = [
    allowed(0),
    { type: 'mcp-attest/receipt@1', index: '1', callId: nonce, attestationIndex: '0', receipt },
    decision(2, { attestation: { junk: true } }),
    allowed(3),
  ];
  const entries = records.map((r, i) => [BigInt(i), encodeRecord(r as unknown as LogRecord)] as [bigint, Uint8Array]);
  const report = await verifyLog({ entries, checkpoints: [] }, POLICY, keys);
  const errors = report.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}@${f.index ?? ''}`);
  assert.ok(errors.includes('ERR_LOG_DUPLICATE_NONCE@3'), errors.join());
  assert.equal(report.refused, 1);
  assert.equal(report.receipts, 1);
  assert.ok(!errors.some((e) => e.endsWith('@2')), 'a refused decision is not verified');
});

test('one log holding a call attested then gated (a gateway\'s chain): the decision links to the attestation; a second decision, or one with another attestation, is still a replay', async () => {
  const { signer, keys } = await signerFor('ES256');
  const a = await issueAttestation(signer, { tool: 'pay', args: {}, serverFingerprint: FP, intent: 'i', now: 1_800_000_000, nonceBytes: new Uint8Array(16).fill(6) });
  const other = await issueAttestation(signer, { tool: 'pay', args: { x: 1 }, serverFingerprint: FP, intent: 'i', now: 1_800_000_000, nonceBytes: new Uint8Array(16).fill(6) });
  const r = (nonce: number) => issueReceipt(signer, { attestation: a, status: 'executed', result: { content: [] }, now: 1_800_000_001, nonceBytes: new Uint8Array(16).fill(nonce) });
  const nonce = a.issuerAsserted.nonce;
  const attested = { type: 'mcp-attest/attestation@1', index: '0', callId: nonce, server: { name: 's', fingerprint: FP }, tool: 'pay', requestDigest: `sha256:${'33'.repeat(32)}`, attestation: a };
  const allowed = (i: number, att = a) => decision(i, { callId: nonce, decision: 'allowed', reason: null, code: null, attestation: att });
  const run = async (records: unknown[]) => {
    const entries = records.map((x, i) => [BigInt(i), encodeRecord(x as LogRecord)] as [bigint, Uint8Array]);
    const report = await verifyLog({ entries, checkpoints: [] }, POLICY, keys);
    return { report, errors: report.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}@${f.index ?? ''}`) };
  };
  const chain = await run([
    attested, allowed(1),
    { type: 'mcp-attest/receipt@1', index: '2', callId: nonce, attestationIndex: '1', receipt: await r(7) },
    { type: 'mcp-attest/receipt@1', index: '3', callId: nonce, attestationIndex: '0', receipt: await r(8) },
  ]);
  assert.deepEqual(chain.errors.filter((e) => e !== 'ERR_CHECKPOINT_MISSING@'), []);
  assert.equal(chain.report.calls, 1);
  assert.equal(chain.report.inFlight, 0);
  assert.ok((await run([attested, allowed(1), allowed(2)])).errors.includes('ERR_LOG_DUPLICATE_NONCE@2'), 'a second decision on the call');
  assert.ok((await run([attested, allowed(1, other)])).errors.includes('ERR_LOG_DUPLICATE_NONCE@1'), 'a decision on another attestation with the nonce');
  assert.ok((await run([allowed(0), { ...attested, index: '1' }])).errors.includes('ERR_LOG_DUPLICATE_NONCE@1'), 'an attestation record after a decision');
  const unanswered = await run([attested, allowed(1), { type: 'mcp-attest/receipt@1', index: '2', callId: nonce, attestationIndex: '0', receipt: await r(8) }]);
  assert.equal(unanswered.report.inFlight, 1, 'the gate\'s side without its receipt is in flight');
});
