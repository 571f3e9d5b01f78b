/**
 * RFC 8785 conformance against the upstream vectors vendored in test/vectors/published/jcs/
 * (provenance: its SOURCE.md; cyberphone/json-canonicalization @19d51d7).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalBytes, canonicalize, parseJson, parseJsonBytes } from '../../src/jcs/index.js';
import { isAttestError } from '../../src/errors.js';
import { vectorUrl } from '../vectors.js';

const VECTORS = vectorUrl('jcs/');
const ES6_FIRST_10K_SHA256 = 'b9f7a8e75ef22a835685a52ccba7f7d6bdc99e34b010992cbc5864cd12be6892';

const read = (rel: string): Buffer => readFileSync(new URL(rel, VECTORS));
const bytesOf = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/** IEEE-754 binary64 from lowercase hex bits without leading zeros (es6testfile format). */
function doubleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** `<hex>,<expected>` lines; the file ends with a newline. */
function numberLines(rel: string): Array<[string, string]> {
  const text = read(rel).toString('utf8');
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n').map((line) => {
    const [hex, expected, ...rest] = line.split(',');
    assert.ok(hex !== undefined && expected !== undefined && rest.length === 0, line);
    return [hex, expected];
  });
}

const CASES = readdirSync(new URL('input/', VECTORS)).filter((f) => f.endsWith('.json')).sort();

test('vector folder resolves to test/vectors/published/jcs in this repository, with six cases', () => {
  assert.equal(VECTORS.href, new URL('../vectors/published/jcs/', import.meta.url).href);
  assert.ok(existsSync(new URL('SOURCE.md', VECTORS)), fileURLToPath(VECTORS));
  assert.deepEqual(CASES, ['arrays.json', 'french.json', 'structures.json', 'unicode.json', 'values.json', 'weird.json']);
});

for (const name of CASES) {
  const base = name.slice(0, -'.json'.length);

  test(`input/${name} -> output/${name} byte for byte (strict parser)`, () => {
    const expected = bytesOf(read(`output/${name}`));
    assert.deepEqual(canonicalBytes(parseJsonBytes(bytesOf(read(`input/${name}`)))), expected);
  });

  test(`input/${name} -> output/${name} (JSON.parse input, same bytes)`, () => {
    const parsed: unknown = JSON.parse(read(`input/${name}`).toString('utf8'));
    assert.equal(canonicalize(parsed), read(`output/${name}`).toString('utf8'));
  });

  test(`outhex/${base}.txt matches canonicalBytes`, () => {
    const hex = read(`outhex/${base}.txt`).toString('utf8').trim().split(/\s+/);
    const bytes = Uint8Array.from(hex, (h) => parseInt(h, 16));
    assert.deepEqual(canonicalBytes(parseJsonBytes(bytesOf(read(`input/${name}`)))), bytes);
  });

  test(`round trip and idempotence: ${name}`, () => {
    const value = parseJsonBytes(bytesOf(read(`input/${name}`)));
    const text = canonicalize(value);
    assert.deepStrictEqual(parseJson(text), value);
    assert.equal(canonicalize(parseJson(text)), text);
  });
}

test('es6testfile-first10k.txt: checksum, 10,000 lines, every number serialized', () => {
  assert.equal(createHash('sha256').update(read('es6testfile-first10k.txt')).digest('hex'), ES6_FIRST_10K_SHA256);
  const lines = numberLines('es6testfile-first10k.txt');
  assert.equal(lines.length, 10_000);
  for (const [hex, expected] of lines) {
    assert.equal(canonicalize(doubleFromHex(hex)), expected, `bits ${hex}`);
  }
});

// Parsing the expected strings back: the value round-trips, except integer-form text beyond
// 2^53-1, which the I-JSON parser refuses by policy (ERR_JSON_NUMBER; carry such as strings).
test('es6testfile-first10k.txt: expected strings parse back to the same double', () => {
  let refused = 0;
  for (const [hex, expected] of numberLines('es6testfile-first10k.txt')) {
    const value = doubleFromHex(hex);
    const integerForm = /^-?[0-9]+$/.test(expected);
    if (integerForm && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
      assert.throws(() => parseJson(expected), (e) => isAttestError(e, 'ERR_JSON_NUMBER'), expected);
      refused++;
    } else {
      assert.equal(parseJson(expected), value === 0 ? 0 : value, `bits ${hex}`);
    }
  }
  assert.ok(refused > 0);
});

test('es6-readme-sample-lines.txt', () => {
  const lines = numberLines('es6-readme-sample-lines.txt');
  assert.equal(lines.length, 7);
  for (const [hex, expected] of lines) assert.equal(canonicalize(doubleFromHex(hex)), expected, `bits ${hex}`);
});

interface EdgeCase { ieee754Hex: string; expected: string | null; error?: boolean; comment: string }

test('number-edge-cases.json: RFC 8785 Appendix B values; NaN and ±Infinity rejected', () => {
  const { cases } = JSON.parse(read('number-edge-cases.json').toString('utf8')) as { cases: EdgeCase[] };
  assert.equal(cases.length, 27);
  for (const c of cases) {
    const value = doubleFromHex(c.ieee754Hex);
    if (c.error === true) {
      assert.throws(() => canonicalize(value), (e) => isAttestError(e, 'ERR_JSON_VALUE'), c.comment);
      assert.throws(() => canonicalize({ n: [value] }), (e) => isAttestError(e, 'ERR_JSON_VALUE') && e.path === '.n[0]');
    } else {
      assert.equal(canonicalize(value), c.expected, `${c.ieee754Hex} ${c.comment}`);
      assert.equal(canonicalize(value), JSON.stringify(value));
    }
  }
});
