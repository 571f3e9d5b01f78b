/**
 * Ed25519 (RFC 8032) over WebCrypto, for C2SP signed notes and cosignatures. Raw 32-byte
 * public keys; 64-byte signatures. Runtime-neutral (`globalThis.crypto.subtle`).
 *
 * Public keys are checked strictly before use: a non-canonical encoding (y >= p, or x = 0
 * with the sign bit set) or a point of small order is refused. WebCrypto on Node accepts the
 * identity point as a key, and then a signature (R = identity, S = 0) verifies for every
 * message; refusing small-order keys closes that.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { getAlgorithm } from './algorithms.js';

const ED25519 = { name: 'Ed25519' } as const;

/** True when `raw` is a canonical RFC 8032 §5.1.3 encoding of a point not of small order. */
export function isStrictEd25519Public(raw: Uint8Array): boolean {
  if (raw.length !== 32) return false;
  try {
    return !ed25519.Point.fromBytes(raw, false).isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * Import a raw 32-byte Ed25519 public key for verification. Returns null when the bytes are
 * not a strict key ({@link isStrictEd25519Public}) or the platform rejects them.
 */
export async function importEd25519Public(raw: Uint8Array): Promise<CryptoKey | null> {
  if (!isStrictEd25519Public(raw)) return null;
  try {
    return await crypto.subtle.importKey('raw', raw as BufferSource, ED25519, true, ['verify']);
  } catch {
    return null;
  }
}

/**
 * Verify an Ed25519 signature through the installed platform verifier (node:crypto on Node,
 * synchronous: no thread-pool round trip per checkpoint note; WebCrypto elsewhere: keys/algorithms.ts).
 * Primitive: returns false (never throws) for a bad key, a signature of the wrong length, or
 * a signature that does not verify.
 */
export async function ed25519Verify(
  publicKey: Uint8Array | CryptoKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== 64) return false;
  const key = publicKey instanceof Uint8Array ? await importEd25519Public(publicKey) : publicKey;
  if (key === null) return false;
  try {
    return await getAlgorithm('EdDSA').verify(key, message, signature);
  } catch {
    return false;
  }
}

/** Sign `message` with an Ed25519 private `CryptoKey`; returns the 64-byte signature. */
export async function ed25519Sign(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, message as BufferSource));
}

/** Export the raw 32-byte public key of an Ed25519 `CryptoKey` (public or extractable pair). */
export async function exportEd25519Public(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
}
