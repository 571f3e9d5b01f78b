/**
 * Node's own primitives for the runtime-neutral layers, installed on import (by the CLI and
 * the Node library entry, src/index.ts; never by `mcp-attest/verify`, which stays the
 * browser's path on WebCrypto and @noble/hashes):
 *
 * - SHA-256 through `node:crypto` (OpenSSL; ~10x @noble/hashes on log entries);
 * - signature verification through `node:crypto`, synchronous, with each WebCrypto key
 *   converted once (`KeyObject.from`, cached per key) instead of a thread-pool round trip
 *   per signature; gathered and run back to back inside {@link verifyBatcher}`.all`
 *   (verify-batch.ts), direct outside it; installed as the check runner (verify/runs.ts), so
 *   a verification of a log or bundle on this thread checks its entries in such runs.
 *
 * Verdicts are WebCrypto's: a key is used only for the algorithm, curve, hash, type and usage
 * WebCrypto would accept it for (anything else is false, as WebCrypto's `InvalidAccessError`
 * is), ES256 signatures are raw r||s (IEEE P1363), HS256 tags are compared in constant time.
 * The vector and mangling suites run under both (test/unit/node-primitives.test.ts).
 */
import { createHmac, hash, KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { useSha256 } from '../bytes/digest.js';
import { usePlatformVerify, type AlgName } from '../keys/algorithms.js';
import { VerifyBatcher } from './verify-batch.js';
import { useCheckRunner } from '../verify/runs.js';

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyObject(key: CryptoKey): KeyObject {
  let k = keyObjects.get(key);
  if (k === undefined) keyObjects.set(key, (k = KeyObject.from(key)));
  return k;
}

/** True when WebCrypto would verify `alg` signatures with `key` (else it throws `InvalidAccessError`). */
function usable(alg: AlgName, key: CryptoKey): boolean {
  if (!key.usages.includes('verify')) return false;
  const a = key.algorithm as KeyAlgorithm & { namedCurve?: string; hash?: { name: string } };
  switch (alg) {
    case 'ES256': return key.type === 'public' && a.name === 'ECDSA' && a.namedCurve === 'P-256';
    case 'RS256': return key.type === 'public' && a.name === 'RSASSA-PKCS1-v1_5' && a.hash?.name === 'SHA-256';
    case 'EdDSA': return key.type === 'public' && a.name === 'Ed25519';
    case 'HS256': return key.type === 'secret' && a.name === 'HMAC' && a.hash?.name === 'SHA-256';
  }
}

/** Verify with node:crypto; false, never a throw, for anything WebCrypto would refuse or that does not verify. */
export function nodeVerify(alg: AlgName, key: CryptoKey, data: Uint8Array, signature: Uint8Array): boolean {
  if (!usable(alg, key)) return false;
  try {
    const k = keyObject(key);
    switch (alg) {
      case 'ES256': return verify('sha256', data, { key: k, dsaEncoding: 'ieee-p1363' }, signature);
      case 'RS256': return verify('sha256', data, k, signature);
      case 'EdDSA': return verify(null, data, k, signature);
      case 'HS256': {
        const tag = createHmac('sha256', k).update(data).digest();
        return tag.length === signature.length && timingSafeEqual(tag, signature);
      }
    }
  } catch {
    return false;
  }
}

/** SHA-256 through node:crypto, as a plain Uint8Array (not a Buffer: callers compare and slice them as such). */
export function nodeSha256(data: Uint8Array): Uint8Array {
  // The one-shot `crypto.hash` (Node 20.12+): no Hash object per digest. As a 'binary' (latin1) string
  // (one character per byte, 0-255), copied out: ~0.35 µs, against ~0.75-1.1 for its
  // 'buffer' output (a Buffer allocated per digest).
  const d = hash('sha256', data, 'binary');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = d.charCodeAt(i);
  return out;
}

/** SHA-256 through node:crypto as lowercase hex (~0.3 µs; `toHex(nodeSha256(data))` ~0.75). */
export function nodeSha256Hex(data: Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** The installed verifier's batcher: checks run in `verifyBatcher.all` have their node:crypto verifications gathered. */
export const verifyBatcher = new VerifyBatcher(nodeVerify);

useSha256(nodeSha256, nodeSha256Hex);
usePlatformVerify('node:crypto', verifyBatcher.verify);
useCheckRunner((tasks) => verifyBatcher.all(tasks));
