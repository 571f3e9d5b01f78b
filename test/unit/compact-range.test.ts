/**
 * CompactRoots (a streaming verifier's O(log n) tree): the root at every size it was asked
 * for equals the full tree's (RFC 9162 §2.1.1), at every size from 0 to 130; a size not
 * asked for, or beyond the leaves, is refused with ERR_PROOF_RANGE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactRoots } from '../../src/log/compact-range.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { leafHash } from '../../src/log/hash.js';
import { isAttestError } from '../../src/errors.js';

test('the roots kept at the sizes asked for equal the full tree\'s', () => {
  const n = 130;
  const full = new MemoryTree();
  const all = new CompactRoots(new Set(Array.from({ length: n + 1 }, (_, i) => BigInt(i))));
  assert.deepEqual(all.rootAt(0n), full.root(0n));
  for (let i = 0; i < n; i++) {
    const h = leafHash(new TextEncoder().encode(`entry ${i}`));
    full.appendLeafHash(h);
    all.appendLeafHash(h);
    assert.deepEqual(all.rootAt(BigInt(i + 1)), full.root(), `root at ${i + 1}`);
  }
  for (let s = 0n; s <= BigInt(n); s++) assert.deepEqual(all.rootAt(s), full.root(s), `kept root at ${s}`);
});

test('a size not asked for or beyond the tree is refused', () => {
  const t = new CompactRoots(new Set([3n]));
  for (let i = 0; i < 5; i++) t.appendLeafHash(leafHash(new Uint8Array([i])));
  assert.equal(t.size, 5n);
  assert.ok(t.rootAt(3n).length === 32);
  assert.ok(t.rootAt(5n).length === 32);
  for (const s of [0n, 2n, 4n, 6n]) assert.throws(() => t.rootAt(s), (e: unknown) => isAttestError(e, 'ERR_PROOF_RANGE'), `size ${s}`);
});
