/**
 * RFC 9162 §2.1.3.2 / §2.1.4.2 proof verification, with the strictness of
 * transparency-dev/merkle `proof/verify.go`: every hash is exactly 32 bytes and a proof
 * must have exactly the length its (index, size) or (size1, size2) implies, checked before
 * any hashing. Primitives: they return false, never throw, on any bad input.
 */
import { equalBytes } from '../bytes/index.js';
import { HASH_SIZE, nodeHash } from './hash.js';
import { bitLength, inRange, popCount } from './u64.js';

const is32 = (h: Uint8Array): boolean => h.length === HASH_SIZE;

/**
 * Length of the inclusion proof of `index` in a tree of `size` leaves: `inner + border`
 * with inner = bitlen(index XOR (size-1)) and border = popcount(index >> inner).
 * Requires 0 <= index < size.
 * @see RFC 9162 §2.1.3.2
 */
export function inclusionProofLength(index: bigint, size: bigint): number {
  const inner = bitLength(index ^ (size - 1n));
  return inner + popCount(index >> BigInt(inner));
}

/**
 * Length of the consistency proof from `size1` to `size2`: the inclusion proof length of
 * leaf size1-1 in size2, minus the levels below size1's lowest set bit, plus one unless
 * size1 is a power of two (then root1 is the implicit first element). Requires
 * 0 < size1 < size2.
 * @see RFC 9162 §2.1.4.2
 */
export function consistencyProofLength(size1: bigint, size2: bigint): number {
  const shift = bitLength(size1 & -size1) - 1; // trailing zeros of size1
  const seed = (size1 & (size1 - 1n)) === 0n ? 0 : 1;
  return inclusionProofLength(size1 - 1n, size2) - shift + seed;
}

/**
 * The root implied by an inclusion proof, or null when the inputs are malformed (index >=
 * size, out of uint64, a hash not 32 bytes, wrong proof length) or the walk does not end
 * at the root level. Loop of RFC 9162 §2.1.3.2 steps 2-3.
 * @see RFC 9162 §2.1.3.2
 */
export function rootFromInclusionProof(
  index: bigint,
  size: bigint,
  leafHash: Uint8Array,
  proof: Uint8Array[],
): Uint8Array | null {
  if (!inRange(index) || !inRange(size) || index >= size) return null;
  if (!is32(leafHash) || !proof.every(is32)) return null;
  if (proof.length !== inclusionProofLength(index, size)) return null;
  let fn = index;
  let sn = size - 1n;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r); // SHA-256(0x01 || p || r)
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      r = nodeHash(r, p); // SHA-256(0x01 || r || p)
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  return sn === 0n ? r : null;
}

/**
 * True iff `proof` proves that `leafHash` is the leaf at `index` of the tree of `size`
 * leaves whose root is `root`. Requires 0 <= index < size <= 2^64-1, 32-byte hashes and a
 * proof of exactly {@link inclusionProofLength} elements; false otherwise.
 * @see RFC 9162 §2.1.3.2
 */
export function verifyInclusion(
  index: bigint,
  size: bigint,
  leafHash: Uint8Array,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromInclusionProof(index, size, leafHash, proof);
  return computed !== null && is32(root) && equalBytes(computed, root);
}

/**
 * True iff `proof` proves that the tree of `size1` leaves with root `root1` is a prefix of
 * the tree of `size2` leaves with root `root2`. Preconditions (transparency-dev/merkle):
 * size1 > size2 fails; size1 == 0 fails, even 0 -> 0 (C2SP witnesses special-case old
 * size 0 before calling this); size1 == size2 holds iff the proof is empty and the roots
 * are equal; otherwise the proof has exactly {@link consistencyProofLength} elements.
 * All hashes must be 32 bytes.
 * @see RFC 9162 §2.1.4.2
 */
export function verifyConsistency(
  size1: bigint,
  size2: bigint,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: Uint8Array[],
): boolean {
  if (!inRange(size1) || !inRange(size2) || size1 > size2 || size1 === 0n) return false;
  if (!is32(root1) || !is32(root2) || !proof.every(is32)) return false;
  if (size1 === size2) return proof.length === 0 && equalBytes(root1, root2);
  if (proof.length === 0 || proof.length !== consistencyProofLength(size1, size2)) return false;
  // 1. if size1 is an exact power of 2, prepend root1 to the proof
  const path = (size1 & (size1 - 1n)) === 0n ? [root1, ...proof] : proof;
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) [fn, sn] = [fn >> 1n, sn >> 1n];
  let fr = path[0]!;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr); // SHA-256(0x01 || c || fr)
      sr = nodeHash(c, sr); // SHA-256(0x01 || c || sr)
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      sr = nodeHash(sr, c); // SHA-256(0x01 || sr || c)
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  return sn === 0n && equalBytes(fr, root1) && equalBytes(sr, root2);
}
