/**
 * Issuing side of the signed-JSON-envelope rule (see `signature.ts`). Kept apart so that
 * verifiers never import signing code.
 */
import { toHex } from '../bytes/index.js';
import { getAlgorithm, type AlgName } from '../keys/algorithms.js';
import { isLowS, P256_N, signingInput } from './signature.js';
import type { CanonicalMemo } from '../jcs/index.js';

/** The low-S form of a raw ES256 `r||s` signature (`s` replaced by `n - s` when `s > n/2`; a signature's `s` is below `n`). */
export function toLowS(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64 || isLowS(signature)) return signature;
  const out = signature.slice();
  // n - s, big-endian, byte by byte with a borrow.
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const d = P256_N[i]! - signature[32 + i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    out[32 + i] = d & 0xff;
  }
  return out;
}

/** Signs bytes: returns the signature in the algorithm's encoding (see keys/algorithms.ts). */
export type SignFn = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** A signing function over a WebCrypto private key (runtime-neutral). */
export function webCryptoSign(alg: AlgName, key: CryptoKey): SignFn {
  return (data) => getAlgorithm(alg).sign(key, data);
}

/** A signing identity: issuer, subject, algorithm, key id and the private key. */
export interface Signer {
  iss: string;
  sub: string;
  alg: AlgName;
  /** Key id, carried as `secretVersion` (RFC 7638 thumbprint for mcp-attest keys). */
  keyId: string;
  /** Produces the signature; Node callers pass a synchronous node:crypto signer. */
  sign: SignFn;
  /**
   * The same key signing off the calling thread (Node: node:crypto on libuv's thread pool),
   * for a caller with other work waiting meanwhile: a round trip more per signature, but the
   * thread is free during it (the recorder uses it while other calls are in flight). It must
   * sign with the same key as `sign`: a copy of a signer given another `sign` must drop it.
   */
  offload?: SignFn;
}

/**
 * Sign an unsigned envelope; returns a copy with `signature` (lowercase hex) added. ES256
 * signatures are always emitted in low-S form, so strict verifiers accept them. With `memo`,
 * the members' canonical texts are kept for the caller's later canonicalizations of the
 * signed envelope (its digest, its log record).
 */
export async function signEnvelope<T extends object>(signer: Signer, unsigned: T, memo?: CanonicalMemo): Promise<T & { signature: string }> {
  const sig = await signer.sign(signingInput(unsigned as Record<string, unknown>, memo));
  return { ...unsigned, signature: toHex(signer.alg === 'ES256' ? toLowS(sig) : sig) };
}
