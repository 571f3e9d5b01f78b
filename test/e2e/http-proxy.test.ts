/**
 * `mcp-attest proxy --url`: stdio towards the client, Streamable HTTP towards the upstream
 * (docs/http.md). server-everything in its own Streamable HTTP mode (2025-11-25: sessions,
 * SSE responses, server->client requests, progress) answers through the proxy exactly as it
 * answers the SDK's HTTP client directly, and the log verifies; a 2026-07-28 fixture shows the
 * mirrored headers, SSE events relayed as they come, and every way a response can fail to
 * arrive ending in a receipt that says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLI, RECEIPT_KEY, codes, connect, exportTrust, logShow, scope, stripReceipt, verify, waitCheckpointed, waitFor } from './helpers.js';
import { connectHttp, everythingHttp, modernHttp, rawUrlProxy } from './http-helpers.js';

const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'sampled reply' }, model: 'e2e-model', stopReason: 'endTurn' } as const;

const CALLS: Array<{ name: string; arguments: Record<string, unknown> }> = [
  { name: 'echo', arguments: { message: 'héllo ✓ "quoted"' } },
  { name: 'get-sum', arguments: { a: 2, b: 40 } },
  { name: 'get-structured-content', arguments: { location: 'Chicago' } },
  { name: 'get-tiny-image', arguments: {} },
  { name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } }, // server->client request on the call's SSE stream
  { name: 'no-such-tool', arguments: {} },
];

test('server-everything over Streamable HTTP answers through proxy --url as it answers directly, and the log verifies', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const url = await everythingHttp(s);
  const caps = { sampling: {} };
  const direct = await connectHttp(s, url, caps);
  const proxied = await connect(s, process.execPath, [CLI, 'proxy', '--home', s.home, '--checkpoint-ms', '200', '--url', url], caps);
  for (const c of [direct.client, proxied.client]) c.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED);

  const listed = await proxied.client.listTools();
  assert.deepEqual(listed, await direct.client.listTools());
  for (const call of CALLS) {
    const want = await direct.client.callTool(call);
    const got = await proxied.client.callTool(call);
    const ref = (got._meta as Record<string, Record<string, string>> | undefined)?.[RECEIPT_KEY];
    assert.ok(ref?.['receiptIndex'], `${call.name}: receipt reference`);
    assert.deepEqual(stripReceipt(got), want, call.name);
  }
  // Progress notifications of a long call arrive through the SSE stream, with the caller's token.
  const seen: number[] = [];
  const long = { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } };
  const got = await proxied.client.callTool(long, undefined, { onprogress: (p) => seen.push(p.progress) });
  assert.deepEqual(stripReceipt(got), await direct.client.callTool(long));
  assert.ok(seen.length >= 2, `progress relayed: ${JSON.stringify(seen)}`);

  await proxied.client.close();
  await waitCheckpointed(s.home);
  const rows = logShow(s.home);
  assert.equal(rows.length, CALLS.length + 1);
  assert.ok(rows.every((r) => r.receipt_idx !== null), 'every call receipted');
  assert.equal(rows.find((r) => r.tool === 'echo')?.status, 'executed');
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.deepEqual(codes(v.report), []);
});

const MODERN = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const call = (id: number | string, name: string, args: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: { ...MODERN, ...meta } } });

test('a 2026-07-28 upstream: headers mirrored from the body, SSE relayed as it comes, every failure receipted', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const up = await modernHttp(s);
  const peer = rawUrlProxy(s, up.url, ['--checkpoint-ms', '200', '--attach', 'always', '--max-message-bytes', '65536', '--header', 'X-Tenant: blue', '--bearer-env', 'E2E_TOKEN'], { E2E_TOKEN: 'tok-123' });

  peer.send({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: MODERN } });
  assert.match(await peer.response(1), /"supportedVersions":\["2026-07-28"\]/);

  peer.send(call(2, 'echo', { text: 'hi' }));
  const echo = JSON.parse(await peer.response(2)) as { result: { content: Array<{ text: string }>; _meta: Record<string, unknown> } };
  assert.equal(echo.result.content[0]!.text, 'hi');
  assert.ok(echo.result._meta[RECEIPT_KEY], 'receipt reference added');
  const posted = up.received().find((r) => (r['body'] as string).includes('"echo"'))!;
  assert.deepEqual(posted['headers'], {
    'mcp-method': 'tools/call', 'mcp-name': 'echo', 'mcp-protocol-version': '2026-07-28', authorization: 'Bearer tok-123', 'x-tenant': 'blue',
  });
  assert.match(posted['body'] as string, /"_meta":\{.*"attestation":\{/, 'the attestation travels in the body, not in a header');

  // SSE: the progress notification comes before the response; an event split over two data lines is one message.
  peer.send(call(3, 'stream', {}, { progressToken: 'p3' }));
  await peer.response(3);
  const progress = peer.lines.findIndex((l) => l.includes('"notifications/progress"') && l.includes('"p3"'));
  const response = peer.lines.findIndex((l) => l.includes('"streamed"'));
  assert.ok(progress >= 0 && progress < response, 'progress relayed before the response');

  // The stream ends without an answer: the client gets an error, the call is receipted unanswered.
  peer.send(call(4, 'drop'));
  assert.match(await peer.response(4), /"code":-32005/);
  assert.ok(peer.lines.some((l) => l.includes('about to drop')), 'the notification before the drop was relayed');
  // HTTP 500 without a JSON-RPC body: a JSON-RPC error saying so.
  peer.send(call(5, 'fail'));
  assert.match(await peer.response(5), /"code":-32004.*"ERR_UPSTREAM_HTTP".*"status":500/);
  // HTTP 400 with the upstream's own JSON-RPC error: relayed as it is.
  peer.send(call(6, 'mismatch'));
  assert.match(await peer.response(6), /"code":-32020/);
  // An SSE event over the message cap is never held: refused, and the call receipted response_refused.
  peer.send(call(7, 'huge', { bytes: 100_000 }));
  assert.match(await peer.response(7), /"ERR_WIRE_TOO_LARGE"/);
  // Cancellation of a 2026-07-28 call over HTTP closes its response stream.
  peer.send(call(8, 'hang'));
  await waitFor('the hanging call to reach the upstream', () => up.received().some((r) => String(r['body']).includes('"hang"')));
  peer.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 8, reason: 'user' } });
  await waitFor('the upstream to see its stream closed', () => up.received().some((r) => r['closed'] === 8));
  assert.ok(!up.received().some((r) => String(r['body']).includes('notifications/cancelled')), 'closing the stream is the signal; no notification POSTed');

  await waitFor('the cancelled call receipted', () => logShow(s.home).find((r) => r.tool === 'hang')?.receipt_idx != null, 10_000);
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0, peer.stderr);
  const byTool = new Map(logShow(s.home).map((r) => [r.tool, r]));
  assert.equal(byTool.get('echo')?.status, 'executed');
  assert.equal(byTool.get('stream')?.status, 'executed');
  assert.equal(byTool.get('drop')?.reason, 'connection_lost');
  assert.equal(byTool.get('fail')?.reason, 'jsonrpc_error');
  assert.equal(byTool.get('mismatch')?.reason, 'jsonrpc_error');
  assert.equal(byTool.get('huge')?.reason, 'response_refused');
  assert.equal(byTool.get('hang')?.reason, 'cancelled');
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
});

test('proxy --url refuses what it cannot use, before starting', { timeout: 30_000 }, async () => {
  const { cli } = await import('./helpers.js');
  for (const [args, msg] of [
    [['--url', 'ftp://example.test/mcp'], /http: or https:/],
    [['--url', 'http://u:p@127.0.0.1/mcp'], /credentials/],
    [['--url', 'http://127.0.0.1/mcp', '--header', 'Mcp-Session-Id: x'], /set by the relay/],
    [['--url', 'http://127.0.0.1/mcp', '--header', 'no colon'], /Name: value/],
    [['--url', 'http://127.0.0.1/mcp', '--bearer-env', 'E2E_UNSET_VARIABLE'], /unset/],
    [['--url', 'http://127.0.0.1/mcp', 'node', 'x.js'], /not both/],
    [[], /give the upstream: its command after -- .*, or --url URL/],
  ] as const) {
    const r = cli(['proxy', '--home', '/nonexistent/never-created', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

test('proxy --url --oauth: discovery, dynamic registration, code + PKCE with the resource, tokens kept 0600 and reused', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { spawn } = await import('node:child_process');
  const { readdirSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { ROOT } = await import('./helpers.js');
  const fixture = spawn(process.execPath, [join(ROOT, 'test/e2e/fixtures/oauth-mcp-server.mjs')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'ignore'] });
  s.defer(() => fixture.kill('SIGKILL'));
  let out = '';
  fixture.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const { mcp } = JSON.parse(await waitFor('the OAuth fixture', () => out.split('\n').find((l) => l.startsWith('{')))) as { mcp: string };

  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  const peer = rawUrlProxy(s, mcp, ['--oauth', '--checkpoint-ms', '200']);
  peer.send(init);
  // The user: opens the printed URL; the authorization server approves and redirects to the proxy's loopback callback.
  const url = await waitFor('the authorization URL', () => /authorize access to .*: open (\S+)/.exec(peer.stderr)?.[1]);
  const authorize = new URL(url);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256', 'PKCE');
  assert.equal(authorize.searchParams.get('resource'), mcp, 'RFC 8707 resource');
  const approved = await fetch(url, { redirect: 'manual' });
  const callback = approved.headers.get('location')!;
  assert.match(callback, /^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
  assert.equal((await fetch(callback)).status, 200);
  await peer.response(0, 30_000);
  peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'authorized' } } });
  assert.match(await peer.response(1), /Echo: authorized/);
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0, peer.stderr);
  const files = readdirSync(join(s.home, 'oauth'));
  assert.equal(files.length, 1);
  assert.equal(statSync(join(s.home, 'oauth', files[0]!)).mode & 0o777, 0o600, 'tokens file is 0600');
  assert.equal(statSync(join(s.home, 'oauth')).mode & 0o777, 0o700);

  // A second run uses the stored token: no authorization asked.
  const again = rawUrlProxy(s, mcp, ['--oauth']);
  again.send(init);
  await again.response(0, 30_000);
  again.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  again.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'again' } } });
  assert.match(await again.response(1), /Echo: again/);
  assert.doesNotMatch(again.stderr, /authorize access/);
  again.proc.stdin.end();
  assert.equal(await again.exited, 0);
  assert.equal(logShow(s.home).filter((r) => r.status === 'executed').length, 2);
});
