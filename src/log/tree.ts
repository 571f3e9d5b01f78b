/**
 * RFC 9162 §2.1 tree math over stored complete-subtree hashes. A durable log stores, for
 * every level L and index N, the hash of the complete subtree over leaves
 * [N·2^L, (N+1)·2^L) (level 0 holds leaf hashes). From those, any root, inclusion proof or
 * consistency proof costs O(log n) reads per subtree, instead of rehashing the log.
 * Sizes and indices are uint64 `bigint`s; out-of-range arguments throw `ERR_PROOF_RANGE`.
 */
import { AttestError } from '../errors.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';
import { bitLength, inRange, MAX_U64 } from './u64.js';

/**
 * Reads the stored hash of the complete subtree at `level` (0..63) and `index`, covering
 * leaves [index·2^level, (index+1)·2^level). Throws when the node is not stored.
 * @see RFC 9162 §2.1.1
 */
export type NodeReader = (level: number, index: bigint) => Uint8Array;

/**
 * A complete-subtree hash to store: see {@link NodeReader} for the coordinates.
 * @see RFC 9162 §2.1.1
 */
export interface StoredNode {
  level: number;
  index: bigint;
  hash: Uint8Array;
}

function rangeError(message: string, found: unknown): AttestError {
  return new AttestError('ERR_PROOF_RANGE', message, { found });
}

/** Largest power of two strictly less than `n`, RFC 9162 §2.1.1 `k`. Requires n > 1. */
function splitPoint(n: bigint): bigint {
  return 1n << BigInt(bitLength(n - 1n) - 1);
}

/**
 * Hashes to store when the leaf at index `size` is appended to a tree of `size` leaves:
 * the leaf itself (level 0, index `size`) and every parent that becomes complete, bottom
 * up. Parent = SHA-256(0x01 || left || right), RFC 6962 §2.1; the left siblings are read.
 * Requires 0 <= size < 2^64-1 and a 32-byte `leafHash`; throws `ERR_PROOF_RANGE`.
 * @see RFC 9162 §2.1.1
 */
export function appendNodes(size: bigint, leafHash: Uint8Array, read: NodeReader): StoredNode[] {
  if (!inRange(size, MAX_U64 - 1n)) throw rangeError('tree size out of range', size);
  if (leafHash.length !== HASH_SIZE) throw rangeError('leaf hash must be 32 bytes', leafHash.length);
  const nodes: StoredNode[] = [{ level: 0, index: size, hash: leafHash }];
  let hash = leafHash;
  let index = size;
  for (let level = 0; (index & 1n) === 1n; level++) {
    hash = nodeHash(read(level, index - 1n), hash);
    index >>= 1n;
    nodes.push({ level: level + 1, index, hash });
  }
  return nodes;
}

/**
 * True when [start, end) is a range the RFC 9162 §2.1.1 recursion visits from some tree
 * root: 0 <= start <= end <= 2^64-1 and start is a multiple of the smallest power of two
 * >= end - start (any range starting at 0 qualifies).
 */
export function isSubtreeRange(start: bigint, end: bigint): boolean {
  if (!inRange(start) || !inRange(end) || start > end) return false;
  if (start === end) return true;
  const ceil = 1n << BigInt(bitLength(end - start - 1n));
  return start % ceil === 0n;
}

/**
 * MTH(D[start:end]) from stored hashes: the complete subtrees of the range, largest first,
 * folded right to left with SHA-256(0x01 || left || right). O(log n) reads. Returns
 * {@link EMPTY_ROOT} (a copy) for an empty range. Requires {@link isSubtreeRange};
 * throws `ERR_PROOF_RANGE`.
 * @see RFC 9162 §2.1.1
 */
export function subtreeHash(start: bigint, end: bigint, read: NodeReader): Uint8Array {
  if (!isSubtreeRange(start, end)) throw rangeError('not a subtree range', { start, end });
  if (start === end) return EMPTY_ROOT.slice();
  const parts: Uint8Array[] = [];
  let pos = start;
  for (let level = bitLength(end - start) - 1; level >= 0; level--) {
    const width = 1n << BigInt(level);
    if (end - pos >= width) {
      parts.push(read(level, pos >> BigInt(level)));
      pos += width;
    }
  }
  let hash = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i]!, hash);
  return hash;
}

/**
 * Root hash MTH(D[0:size]) of the first `size` leaves; {@link EMPTY_ROOT} for 0.
 * Requires 0 <= size <= 2^64-1; throws `ERR_PROOF_RANGE`.
 * @see RFC 9162 §2.1.1
 */
export function rootAt(size: bigint, read: NodeReader): Uint8Array {
  return subtreeHash(0n, size, read);
}

/**
 * Inclusion proof PATH(index, D[0:size]): the leaf's sibling first, the root's child last.
 * Requires 0 <= index < size <= 2^64-1; throws `ERR_PROOF_RANGE`.
 * @see RFC 9162 §2.1.3.1
 */
export function inclusionProof(index: bigint, size: bigint, read: NodeReader): Uint8Array[] {
  if (!inRange(size) || !inRange(index) || index >= size) {
    throw rangeError('requires 0 <= index < size', { index, size });
  }
  const path: Uint8Array[] = [];
  let start = 0n;
  let end = size;
  while (end - start > 1n) {
    const mid = start + splitPoint(end - start);
    if (index < mid) {
      path.push(subtreeHash(mid, end, read)); // PATH(m, D[0:k]) : MTH(D[k:n])
      end = mid;
    } else {
      path.push(subtreeHash(start, mid, read)); // PATH(m - k, D[k:n]) : MTH(D[0:k])
      start = mid;
    }
  }
  return path.reverse();
}

/**
 * Consistency proof PROOF(size1, D[0:size2]) = SUBPROOF(size1, D[0:size2], true); empty
 * when the sizes are equal. Requires 0 < size1 <= size2 <= 2^64-1; throws `ERR_PROOF_RANGE`.
 * @see RFC 9162 §2.1.4.1
 */
export function consistencyProof(size1: bigint, size2: bigint, read: NodeReader): Uint8Array[] {
  if (!inRange(size2) || !inRange(size1) || size1 === 0n || size1 > size2) {
    throw rangeError('requires 0 < size1 <= size2', { size1, size2 });
  }
  const proof: Uint8Array[] = [];
  let start = 0n;
  let end = size2;
  let complete = true; // SUBPROOF's `b`: still on the path of the old root
  while (size1 !== end) {
    const mid = start + splitPoint(end - start);
    if (size1 <= mid) {
      proof.push(subtreeHash(mid, end, read)); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      end = mid;
    } else {
      proof.push(subtreeHash(start, mid, read)); // SUBPROOF(m-k, D[k:n], false) : MTH(D[0:k])
      start = mid;
      complete = false;
    }
  }
  if (!complete) proof.push(subtreeHash(start, end, read)); // SUBPROOF(m, D[m], false) = {MTH(D[m])}
  return proof.reverse();
}

/**
 * Naive reference MTH over all leaf hashes, straight from the RFC 9162 §2.1.1 recursion:
 * MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])). {@link EMPTY_ROOT} (a copy)
 * for no leaves. O(n) hashing: for tests and for verifiers that hold every entry.
 * @see RFC 9162 §2.1.1
 */
export function rootFromLeafHashes(leafHashes: Uint8Array[]): Uint8Array {
  const mth = (start: number, end: number): Uint8Array => {
    if (end - start === 1) return leafHashes[start]!;
    const mid = start + Number(splitPoint(BigInt(end - start)));
    return nodeHash(mth(start, mid), mth(mid, end));
  };
  return leafHashes.length === 0 ? EMPTY_ROOT.slice() : mth(0, leafHashes.length);
}
