/**
 * The streaming SSE reader (src/proxy/sse.ts) against the event-stream parsing rules of the
 * HTML standard: every line ending, any chunking, comments, multi-line data, event types, ids,
 * retry, the opening BOM; and the data of a long event never held by the reader itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseReader } from '../../src/proxy/sse.js';

interface Ev { type: string; id: string | null; data: string | null }

/** Parse `text` fed in chunks of `size` bytes (all of it at once when 0). */
function parse(text: string | Buffer, size = 0): { events: Ev[]; retries: number[] } {
  const events: Ev[] = [];
  const retries: number[] = [];
  let data: Buffer[] = [];
  const r = new SseReader({
    data: (b) => data.push(Buffer.from(b)),
    dispatch: (e) => {
      events.push({ type: e.type, id: e.id, data: e.hadData ? Buffer.concat(data).toString('utf8') : null });
      data = [];
    },
    retry: (ms) => retries.push(ms),
  });
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  if (size === 0) r.push(buf);
  else for (let i = 0; i < buf.length; i += size) r.push(buf.subarray(i, i + size));
  return { events, retries };
}

const STREAM = ': comment\nevent: message\nid: 7\ndata: {"a":\ndata:1}\nretry: 2500\n\ndata: x\n\nevent: ping\ndata: y\n\n';
const WANT: Ev[] = [
  { type: 'message', id: '7', data: '{"a":\n1}' },
  { type: 'message', id: '7', data: 'x' },
  { type: 'ping', id: '7', data: 'y' },
];

test('events, ids, types, comments and retry, in any chunking', () => {
  for (const size of [0, 1, 2, 3, 5, 7, 64]) {
    const got = parse(STREAM, size);
    assert.deepEqual(got.events, WANT, `chunks of ${size}`);
    assert.deepEqual(got.retries, [2500]);
  }
});

test('CRLF, CR and LF line endings read alike, even split between chunks', () => {
  for (const eol of ['\r\n', '\r', '\n']) {
    const text = STREAM.replaceAll('\n', eol);
    for (const size of [0, 1, 2, 3]) assert.deepEqual(parse(text, size).events, WANT, `${JSON.stringify(eol)} in chunks of ${size}`);
  }
});

test('a BOM opening the stream is skipped; one space after the colon is removed, not two', () => {
  const got = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('data:  two spaces\n\n')]));
  assert.deepEqual(got.events, [{ type: 'message', id: null, data: ' two spaces' }]);
});

test('a field without a colon, an empty data line, and an event without data', () => {
  assert.deepEqual(parse('data\ndata\n\n').events, [{ type: 'message', id: null, data: '\n' }]);
  assert.deepEqual(parse('event: x\n\n').events, [{ type: 'x', id: null, data: null }]);
  assert.deepEqual(parse('id\ndata: a\n\n').events, [{ type: 'message', id: '', data: 'a' }]);
});

test('an id holding NUL is ignored; an over-long field value is dropped; a bad retry is ignored', () => {
  assert.deepEqual(parse('id: 1\n\nid: a\0b\ndata: z\n\n').events.map((e) => e.id), ['1', '1']);
  assert.equal(parse(`event: ${'e'.repeat(5000)}\ndata: z\n\n`).events[0]!.type, 'message');
  assert.deepEqual(parse('retry: 1.5\nretry: x\n\n').retries, []);
});

test('data is handed on in pieces as it arrives: a long line is never gathered by the reader', () => {
  const pieces: number[] = [];
  const r = new SseReader({ data: (b) => pieces.push(b.length), dispatch: () => undefined });
  r.push(Buffer.from('data: '));
  for (let i = 0; i < 100; i++) r.push(Buffer.alloc(1000, 0x61));
  assert.equal(pieces.length, 100);
  assert.ok(pieces.every((n) => n === 1000));
});
