/**
 * mcp-attest's own conformance vectors (test/vectors/, docs/vectors.md): the generator
 * reproduces the committed files byte for byte, and every case's expected verdict (stated
 * by hand in scripts/vectors/*-cases.ts) is what the library verifiers return, dimension by
 * dimension. The CLI is checked on a sample of cases, through a real process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { committedVectors, diffVectors, generateVectors, VECTOR_DIR } from '../../scripts/gen-vectors.js';
import type { VectorFile } from '../../scripts/vectors/model.js';
import type { EntryVector } from '../../scripts/vectors/entry-cases.js';
import { runEntryVector, runVector, stated } from '../own-vectors.js';

const index = JSON.parse(readFileSync(`${VECTOR_DIR}index.json`, 'utf8')) as { cases: Array<{ file: string }> };
const load = (file: string): VectorFile => JSON.parse(readFileSync(`${VECTOR_DIR}${file}`, 'utf8')) as VectorFile;

test('the generator reproduces the committed vectors exactly (no missing, extra or changed file)', () => {
  assert.deepEqual(diffVectors(generateVectors(), committedVectors()), []);
});

test('the set covers what issue 3 names, in both kinds', () => {
  const names = new Set(index.cases.map((c) => c.file));
  const need = [
    'attestation/server-mismatch.json', 'attestation/tool-mismatch.json', 'attestation/multi-call-second-server-selected.json',
    'attestation/iat-future-beyond-skew.json', 'attestation/ttl-edge-iat-minus-30.json', 'attestation/ttl-edge-exp-plus-30.json',
    'attestation/top-level-alg-mismatch-signed.json', 'attestation/sep-text-args-ref-resolved.json', 'attestation/sep-text-no-commitment.json',
    'attestation/vector-ref-resolved.json', 'attestation/vector-redacted-projection-refused.json', 'attestation/duplicate-key.json',
    'attestation/lone-surrogate.json', 'attestation/negative-zero.json', 'attestation/nan-literal.json', 'attestation/infinity-literal.json',
    'attestation/integer-beyond-2-53.json', 'attestation/nesting-beyond-limit.json', 'attestation/size-beyond-limit.json',
    'attestation/signature-uppercase-hex.json', 'attestation/signature-odd-length-hex.json', 'attestation/signature-es256-der.json',
    'attestation/signature-es256-high-s-strict.json', 'attestation/ed25519-key-small-order.json', 'attestation/ed25519-key-non-canonical.json',
    'attestation/iat-offset-zero.json', 'receipt/receipt-refused-with-result.json',
  ];
  assert.deepEqual(need.filter((n) => !names.has(n)), []);
});

for (const { file } of index.cases) {
  test(`vector ${file}`, async () => {
    if (file.startsWith('entry/')) {
      const v = JSON.parse(readFileSync(`${VECTOR_DIR}${file}`, 'utf8')) as EntryVector;
      assert.deepEqual(await runEntryVector(v), v.expected, v.desc);
      return;
    }
    const f = load(file);
    assert.equal(`${f.kind}/${f.name}.json`, file);
    assert.equal(f.envelope === undefined, f.envelopeText !== undefined, 'exactly one of envelope and envelopeText');
    const actual = await runVector(f);
    assert.deepEqual(stated(f.expected, actual), f.expected, f.desc);
  });
}
