/**
 * The parser's memo (jcs/parse.ts): a container whose text is already canonical is kept with
 * that text; no other is. The property checked over a seeded sweep of texts (canonical ones,
 * and the same values written with whitespace, members out of order, escapes JCS does not
 * use, and numbers in other forms): every text the memo keeps is exactly what the
 * canonicalizer writes for that container, canonicalizing with the memo gives the bytes it
 * gives without one, and the value read is the platform parser's. Plus the RFC 8785 vectors' inputs, and the depth limit through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { canonicalize, CanonicalMemo, MAX_CANONICAL_DEPTH, parseJson, type JsonValue } from '../../src/jcs/index.js';
import { isAttestError } from '../../src/errors.js';
import { vectorUrl } from '../vectors.js';

/** A small seeded PRNG (mulberry32), so a failure names its case. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UNITS = ['a', 'z', 'A', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u001f', '\u007f', 'é', '\u2028', '€', '\ufffd', '😀', '𝄞', '_'];
const NUMBERS = [0, 1, -1, 7, 42, -42, 100, 1e21, 1e-7, 0.5, -0.25, 123456789, 2 ** 53 - 1, 3.14159, 1e300];

function randomString(r: () => number): string {
  let s = '';
  for (let n = Math.floor(r() * 5); n > 0; n--) s += UNITS[Math.floor(r() * UNITS.length)];
  return s;
}

function randomValue(r: () => number, depth: number): JsonValue {
  const k = r();
  if (depth > 4 || k < 0.35) {
    const p = r();
    if (p < 0.4) return randomString(r);
    if (p < 0.8) return NUMBERS[Math.floor(r() * NUMBERS.length)]!;
    return p < 0.87 ? true : p < 0.94 ? false : null;
  }
  if (k < 0.6) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, JsonValue> = {};
  for (let n = Math.floor(r() * 5); n > 0; n--) o[randomString(r)] = randomValue(r, depth + 1);
  return o;
}

/** The string written another way where one exists: `\u` escapes, `\/`, or as JCS writes it. */
function writeString(s: string, r: () => number): string {
  if (r() < 0.7) return canonicalize(s);
  let out = '"';
  for (const ch of s) {
    if (r() < 0.5) {
      // Each UTF-16 unit as \uXXXX, in lower or upper case hex.
      for (let i = 0; i < ch.length; i++) {
        const hex = ch.charCodeAt(i).toString(16).padStart(4, '0');
        out += `\\u${r() < 0.5 ? hex : hex.toUpperCase()}`;
      }
    } else if (ch === '/') out += '\\/';
    else out += canonicalize(ch).slice(1, -1);
  }
  return `${out}"`;
}

/** The number written another way where one exists (`1.0`, `1E0`, `10e-1`...), or as JCS writes it. */
function writeNumber(n: number, r: () => number): string {
  const p = r();
  if (p < 0.6) return String(n);
  if (p < 0.75) return n.toExponential();
  if (p < 0.9 && Number.isInteger(n) && Math.abs(n) < 1e15) return `${n}.0`;
  return `${String(n)}`.replace('e+', 'E');
}

/** `v` as JSON text with random whitespace, member order and token forms (any of them may happen to be canonical). */
function write(v: JsonValue, r: () => number): string {
  const ws = (): string => (r() < 0.1 ? [' ', '\n', '\t', '\r'][Math.floor(r() * 4)]! : '');
  if (typeof v === 'string') return writeString(v, r);
  if (typeof v === 'number') return writeNumber(v, r);
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${ws()}${v.map((x) => `${ws()}${write(x, r)}${ws()}`).join(',')}${ws()}]`;
  const names = Object.keys(v).sort();
  if (r() < 0.2) names.reverse();
  return `{${ws()}${names.map((k) => `${ws()}${writeString(k, r)}${ws()}:${ws()}${write(v[k]!, r)}${ws()}`).join(',')}${ws()}}`;
}

/** Every container in `v`, outermost first. */
function containers(v: JsonValue, out: object[] = []): object[] {
  if (v === null || typeof v !== 'object') return out;
  out.push(v);
  for (const x of Array.isArray(v) ? v : Object.values(v)) containers(x, out);
  return out;
}

/** Parses `text` with a memo and checks the property; returns how many containers the memo kept. */
function check(text: string, label: string): number {
  const memo = new CanonicalMemo();
  const value = parseJson(text, { maxDepth: 64 }, memo);
  // The values themselves are the platform parser's (escapes decoded alike).
  assert.deepEqual(value, JSON.parse(text), `${label}: the value read`);
  let kept = 0;
  for (const c of containers(value)) {
    const known = memo.texts.get(c);
    if (known === undefined) continue;
    kept++;
    assert.equal(known.text, canonicalize(c), `${label}: a kept text is the container's canonical text`);
  }
  assert.equal(canonicalize(value, memo), canonicalize(value), `${label}: the same bytes with the memo`);
  return kept;
}

test('texts already canonical are kept whole, with their heights; any other form is not kept', () => {
  const memo = new CanonicalMemo();
  const text = '{"a":[1,{"b":null}],"c":{},"d":"x\\u001fy"}';
  const v = parseJson(text, {}, memo) as Record<string, JsonValue>;
  assert.deepEqual(memo.texts.get(v), { text, height: 3 });
  assert.deepEqual(memo.texts.get(v['a'] as object), { text: '[1,{"b":null}]', height: 2 });
  assert.deepEqual(memo.texts.get(v['c'] as object), { text: '{}', height: 1 });
  for (const other of ['{"a":1 }', '{ "a":1}', '{"a" :1}', '{"a": 1}', '{"b":1,"a":2}', '{"a":1.0}', '{"a":1E2}', '{"a":"\\/"}', '{"a":"\\u0041"}', '{"a":"\\u001F"}', '{"a":[ ]}', '{"a":{"b":1,"a":1}}']) {
    const m = new CanonicalMemo();
    const o = parseJson(other, {}, m);
    assert.equal(m.texts.get(o as object), undefined, other);
    assert.equal(canonicalize(o, m), canonicalize(o), other);
  }
});

test('over 3,000 seeded texts: every kept text is the canonicalizer\'s, and the memo changes no byte', () => {
  let kept = 0;
  let texts = 0;
  for (let seed = 1; seed <= 1500; seed++) {
    const r = rng(seed);
    const v = randomValue(r, 0);
    kept += check(canonicalize(v), `seed ${seed}, canonical`);
    check(write(v, r), `seed ${seed}, rewritten`);
    texts += 2;
  }
  assert.ok(texts >= 3000 && kept > 1000, `the sweep reached the memo (${kept} texts kept)`);
});

test('the RFC 8785 vectors: each input\'s value canonicalizes the same with the memo its parse filled', () => {
  const dir = vectorUrl('jcs/input/');
  const names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(names.length >= 6);
  for (const name of names) {
    const text = readFileSync(new URL(name, dir), 'utf8');
    check(text, name);
    check(canonicalize(parseJson(text)), `${name}, canonical`);
  }
});

test('the depth limit holds for a value whose text the parser kept', () => {
  const memo = new CanonicalMemo();
  const deep = parseJson(`${'['.repeat(500)}${']'.repeat(500)}`, { maxDepth: 500 }, memo);
  assert.equal(memo.texts.get(deep as object)?.height, 500);
  let outer: JsonValue = deep;
  for (let i = 0; i < MAX_CANONICAL_DEPTH - 500; i++) outer = [outer];
  assert.ok(canonicalize(outer, memo).length > 0, '1,000 levels pass');
  assert.throws(() => canonicalize([outer], memo), (e: unknown) => isAttestError(e, 'ERR_JSON_TOO_DEEP'));
});
