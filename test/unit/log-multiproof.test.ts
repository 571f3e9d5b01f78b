/**
 * Multi-leaf inclusion proofs (src/log/multiproof.ts): for every tree size up to 70 and
 * random sets of leaves, the proof recomputes the tree's root; one leaf's proof is its
 * RFC 9162 inclusion path's hashes; a consecutive range costs O(log n) hashes; and any
 * change (a leaf hash, an index, a proof element changed, dropped, added or reordered)
 * gives no root or another root (the size is the signed checkpoint's, not the prover's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { leafHash } from '../../src/log/hash.js';
import { multiInclusionProof, rootFromMultiProof } from '../../src/log/multiproof.js';
import { equalBytes } from '../../src/bytes/index.js';
import { isAttestError } from '../../src/errors.js';

function tree(n: number): { t: MemoryTree; leaves: Uint8Array[] } {
  const t = new MemoryTree();
  const leaves = Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${i}`)));
  for (const h of leaves) t.appendLeafHash(h);
  return { t, leaves };
}

const subsetArb = fc.integer({ min: 1, max: 70 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n })));

test('the proof of any set of leaves gives the tree root', () => {
  fc.assert(fc.property(subsetArb, ([n, picked]) => {
    const { t, leaves } = tree(n);
    const idx = [...picked].sort((a, b) => a - b).map(BigInt);
    const proof = multiInclusionProof(idx, BigInt(n), t.read);
    const root = rootFromMultiProof(idx, idx.map((i) => leaves[Number(i)]!), BigInt(n), proof);
    assert.ok(root !== null && equalBytes(root, t.root()));
  }), { numRuns: 300 });
});

test('one leaf: exactly the hashes of its RFC 9162 inclusion path', () => {
  const sorted = (hs: Uint8Array[]): string[] => hs.map((h) => Buffer.from(h).toString('hex')).sort();
  for (let n = 1; n <= 40; n++) {
    const { t } = tree(n);
    for (let i = 0; i < n; i++) {
      const multi = multiInclusionProof([BigInt(i)], BigInt(n), t.read);
      assert.deepEqual(sorted(multi), sorted(t.inclusionProof(BigInt(i))), `leaf ${i} of ${n}`);
    }
  }
});

test('a range of consecutive leaves costs at most 2 log2(n) hashes', () => {
  const n = 1000;
  const { t } = tree(n);
  for (const [a, b] of [[0, 999], [1, 998], [100, 600], [511, 513], [37, 38]] as const) {
    const idx = Array.from({ length: b - a + 1 }, (_, k) => BigInt(a + k));
    assert.ok(multiInclusionProof(idx, BigInt(n), t.read).length <= 2 * 10, `range ${a}..${b}`);
  }
});

test('any change gives no root or another root', () => {
  fc.assert(fc.property(subsetArb, fc.nat(), fc.integer({ min: 0, max: 5 }), ([n, picked], at, kind) => {
    const { t, leaves } = tree(n);
    const root = t.root();
    let idx = [...picked].sort((a, b) => a - b).map(BigInt);
    let hashes = idx.map((i) => leaves[Number(i)]!);
    let proof = multiInclusionProof(idx, BigInt(n), t.read);
    const size = BigInt(n);
    const flip = (h: Uint8Array): Uint8Array => { const c = h.slice(); c[at % 32] = c[at % 32]! ^ 1; return c; };
    switch (kind) {
      case 0: hashes = hashes.map((h, k) => (k === at % hashes.length ? flip(h) : h)); break;
      case 1: if (proof.length === 0) return; proof = proof.map((h, k) => (k === at % proof.length ? flip(h) : h)); break;
      case 2: if (proof.length === 0) return; proof = proof.filter((_, k) => k !== at % proof.length); break;
      case 3: proof = [...proof, leaves[0]!]; break;
      case 4: if (proof.length < 2 || equalBytes(proof[0]!, proof[proof.length - 1]!)) return; proof = [...proof.slice(1), proof[0]!]; break;
      default: {
        // Claim the leaf at a neighbouring index not in the set.
        const k = at % idx.length;
        const moved = idx[k]! + 1n;
        if (moved >= size || idx.includes(moved)) return;
        idx = idx.map((x, j) => (j === k ? moved : x));
      }
    }
    const got = rootFromMultiProof(idx, hashes, size, proof);
    assert.ok(got === null || !equalBytes(got, root), `kind ${kind} still gave the root`);
  }), { numRuns: 600 });
});

test('bad indexes are refused: the builder throws ERR_PROOF_RANGE, the verifier gives null', () => {
  const { t, leaves } = tree(8);
  for (const idx of [[], [3n, 3n], [4n, 2n], [8n], [-1n]]) {
    assert.throws(() => multiInclusionProof(idx, 8n, t.read), (e: unknown) => isAttestError(e, 'ERR_PROOF_RANGE'), JSON.stringify(idx.map(String)));
    assert.equal(rootFromMultiProof(idx, idx.map(() => leaves[0]!), 8n, []), null);
  }
  assert.equal(rootFromMultiProof([1n], [new Uint8Array(31)], 8n, multiInclusionProof([1n], 8n, t.read)), null);
});
