/**
 * Adversarial tests of the strict I-JSON parser: each rejection rule with its error code and
 * path, resource limits, prototype safety, and a differential check against JSON.parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJson, parseJsonBytes, type ParseLimits } from '../../src/jcs/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';

interface Probe { desc: string; text: string; code: ErrorCode; path?: string; limits?: ParseLimits }

const PROBES: Probe[] = [
  // RFC 8259 grammar
  { desc: 'empty input', text: '', code: 'ERR_JSON_SYNTAX' },
  { desc: 'whitespace only', text: ' \n', code: 'ERR_JSON_SYNTAX' },
  { desc: 'line comment', text: '[1] // c', code: 'ERR_JSON_SYNTAX' },
  { desc: 'block comment', text: '{/* c */"a":1}', code: 'ERR_JSON_SYNTAX' },
  { desc: 'trailing comma in array', text: '{"a":[1,2,]}', code: 'ERR_JSON_SYNTAX', path: '.a[2]' },
  { desc: 'trailing comma in object', text: '{"a":1,}', code: 'ERR_JSON_SYNTAX', path: '' },
  { desc: 'leading zero', text: '{"a":{"b":[0,01]}}', code: 'ERR_JSON_SYNTAX', path: '.a.b[1]' },
  { desc: 'leading zero, negative', text: '-01', code: 'ERR_JSON_SYNTAX' },
  { desc: 'plus sign', text: '+1', code: 'ERR_JSON_SYNTAX' },
  { desc: 'plus sign in array', text: '[+1]', code: 'ERR_JSON_SYNTAX', path: '[0]' },
  { desc: 'bare minus', text: '-', code: 'ERR_JSON_SYNTAX' },
  { desc: 'fraction without digits', text: '1.', code: 'ERR_JSON_SYNTAX' },
  { desc: 'fraction without integer', text: '.5', code: 'ERR_JSON_SYNTAX' },
  { desc: 'exponent without digits', text: '1e', code: 'ERR_JSON_SYNTAX' },
  { desc: 'hex number', text: '0x10', code: 'ERR_JSON_SYNTAX' },
  { desc: 'NaN', text: 'NaN', code: 'ERR_JSON_SYNTAX' },
  { desc: 'Infinity', text: '[Infinity]', code: 'ERR_JSON_SYNTAX' },
  { desc: '-Infinity', text: '-Infinity', code: 'ERR_JSON_SYNTAX' },
  { desc: 'single quotes', text: "['a']", code: 'ERR_JSON_SYNTAX' },
  { desc: 'unquoted key', text: '{a:1}', code: 'ERR_JSON_SYNTAX' },
  { desc: 'missing colon', text: '{"a" 1}', code: 'ERR_JSON_SYNTAX', path: '.a' },
  { desc: 'missing comma', text: '[1 2]', code: 'ERR_JSON_SYNTAX' },
  { desc: 'truncated array', text: '[1,[2', code: 'ERR_JSON_SYNTAX' },
  { desc: 'truncated object', text: '{"a":', code: 'ERR_JSON_SYNTAX', path: '.a' },
  { desc: 'unterminated string', text: '"abc', code: 'ERR_JSON_SYNTAX' },
  { desc: 'two values', text: '1 2', code: 'ERR_JSON_SYNTAX' },
  { desc: 'literal prefix', text: 'tru', code: 'ERR_JSON_SYNTAX' },
  { desc: 'literal with suffix', text: 'nullx', code: 'ERR_JSON_SYNTAX' },
  { desc: 'capitalized literal', text: 'True', code: 'ERR_JSON_SYNTAX' },
  { desc: 'raw LF in string', text: '"a\nb"', code: 'ERR_JSON_SYNTAX' },
  { desc: 'raw NUL in string', text: '{"k":"\u0000"}', code: 'ERR_JSON_SYNTAX', path: '.k' },
  { desc: 'raw TAB in string', text: '"\t"', code: 'ERR_JSON_SYNTAX' },
  { desc: 'unknown escape', text: '"\\x41"', code: 'ERR_JSON_SYNTAX' },
  { desc: 'short \\u escape', text: '"\\u41"', code: 'ERR_JSON_SYNTAX' },
  { desc: 'escaped single quote', text: '"\\\'"', code: 'ERR_JSON_SYNTAX' },
  { desc: 'vertical tab whitespace', text: '\u000b1', code: 'ERR_JSON_SYNTAX' },
  { desc: 'form feed whitespace', text: '[1,\f2]', code: 'ERR_JSON_SYNTAX' },
  { desc: 'NBSP whitespace', text: '\u00a01', code: 'ERR_JSON_SYNTAX' },
  { desc: 'U+2028 whitespace', text: '[1\u2028]', code: 'ERR_JSON_SYNTAX' },
  { desc: 'BOM in text', text: '\ufeff{}', code: 'ERR_JSON_SYNTAX' },
  // RFC 7493 §2.3: unique member names, compared after unescaping
  { desc: 'duplicate key', text: '{"a":1,"b":{"c":1,"c":2}}', code: 'ERR_JSON_DUPLICATE_KEY', path: '.b.c' },
  { desc: 'duplicate key via escape', text: '{"a":1,"\\u0061":2}', code: 'ERR_JSON_DUPLICATE_KEY', path: '.a' },
  { desc: 'duplicate __proto__', text: '{"__proto__":1,"__proto__":2}', code: 'ERR_JSON_DUPLICATE_KEY', path: '.__proto__' },
  { desc: 'duplicate empty key', text: '{"":1,"":2}', code: 'ERR_JSON_DUPLICATE_KEY', path: '[""]' },
  // RFC 7493 §2.1: no lone surrogates
  { desc: 'escaped lone high', text: '{"s":"\\ud800"}', code: 'ERR_JSON_LONE_SURROGATE', path: '.s' },
  { desc: 'escaped lone low', text: '["\\udc00"]', code: 'ERR_JSON_LONE_SURROGATE', path: '[0]' },
  { desc: 'escaped pair reversed', text: '"\\ude02\\ud83d"', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'escaped high then letter', text: '"\\ud83dx"', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'escaped high then escaped BMP', text: '"\\ud83d\\u0041"', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'escaped high then raw low', text: '"\\ud83d\ude02"', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'raw lone high', text: '["\ud800"]', code: 'ERR_JSON_LONE_SURROGATE', path: '[0]' },
  { desc: 'raw lone low', text: '"\udc00"', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'raw high at end of text', text: '"\ud800', code: 'ERR_JSON_LONE_SURROGATE' },
  { desc: 'lone surrogate in key', text: '{"\\ud800":1}', code: 'ERR_JSON_LONE_SURROGATE', path: '' },
  // RFC 7493 §2.2: numbers
  { desc: 'negative zero', text: '{"n":-0}', code: 'ERR_JSON_NUMBER', path: '.n' },
  { desc: 'negative zero with fraction', text: '-0.0', code: 'ERR_JSON_NUMBER' },
  { desc: 'negative zero with exponent', text: '-0e5', code: 'ERR_JSON_NUMBER' },
  { desc: 'negative underflow to -0', text: '-1e-400', code: 'ERR_JSON_NUMBER' },
  { desc: '2^53', text: '9007199254740992', code: 'ERR_JSON_NUMBER' },
  { desc: '2^53+1 (JSON.parse rounds it)', text: '[9007199254740993]', code: 'ERR_JSON_NUMBER', path: '[0]' },
  { desc: '-2^53', text: '-9007199254740992', code: 'ERR_JSON_NUMBER' },
  { desc: 'huge integer', text: '1' + '0'.repeat(400), code: 'ERR_JSON_NUMBER' },
  { desc: 'overflow', text: '1e309', code: 'ERR_JSON_NUMBER' },
  { desc: 'negative overflow', text: '-1.8e308', code: 'ERR_JSON_NUMBER' },
  // float policy
  { desc: 'float rejected', text: '{"issuerAsserted":{"expSeconds":1.5}}', code: 'ERR_JSON_FLOAT', path: '.issuerAsserted.expSeconds', limits: { floats: 'reject' } },
  { desc: '1.0 rejected', text: '[0,1.0]', code: 'ERR_JSON_FLOAT', path: '[1]', limits: { floats: 'reject' } },
  { desc: '1e3 rejected', text: '1e3', code: 'ERR_JSON_FLOAT', limits: { floats: 'reject' } },
  { desc: '-0.0 is a float first', text: '-0.0', code: 'ERR_JSON_FLOAT', limits: { floats: 'reject' } },
  { desc: '-0 still a bad number', text: '-0', code: 'ERR_JSON_NUMBER', limits: { floats: 'reject' } },
  // limits
  { desc: 'depth 65 > default 64', text: '['.repeat(65) + ']'.repeat(65), code: 'ERR_JSON_TOO_DEEP' },
  { desc: 'depth 3 > 2', text: '{"a":[{}]}', code: 'ERR_JSON_TOO_DEEP', path: '.a[0]', limits: { maxDepth: 2 } },
  { desc: 'maxBytes counts UTF-8 bytes', text: '"éééé"', code: 'ERR_JSON_TOO_LARGE', limits: { maxBytes: 9 } },
  { desc: 'size checked before syntax', text: 'x'.repeat(11), code: 'ERR_JSON_TOO_LARGE', limits: { maxBytes: 10 } },
];

function assertRejects(fn: () => unknown, code: ErrorCode, path?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestError(e), `not an AttestError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (path !== undefined) assert.equal(e.path, path, e.message);
    assert.equal(typeof e.path, 'string');
    return true;
  });
}

for (const p of PROBES) {
  test(`rejects ${p.desc}: ${p.code}`, () => {
    assertRejects(() => parseJson(p.text, p.limits), p.code, p.path);
  });
}

test('accepts what RFC 8259 allows', () => {
  assert.deepStrictEqual(parseJson(' \t\r\n[ 1 , -1.5e+2 , 0 , 0.0 , 1E-2 , "" ] '), [1, -150, 0, 0, 0.01, '']);
  assert.deepStrictEqual(parseJson('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00E9\\ud83d\\ude02\u007f\u2028"'), '"\\/\b\f\n\r\té😂\u007f\u2028');
  assert.deepStrictEqual(parseJson('[9007199254740991,-9007199254740991,1e300,5e-324,1e-400]'), [2 ** 53 - 1, -(2 ** 53 - 1), 1e300, 5e-324, 0]);
  assert.deepStrictEqual(parseJson('{"a":1}', { floats: 'reject' }), { a: 1 });
  assert.equal(parseJson('"éééé"', { maxBytes: 10 }), 'éééé');
  assert.equal(parseJson('"😂"', { maxBytes: 6 }), '😂');
  assert.deepStrictEqual(parseJson('[[]]', { maxDepth: 2 }), [[]]);
});

test('__proto__ member is an ordinary own property', () => {
  const v = parseJson('{"__proto__":{"polluted":true},"a":{"__proto__":[]}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.ok(Object.hasOwn(v, '__proto__'));
  assert.deepStrictEqual(Object.keys(v), ['__proto__', 'a']);
  assert.equal((v as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.ok(Array.isArray(Object.getOwnPropertyDescriptor(v['a'], '__proto__')?.value));
});

test('depth 100000 of "[" gives ERR_JSON_TOO_DEEP, not a stack overflow', () => {
  assertRejects(() => parseJson('['.repeat(100_000)), 'ERR_JSON_TOO_DEEP', '[0]'.repeat(64));
  assertRejects(() => parseJson('{"a":'.repeat(100_000)), 'ERR_JSON_TOO_DEEP');
});

test('the parser is iterative: depth 100000 parses when the limit allows it', () => {
  const text = '['.repeat(100_000) + ']'.repeat(100_000);
  let v = parseJson(text, { maxDepth: 100_000 });
  for (let d = 1; d < 100_000; d++) v = (v as unknown[])[0] as typeof v;
  assert.deepStrictEqual(v, []);
  assertRejects(() => parseJson(text, { maxDepth: 99_999 }), 'ERR_JSON_TOO_DEEP');
});

test('size limit: default 1 MiB, checked on text and bytes before parsing', () => {
  const big = `"${'a'.repeat(1024 * 1024 - 2)}"`;
  assert.equal((parseJson(big) as string).length, 1024 * 1024 - 2);
  assertRejects(() => parseJson(`${big} `), 'ERR_JSON_TOO_LARGE', '');
  assertRejects(() => parseJsonBytes(new Uint8Array(1024 * 1024 + 1)), 'ERR_JSON_TOO_LARGE', '');
  assertRejects(() => parseJsonBytes(new TextEncoder().encode('"é"'), { maxBytes: 3 }), 'ERR_JSON_TOO_LARGE');
});

test('container limit: arrays and objects, empty ones too, at any depth, counted as each opens; scalars and member names are not counted', () => {
  assert.deepStrictEqual(parseJson('[{},[],{"a":[1,"x",null]}]', { maxContainers: 5 }), [{}, [], { a: [1, 'x', null] }]);
  assertRejects(() => parseJson('[{},[],{"a":[1,"x",null]}]', { maxContainers: 4 }), 'ERR_JSON_TOO_LARGE', '[2].a');
  assertRejects(() => parseJson('[[],[],[]]', { maxContainers: 3 }), 'ERR_JSON_TOO_LARGE', '[2]');
  assert.equal((parseJson(`[${'1,'.repeat(1000)}1]`, { maxContainers: 1 }) as number[]).length, 1001);
  assertRejects(() => parseJson('1', { maxContainers: -1 }), 'ERR_USAGE');
  assertRejects(() => parseJson('1', { maxContainers: 1.5 }), 'ERR_USAGE');
});

test('parseJsonBytes: strict UTF-8, BOM rejected', () => {
  assert.deepStrictEqual(parseJsonBytes(new TextEncoder().encode('{"€":"😂"}')), { '€': '😂' });
  assertRejects(() => parseJsonBytes(Uint8Array.of(0xef, 0xbb, 0xbf, 0x31)), 'ERR_JSON_SYNTAX', '');
  assertRejects(() => parseJsonBytes(Uint8Array.of(0x22, 0xc3, 0x22)), 'ERR_ENCODING_INVALID');
  assertRejects(() => parseJsonBytes(Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22)), 'ERR_ENCODING_INVALID');
  assertRejects(() => parseJsonBytes(Uint8Array.of(0x22, 0xc0, 0xaf, 0x22)), 'ERR_ENCODING_INVALID');
});

test('invalid limits and non-string input are coded errors', () => {
  assertRejects(() => parseJson('1', { maxDepth: -1 }), 'ERR_USAGE');
  assertRejects(() => parseJson('1', { maxBytes: Number.NaN }), 'ERR_USAGE');
  assertRejects(() => parseJson('1', { floats: 'maybe' as 'allow' }), 'ERR_USAGE');
  assertRejects(() => parseJson(42 as unknown as string), 'ERR_JSON_SYNTAX');
});

// Differential check against JSON.parse (the naive reference) over every prefix and every
// single-code-unit substitution of a valid document: only AttestError escapes, and whatever
// the strict parser accepts, JSON.parse accepts with the same value.
const SEED = '{"a":[1,-2.5e3,true,false,null],"\\u00e9":"x\\n\\ud83d\\ude02","__proto__":{"":0}}';
const MUTANTS = [' ', '"', '\\', ',', ':', '[', ']', '{', '}', '0', '-', '.', 'e', 'u', 'x', '\u0000', '\ud800'];

function checkAgainstReference(text: string): void {
  let ours: unknown;
  try {
    ours = parseJson(text);
  } catch (e) {
    assert.ok(isAttestError(e), `raw error for ${JSON.stringify(text)}: ${String(e)}`);
    return;
  }
  assert.deepStrictEqual(ours, JSON.parse(text), text);
}

test('every prefix and single-unit mutation: coded errors only, agrees with JSON.parse', () => {
  let n = 0;
  for (let i = 0; i <= SEED.length; i++, n++) checkAgainstReference(SEED.slice(0, i));
  for (let i = 0; i < SEED.length; i++) {
    checkAgainstReference(SEED.slice(0, i) + SEED.slice(i + 1));
    for (const m of MUTANTS) checkAgainstReference(SEED.slice(0, i) + m + SEED.slice(i + 1));
    n += 1 + MUTANTS.length;
  }
  assert.ok(n > 1000);
});
