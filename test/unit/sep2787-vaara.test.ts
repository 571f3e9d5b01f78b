/**
 * Vaara v0.70.0 SEP-2787 attestation vectors (`test/vectors/published/sep2787/vaara-v0.70.0/`):
 * separate verdicts for signature, TTL (at 2026-05-29T10:00:30Z, 30 s skew), argument
 * commitment and projection match; and the extras pair deciding our policy on members
 * outside the schema (closed schema: the extended envelope is rejected).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { verifyAttestation } from '../../src/attestation/verify.js';
import { caseDirs, readVectorJson, vectorPath } from '../vectors.js';
import { vectorKeys } from './keys-helper.js';

const DIR = 'sep2787/vaara-v0.70.0/sep2787_attestation_v0';
const AT = Date.parse('2026-05-29T10:00:30Z') / 1000;

interface Expected { signature_ok: boolean; ttl_ok: boolean; args_commitment_ok: boolean | null; projection_match: boolean | null }

const statusOf = (checks: Array<{ dimension: string; status: string }>, dims: string[]): boolean | null => {
  const relevant = checks.filter((c) => dims.includes(c.dimension));
  if (relevant.length === 0 || relevant.every((c) => c.status === 'skip')) return null;
  return relevant.every((c) => c.status === 'pass');
};

for (const name of caseDirs(`${DIR}/normative`)) {
  test(`Vaara attestation ${name}`, async () => {
    const base = `${DIR}/normative/${name}`;
    const e = readVectorJson<Expected>(`${base}/expected.json`);
    const args = existsSync(vectorPath(`${base}/runtime_args.json`)) ? readVectorJson(`${base}/runtime_args.json`) : undefined;
    const v = await verifyAttestation(readFileSync(vectorPath(`${base}/attestation.json`), 'utf8'), {
      keys: await vectorKeys(DIR), now: AT, ...(args === undefined ? {} : { args }),
    });
    assert.equal(statusOf(v.checks, ['algorithm', 'signature']), e.signature_ok, 'signature');
    assert.equal(statusOf(v.checks, ['ttl']), e.ttl_ok, 'ttl');
    assert.equal(statusOf(v.checks, ['args_commitment']), e.args_commitment_ok, 'args_commitment');
    assert.equal(v.projectionMatch, e.projection_match, 'projection_match');
    assert.equal(v.ok, e.signature_ok && e.ttl_ok && e.args_commitment_ok !== false);
  });
}

test('extras pair: the plain envelope verifies; the one with unsigned extension members is rejected', async () => {
  const keys = await vectorKeys(DIR);
  const extras = 'sep2787/vaara-v0.70.0/extras/normalize_v0_inputs';
  const plain = await verifyAttestation(readFileSync(vectorPath(`${extras}/sep2787_attestation.json`), 'utf8'), { keys });
  assert.equal(plain.ok, true);
  const extended = await verifyAttestation(readFileSync(vectorPath(`${extras}/sep2787_attestation_with_extension.json`), 'utf8'), { keys });
  assert.equal(extended.ok, false);
  const failed = extended.checks.filter((c) => c.status === 'fail').map((c) => c.code);
  assert.deepEqual(failed.sort(), ['ERR_SCHEMA', 'ERR_SIGNATURE_INVALID']);
});
