/**
 * Property (docs/wire.md §3): for random JSON-RPC messages and random single-byte mutations
 * of their bytes, whatever the gatekeeper would forward (the line `readMessage` accepts, and
 * for a `tools/call` one with a tool name, as the gate requires) is read identically by our
 * strict parser, `JSON.parse`, and the models of the Python and Go SDK readers
 * (test/support/lenient-readers.ts): one message, the same value, or (for a reader whose own
 * checks refuse it) no message at all. Never two messages, never another value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJson } from '../../src/jcs/index.js';
import { readMessage, writeMessage } from '../../src/proxy/message.js';
import { goSdkRead, pythonSdkRead } from '../support/lenient-readers.js';

const LIMITS = { maxBytes: 1 << 20, maxDepth: 128 };
const RUNS = Number(process.env['WIRE_PROPERTY_RUNS'] ?? 300);

// Strings and names that stress readers: line breaks of every convention, case variants,
// the Kelvin sign and long s, escapes, astral characters, lone surrogates.
const tricky = fc.constantFrom('name', 'Name', 'NAME', 'arguments', 'Arguments', '_meta', '_META', 'method', 'id', '\u212aey', 'key', '\u017fs', 'ss',
  'a\rb', 'a\u2028b', 'a\u0085b', 'caf\u00e9', '\ud834\udd1e', '\ud800', '\u0000', 'x"y', 'x\\y', '');
const text = fc.oneof(tricky, fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 6 }));
const number = fc.oneof(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.constantFrom(9007199254740991, 9.1e15, 1e20, 1e21, 1.5, 0.1, 1e-7));
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', maxDepth: 3 }, text, number, fc.boolean(), fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(text, tie('v'), { maxKeys: 3 })),
})).v;
const id = fc.oneof(fc.integer({ min: -1000, max: 2 ** 53 - 1 }), text);
const params = fc.record({ name: text, arguments: fc.dictionary(text, value, { maxKeys: 4 }), _meta: fc.dictionary(text, value, { maxKeys: 2 }) }, { requiredKeys: ['name'] });
const message = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.constantFrom('tools/call', 'ping', 'tools/list'), params }),
  fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constantFrom('notifications/cancelled', 'notifications/initialized'), params: fc.dictionary(text, value, { maxKeys: 2 }) }),
  fc.record({ jsonrpc: fc.constant('2.0'), id, result: fc.dictionary(text, value, { maxKeys: 3 }) }),
);
/** A single-byte change: replace, insert or delete one byte (often a structural one), or flip a letter's case. */
const mutation = fc.tuple(fc.constantFrom('replace', 'insert', 'delete', 'case'), fc.nat(),
  fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x20, 0x22, 0x5c, 0x00, 0xff, 0xef, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d)));

function mutate(bytes: Buffer, [kind, at, byte]: [string, number, number]): Buffer {
  const i = at % (bytes.length + 1);
  if (kind === 'insert') return Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
  if (i === bytes.length) return bytes;
  if (kind === 'delete') return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
  const out = Buffer.from(bytes);
  const c = out[i]!;
  out[i] = kind === 'replace' ? byte : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a ? c ^ 0x20 : c;
  return out;
}

/** What the gatekeeper forwards for these bytes, or null when it forwards nothing. */
function forwarded(bytes: Buffer): string | null {
  const r = readMessage(bytes, LIMITS);
  if (!r.ok) return null;
  const name = r.msg.params?.['name'];
  if (r.msg.method === 'tools/call' && (r.kind !== 'request' || typeof name !== 'string' || name === '')) return null;
  return writeMessage(r.msg);
}

/**
 * The strict reading projected onto what the Go SDK binds: a `tools/call`'s params are the
 * typed CallToolParamsRaw (`name`, `arguments`, `_meta`); other members have no field to
 * land in and are dropped (by every Go reader alike, so no call differs by them).
 */
function goView(strict: unknown): unknown {
  const m = strict as { method?: string; params?: Record<string, unknown> };
  if (m.method !== 'tools/call' || m.params === undefined) return strict;
  const bound = Object.fromEntries(Object.entries(m.params).filter(([k]) => k === 'name' || k === 'arguments' || k === '_meta'));
  return { ...m, params: bound };
}

/** One reader's view of the forwarded line agrees with the strict reading (or the reader refuses it). */
function agrees(reader: string, items: unknown[], strict: unknown): void {
  assert.ok(items.length <= 1, `${reader} read ${items.length} messages from one line`);
  const [item] = items as Array<{ unreadable?: boolean } | undefined>;
  if (item === undefined || item.unreadable === true) return;
  assert.deepStrictEqual(item, strict, `${reader} reads another value`);
}

test('whatever the gatekeeper forwards, every reader reads as the value it checked', () => {
  let forwardedCount = 0;
  fc.assert(fc.property(message, fc.array(mutation, { minLength: 1, maxLength: 8 }), (msg, mutations) => {
    const original = Buffer.from(JSON.stringify(msg), 'utf8');
    for (const m of [null, ...mutations]) {
      const line = forwarded(m === null ? original : mutate(original, m as [string, number, number]));
      if (line === null) continue;
      forwardedCount++;
      assert.match(line, /^[\x20-\x7e]*$/, 'one line of printable ASCII');
      const strict = parseJson(line, LIMITS);
      assert.deepStrictEqual(JSON.parse(line), strict, 'JSON.parse reads another value');
      const bytes = Buffer.from(line + '\n', 'utf8');
      agrees('the Python SDK', pythonSdkRead(bytes), strict);
      agrees('the Go SDK', goSdkRead(bytes), goView(strict));
    }
  }), { numRuns: RUNS });
  assert.ok(forwardedCount > RUNS, `enough forwarded lines were checked (${forwardedCount})`);
});
