/**
 * Verify an execution receipt: schema, algorithm, signature, back link to the attestation,
 * and the result commitment against the runtime result. Separate dimensions, as the receipt
 * vectors expect (`signature_ok`, `back_link_ok`, `result_commitment_ok`). No TTL: a receipt
 * is a durable record. No I/O, no clock.
 */
import { parseJson, parseJsonBytes, canonicalBytes, type CanonicalMemo, type JsonValue } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import { assertAllowed, getAlgorithm, ALG_NAMES, type AlgName } from '../keys/algorithms.js';
import { signingInput, verifyHexSignature, type KeyResolver } from '../envelope/signature.js';
import { checkCommitment, type RefResolver } from '../envelope/commitment.js';
import { allPassed, fail, failFrom, pass, skip, type Check } from '../envelope/report.js';
import { isObject } from '../envelope/schema.js';
import { validateReceipt, type Receipt } from './schema.js';
import { isAttestError } from '../errors.js';

/** Parse limits for receipts: 64 KiB, depth 16, no floats. */
const LIMITS = { floats: 'reject', maxBytes: 64 * 1024, maxDepth: 16 } as const;

/** Inputs of {@link verifyReceipt}. */
export interface ReceiptVerifyOptions {
  keys: KeyResolver;
  acceptedAlgs?: readonly AlgName[];
  /** The attestation the receipt claims to answer (back_link dimension). */
  attestation?: unknown;
  /** The runtime result to check the commitment against. */
  result?: unknown;
  /** Resolves `ref` result commitments (no resolver: a reference fails). */
  resolve?: RefResolver;
  /** ES256: refuse high-S signatures (see AttestationVerifyOptions.requireLowS). */
  requireLowS?: boolean;
  /** Canonical texts of the receipt the caller wrote already (its digest): reused for the signing input (jcs/canonicalize.ts). */
  memo?: CanonicalMemo;
}

/** Verdict: checks and the parsed receipt (null when the schema failed). */
export interface ReceiptVerdict {
  ok: boolean;
  checks: Check[];
  receipt: Receipt | null;
}

async function checkReceiptSignature(r: Record<string, unknown>, o: ReceiptVerifyOptions): Promise<Check> {
  const asserted = isObject(r['receiptAsserted']) ? r['receiptAsserted'] : {};
  if (r['alg'] !== asserted['alg']) return fail('signature', 'ERR_ALG_DOWNGRADE', 'top-level alg differs from receiptAsserted.alg', { expected: asserted['alg'], found: r['alg'] });
  let alg: AlgName;
  try {
    alg = getAlgorithm(r['alg']).name;
    assertAllowed(alg, o.acceptedAlgs ?? ALG_NAMES);
  } catch (e) {
    return failFrom('signature', e, 'ERR_ALG_UNSUPPORTED');
  }
  const { iss, secretVersion: keyId } = asserted;
  if (typeof iss !== 'string' || typeof keyId !== 'string') return fail('signature', 'ERR_SCHEMA', 'iss and secretVersion must be strings to select a key');
  const query = { iss, alg, keyId };
  const key = await o.keys(query).catch(() => null);
  if (key === null) return fail('signature', 'ERR_KEY_UNAVAILABLE', 'no trusted key for the receipt signer', { found: query });
  try {
    const ok = await verifyHexSignature(alg, key, signingInput(r, o.memo), r['signature'], { requireLowS: o.requireLowS === true });
    return ok ? pass('signature', `${alg} ${query.keyId}`) : fail('signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed');
  } catch (e) {
    return failFrom('signature', e, 'ERR_SIGNATURE_INVALID');
  }
}

/** Back-link dimension: digest of the whole attestation and its nonce. */
export function checkBackLink(r: Record<string, unknown>, attestation: unknown): Check {
  const back = isObject(r['backLink']) ? r['backLink'] : {};
  let digest: string;
  try {
    digest = sha256Tagged(canonicalBytes(attestation));
  } catch (e) {
    return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation cannot be canonicalized', { found: isAttestError(e) ? e.code : 'error' });
  }
  if (back['attestationDigest'] !== digest) return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation digest differs', { expected: back['attestationDigest'], found: digest });
  const nonce = isObject(attestation) && isObject(attestation['issuerAsserted']) ? attestation['issuerAsserted']['nonce'] : undefined;
  if (back['attestationNonce'] !== nonce) return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation nonce differs', { expected: back['attestationNonce'], found: nonce });
  return pass('back_link');
}

/** Result-commitment dimension; never throws. */
async function checkResult(r: Record<string, unknown>, o: ReceiptVerifyOptions): Promise<Check> {
  const outcome = isObject(r['outcomeDerived']) ? r['outcomeDerived'] : {};
  const commitment = outcome['resultCommitment'];
  if (!isObject(commitment)) return skip('result_commitment', 'receipt carries no result commitment');
  try {
    return (await checkCommitment('result_commitment', 'ERR_RESULT_COMMITMENT_MISMATCH', commitment, o.result, o.resolve)).check;
  } catch (e) {
    return fail('result_commitment', 'ERR_RESULT_COMMITMENT_MISMATCH', 'result cannot be committed to', { found: isAttestError(e) ? e.code : 'error' });
  }
}

/**
 * Verify a receipt given as JSON text, UTF-8 bytes or a parsed value (limits: 64 KiB,
 * depth 16, no floats). Never throws for bad input: every failure is a check with a code.
 */
export async function verifyReceipt(input: string | Uint8Array | JsonValue, o: ReceiptVerifyOptions): Promise<ReceiptVerdict> {
  const checks: Check[] = [];
  let value: JsonValue;
  try {
    if (input instanceof Uint8Array) input = parseJsonBytes(input, LIMITS);
    value = typeof input === 'string' ? parseJson(input, LIMITS) : input;
    checks.push(pass('canonicalization'));
  } catch (e) {
    checks.push(failFrom('canonicalization', e, 'ERR_JSON_SYNTAX'));
    return { ok: false, checks, receipt: null };
  }
  const problems = validateReceipt(value);
  checks.push(problems.length === 0 ? pass('schema') : fail('schema', 'ERR_SCHEMA', problems.join('; '), { found: problems }));
  if (!isObject(value)) return { ok: false, checks, receipt: null };
  const r = value as Record<string, unknown>;
  checks.push(await checkReceiptSignature(r, o));
  checks.push(o.attestation === undefined ? skip('back_link', 'no attestation given') : checkBackLink(r, o.attestation));
  checks.push(await checkResult(r, o));
  return { ok: allPassed(checks), checks, receipt: problems.length === 0 ? (r as unknown as Receipt) : null };
}
