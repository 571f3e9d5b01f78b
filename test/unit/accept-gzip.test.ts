/**
 * `log serve` compresses only for a client whose Accept-Encoding accepts gzip (RFC 9110
 * §12.5.3): a zero weight refuses it, `*` stands for codings not listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsGzip } from '../../src/logserver/http.js';

test('Accept-Encoding: gzip with a nonzero weight, or * when gzip is not listed', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['gzip', true], ['gzip, deflate, br', true], ['GZIP', true], ['x-gzip', true], ['br;q=1.0, gzip;q=0.5', true],
    ['gzip;q=0', false], ['gzip;q=0, identity', false], ['gzip; q=0.000', false], ['identity', false], [undefined, false], ['', false],
    ['*', true], ['*;q=0', false], ['gzip;q=0, *', false], ['notgzip', false], ['gzipx', false],
  ];
  for (const [header, want] of cases) assert.equal(acceptsGzip(header), want, String(header));
});
