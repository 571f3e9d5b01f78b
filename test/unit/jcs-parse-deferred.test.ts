/**
 * The strict parser with one array member deferred (`parseJsonDeferring`, `parseJsonSpan`),
 * as bundles are read: the deferred parse and its elements' parses accept exactly the texts
 * the whole parse accepts, with the same values, under the same depth and container limits,
 * over every prefix and single-unit mutation of documents chosen to trip a skipper (brackets,
 * commas and escaped quotes and backslashes inside strings, scalars, nesting); a failure of
 * the top-level pass is the whole parse's very error; an element's error names its path and
 * its offset in the whole text; the elements are counted, and only the first maxItems kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJson, parseJsonDeferring, parseJsonSpan, type ParseLimits } from '../../src/jcs/parse.js';
import type { JsonValue } from '../../src/jcs/types.js';
import { isAttestError } from '../../src/errors.js';

/** The value the deferred parse and its spans' parses give, the deferred member filled in; throws their first error. */
function deferredValue(text: string, limits: ParseLimits = {}, member = 'entries'): JsonValue {
  const { value, spans, containersLeft } = parseJsonDeferring(text, member, 1000, limits);
  let left = containersLeft;
  const items: JsonValue[] = [];
  for (let k = 0; k < spans.length; k += 2) {
    const r = parseJsonSpan(text, spans[k]!, spans[k + 1]!, `.${member}[${k / 2}]`, 2, { ...limits, maxContainers: left });
    left = r.containersLeft;
    items.push(r.value);
  }
  const o = value as Record<string, JsonValue>;
  if (Array.isArray(o?.[member]) && spans.length > 0) o[member] = items;
  return value;
}

/** `f()`'s value, or the error code it throws (any other throw fails the test). */
function outcome(f: () => JsonValue): { value: JsonValue } | { code: string } {
  try {
    return { value: f() };
  } catch (e) {
    assert.ok(isAttestError(e), `a raw error escaped: ${String(e)}`);
    return { code: e.code };
  }
}

/** `f()`'s error as code, message and path, or null when it returns. */
function errorOf(f: () => unknown): { code: string; message: string; path: unknown } | null {
  try {
    f();
    return null;
  } catch (e) {
    assert.ok(isAttestError(e));
    return { code: e.code, message: e.message, path: e.path };
  }
}

const DOCS = [
  '{"entries":[1,2,3]}',
  ' { "a" : [1, {"b": "]"}] , "entries" : [ {"x":"a]\\"}","y":[]} , [1,{"y":[[]]}], "s\\\\", -2.5e3, true ,null, "\\u005d,"], "b":[3] } ',
  '{"entries":[],"z":{"entries":[1]}}',
  '{"entries":[{"record":"{\\"a\\":\\"\\\\\\"]\\"}","salt":"AA=="},"\\ud83d\\ude00}"]}',
  '{"z":"entries","entries":["a","b\\\\\\"","c"],"entries2":[1]}',
];

test('a deferred parse and its elements\' parses give the whole parse\'s value', () => {
  for (const text of DOCS) assert.deepEqual(deferredValue(text), parseJson(text), text);
  // Only the top-level object's member is deferred: elsewhere the name is an ordinary member.
  const { spans } = parseJsonDeferring('{"z":{"entries":[1,2]},"entries":[3]}', 'entries', 10);
  assert.deepEqual(spans, [34, 35]);
});

test('every prefix and single-unit mutation: the deferred parse accepts exactly what the whole parse accepts, with the same value, under the same limits', () => {
  const units = ['"', '\\', '[', ']', '{', '}', ',', ':', ' ', '1', 'x', '\u0001'];
  const limitSets: ParseLimits[] = [{}, { maxDepth: 4 }, { maxContainers: 6 }, { maxDepth: 3, maxContainers: 9 }];
  let checked = 0;
  for (const doc of DOCS) {
    const texts = new Set<string>();
    for (let i = 0; i <= doc.length; i++) {
      texts.add(doc.slice(0, i));
      texts.add(doc.slice(0, i) + doc.slice(i + 1));
      for (const u of units) {
        texts.add(doc.slice(0, i) + u + doc.slice(i));
        texts.add(doc.slice(0, i) + u + doc.slice(i + 1));
      }
    }
    for (const text of texts) {
      for (const limits of limitSets) {
        const whole = outcome(() => parseJson(text, limits));
        const deferred = outcome(() => deferredValue(text, limits));
        assert.equal('value' in deferred, 'value' in whole, `${JSON.stringify(text)} ${JSON.stringify(limits)}: whole ${JSON.stringify(whole)}, deferred ${JSON.stringify(deferred)}`);
        if ('value' in whole && 'value' in deferred) assert.deepEqual(deferred.value, whole.value, JSON.stringify(text));
        // A failure of the top-level pass is the whole parse's very error.
        const top = errorOf(() => parseJsonDeferring(text, 'entries', 1000, limits));
        if (top !== null) assert.deepEqual(top, errorOf(() => parseJson(text, limits)), JSON.stringify(text));
        checked++;
      }
    }
  }
  assert.ok(checked > 10_000, `${checked} texts checked`);
});

test('a bracket missing in an element is reported where the whole parse reports it, not where the skipping ends', () => {
  const text = `{"entries":[{"a":[,"b":1},${'{"c":2},'.repeat(50)}3],"z":[]}`;
  const e = errorOf(() => parseJsonDeferring(text, 'entries', 1000));
  assert.deepEqual(e, errorOf(() => parseJson(text)));
  assert.match(e!.message, /offset 18\)/);
});

test('an error inside an element is found when that element is parsed, with its path and its offset in the whole text', () => {
  const text = '{"entries":[1, {"a":[true, 01]}]}';
  const { spans } = parseJsonDeferring(text, 'entries', 10);
  assert.equal(spans.length, 4, 'the top-level parse skips the element');
  assert.throws(() => parseJsonSpan(text, spans[2]!, spans[3]!, '.entries[1]', 2, {}), (e) => {
    assert.ok(isAttestError(e, 'ERR_JSON_SYNTAX'));
    assert.equal(e.path, '.entries[1].a[1]');
    assert.match(e.message, new RegExp(`offset ${text.indexOf('01')}\\)`));
    return true;
  });
  assert.throws(() => parseJson(text), (e) => isAttestError(e, 'ERR_JSON_SYNTAX') && e.path === '.entries[1].a[1]');
});

test('the elements are counted, the spans of the first maxItems kept; a missing element or an unterminated string is ERR_JSON_SYNTAX in the top-level parse', () => {
  assert.equal(parseJsonDeferring('{"entries":[1,2,3]}', 'entries', 3).spans.length, 6);
  const over = parseJsonDeferring('{"entries":[1,2,3,4,5]}', 'entries', 3);
  assert.equal(over.count, 5);
  assert.equal(over.spans.length, 6);
  for (const text of ['{"entries":[1,]}', '{"entries":[,1]}', '{"entries":[1 2]}', '{"entries":["a]}', '{"entries":[1', '{"entries":[{"a":[1]}']) {
    assert.throws(() => parseJsonDeferring(text, 'entries', 10), (e) => isAttestError(e, 'ERR_JSON_SYNTAX'), text);
  }
});
