/** The pooled random bytes of nonces and salts (bytes/random.ts): fresh, never handed out twice, owned by the caller. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytesPooled } from '../../src/bytes/random.js';

test('pooled random bytes are never handed out twice, across blocks, and each draw is the caller\'s own copy', () => {
  const seen = new Set<string>();
  // 1,000 nonces of 16 bytes span four 4 KiB blocks.
  for (let i = 0; i < 1000; i++) {
    const b = randomBytesPooled(16);
    assert.equal(b.length, 16);
    assert.equal(b.byteOffset, 0, 'not a view into the pool');
    const hex = Buffer.from(b).toString('hex');
    assert.ok(!seen.has(hex), `draw ${i} repeats an earlier one`);
    seen.add(hex);
  }
  const a = randomBytesPooled(32);
  a.fill(0);
  assert.notDeepEqual(randomBytesPooled(32), new Uint8Array(32), 'writing to one draw leaves the next alone');
  // Past getRandomValues' 65,536 bytes a call: drawn in parts, every part filled.
  const big = randomBytesPooled(100_000);
  assert.equal(big.length, 100_000);
  assert.ok(big.subarray(0, 65_536).some((x) => x !== 0) && big.subarray(65_536).some((x) => x !== 0));
});

test('a count of random bytes that is not a non-negative integer is ERR_USAGE, and the pool is left as it was', () => {
  for (const n of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]) assert.throws(() => randomBytesPooled(n), { code: 'ERR_USAGE' });
  assert.equal(randomBytesPooled(16).length, 16);
  assert.notDeepEqual(randomBytesPooled(16), new Uint8Array(16));
});

test('code that replaces globalThis.crypto after the pool loaded does not choose the bytes', (t) => {
  const real = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
  Object.defineProperty(globalThis, 'crypto', { configurable: true, value: { getRandomValues: <T extends ArrayBufferView>(b: T): T => b } });
  t.after(() => Object.defineProperty(globalThis, 'crypto', real));
  // Past the block: drawn directly from the CSPRNG, not from bytes drawn before the swap.
  assert.ok(randomBytesPooled(5000).some((x) => x !== 0));
});
