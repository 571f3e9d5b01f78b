/**
 * RFC 8785 canonicalize: escaping, ordering, numbers, and refusal of anything that is not
 * plain JSON (with code and path). Conformance vectors are in jcs-vectors.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes, canonicalize, CanonicalMemo, MAX_CANONICAL_DEPTH, parseJson } from '../../src/jcs/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';

function assertRejects(value: unknown, code: ErrorCode, path: string): void {
  assert.throws(() => canonicalize(value), (e: unknown) => {
    assert.ok(isAttestError(e), `not an AttestError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.path, path, e.message);
    return true;
  });
}

test('RFC 8785 §3.2.2.2 string escaping: short forms, lowercase \\u00xx, everything else raw', () => {
  const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('');
  assert.equal(
    canonicalize(all),
    '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
      '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
  );
  assert.equal(canonicalize('"\\/\u007f\u0080\u2028\u2029é😂</script>'), '"\\"\\\\/\u007f\u0080\u2028\u2029é😂</script>"');
});

test('RFC 8785 §3.2.3 member order is UTF-16 code-unit order, recursively', () => {
  const value = { '\ufb33': 1, '😂': 2, 'é': 3, a: 4, B: 5, '10': 6, '1': 7, '': 8 };
  assert.equal(canonicalize(value), '{"":8,"1":7,"10":6,"B":5,"a":4,"é":3,"😂":2,"דּ":1}');
  assert.equal(canonicalize([{ b: [{ d: 1, c: 2 }], a: null }]), '[{"a":null,"b":[{"c":2,"d":1}]}]');
});

test('RFC 8785 §3.2.2.3 numbers: ES6 Number-to-string, -0 is "0"', () => {
  assert.equal(canonicalize([-0, 0, 1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, -5e-324]),
    '[0,0,1e+21,1e-7,123456789012345680000,0.30000000000000004,-5e-324]');
});

test('literals, empty containers, no whitespace, UTF-8 bytes without BOM', () => {
  assert.equal(canonicalize({ t: true, f: false, n: null, a: [], o: {} }), '{"a":[],"f":false,"n":null,"o":{},"t":true}');
  assert.deepEqual(canonicalBytes({ 'é': '😂' }), new TextEncoder().encode('{"é":"😂"}'));
  assert.deepEqual(canonicalBytes('€'), Uint8Array.of(0x22, 0xe2, 0x82, 0xac, 0x22));
});

test('null-prototype objects and "__proto__" members are plain JSON objects', () => {
  const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
  assert.equal(canonicalize({ x: bare }), '{"x":{"a":2,"b":1}}');
  const parsed = parseJson('{"__proto__":{"z":1},"a":0}');
  assert.equal(canonicalize(parsed), '{"__proto__":{"z":1},"a":0}');
});

test('rejects non-finite numbers with ERR_JSON_VALUE and the path', () => {
  assertRejects(Number.NaN, 'ERR_JSON_VALUE', '');
  assertRejects({ a: [1, Number.POSITIVE_INFINITY] }, 'ERR_JSON_VALUE', '.a[1]');
  assertRejects({ 'b c': Number.NEGATIVE_INFINITY }, 'ERR_JSON_VALUE', '["b c"]');
});

test('rejects lone surrogates in strings and member names', () => {
  assertRejects('\ud800', 'ERR_JSON_LONE_SURROGATE', '');
  assertRejects({ a: ['ok', 'x\udc00'] }, 'ERR_JSON_LONE_SURROGATE', '.a[1]');
  assertRejects({ s: '\ude02\ud83d' }, 'ERR_JSON_LONE_SURROGATE', '.s');
  assertRejects({ o: { '\ud83d': 1 } }, 'ERR_JSON_LONE_SURROGATE', '.o["\\ud83d"]');
});

class Point {
  x = 1;
}

const NOT_JSON: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['function', () => 1],
  ['symbol', Symbol('s')],
  ['bigint', 1n],
  ['Date', new Date(0)],
  ['class instance', new Point()],
  ['Map', new Map([['a', 1]])],
  ['Set', new Set([1])],
  ['RegExp', /a/],
  ['boxed string', new String('a')],
  ['boxed number', new Number(1)],
  ['Uint8Array', new Uint8Array(2)],
  ['array subclass', new (class extends Array {})()],
  ['Error', new Error('e')],
];

for (const [name, value] of NOT_JSON) {
  test(`rejects ${name} with ERR_JSON_VALUE at its path`, () => {
    assertRejects(value, 'ERR_JSON_VALUE', '');
    assertRejects({ a: { b: [0, 1, value] } }, 'ERR_JSON_VALUE', '.a.b[2]');
  });
}

test('undefined members are rejected, not dropped; undefined elements not turned into null', () => {
  assertRejects({ a: 1, b: undefined }, 'ERR_JSON_VALUE', '.b');
  assertRejects([1, undefined], 'ERR_JSON_VALUE', '[1]');
});

test('never calls toJSON', () => {
  let called = false;
  const withToJSON = { a: 1, toJSON: () => ((called = true), 'x') };
  assertRejects(withToJSON, 'ERR_JSON_VALUE', '.toJSON');
  const date = new Date(0);
  date.toJSON = () => ((called = true), 'x');
  assertRejects({ d: date }, 'ERR_JSON_VALUE', '.d');
  assert.equal(called, false);
  assert.equal(canonicalize({ toJSON: 'data' }), '{"toJSON":"data"}');
});

test('rejects sparse arrays, extra array properties, accessors, hidden and symbol members', () => {
  assertRejects({ a: [1, , 3] }, 'ERR_JSON_VALUE', '.a[1]');
  assertRejects(new Array(2), 'ERR_JSON_VALUE', '[0]');
  assertRejects(Object.assign([1], { extra: 2 }), 'ERR_JSON_VALUE', '');
  let read = false;
  const getter = Object.defineProperty({}, 'g', { enumerable: true, get: () => ((read = true), 1) });
  assertRejects({ o: getter }, 'ERR_JSON_VALUE', '.o.g');
  assert.equal(read, false);
  assertRejects(Object.defineProperty({}, 'h', { value: 1, enumerable: false }), 'ERR_JSON_VALUE', '.h');
  assertRejects({ [Symbol('s')]: 1 }, 'ERR_JSON_VALUE', '');
});

test('rejects cycles; shared (acyclic) references are fine', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = { back: cyclic };
  assertRejects(cyclic, 'ERR_JSON_VALUE', '.self.back');
  const shared = { s: 1 };
  assert.equal(canonicalize([shared, { shared }]), '[{"s":1},{"shared":{"s":1}}]');
});

test(`depth: ${MAX_CANONICAL_DEPTH} nested containers pass, one more is ERR_JSON_TOO_DEEP`, () => {
  const nest = (n: number): unknown => {
    let v: unknown = [];
    for (let i = 1; i < n; i++) v = i % 2 === 0 ? [v] : { k: v };
    return v;
  };
  assert.ok(canonicalize(nest(MAX_CANONICAL_DEPTH)).length > MAX_CANONICAL_DEPTH);
  assert.throws(() => canonicalize(nest(MAX_CANONICAL_DEPTH + 1)), (e) => isAttestError(e, 'ERR_JSON_TOO_DEEP'));
  const deep = parseJson('['.repeat(100_000) + ']'.repeat(100_000), { maxDepth: 100_000 });
  assert.throws(() => canonicalize(deep), (e) => isAttestError(e, 'ERR_JSON_TOO_DEEP'));
});

test('a throwing Proxy trap surfaces as AttestError', () => {
  const hostile = new Proxy({}, { ownKeys: () => { throw new TypeError('boom'); } });
  assert.throws(() => canonicalize({ h: hostile }), (e) => isAttestError(e, 'ERR_JSON_VALUE'));
});

test('a memo reuses the text of a container met before, gives the same bytes as none, and keeps the depth limit', () => {
  const inner = { b: [1, { c: 'x\n' }], a: null };
  const memo = new CanonicalMemo();
  const first = canonicalize(inner, memo);
  assert.equal(first, canonicalize(inner));
  const outer = { z: inner, y: [inner, { inner }] };
  assert.equal(canonicalize(outer, memo), canonicalize(outer), 'embedded again: the same text');
  // The memo is by identity: an equal but distinct object is written, not looked up.
  assert.equal(canonicalize({ z: { ...inner } }, memo), canonicalize({ z: inner }));
  // A subtree 500 deep, written once, then embedded 501 levels down: 1,001 levels is one too many.
  const nest = (n: number, v: unknown): unknown => {
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };
  const deep = nest(499, []);
  canonicalize(deep, memo);
  assert.ok(canonicalize(nest(MAX_CANONICAL_DEPTH - 500, deep), memo).length > 0, '1,000 levels pass');
  assert.throws(() => canonicalize(nest(MAX_CANONICAL_DEPTH - 499, deep), memo), (e: unknown) => isAttestError(e, 'ERR_JSON_TOO_DEEP') && (e as { path: string }).path === '[0]'.repeat(MAX_CANONICAL_DEPTH));
  assert.throws(() => canonicalize(nest(MAX_CANONICAL_DEPTH - 499, deep)), (e: unknown) => isAttestError(e, 'ERR_JSON_TOO_DEEP') && (e as { path: string }).path === '[0]'.repeat(MAX_CANONICAL_DEPTH), 'the same path without a memo');
});
