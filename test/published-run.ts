/**
 * Runs one published SEP-2787 attestation vector (PR #2789, Vaara) or Vaara execution receipt through the library
 * verifier with the key material given as text, so the same case runs in Node and in a
 * browser (test/e2e/browser-parity.test.ts). `only` mirrors `attestation verify --key` or
 * `--secret`: that one key, that one algorithm accepted.
 */
import { fromHex } from '../src/bytes/index.js';
import { importPublicPem, importSecret } from '../src/keys/material.js';
import type { AlgName } from '../src/keys/algorithms.js';
import { verifyAttestation } from '../src/attestation/verify.js';
import { verifyReceipt } from '../src/receipt/verify.js';
import type { Check } from '../src/envelope/report.js';

/** One case: the envelope's text, the keys by algorithm, the verification time (POSIX seconds), runtime arguments; a receipt (Vaara) with the attestation it answers and the runtime result. */
export interface PublishedCase { envelope: string; keys: { HS256?: string; ES256?: string; RS256?: string }; only?: AlgName; at: number; args?: unknown; receipt?: { attestation: unknown; result?: unknown } }

/** The verdict: ok, every check, and whether the projection matched. */
export async function runPublished(c: PublishedCase): Promise<{ ok: boolean; checks: Check[]; projectionMatch: boolean | null }> {
  const byAlg: Partial<Record<AlgName, CryptoKey>> = {};
  if (c.keys.HS256 !== undefined) byAlg.HS256 = await importSecret(fromHex(c.keys.HS256));
  for (const alg of ['ES256', 'RS256'] as const) if (c.keys[alg] !== undefined) byAlg[alg] = (await importPublicPem(c.keys[alg]!)).key;
  const keys = async (q: { alg: string }): Promise<CryptoKey | null> => (c.only === undefined || q.alg === c.only ? byAlg[q.alg as AlgName] ?? null : null);
  if (c.receipt) {
    const r = await verifyReceipt(c.envelope, { keys, attestation: c.receipt.attestation, ...(c.receipt.result === undefined ? {} : { result: c.receipt.result }) });
    return { ok: r.ok, checks: r.checks, projectionMatch: null };
  }
  const v = await verifyAttestation(c.envelope, {
    keys, now: c.at,
    ...(c.only === undefined ? {} : { acceptedAlgs: [c.only] }), ...(c.args === undefined ? {} : { args: c.args }),
  });
  return { ok: v.ok, checks: v.checks, projectionMatch: v.projectionMatch };
}
