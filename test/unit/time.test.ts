/**
 * Envelope timestamps (envelope/time.ts): the parser agrees with the platform's own date
 * arithmetic (Date.parse, then formatted back and compared) on every kind of input: valid
 * instants across the whole 0000-9999 range, dates past their month's end, out-of-range
 * fields, leap days and leap seconds, and forms other than `YYYY-MM-DDTHH:MM:SSZ`; the
 * formatter agrees with the platform's ISO form on every second it is given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimestamp, parseTimestamp } from '../../src/envelope/time.js';
import { isAttestError } from '../../src/errors.js';

/** The reference: what Date.parse makes of the text, kept only when formatting it gives the text back. */
function reference(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') === text ? ms / 1000 : null;
}

function ours(text: string): number | null {
  try {
    return parseTimestamp(text);
  } catch (e) {
    assert.ok(isAttestError(e, 'ERR_TIME_INVALID'), text);
    return null;
  }
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

test('agrees with Date on 200,000 seeded field combinations, valid and out of range', () => {
  let a = 7;
  const next = (n: number): number => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a % n;
  };
  let valid = 0;
  for (let i = 0; i < 200_000; i++) {
    const text = `${pad(next(10000), 4)}-${pad(next(14), 2)}-${pad(next(33), 2)}T${pad(next(26), 2)}:${pad(next(62), 2)}:${pad(next(62), 2)}Z`;
    const want = reference(text);
    assert.equal(ours(text), want, text);
    if (want !== null) valid++;
  }
  assert.ok(valid > 50_000 && valid < 200_000, `both kinds reached (${valid} valid)`);
});

test('edges: the ends of the range, leap days, month ends, 24:00 and leap seconds, other forms', () => {
  const cases = [
    '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '1969-12-31T23:59:59Z',
    '2000-02-29T12:00:00Z', '1900-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '0000-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z', '2026-12-31T00:00:00Z', '2026-00-10T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z', '2026-06-30T23:59:60Z', '2026-01-01T00:60:00Z',
    '2026-01-01t00:00:00Z', '2026-01-01T00:00:00z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00+00:00', '+02026-01-01T00:00:00Z', ' 2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z\n', '２０２６-01-01T00:00:00Z',
  ];
  for (const text of cases) assert.equal(ours(text), reference(text), text);
  assert.equal(parseTimestamp('2026-05-26T12:00:00Z'), Date.UTC(2026, 4, 26, 12) / 1000);
  for (const t of [0, -62167219200, 253402300799, 1_800_000_000]) assert.equal(parseTimestamp(formatTimestamp(t)), t);
  assert.throws(() => parseTimestamp(1_800_000_000), (e: unknown) => isAttestError(e, 'ERR_TIME_INVALID'));
});

test('formatting agrees with the platform\'s ISO form: 200,000 seeded instants over 0000-9999, each day\'s ends, fractions, and outside the range', () => {
  const iso = (t: number): string => new Date(Math.floor(t) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let a = 11;
  const next = (): number => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 2 ** 32;
  };
  const first = -62167219200;
  const end = 253402300800;
  for (let i = 0; i < 200_000; i++) {
    const t = Math.floor(first + next() * (end - first));
    assert.equal(formatTimestamp(t), iso(t), String(t));
  }
  for (const t of [first, first + 1, end - 1, -1, 0, 1, 86399, 86400, 951782400, 951868799, 1_800_000_000.9, -0.5, 4107542400, 13574563200]) {
    assert.equal(formatTimestamp(t), iso(t), String(t));
  }
  // Outside 0000-9999: the platform's form, which the parser refuses.
  for (const t of [first - 1, end, -1e12, 1e12]) {
    assert.equal(formatTimestamp(t), iso(t), String(t));
    assert.equal(ours(formatTimestamp(t)), null, String(t));
  }
  assert.throws(() => formatTimestamp(NaN), RangeError);
});
