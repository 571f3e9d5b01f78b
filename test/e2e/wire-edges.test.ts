/**
 * Wire edges of the relay: a `tools/call` whose method is spelled with a JSON escape is still
 * attested; the request and the result reach the other side as the value that was read,
 * re-serialized (docs/wire.md), plus the added `_meta` member; an interim
 * `input_required` result is receipted as such; two proxies started at once on a new data
 * directory both come up (one initializes it, the other waits for it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawPeer, codes, exportTrust, logShow, rawServer, readLog, scope, verify, waitCheckpointed, waitFor } from './helpers.js';
import { writeMessage } from '../../src/proxy/message.js';

test('an escaped tools\\/call is attested; the upstream reads the value that was attested, re-serialized', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv, ['--attach', 'always']);
  const reply = '{"jsonrpc":"2.0","id":$ID,"result":{"content":[{"type":"text","text":"\\u00e9"}],"n":"9007199254740993","f":1.50}}';
  const sent = peer.send(`{"jsonrpc":"2.0","id":5,"method":"tools\\/call","params":{"name":"raw","arguments":{"line":${JSON.stringify(reply)},"big":"9007199254740993","rate":1.50}}}`);
  const got = await peer.response(5);
  const upstream = await waitFor('call upstream', () => raw.received().find((l) => l.includes('"id":5')));
  const forwarded = JSON.parse(sent) as { params: { _meta?: Record<string, unknown> } };
  const attestation = (JSON.parse(upstream) as { params: { _meta: { attestation: unknown } } }).params._meta.attestation;
  assert.ok(attestation, 'the upstream got an attestation');
  forwarded.params._meta = { attestation };
  assert.equal(upstream, writeMessage(forwarded as never));
  assert.ok(upstream.includes('"method":"tools/call"') && upstream.includes('"rate":1.5}'));
  const answered = JSON.parse(reply.replace('$ID', '5')) as { result: { _meta?: Record<string, unknown> } };
  const ref = (JSON.parse(got) as { result: { _meta: Record<string, unknown> } }).result._meta['dev.mcp-attest/receipt'];
  answered.result._meta = { 'dev.mcp-attest/receipt': ref };
  assert.equal(got, writeMessage(answered as never));
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);
  assert.equal(readLog(s.home).records, 2);
});

test('an interim input_required result is receipted as errored/input_required; the log verifies', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv);
  const reply = '{"jsonrpc":"2.0","id":$ID,"result":{"resultType":"input_required","inputRequests":{"r1":{"method":"elicitation/create","params":{}}}}}';
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'raw', arguments: { line: reply } } });
  await peer.response(1);
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);
  assert.deepEqual(logShow(s.home).map((r) => `${r.status}/${r.reason}`), ['errored/input_required']);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0);
  assert.deepEqual([report.unanswered, codes(report, 'notice')], [0, ['NOTE_UNWITNESSED']]);
});

test('two proxies started at once on a new data directory both serve and share one log', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peers = [RawPeer.proxy(s, raw.argv), RawPeer.proxy(s, raw.argv)];
  peers.forEach((p, i) => p.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'meta', arguments: { i } } }));
  await Promise.all(peers.map((p, i) => p.response(i)));
  for (const p of peers) p.proc.stdin.end();
  assert.deepEqual(await Promise.all(peers.map((p) => p.exited)), [0, 0]);
  await waitCheckpointed(s.home, 4);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.equal(report.calls, 2);
});

test('tools/call messages that could not be receipted are refused, never forwarded unrecorded', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv, ['--attach', 'always']);
  peer.send({ jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: 'meta', arguments: {} } });
  peer.send({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'meta', arguments: {} } });
  peer.send([{ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'meta', arguments: {} } }]);
  peer.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'hang', arguments: {} } });
  peer.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'meta', arguments: {} } });
  const dup = JSON.parse(await peer.response(9)) as { error?: { code: number } };
  assert.equal(dup.error?.code, -32600);
  const nullId = await peer.line('null id refusal', (m) => m['id'] === null && (m['error'] as { code?: number } | undefined)?.code === -32600);
  assert.ok(nullId);
  peer.proc.stdin.end();
  await peer.exited;
  const calls = raw.received().filter((l) => l.includes('tools/call'));
  assert.equal(calls.length, 1, 'only the first id-9 call reached the upstream');
  assert.ok(calls[0]!.includes('"hang"') && calls[0]!.includes('"attestation"'));
});
