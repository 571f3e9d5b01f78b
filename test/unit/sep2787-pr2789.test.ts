/**
 * SEP-2787 vectors of PR #2789 (`test/vectors/published/sep2787/mcp-pr2789/v0/`), each run
 * through `mcp-attest attestation verify` exactly as a user would, and the verdict checked
 * dimension by dimension against the case's `expected.json`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, caseDirs, vectorPath, vectorSecretPath } from '../vectors.js';

const ROOT = 'sep2787/mcp-pr2789/v0';

interface Expected { verification_result: boolean; rejection_dimension?: string; policy_dependency?: string; verifying_material?: string; verify_at_epoch?: number }
interface Verdict { verified: boolean; checks: Array<{ dimension: string; status: string; code?: string; message?: string }> }

/** Which of our failed checks each published rejection dimension corresponds to. */
const DIMENSION: Record<string, { dimension: string; code: string }> = {
  signature_mismatch: { dimension: 'signature', code: 'ERR_SIGNATURE_INVALID' },
  canonicalisation_float: { dimension: 'canonicalization', code: 'ERR_JSON_FLOAT' },
  algorithm_downgrade: { dimension: 'algorithm', code: 'ERR_ALG_DOWNGRADE' },
  clock_skew_seconds: { dimension: 'ttl', code: 'ERR_TTL_EXPIRED' },
  alg_whitelist: { dimension: 'algorithm', code: 'ERR_ALG_UNSUPPORTED' },
  schema_validation: { dimension: 'schema', code: 'ERR_SCHEMA' },
  alg_acceptance: { dimension: 'algorithm', code: 'ERR_ALG_NOT_ALLOWED' },
};

function runVerify(dir: string, e: Expected, iat: number | null): { status: number; verdict: Verdict } {
  const file = existsSync(join(dir, 'signed_envelope.json')) ? join(dir, 'signed_envelope.json') : join(dir, 'unsigned_envelope.json');
  const material = e.verifying_material ?? 'keys/hs256_secret.bin';
  const keyFlag = material.endsWith('.bin') ? '--secret' : '--key';
  const at = e.verify_at_epoch ?? iat ?? 0;
  const r = spawnSync(process.execPath, [CLI, 'attestation', 'verify', file, keyFlag, keyFlag === '--secret' ? vectorSecretPath(`${ROOT}/${material}`) : vectorPath(`${ROOT}/${material}`), '--at', String(at), '--json'], { encoding: 'utf8' });
  return { status: r.status ?? -1, verdict: JSON.parse(r.stdout) as Verdict };
}

function iatOf(dir: string): number | null {
  try {
    const env = JSON.parse(readFileSync(join(dir, 'unsigned_envelope.json'), 'utf8')) as { issuerAsserted?: { iat?: string } };
    return env.issuerAsserted?.iat ? Date.parse(env.issuerAsserted.iat) / 1000 : null;
  } catch {
    return null;
  }
}

for (const bucket of ['normative/positive', 'normative/negative', 'verifier-policy/negative']) {
  for (const name of caseDirs(`${ROOT}/${bucket}`)) {
    test(`PR #2789 ${bucket}/${name}`, () => {
      const dir = vectorPath(`${ROOT}/${bucket}/${name}`);
      const e = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
      const { status, verdict } = runVerify(dir, e, iatOf(dir));
      assert.equal(verdict.verified, e.verification_result);
      assert.equal(status, e.verification_result ? 0 : 1);
      const failed = verdict.checks.filter((c) => c.status === 'fail');
      if (e.verification_result) {
        assert.deepEqual(failed, []);
        for (const d of ['signature', 'ttl', 'algorithm', 'schema']) assert.ok(verdict.checks.some((c) => c.dimension === d && c.status === 'pass'), d);
        return;
      }
      const want = DIMENSION[(e.rejection_dimension ?? e.policy_dependency)!]!;
      assert.ok(failed.some((c) => c.dimension === want.dimension && c.code === want.code), `expected ${want.dimension} ${want.code}, got ${JSON.stringify(failed)}`);
    });
  }
}

test('PR #2789 case 09 reports the float with the published message', () => {
  const dir = vectorPath(`${ROOT}/normative/negative/09-ieee754-float-in-canonical-input`);
  const { verdict } = runVerify(dir, { verification_result: false }, null);
  const check = verdict.checks.find((c) => c.dimension === 'canonicalization');
  assert.match(check?.message ?? '', /IEEE-754 float at \.issuerAsserted\.expSeconds is prohibited\. Use a scaled integer/);
});

test('PR #2789 positive signing inputs equal JCS of the unsigned envelope, byte for byte', async () => {
  const { signingInput } = await import('../../src/envelope/signature.js');
  for (const name of caseDirs(`${ROOT}/normative/positive`)) {
    const dir = vectorPath(`${ROOT}/normative/positive/${name}`);
    const unsigned = JSON.parse(readFileSync(join(dir, 'unsigned_envelope.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Buffer.from(signingInput(unsigned)), readFileSync(join(dir, 'canonical_signing_input.bin')), name);
  }
});
