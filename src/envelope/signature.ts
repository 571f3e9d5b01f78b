/**
 * The signed-JSON-envelope rule shared by SEP-2787 attestations and execution receipts:
 * the signature is lowercase hex over the RFC 8785 (JCS) bytes of the envelope object with
 * the `signature` member (and any other listed unsigned members) removed.
 * @see SEP-2787 §"Canonicalization and signing"; RFC 8785
 */
import { fromHex } from '../bytes/index.js';
import { canonicalBytesOmitting, type CanonicalMemo } from '../jcs/index.js';
import { getAlgorithm, type AlgName } from '../keys/algorithms.js';

/** Members outside every signing preimage. `pqSignature` is the receipt's hybrid slot. */
export const UNSIGNED_MEMBERS: readonly string[] = ['signature', 'pqSignature'];

/**
 * The signing input: JCS bytes of `envelope` without its unsigned members (`memo`: texts
 * shared with the caller's other canonicalizations of the same members). Throws the JCS
 * codes (`ERR_JSON_VALUE`, `ERR_JSON_LONE_SURROGATE`, ...) for values JCS cannot encode.
 */
export function signingInput(envelope: Record<string, unknown>, memo?: CanonicalMemo): Uint8Array {
  // As of a null-prototype copy: a member named `__proto__` is an ordinary member here.
  return canonicalBytesOmitting(envelope, UNSIGNED_MEMBERS, memo);
}

/** The order n of the P-256 group (FIPS 186-5 / SEC 2), as 32 big-endian bytes. */
export const P256_N = fromHex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
/** n >> 1, as 32 big-endian bytes: the largest low `s`. */
const HALF_N = fromHex('7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8');

/** True when a raw ES256 `r||s` signature has `s <= n/2` (the canonical, non-malleable form; `n - s` is its twin). */
export function isLowS(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  // Big-endian comparison of s (bytes 32-63) with n/2: the first byte that differs decides.
  for (let i = 0; i < 32; i++) {
    const d = signature[32 + i]! - HALF_N[i]!;
    if (d !== 0) return d < 0;
  }
  return true;
}

/**
 * Verify a hex signature over `input`. Returns false (never throws) for non-canonical hex
 * (uppercase, odd length), a wrong length (DER instead of raw `r||s`), a signature that
 * does not verify, or, with `requireLowS`, an ES256 signature with `s > n/2`.
 */
export async function verifyHexSignature(
  alg: AlgName, key: CryptoKey, input: Uint8Array, signatureHex: unknown, o: { requireLowS?: boolean } = {},
): Promise<boolean> {
  if (typeof signatureHex !== 'string') return false;
  let sig: Uint8Array;
  try {
    sig = fromHex(signatureHex);
  } catch {
    return false;
  }
  if (o.requireLowS === true && alg === 'ES256' && !isLowS(sig)) return false;
  return getAlgorithm(alg).verify(key, input, sig);
}

/** Where verifiers get keys: by issuer, algorithm and key id (`secretVersion`). */
export interface KeyQuery {
  iss: string;
  alg: AlgName;
  keyId: string;
}

/** Resolves a verification key, or null when none is trusted for the query. */
export type KeyResolver = (query: KeyQuery) => Promise<CryptoKey | null>;
