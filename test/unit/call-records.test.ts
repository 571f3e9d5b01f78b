/**
 * The records a verifier keeps by log position for later entries (verify/call-records.ts):
 * whatever is set is read back exactly, by the decimal index a session action names, whether
 * kept in the typed arrays (a dense run from 0) or in the map (scattered positions, values
 * that do not fit); an index in any other spelling, or never set, names nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CallRecords, type CallRecord } from '../../src/verify/call-records.js';

const digest = (i: number): string => `sha256:${createHash('sha256').update(`entry ${i}`).digest('hex')}`;
const attestation = (i: number, tool: string | null = `tool-${i % 3}`): CallRecord => ({ kind: 'attestation', digest: digest(i), tool, answers: null });
const receipt = (i: number, answers: string | null): CallRecord => ({ kind: 'receipt', digest: digest(i), tool: null, answers });

test('a log\'s records, 0 to 10,000 (several chunks), read back exactly by decimal index', () => {
  const kept = new CallRecords();
  const want = new Map<string, CallRecord>();
  for (let i = 0; i < 10_000; i++) {
    // Every third position holds neither (a session statement, a refused input): it names nothing.
    if (i % 3 === 2) continue;
    const r = i % 3 === 0 ? attestation(i, i === 3 ? null : `tool-${i % 7}`) : receipt(i, String(i - 1));
    kept.set(BigInt(i), r);
    want.set(String(i), r);
  }
  for (let i = 0; i < 10_001; i++) assert.deepEqual(kept.get(String(i)), want.get(String(i)) ?? null, `index ${i}`);
});

test('an index spelled otherwise than canonical decimal names nothing', () => {
  const kept = new CallRecords();
  kept.set(7n, attestation(7));
  assert.deepEqual(kept.get('7'), attestation(7));
  for (const index of ['07', '007', '+7', '7.0', ' 7', '7 ', '0x7', '-0', '', '7e0', '٧']) assert.equal(kept.get(index), null, JSON.stringify(index));
});

test('scattered positions (a bundle\'s), huge ones and values that do not fit are kept as given', () => {
  const kept = new CallRecords();
  const odd: Array<[bigint, CallRecord]> = [
    [1_000_000n, attestation(1)],
    [2n ** 40n, receipt(2, '12')],
    [18446744073709551615n, attestation(3)],
    [1n, receipt(4, '18446744073709551615')],
    [2n, receipt(5, '007')],
    [4n, receipt(6, null)],
    [5n, { kind: 'attestation', digest: 'sha256:not hex', tool: 'x', answers: null }],
    [8n, attestation(8, 'a tool with a name nobody else uses')],
  ];
  for (const [p, r] of odd) kept.set(p, r);
  for (const [p, r] of odd) assert.deepEqual(kept.get(p.toString()), r, p.toString());
  assert.equal(kept.get('3'), null);
  assert.equal(kept.get('999999'), null);
});
