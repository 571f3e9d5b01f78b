/**
 * ES256 low-S (envelope/signature.ts, envelope/sign.ts): `isLowS` and `toLowS` work on the
 * signature's bytes; checked against the integer arithmetic they stand for (s <= n/2, and
 * n - s) on seeded and edge values of s, and on real node:crypto signatures, which verify
 * in both forms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { isLowS } from '../../src/envelope/signature.js';
import { toLowS } from '../../src/envelope/sign.js';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const big = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const bytes32 = (n: bigint): Uint8Array => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));

/** A signature with r = 0x11.. and the given s. */
const withS = (s: bigint): Uint8Array => {
  const out = new Uint8Array(64).fill(0x11);
  out.set(bytes32(s), 32);
  return out;
};

test('isLowS and toLowS agree with the arithmetic on edge and seeded values of s', () => {
  const half = N >> 1n;
  const values = [0n, 1n, half - 1n, half, half + 1n, N - 2n, N - 1n, 0xffn, half & ~0xffn, (half | 0xffn) + 1n];
  let a = 3;
  for (let i = 0; i < 5000; i++) {
    let s = 0n;
    for (let k = 0; k < 8; k++) {
      a = (Math.imul(a, 1103515245) + 12345) >>> 0;
      s = (s << 32n) | BigInt(a);
    }
    values.push(s % N);
  }
  for (const s of values) {
    const sig = withS(s);
    assert.equal(isLowS(sig), s <= half, s.toString(16));
    const low = toLowS(sig);
    assert.equal(big(low.subarray(32)), s <= half ? s : N - s, s.toString(16));
    assert.deepEqual(low.subarray(0, 32), sig.subarray(0, 32), 'r unchanged');
    assert.ok(isLowS(low) || s === 0n, 'the result is low');
  }
  assert.equal(isLowS(new Uint8Array(63)), false, 'not 64 bytes');
});

test('real signatures: the low form of each is low and verifies; a high one is never left high', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  let high = 0;
  for (let i = 0; i < 200; i++) {
    const data = Buffer.from(`message ${i}`);
    const sig = new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    if (!isLowS(sig)) high++;
    const low = toLowS(sig);
    assert.ok(isLowS(low));
    assert.ok(verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, low));
  }
  assert.ok(high > 50, `high-S signatures met (${high})`);
});
