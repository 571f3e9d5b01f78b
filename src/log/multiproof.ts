/**
 * Multi-leaf inclusion proofs: one proof that a set of leaves is in a tree of `size` leaves,
 * sharing every node their single proofs would repeat. A range of m consecutive leaves costs
 * O(log n) hashes instead of m·log n.
 *
 * The proof is defined by the RFC 9162 §2.1.1 recursion MTH(D[lo:hi]) (split at k, the
 * largest power of two below hi - lo) walked depth first, left before right, from [0, size):
 * a range holding none of the proven leaves is not entered and its hash MTH(D[lo:hi]) is the
 * next proof element; a range of one proven leaf is that leaf's hash; any other range is
 * SHA-256(0x01 || left || right) of its two halves. The proof is the elements in the order
 * the walk emits them, and the verifier recomputes the root with the same walk, consuming
 * them: it must use every element exactly once. Elements are ordered by the leaves they
 * cover, left to right; with one leaf they are the hashes of its RFC 9162 §2.1.3.1
 * inclusion path, in that left-to-right order (not the path's leaf-first order). The tree size is the checkpoint's: it fixes the shape of the walk, and the
 * checkpoint binds it to the root.
 * @see RFC 9162 §2.1.1, §2.1.3; docs/bundle.md (bundle@2)
 */
import { AttestError } from '../errors.js';
import { HASH_SIZE, nodeHash } from './hash.js';
import { subtreeHash, type NodeReader } from './tree.js';
import { inRange } from './u64.js';

/** Largest power of two strictly below `n` (n >= 2): 2^(bit length of n - 1, less one). */
function split(n: bigint): bigint {
  return 1n << BigInt((n - 1n).toString(2).length - 1);
}

/** First position in `indexes[from:to]` (ascending) whose index is >= `mid`. */
function firstAtOrAbove(indexes: readonly bigint[], from: number, to: number, mid: bigint): number {
  while (from < to && indexes[from]! < mid) from++;
  return from;
}

/** True when `indexes` is strictly increasing, non-empty and every index is below `size` (a uint64). */
function validIndexes(indexes: readonly bigint[], size: bigint): boolean {
  if (indexes.length === 0 || !inRange(size)) return false;
  return indexes.every((x, i) => x >= 0n && x < size && (i === 0 || x > indexes[i - 1]!));
}

/**
 * The multi-leaf inclusion proof of `indexes` (strictly increasing, each below `size`) in
 * the tree of `size` leaves, from stored nodes. Throws `ERR_PROOF_RANGE` for indexes that
 * are not that, or a node `read` does not have.
 */
export function multiInclusionProof(indexes: readonly bigint[], size: bigint, read: NodeReader): Uint8Array[] {
  if (!validIndexes(indexes, size)) throw new AttestError('ERR_PROOF_RANGE', 'indexes must be strictly increasing and below the tree size', { found: size });
  const out: Uint8Array[] = [];
  const walk = (lo: bigint, hi: bigint, from: number, to: number): void => {
    if (from === to) {
      out.push(subtreeHash(lo, hi, read));
    } else if (hi - lo > 1n) {
      const mid = lo + split(hi - lo);
      const at = firstAtOrAbove(indexes, from, to, mid);
      walk(lo, mid, from, at);
      walk(mid, hi, at, to);
    }
  };
  walk(0n, size, 0, indexes.length);
  return out;
}

/**
 * The root a multi-leaf inclusion proof gives for leaves `leafHashes[i]` at `indexes[i]`
 * (strictly increasing, below `size`), or null when it gives none: indexes that are not
 * that, a hash that is not 32 bytes, too few proof elements or some left unused. Compare
 * the result with the checkpoint's root. Never throws; work is O(m·log n) for m leaves.
 */
export function rootFromMultiProof(indexes: readonly bigint[], leafHashes: readonly Uint8Array[], size: bigint, proof: readonly Uint8Array[]): Uint8Array | null {
  if (!validIndexes(indexes, size) || leafHashes.length !== indexes.length) return null;
  if (leafHashes.some((h) => h.length !== HASH_SIZE) || proof.some((h) => h.length !== HASH_SIZE)) return null;
  let next = 0;
  const walk = (lo: bigint, hi: bigint, from: number, to: number): Uint8Array | null => {
    if (from === to) return next < proof.length ? proof[next++]! : null;
    if (hi - lo === 1n) return leafHashes[from]!;
    const mid = lo + split(hi - lo);
    const at = firstAtOrAbove(indexes, from, to, mid);
    const left = walk(lo, mid, from, at);
    const right = left === null ? null : walk(mid, hi, at, to);
    return right === null ? null : nodeHash(left!, right);
  };
  const root = walk(0n, size, 0, indexes.length);
  return root !== null && next === proof.length ? root : null;
}
