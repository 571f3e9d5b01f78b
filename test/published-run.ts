/**
 * Runs one published SEP-2787 attestation vector (PR #2789, Vaara) through the library
 * verifier with the key material given as text, so the same case runs in Node and in a
 * browser (test/e2e/browser-parity.test.ts). `only` mirrors `attestation verify --key` or
 * `--secret`: that one key, that one algorithm accepted.
 */
import { fromHex } from '../src/bytes/index.js';
import { importPublicPem, importSecret } from '../src/keys/material.js';
import type { AlgName } from '../src/keys/algorithms.js';
import { verifyAttestation } from '../src/attestation/verify.js';
import type { Check } from '../src/envelope/report.js';

/** One case: the envelope's text, the keys by algorithm, the verification time (POSIX seconds), runtime arguments. */
export interface PublishedCase { envelope: string; keys: { HS256?: string; ES256?: string; RS256?: string }; only?: AlgName; at: number; args?: unknown }

/** The verdict: ok, every check, and whether the projection matched. */
export async function runPublished(c: PublishedCase): Promise<{ ok: boolean; checks: Check[]; projectionMatch: boolean | null }> {
  const byAlg: Partial<Record<AlgName, CryptoKey>> = {};
  if (c.keys.HS256 !== undefined) byAlg.HS256 = await importSecret(fromHex(c.keys.HS256));
  for (const alg of ['ES256', 'RS256'] as const) if (c.keys[alg] !== undefined) byAlg[alg] = (await importPublicPem(c.keys[alg]!)).key;
  const v = await verifyAttestation(c.envelope, {
    keys: async (q) => (c.only === undefined || q.alg === c.only ? byAlg[q.alg as AlgName] ?? null : null), now: c.at,
    ...(c.only === undefined ? {} : { acceptedAlgs: [c.only] }), ...(c.args === undefined ? {} : { args: c.args }),
  });
  return { ok: v.ok, checks: v.checks, projectionMatch: v.projectionMatch };
}
