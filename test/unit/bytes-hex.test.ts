/**
 * Lowercase hex (bytes/index.ts), the encoding of SEP-2787 signatures: every byte value round
 * trips, and anything but lowercase, even-length hex is `ERR_ENCODING_INVALID`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/bytes/index.js';
import { isAttestError } from '../../src/errors.js';

test('every byte value round trips, and the text is the platform\'s lowercase hex', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const hex = toHex(all);
  assert.equal(hex, Buffer.from(all).toString('hex'));
  assert.deepEqual(fromHex(hex), all);
  assert.deepEqual(fromHex(''), new Uint8Array(0));
});

test('uppercase, odd length, and characters outside 0-9a-f are refused', () => {
  for (const bad of ['AB', 'aB', 'abc', '0g', 'zz', ' 00', '00 ', '０0', 'a\u0000']) {
    assert.throws(() => fromHex(bad), (e: unknown) => isAttestError(e, 'ERR_ENCODING_INVALID'), JSON.stringify(bad));
  }
});
