/**
 * RFC 6962 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256. Domain separation between
 * leaves (prefix 0x00) and interior nodes (prefix 0x01) makes a leaf never collide with a
 * node. Runtime-neutral (synchronous `@noble/hashes` SHA-256).
 */
import { sha256 } from '../bytes/digest.js';

/**
 * Size in bytes of every leaf hash, node hash, root hash and proof element: 32 (SHA-256, RFC
 * 9162 §2.1).
 */
export const HASH_SIZE = 32;

/**
 * Root of the empty tree, MTH({}) = SHA-256(""), RFC 9162 §2.1.1
 * (`e3b0c442…b855`). Not the hash of an empty leaf. Treat as read-only.
 */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/**
 * Hash of one log entry. Accepts any entry length (including empty).
 * @see RFC 9162 §2.1.1
 */
export function leafHash(entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + entry.length);
  buf[0] = 0x00;
  buf.set(entry, 1);
  return sha256(buf); // SHA-256(0x00 || entry), RFC 6962 §2.1
}

/**
 * Hash of an interior node from its two children. The inputs are normally 32-byte hashes;
 * any lengths are hashed as given (the RFC 6962 test vectors use short raw strings).
 * @see RFC 9162 §2.1.1
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf); // SHA-256(0x01 || left || right), RFC 6962 §2.1
}
