/**
 * Execution receipt vectors (`test/vectors/published/vaara-receipt/`): signature, back link and
 * result commitment verdicts, including the broken back link and the substituted field.
 * Also run through `mcp-attest receipt verify`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { verifyReceipt } from '../../src/receipt/verify.js';
import { attestationDigest } from '../../src/receipt/build.js';
import { CLI, caseDirs, readVectorJson, vectorPath, vectorSecretPath } from '../vectors.js';
import { vectorKeys } from './keys-helper.js';

const DIR = 'vaara-receipt/vaara-v0.70.0/execution_receipt_v0';

interface Expected { signature_ok: boolean; back_link_ok: boolean; result_commitment_ok: boolean | null }

const dim = (checks: Array<{ dimension: string; status: string }>, d: string): boolean | null => {
  const c = checks.find((x) => x.dimension === d);
  return !c || c.status === 'skip' ? null : c.status === 'pass';
};

for (const name of caseDirs(`${DIR}/normative`)) {
  test(`receipt ${name}`, async () => {
    const base = `${DIR}/normative/${name}`;
    const e = readVectorJson<Expected>(`${base}/expected.json`);
    const resultFile = vectorPath(`${base}/runtime_result.json`);
    const result = existsSync(resultFile) ? readVectorJson(`${base}/runtime_result.json`) : undefined;
    const v = await verifyReceipt(readFileSync(vectorPath(`${base}/receipt.json`), 'utf8'), {
      keys: await vectorKeys(DIR), attestation: readVectorJson(`${base}/attestation.json`), ...(result === undefined ? {} : { result }),
    });
    assert.equal(dim(v.checks, 'signature'), e.signature_ok, 'signature');
    assert.equal(dim(v.checks, 'back_link'), e.back_link_ok, 'back_link');
    assert.equal(dim(v.checks, 'result_commitment'), e.result_commitment_ok, 'result_commitment');
    const want = e.signature_ok && e.back_link_ok && e.result_commitment_ok !== false;
    assert.equal(v.ok, want);
    const material = readFileSync(vectorPath(`${base}/receipt.json`), 'utf8').includes('"alg": "HS256"')
      ? ['--secret', vectorSecretPath(`${DIR}/keys/hs256_secret.bin`)]
      : ['--key', vectorPath(`${DIR}/keys/${JSON.parse(readFileSync(vectorPath(`${base}/receipt.json`), 'utf8')).alg.toLowerCase()}_public.pem`)];
    const cli = spawnSync(process.execPath, [CLI, 'receipt', 'verify', vectorPath(`${base}/receipt.json`), ...material,
      '--attestation', vectorPath(`${base}/attestation.json`), ...(result === undefined ? [] : ['--result', resultFile])], { encoding: 'utf8' });
    assert.equal(cli.status, want ? 0 : 1, cli.stdout + cli.stderr);
  });
}

test('the back-link digest of the fixture attestation is the published value', () => {
  const att = readVectorJson(`${DIR}/normative/hs256_executed_digest/attestation.json`);
  assert.equal(attestationDigest(att), 'sha256:79acdd4bb3c22a688b1c3321b9a26cafb5cb58c990a963874066d04b8497f70b');
});
