/**
 * The relay adds `_meta` members by splicing text: every other byte of the message must
 * arrive unchanged (integers beyond 2^53, number spellings, escapes, key order), and
 * nothing already present is replaced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addMeta } from '../../src/proxy/splice.js';
import { outcomeOf } from '../../src/proxy/relay.js';

const req = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"pay","arguments":{"amount":9007199254740993,"rate":1.50,"who":"\\u00e9\\/x","k":1,"k":2}}}';

test('adds params._meta.attestation and changes no other byte', () => {
  const out = addMeta(req, 'params', 'attestation', { a: 1 })!;
  assert.equal(out, req.replace('"params":{', '"params":{"_meta":{"attestation":{"a":1}},'));
});

test('adds into an existing _meta (also an empty one) and never replaces a member', () => {
  const withMeta = req.replace('"params":{', '"params":{ "_meta" : {"progressToken":3} ,');
  assert.equal(addMeta(withMeta, 'params', 'attestation', 1), withMeta.replace('{"progressToken":3}', '{"attestation":1,"progressToken":3}'));
  const empty = req.replace('"params":{', '"params":{"_meta":{ },');
  assert.equal(addMeta(empty, 'params', 'attestation', 1), empty.replace('"_meta":{ }', '"_meta":{"attestation":1 }'));
  const present = req.replace('"params":{', '"params":{"_meta":{"attestation":{"client":true}},');
  assert.equal(addMeta(present, 'params', 'attestation', 1), null);
});

test('finds members by their unescaped names, the last duplicate counting, inside nested text', () => {
  const tricky = '{"id":1,"result":{"content":[{"type":"text","text":"_meta: {\\"x\\"}"}],"\\u005fmeta":{"a":1}}}';
  assert.equal(addMeta(tricky, 'result', 'dev.mcp-attest/receipt', 'r'), tricky.replace('"\\u005fmeta":{', '"\\u005fmeta":{"dev.mcp-attest/receipt":"r",'));
  assert.equal(addMeta('{"id":1,"result":[]}', 'result', 'k', 1), null);
  assert.equal(addMeta('{"id":1,"error":{}}', 'result', 'k', 1), null);
});

test('outcomes: executed, tool error, JSON-RPC error, interim input_required, late answer to a cancelled call', () => {
  assert.deepEqual(outcomeOf({ id: 1, result: { content: [] } }).status, 'executed');
  assert.deepEqual(outcomeOf({ id: 1, result: { isError: true, content: [] } }).reason, 'tool_error');
  assert.deepEqual(outcomeOf({ id: 1, error: { code: -32601 } }), { status: 'errored', reason: 'jsonrpc_error', value: { error: { code: -32601 } } });
  assert.deepEqual(outcomeOf({ id: 1, result: { resultType: 'input_required' } }).reason, 'input_required');
  assert.deepEqual(outcomeOf({ id: 1, result: { content: [] } }, true), { status: 'executed', reason: 'cancelled', value: { content: [] } });
});

test('line framing keeps every byte, joins a line split over many chunks, and keeps the tail', async () => {
  const { LineSplitter } = await import('../../src/proxy/lines.js');
  const split = new LineSplitter();
  assert.deepEqual(split.push('{"a":1}\n{"b"'), ['{"a":1}']);
  assert.deepEqual(split.push(':2'), []);
  assert.deepEqual(split.push('}\r\n\n{"c"'), ['{"b":2}\r', '']);
  assert.equal(split.flush(), '{"c"');
  assert.equal(split.flush(), null);
});
