/**
 * Signing with `node:crypto` for the hot path of the proxy: synchronous on the calling thread
 * (WebCrypto signs on the thread pool and costs a round trip per signature), or, for a caller
 * with other work waiting, the same key on libuv's thread pool. Same encodings as the
 * algorithm table: ES256 raw r||s (IEEE P1363), RS256 PKCS#1 v1.5, EdDSA Ed25519, HS256
 * HMAC-SHA256.
 */
import { createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { AlgName } from '../keys/algorithms.js';
import type { SignFn } from '../envelope/sign.js';

type KeyAlg = Exclude<AlgName, 'HS256'>;

/** node:crypto's digest and key arguments for `alg`. */
function signArgs(alg: KeyAlg, key: KeyObject): [string | null, KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' }] {
  if (alg === 'ES256') return ['sha256', { key, dsaEncoding: 'ieee-p1363' }];
  return [alg === 'RS256' ? 'sha256' : null, key];
}

/** A sign function for a PKCS#8 PEM private key of `alg` (synchronous). Throws node:crypto's error for a key it cannot read. */
export function nodeSigner(alg: KeyAlg, pkcs8Pem: string): SignFn {
  return nodeSigners(alg, pkcs8Pem).sign;
}

/**
 * The sign functions of a private key of `alg` (PKCS#8 PEM, or a node:crypto key object), for a `Signer`'s `sign` and
 * `offload`: `sign` on the calling thread, `offload` on libuv's thread pool (a promise of the
 * same encoding, rejected with node:crypto's error). Throws node:crypto's error for a key it
 * cannot read.
 */
export function nodeSigners(alg: KeyAlg, pkcs8Pem: string | KeyObject): { sign: SignFn; offload: SignFn } {
  const [digest, key] = signArgs(alg, typeof pkcs8Pem === 'string' ? createPrivateKey(pkcs8Pem) : pkcs8Pem);
  return {
    sign: (data) => sign(digest, data, key),
    offload: (data) => new Promise((resolve, reject) => sign(digest, data, key, (e, signature) => (e === null ? resolve(signature) : reject(e)))),
  };
}

/** A sign function for an HS256 secret. */
export function hmacSigner(secret: Uint8Array): SignFn {
  return (data) => createHmac('sha256', secret).update(data).digest();
}
