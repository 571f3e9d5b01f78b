/**
 * Naive reference Merkle tree, written straight from the recursive definitions of RFC 9162
 * §2.1 to check the optimized src/log code against. It shares nothing with src/log: SHA-256
 * comes from `node:crypto` (src uses `@noble/hashes`), the split point is found by doubling,
 * and every function recurses on slices of the entry list exactly as the RFC writes it, so
 * a bug in the optimized code cannot hide behind the same bug here. O(n log n) and
 * `number`-indexed on purpose: for trees of a few thousand entries in tests, nothing else.
 *
 * Notation follows the RFC: D[n] = {d(0), ..., d(n-1)} is a list of entries (raw bytes, not
 * leaf hashes), D[k1:k2] the slice of entries k1..k2-1, `:` list concatenation.
 */
import { createHash } from 'node:crypto';

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/**
 * Leaf hash of one entry: SHA-256(0x00 || d(0)), the one-entry case of MTH.
 * @see RFC 9162 §2.1.1
 */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/**
 * Interior node hash: SHA-256(0x01 || left || right), the n > 1 case of MTH.
 * @see RFC 9162 §2.1.1
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

// k, "the largest power of two smaller than n (i.e., k < n <= 2k)", RFC 9162 §2.1.1, by
// doubling. Requires n > 1.
function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError(`splitPoint requires n > 1, got ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Merkle Tree Hash of a list of entries:
 * MTH({}) = SHA-256(); MTH({d(0)}) = SHA-256(0x00 || d(0));
 * MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) for n > 1.
 * Returns 32 bytes.
 * @see RFC 9162 §2.1.1
 */
export function mth(d: Uint8Array[]): Uint8Array {
  const n = d.length;
  if (n === 0) return sha256();
  if (n === 1) return leafHash(d[0]!);
  const k = splitPoint(n);
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k, n)));
}

/**
 * Inclusion proof (audit path) of entry m in D[n], leaf's sibling first:
 * PATH(0, {d(0)}) = {};
 * PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k;
 * PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k.
 * Requires 0 <= m < n; throws RangeError otherwise.
 * @see RFC 9162 §2.1.3.1
 */
export function path(m: number, d: Uint8Array[]): Uint8Array[] {
  const n = d.length;
  if (!Number.isSafeInteger(m) || m < 0 || m >= n) throw new RangeError(`PATH requires 0 <= m < n, got m=${m} n=${n}`);
  if (n === 1) return [];
  const k = splitPoint(n);
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k, n))]
    : [...path(m - k, d.slice(k, n)), mth(d.slice(0, k))];
}

/**
 * Consistency proof from MTH(D[0:m]) to MTH(D[n]): PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
 * Empty when m = n. Requires 0 < m <= n; throws RangeError otherwise.
 * @see RFC 9162 §2.1.4.1
 */
export function proof(m: number, d: Uint8Array[]): Uint8Array[] {
  const n = d.length;
  if (!Number.isSafeInteger(m) || m < 1 || m > n) throw new RangeError(`PROOF requires 0 < m <= n, got m=${m} n=${n}`);
  return subproof(m, d, true);
}

/**
 * SUBPROOF(m, D[n], b), `b` true while D[n] is still the left edge of the old tree:
 * SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])};
 * for m < n: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) when m <= k,
 * SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) when m > k.
 * Requires 0 < m <= n; throws RangeError otherwise.
 * @see RFC 9162 §2.1.4.1
 */
export function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  const n = d.length;
  if (!Number.isSafeInteger(m) || m < 1 || m > n) throw new RangeError(`SUBPROOF requires 0 < m <= n, got m=${m} n=${n}`);
  if (m === n) return b ? [] : [mth(d)];
  const k = splitPoint(n);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k, n))]
    : [...subproof(m - k, d.slice(k, n), false), mth(d.slice(0, k))];
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const allHashes = (list: Uint8Array[]): boolean => list.every((h) => h.length === 32); // SHA-256 outputs

/**
 * The root MTH(D[n]) that `proof` implies for the entry at m with leaf hash `leaf`, by
 * running the PATH recursion backwards: the last element is the sibling of the root's child
 * that holds m (left of it when m >= k). Null when the proof is too short or too long.
 * Requires 0 <= m < n.
 * @see RFC 9162 §2.1.3.1
 */
export function rootFromPath(m: number, n: number, leaf: Uint8Array, proof: Uint8Array[]): Uint8Array | null {
  if (n === 1) return proof.length === 0 ? leaf : null;
  const sibling = proof[proof.length - 1];
  if (sibling === undefined) return null;
  const k = splitPoint(n);
  const rest = proof.slice(0, -1);
  if (m < k) {
    const left = rootFromPath(m, k, leaf, rest);
    return left && nodeHash(left, sibling);
  }
  const right = rootFromPath(m - k, n - k, leaf, rest);
  return right && nodeHash(sibling, right);
}

/**
 * Reference inclusion verifier: true iff 0 <= m < n (safe integers), every hash is 32 bytes
 * and the root {@link rootFromPath} implies equals `root`. What RFC 9162 §2.1.3.2 computes,
 * derived independently from the §2.1.3.1 definition.
 * @see RFC 9162 §2.1.3.1
 */
export function verifyPath(m: number, n: number, leaf: Uint8Array, proof: Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m >= n) return false;
  if (!allHashes([leaf, root, ...proof])) return false;
  const computed = rootFromPath(m, n, leaf, proof);
  return computed !== null && equal(computed, root);
}

/** Old and new root implied by a consistency (sub)proof. */
export interface ProofRoots {
  root1: Uint8Array;
  root2: Uint8Array;
}

/**
 * The (MTH(D[0:m]), MTH(D[n])) pair that SUBPROOF(m, D[n], b) implies, by running the
 * §2.1.4.1 recursion backwards from the last element; `root1` stands for the subtree the
 * proof omits (b true and m = n). Null when the proof has the wrong number of elements.
 * Requires 0 < m <= n.
 * @see RFC 9162 §2.1.4.1
 */
export function rootsFromSubproof(
  m: number,
  n: number,
  b: boolean,
  root1: Uint8Array,
  proof: Uint8Array[],
): ProofRoots | null {
  if (m === n) {
    if (b) return proof.length === 0 ? { root1, root2: root1 } : null;
    return proof.length === 1 ? { root1: proof[0]!, root2: proof[0]! } : null;
  }
  const sibling = proof[proof.length - 1];
  if (sibling === undefined) return null;
  const k = splitPoint(n);
  const rest = proof.slice(0, -1);
  if (m <= k) {
    const left = rootsFromSubproof(m, k, b, root1, rest);
    return left && { root1: left.root1, root2: nodeHash(left.root2, sibling) };
  }
  const right = rootsFromSubproof(m - k, n - k, false, root1, rest);
  return right && { root1: nodeHash(sibling, right.root1), root2: nodeHash(sibling, right.root2) };
}

/**
 * Reference consistency verifier: true iff 0 < m <= n (safe integers), every hash is 32
 * bytes and the roots that {@link rootsFromSubproof} implies equal `root1` and `root2` (so
 * m = n needs an empty proof and equal roots). What RFC 9162 §2.1.4.2 computes, derived
 * independently from the §2.1.4.1 definition.
 * @see RFC 9162 §2.1.4.1
 */
export function verifyProof(m: number, n: number, root1: Uint8Array, root2: Uint8Array, proof: Uint8Array[]): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 1 || m > n) return false;
  if (!allHashes([root1, root2, ...proof])) return false;
  const roots = rootsFromSubproof(m, n, true, root1, proof);
  return roots !== null && equal(roots.root1, root1) && equal(roots.root2, root2);
}
