/**
 * RFC 9162 §2.1 hashing and tree math (src/log/hash.ts, tree.ts, memory-tree.ts).
 * Vectors from test/vectors/published/merkle/ (provenance in its SOURCE.md):
 * reference-tree.json (transparency-dev/merkle constants) and derived-rfc6962-d130.json
 * (project-derived, validated against the draft-ietf-plants-merkle-tree-certs accumulators).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBase64, fromHex, toBase64, toHex, utf8 } from '../../src/bytes/index.js';
import { sha256 } from '../../src/bytes/digest.js';
import { isAttestError } from '../../src/errors.js';
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from '../../src/log/hash.js';
import {
  appendNodes,
  consistencyProof,
  inclusionProof,
  isSubtreeRange,
  rootAt,
  rootFromLeafHashes,
  subtreeHash,
  type NodeReader,
} from '../../src/log/tree.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { verifyConsistency, verifyInclusion } from '../../src/log/proof.js';
import * as ref from '../reference/rfc9162.js';
import { vectorUrl } from '../vectors.js';

const MERKLE = vectorUrl('merkle/');
const readJson = (name: string): any => JSON.parse(readFileSync(new URL(name, MERKLE), 'utf8'));
const b64 = (list: string[]): Uint8Array[] => list.map(fromBase64);
const hexList = (list: Uint8Array[]): string[] => list.map(toHex);

function treeOf(count: number, entry: (i: number) => Uint8Array): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < count; i++) t.append(entry(i));
  return t;
}
const d130 = treeOf(130, (i) => Uint8Array.of(i));

test('hash.ts: RFC 6962 hasher vectors (reference-tree.json)', () => {
  const ref = readJson('reference-tree.json');
  assert.equal(HASH_SIZE, 32);
  for (const v of ref.hasherVectors) {
    const got =
      v.op === 'emptyRoot' ? EMPTY_ROOT
      : v.op === 'leaf' ? leafHash(utf8(v.inputUtf8))
      : nodeHash(utf8(v.leftUtf8), utf8(v.rightUtf8));
    assert.equal(toHex(got), v.wantHex, v.desc);
  }
  assert.equal(toBase64(EMPTY_ROOT), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
});

test('tree.ts: reference tree nodes by level and roots for sizes 0..8', () => {
  const ref = readJson('reference-tree.json');
  const tree = treeOf(8, (i) => fromHex(ref.leafInputsHex[i]));
  ref.nodeHashesByLevelHex.forEach((level: string[], l: number) =>
    level.forEach((hex, n) => assert.equal(toHex(tree.read(l, BigInt(n))), hex, `node ${l}/${n}`)),
  );
  const leaves = ref.leafInputsHex.map((h: string) => leafHash(fromHex(h)));
  ref.rootHashesBySizeHex.forEach((hex: string, n: number) => {
    assert.equal(toHex(tree.root(BigInt(n))), hex, `rootAt(${n})`);
    assert.equal(toHex(rootFromLeafHashes(leaves.slice(0, n))), hex, `naive root ${n}`);
  });
});

test('tree.ts: d130 roots for n = 0..130 (derived-rfc6962-d130.json)', () => {
  const v = readJson('derived-rfc6962-d130.json');
  assert.equal(v.rootsBySize.length, 131);
  v.rootsBySize.forEach((root: string, n: number) => assert.equal(toBase64(d130.root(BigInt(n))), root, `n=${n}`));
});

test('tree.ts: d130 inclusion proofs equal the published bytes and verify', () => {
  const v = readJson('derived-rfc6962-d130.json');
  assert.equal(v.inclusion.length, 1112);
  for (const c of v.inclusion) {
    const [index, size] = [BigInt(c.leafIdx), BigInt(c.treeSize)];
    const proof = d130.inclusionProof(index, size);
    assert.deepEqual(proof.map(toBase64), c.proof, `PATH(${index}, ${size})`);
    assert.equal(toBase64(d130.read(0, index)), c.leafHash);
    assert.ok(verifyInclusion(index, size, fromBase64(c.leafHash), proof, fromBase64(c.root)));
  }
});

test('tree.ts: d130 consistency proofs equal the published bytes and verify', () => {
  const v = readJson('derived-rfc6962-d130.json');
  assert.equal(v.consistency.length, 637);
  for (const c of v.consistency) {
    const [size1, size2] = [BigInt(c.size1), BigInt(c.size2)];
    const proof = d130.consistencyProof(size1, size2);
    assert.deepEqual(proof.map(toBase64), c.proof, `PROOF(${size1}, ${size2})`);
    assert.ok(verifyConsistency(size1, size2, fromBase64(c.root1), fromBase64(c.root2), proof));
  }
});

test('tree.ts: draft-ietf-plants-merkle-tree-certs accumulators (subtree hashes, inclusion)', () => {
  const v = readJson('derived-rfc6962-d130.json');
  let hashes = '';
  let paths = '';
  for (let e = 0; e <= 130; e++) {
    for (let s = 0; s <= e; s++) {
      const [start, end] = [BigInt(s), BigInt(e)];
      if (!isSubtreeRange(start, end)) continue;
      hashes += `[${s}, ${e}) ${toHex(subtreeHash(start, end, d130.read))}\n`;
      // PATH(i - s, D[s:e]) over the stored nodes, shifted to the subtree's origin.
      const shifted: NodeReader = (level, index) => d130.read(level, index + (start >> BigInt(level)));
      for (let i = s; i < e; i++) {
        const proof = inclusionProof(BigInt(i - s), end - start, shifted);
        paths += `${i} [${s}, ${e})${proof.map((h) => ' ' + toHex(h)).join('')}\n`;
      }
    }
  }
  assert.equal(toHex(sha256(utf8(hashes))), v.accumulators.subtreeHash.want);
  assert.equal(toHex(sha256(utf8(paths))), v.accumulators.subtreeInclusion.want);
});

// Exhaustive over small sizes; test/unit/log-reference.test.ts covers random larger ones.
test('tree.ts: optimized roots and proofs equal the naive RFC recursion (test/reference) for sizes 0..70', () => {
  const entries = Array.from({ length: 70 }, (_, i) => utf8(`entry ${i}`));
  const tree = treeOf(70, (i) => entries[i]!);
  const leaves = entries.map(leafHash);
  for (let n = 0; n <= 70; n++) {
    const size = BigInt(n);
    const d = entries.slice(0, n);
    const root = ref.mth(d);
    assert.equal(toHex(rootAt(size, tree.read)), toHex(root), `root ${n}`);
    assert.equal(toHex(rootFromLeafHashes(leaves.slice(0, n))), toHex(root), `rootFromLeafHashes ${n}`);
    for (let m = 0; m < n; m++) {
      const proof = inclusionProof(BigInt(m), size, tree.read);
      assert.deepEqual(hexList(proof), hexList(ref.path(m, d)), `PATH(${m}, ${n})`);
      assert.ok(verifyInclusion(BigInt(m), size, leaves[m]!, proof, root));
    }
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(BigInt(m), size, tree.read);
      assert.deepEqual(hexList(proof), hexList(ref.proof(m, d)), `PROOF(${m}, ${n})`);
      assert.ok(verifyConsistency(BigInt(m), size, ref.mth(d.slice(0, m)), root, proof), `verify ${m}->${n}`);
    }
  }
});

test('tree.ts: appendNodes returns the leaf and every newly complete parent', () => {
  const tree = new MemoryTree();
  for (let i = 0; i < 7; i++) tree.append(Uint8Array.of(i));
  const leaf = leafHash(Uint8Array.of(7));
  const nodes = appendNodes(7n, leaf, tree.read);
  assert.deepEqual(nodes.map((n) => [n.level, n.index]), [[0, 7n], [1, 3n], [2, 1n], [3, 0n]]);
  assert.deepEqual(nodes[3]!.hash, rootFromLeafHashes(Array.from({ length: 8 }, (_, i) => leafHash(Uint8Array.of(i)))));
  assert.deepEqual(appendNodes(8n, leaf, tree.read).map((n) => n.level), [0]);
  // Parents only read left siblings: a reader that knows nothing suffices for even sizes.
  const none: NodeReader = () => {
    throw new Error('unexpected read');
  };
  assert.equal(appendNodes(0n, leaf, none).length, 1);
  assert.equal(appendNodes((1n << 64n) - 2n, leaf, none).length, 1);
});

test('tree.ts: range errors raise ERR_PROOF_RANGE', () => {
  const range = (e: unknown): boolean => isAttestError(e, 'ERR_PROOF_RANGE');
  const leaf = new Uint8Array(32);
  assert.throws(() => appendNodes(-1n, leaf, d130.read), range);
  assert.throws(() => appendNodes((1n << 64n) - 1n, leaf, d130.read), range);
  assert.throws(() => appendNodes(0n, new Uint8Array(31), d130.read), range);
  assert.throws(() => inclusionProof(5n, 5n, d130.read), range);
  assert.throws(() => inclusionProof(-1n, 5n, d130.read), range);
  assert.throws(() => inclusionProof(0n, 1n << 64n, d130.read), range);
  assert.throws(() => consistencyProof(0n, 5n, d130.read), range);
  assert.throws(() => consistencyProof(6n, 5n, d130.read), range);
  assert.throws(() => subtreeHash(1n, 3n, d130.read), range); // 1 is not a multiple of 2
  assert.throws(() => subtreeHash(3n, 2n, d130.read), range);
  assert.throws(() => rootAt((1n << 64n), d130.read), range);
  assert.throws(() => d130.root(131n), range);
  assert.throws(() => d130.read(0, 130n), range);
  assert.deepEqual(consistencyProof(7n, 7n, d130.read), []);
  assert.deepEqual(subtreeHash(4n, 4n, d130.read), EMPTY_ROOT);
  assert.deepEqual(rootAt(0n, d130.read), EMPTY_ROOT);
  assert.equal(isSubtreeRange(64n, 130n), false);
  assert.equal(isSubtreeRange(128n, 130n), true);
});

test('tree.ts: sizes near 2^64 are handled as bigint without precision loss', () => {
  // A tree whose leaves are all equal: every node at level L has the same hash H[L], so a
  // consistent reader is cheap at any size. Reads are recorded to check the index math.
  const levelHash: Uint8Array[] = [leafHash(new Uint8Array(0))];
  for (let l = 1; l < 64; l++) levelHash.push(nodeHash(levelHash[l - 1]!, levelHash[l - 1]!));
  const reads: string[] = [];
  const same: NodeReader = (level, index) => {
    assert.ok(index >= 0n && (index + 1n) << BigInt(level) <= 1n << 64n, `node ${level}/${index}`);
    reads.push(`${level}/${index}`);
    return levelHash[level]!;
  };
  const size = (1n << 64n) - 1n;
  const root = rootAt(size, same);
  assert.equal(reads.length, 64); // one complete subtree per set bit
  assert.equal(reads[63], `0/${size - 1n}`);
  reads.length = 0;
  const proof = inclusionProof(size - 1n, size, same);
  assert.equal(proof.length, 63);
  assert.ok(reads.includes(`1/${(1n << 63n) - 2n}`) && reads.includes('63/0'));
  assert.ok(verifyInclusion(size - 1n, size, levelHash[0]!, proof, root));
  assert.ok(!verifyInclusion(size - 2n, size, levelHash[0]!, proof, root));
  const old = (1n << 63n) + 1n;
  const cproof = consistencyProof(old, size, same);
  assert.ok(verifyConsistency(old, size, rootAt(old, same), root, cproof));
  assert.ok(!verifyConsistency(old + 1n, size, rootAt(old, same), root, cproof));
});
