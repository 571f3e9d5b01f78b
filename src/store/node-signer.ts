/**
 * Synchronous signing with `node:crypto` for the hot path of the proxy (WebCrypto signs on
 * the thread pool and costs a round trip per signature). Same encodings as the algorithm
 * table: ES256 raw r||s (IEEE P1363), RS256 PKCS#1 v1.5, EdDSA Ed25519, HS256 HMAC-SHA256.
 */
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import type { AlgName } from '../keys/algorithms.js';
import type { SignFn } from '../envelope/sign.js';

/** A sign function for a PKCS#8 PEM private key of `alg`. */
export function nodeSigner(alg: Exclude<AlgName, 'HS256'>, pkcs8Pem: string): SignFn {
  const key = createPrivateKey(pkcs8Pem);
  if (alg === 'ES256') return (data) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  if (alg === 'RS256') return (data) => sign('sha256', data, key);
  return (data) => sign(null, data, key);
}

/** A sign function for an HS256 secret. */
export function hmacSigner(secret: Uint8Array): SignFn {
  return (data) => createHmac('sha256', secret).update(data).digest();
}
