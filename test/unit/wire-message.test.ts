/**
 * The relays' reading of one line (src/proxy/message.ts) and their framing of a byte stream
 * (src/proxy/frames.ts): what is accepted, what is refused with which code, what the
 * re-serialization looks like, and that an over-long line is never held, nor the ids it repeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readMessage, writeMessage, lenientRef, type ReadResult } from '../../src/proxy/message.js';
import { FrameReader, IdSniffer } from '../../src/proxy/frames.js';
import { outcomeOf } from '../../src/proxy/relay.js';

const LIMITS = { maxBytes: 1 << 20, maxDepth: 16 };
const read = (s: string | Uint8Array): ReadResult => readMessage(typeof s === 'string' ? Buffer.from(s, 'utf8') : s, LIMITS);
const code = (s: string | Uint8Array): string => { const r = read(s); return r.ok ? 'ok' : r.code; };
const call = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pay","arguments":{"to":"bob"}}}';

test('the three JSON-RPC shapes are read and classified', () => {
  assert.deepEqual((read(call) as { kind: string }).kind, 'request');
  assert.deepEqual((read('{"jsonrpc":"2.0","method":"notifications/initialized"}') as { kind: string }).kind, 'notification');
  assert.deepEqual((read('{"jsonrpc":"2.0","id":"a","result":{}}') as { kind: string }).kind, 'response');
  assert.deepEqual((read('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}') as { kind: string }).kind, 'response');
  assert.equal(code(call + '\r'), 'ok', 'CRLF framing: the CR is JSON whitespace');
});

test('bytes other readers read differently are refused, each with its code', () => {
  const cases: Array<[string | Uint8Array, string]> = [
    [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(call)]), 'ERR_JSON_SYNTAX'], // BOM
    [Buffer.from(call.replace('bob', 'b\xffb'), 'latin1'), 'ERR_ENCODING_INVALID'],
    [call.replace('"bob"', '"b\u0000b"'), 'ERR_JSON_SYNTAX'], // raw NUL
    [call.replace('"bob"', 'NaN'), 'ERR_JSON_SYNTAX'],
    [call.replace('"bob"', 'Infinity'), 'ERR_JSON_SYNTAX'],
    [call + call, 'ERR_JSON_SYNTAX'], // two values on one line
    [call + '\r' + call, 'ERR_JSON_SYNTAX'], // two messages to a universal-newline reader
    [call.replace('"to":"bob"', '"to":"bob","to":"eve"'), 'ERR_JSON_DUPLICATE_KEY'],
    [call.replace('"bob"', '9007199254740993'), 'ERR_JSON_NUMBER'],
    [call.replace('"bob"', '"\\ud800"'), 'ERR_JSON_LONE_SURROGATE'],
    [call.replace('"bob"', '9.1e15'), 'ERR_JSON_NUMBER'], // re-serialized: an integer token beyond 2^53
    [call.replace('"to":"bob"', '"to":"bob","TO":"eve"'), 'ERR_WIRE_AMBIGUOUS'],
    [call.replace('"to":"bob"', '"sk":"bob","\u017fk":"eve"'), 'ERR_WIRE_AMBIGUOUS'], // long s folds to s
    [call.replace('"name":"pay"', '"name":"pay","Arguments":{}'), 'ERR_WIRE_AMBIGUOUS'],
    [call.replace('"method"', '"METHOD":"ping","method"'), 'ERR_WIRE_MALFORMED'],
    [call.replace('"jsonrpc":"2.0",', ''), 'ERR_WIRE_MALFORMED'],
    [call.replace('"id":1', '"id":null'), 'ERR_WIRE_MALFORMED'],
    [call.replace('"id":1', '"id":1.5'), 'ERR_WIRE_MALFORMED'],
    [call.replace('"params":{', '"result":{},"params":{'), 'ERR_WIRE_MALFORMED'],
    ['{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}', 'ERR_WIRE_MALFORMED'],
    ['{"jsonrpc":"2.0","id":1,"result":[]}', 'ERR_WIRE_MALFORMED'],
    ['{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}', 'ERR_WIRE_MALFORMED'],
    [`[${call}]`, 'ERR_WIRE_MALFORMED'], // batch
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call"}', 'ERR_WIRE_MALFORMED'], // a call needs params
    [call.replace('"id":1', `"id":"${'i'.repeat(257)}"`), 'ERR_WIRE_MALFORMED'], // an id is a handle, not a payload
    [call.replace('"to":"bob"', '"__proto__":{"admin":true}'), 'ERR_WIRE_AMBIGUOUS'],
    ['{"jsonrpc":"2.0","id":1,"result":{"content":[],"ISERROR":true}}', 'ERR_WIRE_AMBIGUOUS'], // Go reads isError
    [call.replace('"tools/call"', '"Tools/call"'), 'ERR_WIRE_AMBIGUOUS'], // a loose upstream would run it unattested, ungated
    [call.replace('"tools/call"', '"tools/call "'), 'ERR_WIRE_AMBIGUOUS'],
    [call.replace('"tools/call"', '"TOOLS/LIſT"'), 'ERR_WIRE_AMBIGUOUS'], // long s folds to s
    ['{"jsonrpc":"2.0","method":"Notifications/Cancelled","params":{"requestId":1}}', 'ERR_WIRE_AMBIGUOUS'],
    ['"just a string"', 'ERR_WIRE_MALFORMED'],
    ['{"jsonrpc":"2.0","id":1,"method":"x","params":' + '{"a":'.repeat(20) + '1' + '}'.repeat(21), 'ERR_JSON_TOO_DEEP'],
    [call.replace('"bob"', JSON.stringify('x'.repeat(1 << 20))), 'ERR_JSON_TOO_LARGE'],
  ];
  for (const [line, want] of cases) assert.equal(code(line), want, typeof line === 'string' ? line.slice(0, 120) : '(bytes)');
});

test('a valid message with a very large array is read (no call-stack limit on its size)', () => {
  assert.equal(code(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[${'0,'.repeat(200_000)}0]}}`), 'ok');
});

test('the re-serialization is printable ASCII, one line, and reads back to the same value', () => {
  const text = '{"jsonrpc":"2.0","id":2,"method":"x","params":{"s":"é\u2028\u0085\u2029𝄞\u007f\\n","n":1.50,"e":1E3}}';
  const r = read(text);
  assert.ok(r.ok);
  const out = writeMessage(r.msg);
  assert.match(out, /^[\x20-\x7e]+$/);
  assert.deepEqual(JSON.parse(out), JSON.parse(text));
  assert.ok(out.includes('"n":1.5,"e":1000'), 'ECMAScript number spelling, as JCS');
  assert.ok(out.includes('\\u00e9\\u2028\\u0085\\u2029\\ud834\\udd1e\\u007f\\n'));
});

test('a line otherwise ASCII is written as it is, but for a DEL (U+007F), which is escaped', () => {
  const cases: Array<[string, string]> = [
    ['{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"plain ~ text"}}', '{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"plain ~ text"}}'],
    ['{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"a\u007fb"}}', '{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"a\\u007fb"}}'],
    ['{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"a\u0080b"}}', '{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"a\\u0080b"}}'],
  ];
  for (const [text, want] of cases) {
    const r = read(text);
    assert.ok(r.ok);
    assert.equal(writeMessage(r.msg), want);
  }
});

test('the lenient reading only addresses an error: an id (a string or a safe integer) and whether it is a request', () => {
  assert.deepEqual(lenientRef(Buffer.from('{"id":7,"method":NaN}')), { id: null, request: false });
  assert.deepEqual(lenientRef(Buffer.from('{"id":7,"id":8,"method":"x"}')), { id: 8, request: true });
  assert.deepEqual(lenientRef(Buffer.from('{"id":"a","result":{}}')), { id: 'a', request: false });
  assert.deepEqual(lenientRef(Buffer.from('{"id":{"x":1}}')), { id: null, request: false });
  assert.deepEqual(lenientRef(Buffer.from(JSON.stringify({ id: 'x'.repeat(257) }))), { id: null, request: false });
});

test('framing: lines split on LF only, every other byte kept, a line in many chunks joined', () => {
  const f = new FrameReader(64);
  assert.deepEqual(f.push(Buffer.from('{"a":1}\r\n{"b"')).map((x) => 'line' in x && x.line.toString()), ['{"a":1}\r']);
  assert.deepEqual(f.push(Buffer.from(':2}\r{"c":3}\n\n')).map((x) => 'line' in x && x.line.toString()), ['{"b":2}\r{"c":3}', '']);
  f.push(Buffer.from('tail'));
  const tail = f.flush();
  assert.ok(tail !== null && 'line' in tail && tail.line.toString() === 'tail');
  assert.equal(f.flush(), null);
});

test('framing: a line over the cap is reported with its size, digest and id, never held', () => {
  const f = new FrameReader(100);
  const big = `{"jsonrpc":"2.0","method":"tools/call","params":{"x":"${'y'.repeat(1000)}"},"id":"late-id"}`;
  const frames = [];
  for (let i = 0; i < big.length; i += 7) frames.push(...f.push(Buffer.from(big.slice(i, i + 7))));
  frames.push(...f.push(Buffer.from('\n{"ok":1}\n')));
  assert.equal(frames.length, 2);
  const over = frames[0]!;
  assert.ok('oversize' in over);
  assert.deepEqual(over.oversize, { size: big.length, digest: 'sha256:' + createHash('sha256').update(big).digest('hex'), id: 'late-id', request: true });
  assert.ok('line' in frames[1]! && frames[1].line.toString() === '{"ok":1}');
  assert.ok((f as unknown as { held: number }).held === 0);
});

test('the id sniffer finds only a single top-level id', () => {
  const sniff = (s: string): unknown => { const x = new IdSniffer(); x.feed(Buffer.from(s)); return x.id(); };
  assert.equal(sniff('{"result":{"id":9,"x":"\\"id\\":3"},"id" : 12}'), 12);
  assert.equal(sniff('{"id":1,"id":2}'), null);
  assert.equal(sniff('{"params":{"id":1}}'), null);
  assert.equal(sniff('{"id":"s\\"q"}'), 's"q');
  assert.equal(sniff(`{"id":"${'z'.repeat(500)}"}`), null);
  // An over-long line of a million ids (a hostile peer's): none kept past the second, the id ambiguous.
  const flood = new IdSniffer();
  flood.feed(Buffer.from('{"jsonrpc":"2.0"'));
  const chunk = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `,"id":${i}`).join(''));
  for (let k = 0; k < 100; k++) flood.feed(chunk);
  flood.feed(Buffer.from('}'));
  assert.equal((flood as unknown as { found: Set<string> }).found.size, 2);
  assert.equal(flood.id(), null);
});

test('outcomes: executed, tool error, JSON-RPC error, interim input_required, a task handle, late answer to a cancelled call', () => {
  const handle = { task: { taskId: 't1', status: 'working', createdAt: '2026-12-07T00:00:00Z', ttl: 60000 } };
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, result: handle }, false, true), { status: 'errored', reason: 'task_created', value: handle });
  // Only to a task-augmented call: an upstream cannot turn a plain call's answer into a "task".
  assert.equal(outcomeOf({ jsonrpc: '2.0', id: 1, result: handle }).status, 'executed');
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, result: { content: [] } }).status, 'executed');
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, result: { isError: true, content: [] } }).reason, 'tool_error');
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'm' } }), { status: 'errored', reason: 'jsonrpc_error', value: { error: { code: -32601, message: 'm' } } });
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, result: { resultType: 'input_required' } }).reason, 'input_required');
  assert.deepEqual(outcomeOf({ jsonrpc: '2.0', id: 1, result: { content: [] } }, true), { status: 'executed', reason: 'cancelled', value: { content: [] } });
});
