/**
 * Compressed bundles on Node (platform/gunzip.ts, bundle/gzip.ts): one strict gzip member
 * decodes to its exact text; every other framing (a second member, padding, a truncation, a
 * flag we do not accept, a wrong CRC-32 or ISIZE) is `ERR_BUNDLE_MALFORMED`, and an ISIZE
 * past the limit `ERR_INPUT_TOO_LARGE`. The browser's decoder gives the same verdicts
 * (test/e2e/browser-parity.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { gunzipStrict } from '../../src/platform/gunzip.js';
import { gzipMember, isGzip } from '../../src/bundle/gzip.js';
import { maxContainers, parseBundle } from '../../src/bundle/format.js';
import { parseSessionReceipt } from '../../src/bundle/session-receipt.js';
import { isAttestError } from '../../src/errors.js';

const TEXT = Buffer.from(JSON.stringify({ format: 'mcp-attest/bundle@2', entries: Array.from({ length: 50 }, (_, i) => ({ index: String(i), entry: '{"a":1}' })) }));
const MEMBER = gzipSync(TEXT);

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isAttestError(e), String(e));
    return e.code;
  }
  return 'accepted';
}

/** `MEMBER` with its header's flag byte set to `flags` and `extra` inserted after the 10-byte header. */
function withHeader(flags: number, extra: Uint8Array = new Uint8Array()): Buffer {
  const head = Buffer.from(MEMBER.subarray(0, 10));
  head[3] = flags;
  return Buffer.concat([head, extra, MEMBER.subarray(10)]);
}

test('one gzip member decodes to exactly its text, with or without a file name (FNAME, as `gzip FILE` writes)', () => {
  assert.ok(isGzip(MEMBER) && !isGzip(TEXT));
  assert.deepEqual(Buffer.from(gunzipStrict(MEMBER, 1 << 20)), TEXT);
  assert.deepEqual(Buffer.from(gunzipStrict(withHeader(0x08, Buffer.from('b.bundle.json\0')), 1 << 20)), TEXT);
  assert.deepEqual(Buffer.from(gunzipStrict(withHeader(0x01), 1 << 20)), TEXT, 'FTEXT is a hint');
  assert.deepEqual(Buffer.from(gunzipStrict(gzipSync(TEXT, { level: 9 }), 1 << 20)), TEXT);
});

test('anything but one member with nothing after it is ERR_BUNDLE_MALFORMED: padding, a second member, an empty member first', () => {
  const cases: Record<string, Buffer> = {
    'a zero byte after': Buffer.concat([MEMBER, Buffer.from([0])]),
    'eight zero bytes after': Buffer.concat([MEMBER, Buffer.alloc(8)]),
    'its trailer again': Buffer.concat([MEMBER, MEMBER.subarray(-8)]),
    'a second member': Buffer.concat([MEMBER, gzipSync('x')]),
    'an empty member, then the member': Buffer.concat([gzipSync(Buffer.alloc(0)), MEMBER]),
  };
  for (const [name, bytes] of Object.entries(cases)) assert.equal(code(() => gunzipStrict(bytes, 1 << 20)), 'ERR_BUNDLE_MALFORMED', name);
});

test('every truncation of a member, and a changed CRC-32 or ISIZE, is refused: ERR_INPUT_TOO_LARGE when the last four bytes, read as ISIZE, pass the limit, else ERR_BUNDLE_MALFORMED', () => {
  const max = 1 << 20;
  for (let n = 0; n < MEMBER.length; n++) {
    const want = n > 18 && MEMBER.readUInt32LE(n - 4) > max ? 'ERR_INPUT_TOO_LARGE' : 'ERR_BUNDLE_MALFORMED';
    assert.equal(code(() => gunzipStrict(MEMBER.subarray(0, n), max)), want, `first ${n} bytes`);
  }
  for (const at of [MEMBER.length - 8, MEMBER.length - 5, MEMBER.length - 4, MEMBER.length - 1]) {
    const b = Buffer.from(MEMBER);
    b[at] = b[at]! ^ 0x01;
    assert.equal(code(() => gunzipStrict(b, max)), at === MEMBER.length - 1 ? 'ERR_INPUT_TOO_LARGE' : 'ERR_BUNDLE_MALFORMED', `byte ${at} of the trailer`);
  }
});

test('a header we do not accept is ERR_BUNDLE_MALFORMED: another method, FHCRC, FEXTRA, FCOMMENT, reserved flags, an unterminated or overlong name', () => {
  const method = Buffer.from(MEMBER);
  method[2] = 7;
  assert.equal(code(() => gzipMember(method)), 'ERR_BUNDLE_MALFORMED');
  for (const flags of [0x02, 0x04, 0x10, 0x20, 0x40, 0x80]) assert.equal(code(() => gunzipStrict(withHeader(flags), 1 << 20)), 'ERR_BUNDLE_MALFORMED', `flags 0x${flags.toString(16)}`);
  assert.equal(code(() => gunzipStrict(withHeader(0x08, Buffer.alloc(1025, 0x61)), 1 << 20)), 'ERR_BUNDLE_MALFORMED', 'a 1,025-byte name');
  assert.equal(code(() => gunzipStrict(Buffer.concat([withHeader(0x08).subarray(0, 10), Buffer.alloc(20, 0x61)]), 1 << 20)), 'ERR_BUNDLE_MALFORMED', 'a name running to the end');
  assert.equal(code(() => gunzipStrict(TEXT, 1 << 20)), 'ERR_BUNDLE_MALFORMED', 'not gzip at all');
});

test('an ISIZE past the limit is ERR_INPUT_TOO_LARGE, even when the member is also corrupt; a member inflating past its ISIZE is ERR_BUNDLE_MALFORMED (inflation stops there)', () => {
  assert.equal(code(() => gunzipStrict(MEMBER, TEXT.length - 1)), 'ERR_INPUT_TOO_LARGE');
  assert.match((() => { try { gunzipStrict(MEMBER, TEXT.length - 1); } catch (e) { return (e as Error).message; } return ''; })(), /\(its ISIZE, its last 4 bytes: a file cut short or with data after its member reads a wrong one\)/, 'the message says where the size was read, and how a damaged file gets a wrong one');
  assert.equal(code(() => gunzipStrict(MEMBER, TEXT.length)), 'accepted');
  const corrupt = gzipSync(Buffer.alloc(2 << 20, 0x20), { level: 9 });
  corrupt[corrupt.length - 8] = corrupt[corrupt.length - 8]! ^ 0x01;
  assert.equal(code(() => gunzipStrict(corrupt, 1 << 20)), 'ERR_INPUT_TOO_LARGE', 'which an inflater meets first does not decide the code');
  // A bomb: 64 MiB of zeros whose trailer claims 10 bytes.
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  bomb.writeUInt32LE(10, bomb.length - 4);
  assert.equal(code(() => gunzipStrict(bomb, 1 << 20)), 'ERR_BUNDLE_MALFORMED');
  assert.match((() => { try { gunzipStrict(bomb, 1 << 20); } catch (e) { return (e as Error).message; } return ''; })(), /more than the 10 bytes its trailer/);
});

test('a bundle or session receipt of empty objects (3 characters each, ~1,000x smaller gzip\'d) is refused before the parser builds them all: a session receipt ERR_JSON_TOO_LARGE past its container bound, a bundle (whose entries are parsed one at a time) by its schema, none built; dense evidence within the fixed allowance is not', () => {
  const objects = (format: string): string => `{"format":"${format}","entries":[${'{},'.repeat(16 << 20 >> 2)}{}]}`;
  const bundle = objects('mcp-attest/bundle@2');
  // Refused by its schema (no checkpoint, no proof) once the entries are counted, none of them built.
  assert.throws(() => parseBundle(bundle), (e) => isAttestError(e, 'ERR_BUNDLE_MALFORMED'));
  for (const [format, parse] of [['mcp-attest/session-receipt@1', parseSessionReceipt]] as const) {
    const text = objects(format);
    const gz = gzipSync(text);
    assert.ok(gz.length * 500 < text.length, `${gz.length} bytes gzip'd`);
    const decoded = Buffer.from(gunzipStrict(gz, 1 << 30)).toString('utf8');
    let offset = -1;
    assert.equal(code(() => {
      try {
        parse(decoded);
      } catch (e) {
        offset = Number(/\(offset ([0-9]+)\)/.exec((e as Error).message)?.[1] ?? -1);
        throw e;
      }
    }), 'ERR_JSON_TOO_LARGE', format);
    assert.ok(offset > 0 && offset < 3 * maxContainers(text.length) + 64, `refused at offset ${offset}`);
  }
  assert.equal(maxContainers(256 << 20), 16 << 20, 'one per 16 characters of a 256 MiB text');
  // Evidence as dense as real JSON gets (one object per 8 characters), 1 MiB of it in a receipt.
  const dense = `{"format":"mcp-attest/session-receipt@1","evidence":[{"digest":"x","value":[${'{"a":1},'.repeat(1 << 17)}{"a":1}]}]}`;
  assert.equal(code(() => parseSessionReceipt(dense)), 'ERR_SESSION_MALFORMED', 'refused by its schema, not by the bound');
});
