/**
 * The stdio relay end to end: the official SDK client -> `mcp-attest proxy` -> the real
 * `server-everything` (and `server-filesystem`) answer exactly as they do directly (plus
 * the receipt reference), and the log left behind verifies. A recording raw server shows what the
 * upstream receives: the attestation at `params._meta.attestation`, modern (2026-07-28)
 * traffic without `initialize` passed byte for byte, server->client requests, cancellation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeMessage } from '../../src/proxy/message.js';
import { CallToolResultSchema, CreateMessageRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  FILESYSTEM, RECEIPT_KEY, RawPeer, codes, connect, connectDirect, connectProxied, exportTrust, initializeRequest, logShow, rawServer,
  readLog, scope, stripReceipt, verify, waitCheckpointed, waitFor,
} from './helpers.js';

const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'sampled reply' }, model: 'e2e-model', stopReason: 'endTurn' } as const;

const CALLS: Array<{ name: string; arguments: Record<string, unknown> }> = [
  { name: 'echo', arguments: { message: 'héllo ✓ "quoted"' } },
  { name: 'get-sum', arguments: { a: 2, b: 40 } },
  { name: 'get-structured-content', arguments: { location: 'Chicago' } },
  { name: 'get-annotated-message', arguments: { messageType: 'success', includeImage: true } },
  { name: 'get-tiny-image', arguments: {} },
  { name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } }, // server->client request mid-call
  { name: 'no-such-tool', arguments: {} }, // a tool error (isError result)
];

test('server-everything answers through the proxy exactly as directly, and the log verifies', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const caps = { sampling: {} };
  const direct = await connectDirect(s, caps);
  const proxied = await connectProxied(s, undefined, ['--checkpoint-ms', '200'], caps);
  for (const c of [direct.client, proxied.client]) c.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED);

  const listed = await proxied.client.listTools();
  assert.deepEqual(listed, await direct.client.listTools());
  assert.ok(listed.tools.some((x) => x.name === 'trigger-sampling-request'), 'sampling capability reached the server');

  for (const call of CALLS) {
    const want = await direct.client.callTool(call);
    const got = await proxied.client.callTool(call);
    const ref = (got._meta as Record<string, Record<string, string>> | undefined)?.[RECEIPT_KEY];
    assert.ok(ref && ref['callId'] && ref['attestationIndex'] && ref['receiptIndex'], `${call.name}: receipt reference`);
    assert.deepEqual(stripReceipt(got), want, call.name);
  }
  const unknown = await proxied.client.callTool({ name: 'no-such-tool', arguments: {} });
  assert.equal(unknown.isError, true);

  // A tools/call without a tool name: the server rejects it at the JSON-RPC level; the
  // proxy refuses it itself (invalid params), so it is neither forwarded nor logged.
  const bad = { method: 'tools/call', params: { arguments: {} } } as never;
  await assert.rejects(direct.client.request(bad, CallToolResultSchema), /-32603|invalid/i);
  await assert.rejects(proxied.client.request(bad, CallToolResultSchema), /-32602.*without a tool name/);

  // Progress notifications pass through with the caller's token (compared as received on
  // the wire: the SDK may drop a last one that arrives in the same chunk as the result).
  const long = { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } };
  const wantLong = await direct.client.callTool(long, undefined, { onprogress: () => undefined });
  const gotLong = await proxied.client.callTool(long, undefined, { onprogress: () => undefined });
  assert.deepEqual(stripReceipt(gotLong), wantLong);
  const progressOf = (msgs: Array<Record<string, unknown>>) => msgs.filter((m) => m['method'] === 'notifications/progress')
    .map((m) => m['params'] as { progressToken: unknown; progress: number; total: number });
  const [pd, pp] = [progressOf(direct.received), progressOf(proxied.received)];
  assert.deepEqual(pp.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
  assert.deepEqual(pp.map((p) => [p.progress, p.total]), pd.map((p) => [p.progress, p.total]));
  assert.equal(new Set(pp.map((p) => p.progressToken)).size, 1);
  assert.notEqual(pp[0]!.progressToken, undefined);

  await proxied.client.close();
  const n = CALLS.length + 2;
  await waitCheckpointed(s.home, 2 * n);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.equal(report.verified, true);
  assert.deepEqual([report.size, report.checkpointSize, report.calls, report.receipts, report.unanswered, report.inFlight], [String(2 * n + 1), String(2 * n + 1), n, n, 0, 0]);
  assert.deepEqual(codes(report), []);

  const rows = logShow(s.home);
  assert.deepEqual(rows.map((r) => r.tool), [...CALLS.map((c) => c.name), 'no-such-tool', long.name]);
  assert.ok(rows.every((r) => r.server === 'mcp-servers/everything' && r.receipt_idx !== null));
  const statuses = rows.map((r) => `${r.status}/${r.reason ?? '-'}`);
  assert.deepEqual(statuses, [...Array(6).fill('executed/-'), 'errored/tool_error', 'errored/tool_error', 'executed/-']);
});

test('server-filesystem through the proxy: same tools and reads as directly, writes happen once', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const data = join(realpathSync(s.dir), 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'note.txt'), 'first line\nsecond line\n');
  const direct = await connect(s, process.execPath, [FILESYSTEM, data]);
  const proxied = await connectProxied(s, [FILESYSTEM, data]);
  assert.deepEqual(await proxied.client.listTools(), await direct.client.listTools());
  const reads = [
    { name: 'list_allowed_directories', arguments: {} },
    { name: 'read_text_file', arguments: { path: join(data, 'note.txt'), head: 1 } },
    { name: 'read_text_file', arguments: { path: '/etc/hostname' } }, // outside the allowed directory: a tool error
  ];
  for (const call of reads) assert.deepEqual(stripReceipt(await proxied.client.callTool(call)), await direct.client.callTool(call), call.name);
  const wrote = await proxied.client.callTool({ name: 'write_file', arguments: { path: join(data, 'out.txt'), content: 'written through the proxy' } });
  assert.notEqual(wrote.isError, true);
  assert.equal(readFileSync(join(data, 'out.txt'), 'utf8'), 'written through the proxy');

  await proxied.client.close();
  await waitCheckpointed(s.home, 8);
  assert.deepEqual(logShow(s.home).map((r) => [r.server, r.tool, r.status]), [
    ['secure-filesystem-server', 'list_allowed_directories', 'executed'], ['secure-filesystem-server', 'read_text_file', 'executed'],
    ['secure-filesystem-server', 'read_text_file', 'errored'], ['secure-filesystem-server', 'write_file', 'executed'],
  ]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.calls, report.receipts, report.unanswered], [4, 4, 0]);
});

test('the upstream receives the attestation that was logged, at params._meta.attestation', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  // The raw server advertises no attestation extension: --attach always puts it on the wire anyway.
  const { client } = await connectProxied(s, raw.argv, ['--attach', 'always']);
  const meta = { 'dev.mcp-attest/intent': 'e2e: read the weather', 'vendor.example/trace': 'abc' };
  const result = (await client.callTool({ name: 'meta', arguments: { city: 'Oslo' }, _meta: meta })) as CallToolResult;
  const seen = (result.structuredContent as { seen: Record<string, unknown> }).seen;
  assert.equal(seen['vendor.example/trace'], 'abc');
  assert.equal(seen['dev.mcp-attest/intent'], meta['dev.mcp-attest/intent']);

  const ref = (result._meta as Record<string, Record<string, string>>)[RECEIPT_KEY]!;
  const { entries } = readLog(s.home);
  const record = entries[Number(ref['attestationIndex'])]!;
  assert.equal(record['callId'], ref['callId']);
  assert.deepEqual(seen['attestation'], record['attestation']);
  assert.equal((record['attestation'] as { plannerDeclared: { intent: string } }).plannerDeclared.intent, meta['dev.mcp-attest/intent']);
  assert.equal((record['server'] as { name: string }).name, 'raw-recorder');

  // What the upstream received is the client's request plus the attestation, nothing else.
  const line = raw.received().find((l) => l.includes('"tools/call"'))!;
  const sent = JSON.parse(line) as { params: { _meta: Record<string, unknown>; name: string; arguments: unknown } };
  assert.deepEqual(Object.keys(sent.params._meta), [...Object.keys(meta), 'attestation']);
  assert.deepEqual([sent.params.name, sent.params.arguments], ['meta', { city: 'Oslo' }]);
});

test('modern wire traffic (no initialize) passes member for member, re-serialized, plus the added _meta', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv, ['--attach', 'always']);
  const modern = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  // The relay writes what it read, as writeMessage serializes it (docs/wire.md).
  const canonical = (text: string): string => writeMessage(JSON.parse(text) as never);

  // Not a tools/call: relayed with every member, odd spacing, escapes and number spellings normalized.
  const discover = `{"jsonrpc":"2.0", "id":1,"method":"server/discover","params":{"_meta":${JSON.stringify(modern)},"x-unknown":[1, 2.50, "\\u00e9", "12345678901234567890"]}}`;
  peer.send(discover);
  await peer.response(1);
  await waitFor('discover upstream', () => raw.received().includes(canonical(discover)));

  // tools/call: the upstream gets the sent message plus the attestation in _meta, nothing else.
  const reply = `{"jsonrpc":"2.0","id":$ID,"result":{"resultType":"complete","content":[{"type":"text","text":"r","x-block":{"b":1,"a":[true,null]}}],"x-top":{"k":"v"},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"raw","version":"1"}}}}`;
  const call = { jsonrpc: '2.0', id: 'c-2', method: 'tools/call', params: { name: 'raw', arguments: { line: reply }, 'x-extra': { keep: [1, 'two'] }, _meta: { ...modern, 'vendor.example/trace': 'abc' } } };
  const sent = peer.send(call);
  const got = await peer.response('c-2');
  const upstream = raw.received().find((l) => l.includes('"c-2"'))!;
  const attestation = (JSON.parse(upstream) as { params: { _meta: { attestation: unknown } } }).params._meta.attestation;
  const forwarded = JSON.parse(sent) as typeof call & { params: { _meta: Record<string, unknown> } };
  forwarded.params._meta['attestation'] = attestation;
  assert.equal(upstream, writeMessage(forwarded as never));
  // ... and the client gets the upstream's answer with the receipt reference added to _meta.
  const ref = (JSON.parse(got) as { result: { _meta: Record<string, unknown> } }).result._meta[RECEIPT_KEY];
  const answered = JSON.parse(reply.replace('$ID', '"c-2"')) as { result: { _meta: Record<string, unknown> } };
  answered.result._meta[RECEIPT_KEY] = ref;
  assert.equal(got, writeMessage(answered as never));
  const record = readLog(s.home).entries[1]!;
  assert.equal(record['requestDigest'], 'sha256:' + createHash('sha256').update(canonical(sent)).digest('hex'));

  // A JSON-RPC error answering a tools/call is relayed unchanged and receipted as such.
  peer.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'fail', arguments: {}, _meta: modern } });
  const failed = await peer.response(3);
  assert.equal(failed, '{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"boom","data":{"tool":"fail"}}}');

  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['raw', 'executed', null], ['fail', 'errored', 'jsonrpc_error']]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.size, report.checkpointSize, report.calls, report.receipts], ['5', '5', 2, 2]);
});

test('legacy: server->client requests (colliding ids) and cancellations pass through', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv);
  peer.send(initializeRequest(7));
  await peer.response(7);
  const initialized = peer.send('{"jsonrpc":"2.0","method":"notifications/initialized"}');

  // Mid-call, the server asks the client for roots, reusing the pending call's id 8 for its
  // own request: the id spaces of the two directions are independent.
  peer.send({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'ask', arguments: {} } });
  const ask = await peer.line('roots/list request', (m) => m['method'] === 'roots/list');
  assert.equal(ask, '{"jsonrpc":"2.0","id":8,"method":"roots/list","params":{"x_unknown":1}}');
  const answer = peer.send('{"jsonrpc":"2.0","id":8,"result":{"roots":[{"uri":"file:///work","name":"w"}],"x-more":true}}');
  const asked = JSON.parse(await peer.response(8)) as { result: { content: Array<{ text: string }>; _meta: Record<string, unknown> } };
  assert.deepEqual(JSON.parse(asked.result.content[0]!.text), { roots: [{ uri: 'file:///work', name: 'w' }], 'x-more': true });
  assert.ok(asked.result._meta[RECEIPT_KEY]);

  // A call that the client cancels: the notification reaches the server unchanged.
  peer.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'hang', arguments: {} } });
  const cancel = peer.send('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,"reason":"user gave up"}}');
  await waitFor('cancel upstream', () => raw.received().includes(cancel));
  assert.ok(raw.received().includes(initialized) && raw.received().includes(answer));

  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['ask', 'executed', null], ['hang', 'errored', 'cancelled']]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.calls, report.receipts, report.unanswered, report.inFlight], [2, 2, 1, 0]);
  assert.deepEqual(codes(report, 'notice'), ['NOTE_UNANSWERED', 'NOTE_UNWITNESSED']);
});
