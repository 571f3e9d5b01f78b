/**
 * The records a verifier keeps by log position for later entries (verify/call-records.ts):
 * whatever is set is read back exactly, by the decimal index a session action names, whether
 * kept in the typed arrays (a log's, read in order, gaps and all) or in the map (scattered
 * positions, values that do not fit); an index in any other spelling, or never set, names
 * nothing; positions chosen to make the arrays grow (a hostile bundle's) cannot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CallRecords, type CallRecord } from '../../src/verify/call-records.js';

const digest = (i: number): string => `sha256:${createHash('sha256').update(`entry ${i}`).digest('hex')}`;
const attestation = (i: number, tool: string | null = `tool-${i % 3}`): CallRecord => ({ kind: 'attestation', digest: digest(i), tool, answers: null });
const receipt = (i: number, answers: string | null): CallRecord => ({ kind: 'receipt', digest: digest(i), tool: null, answers });

test('a log\'s records, read in order after 20,000 entries that are none, are kept in the arrays and read back exactly', () => {
  const kept = new CallRecords();
  const want = new Map<string, CallRecord>();
  for (let i = 20_000; i < 30_000; i++) {
    // Every third position holds neither (a session statement, a refused input): it names nothing.
    if (i % 3 === 2) continue;
    const r = i % 3 === 0 ? attestation(i, i === 3 ? null : `tool-${i % 7}`) : receipt(i, String(i - 1));
    kept.set(BigInt(i), r, i + 1);
    want.set(String(i), r);
  }
  for (let i = 0; i < 30_001; i++) assert.deepEqual(kept.get(String(i)), want.get(String(i)) ?? null, `index ${i}`);
  assert.deepEqual(kept.footprint, { mapped: 0, chunks: Math.ceil(30_000 / 4096) });
});

test('positions a chunk apart (a hostile bundle\'s) make at most a few chunks; the rest go to the map', () => {
  const kept = new CallRecords();
  for (let i = 0; i < 1_000; i++) kept.set(BigInt(4096 * i), attestation(i), i + 1);
  for (let i = 0; i < 1_000; i++) assert.deepEqual(kept.get(String(4096 * i)), attestation(i));
  const { mapped, chunks } = kept.footprint;
  assert.ok(chunks <= 4, `${chunks} chunks`);
  assert.equal(mapped + chunks, 1_000);
});

test('an index spelled otherwise than canonical decimal names nothing', () => {
  const kept = new CallRecords();
  kept.set(7n, attestation(7), 8);
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
  odd.forEach(([p, r], k) => kept.set(p, r, k + 1));
  for (const [p, r] of odd) assert.deepEqual(kept.get(p.toString()), r, p.toString());
  assert.equal(kept.footprint.mapped, 7, 'only position 8\'s record fits the arrays');
  assert.equal(kept.get('3'), null);
  assert.equal(kept.get('999999'), null);
});
