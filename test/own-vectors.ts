/**
 * Runs one mcp-attest vector (docs/vectors.md) through the library verifiers and reports the
 * verdict in the vector's own terms, so a test can compare it with `expected`.
 */
import { fromBase64, fromHex, toHex, utf8 } from '../src/bytes/index.js';
import { publishedEntry } from '../src/log/opening.js';
import { entryFacts } from '../src/verify/entry-facts.js';
import { RecordChecker } from '../src/verify/records.js';
import { parseTrustPolicy, policyKeyResolver } from '../src/verify/policy.js';
import type { Finding } from '../src/verify/findings.js';
import type { EntryVector } from '../scripts/vectors/entry-cases.js';
import { isAttestError } from '../src/errors.js';
import { importPublicPem, importSecret } from '../src/keys/material.js';
import { isAlgName, type AlgName } from '../src/keys/algorithms.js';
import type { KeyResolver } from '../src/envelope/signature.js';
import type { RefResolver } from '../src/envelope/commitment.js';
import { contentAddressedResolver } from '../src/envelope/commitment.js';
import { canonicalBytes } from '../src/jcs/index.js';
import { verifyAttestation, verdictReason } from '../src/attestation/verify.js';
import { verifyReceipt } from '../src/receipt/verify.js';
import type { Check } from '../src/envelope/report.js';
import type { VectorExpected, VectorFile, VectorKey } from '../scripts/vectors/model.js';

async function importKey(k: VectorKey): Promise<CryptoKey> {
  if (k.secretHex !== undefined) return importSecret(fromHex(k.secretHex));
  const { alg, key } = await importPublicPem(k.publicKeyPem ?? '');
  if (alg !== k.alg) throw new Error(`key is ${alg}, entry says ${k.alg}`);
  return key;
}

/** Import the vector's keys; a key that fails to import is not trusted (its code is reported). */
async function keysOf(list: VectorKey[]): Promise<{ resolver: KeyResolver; results: string[] }> {
  const usable: Array<[VectorKey, CryptoKey]> = [];
  const results: string[] = [];
  for (const k of list) {
    try {
      usable.push([k, await importKey(k)]);
      results.push('ok');
    } catch (e) {
      results.push(isAttestError(e) ? e.code : 'error');
    }
  }
  const resolver: KeyResolver = async (q) => usable.find(([k]) => k.iss === q.iss && k.alg === q.alg && k.secretVersion === q.keyId)?.[1] ?? null;
  return { resolver, results };
}

function refsOf(refs: Record<string, string> | undefined, runtime: unknown): RefResolver {
  const inHand = runtime === undefined ? null : contentAddressedResolver([canonicalBytes(runtime)]);
  return async (uri) => {
    const b64 = refs?.[uri];
    if (b64 !== undefined) return fromBase64(b64);
    return inHand ? inHand(uri) : null;
  };
}

function outcomes(checks: Check[]): VectorExpected['checks'] {
  return Object.fromEntries(checks.map((c) => [c.dimension, c.status === 'fail' ? (c.code ?? 'ERR_UNKNOWN') : c.status]));
}

/** Verify the vector's input as its `verifier` says; the actual verdict in the vector's terms. */
export async function runVector(f: VectorFile): Promise<VectorExpected> {
  const v = f.verifier;
  const { resolver, results } = await keysOf(v.keys);
  const input = f.envelopeText !== undefined ? utf8(f.envelopeText) : canonicalBytes(f.envelope);
  const accepted = v.acceptedAlgs.filter(isAlgName) as AlgName[];
  const resolve = refsOf(v.refs, v.runtime);
  const keys = v.keys.length > 0 && results.some((r) => r !== 'ok') ? { keys: results } : {};
  if (f.kind === 'receipt') {
    const r = await verifyReceipt(input, {
      keys: resolver, acceptedAlgs: accepted, resolve, requireLowS: v.requireLowS === true,
      ...(v.attestation === undefined ? {} : { attestation: v.attestation }), ...(v.runtime === undefined ? {} : { result: v.runtime }),
    });
    return { verdict: r.ok ? 'accept' : 'reject', checks: outcomes(r.checks), ...keys };
  }
  const a = await verifyAttestation(input, {
    keys: resolver, acceptedAlgs: accepted, resolve, requireLowS: v.requireLowS === true, redacted: v.redacted ?? 'accept',
    ...(v.at === undefined ? {} : { now: v.at }), ...(v.skewSeconds === undefined ? {} : { skewSeconds: v.skewSeconds }),
    ...(v.maxExpSeconds === undefined ? {} : { maxExpSeconds: v.maxExpSeconds }),
    ...(v.serverFingerprint === undefined ? {} : { serverFingerprint: v.serverFingerprint }),
    ...(v.toolName === undefined ? {} : { toolName: v.toolName }), ...(v.runtime === undefined ? {} : { args: v.runtime }),
  });
  return {
    verdict: a.ok ? 'accept' : 'reject', checks: outcomes(a.checks), reason: verdictReason(a),
    shape: a.shape, toolCallIndex: a.toolCallIndex, projectionMatch: a.projectionMatch, ...keys,
  };
}

/** The members of `actual` that `expected` states (a vector may leave some unstated). */
export function stated(expected: VectorExpected, actual: VectorExpected): Partial<VectorExpected> {
  return Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k as keyof VectorExpected]]));
}

/** Run an entry case (scripts/vectors/entry-cases.ts) through the library: opening, leaf hash, and the log's form rule (RecordChecker). */
export async function runEntryVector(v: EntryVector): Promise<EntryVector['expected']> {
  const { input } = v;
  let bytes = fromHex(input.entryHex ?? '');
  let salt: Uint8Array | undefined;
  if (input.salt !== undefined && input.record !== undefined) {
    [bytes, salt] = [utf8(input.record), fromHex(input.salt)];
    if (input.entryHex !== undefined && toHex(publishedEntry(bytes, salt)) !== input.entryHex) return { verdict: 'reject', code: 'ERR_INCLUSION_INVALID' };
  }
  const policy = parseTrustPolicy(JSON.stringify({ version: 1, issuers: [], logs: [] }));
  const keys = policyKeyResolver(policy);
  const findings: Finding[] = [];
  const checker = new RecordChecker(policy, keys, findings);
  if (v.position > 0) {
    const first = v.log === 'v1' ? '{"type":"not a parameters entry"}' : `{"entries":"${v.log}","index":"0","type":"mcp-attest/log@2"}`;
    checker.fold(await entryFacts(0n, utf8(first), policy, keys));
    findings.length = 0;
  }
  const f = await entryFacts(BigInt(v.position), bytes, policy, keys, salt);
  checker.fold(f);
  const error = findings.find((x) => x.severity === 'error');
  return error ? { verdict: 'reject', code: error.code } : { verdict: 'accept', entryHex: toHex(publishedEntry(bytes, salt)), leafHash: toHex(f.leaf) };
}
