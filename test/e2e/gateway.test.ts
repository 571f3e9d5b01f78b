/**
 * `mcp-attest gateway` end to end, real processes on loopback (docs/gateway.md): the official
 * SDK's Streamable HTTP client through the gateway to server-everything started as a stdio
 * command and in its own HTTP mode, answers equal to the direct ones apart from our `_meta`,
 * every call attested for the caller's principal and the log verifying; 2026-07-28 requests
 * without a session; every refusal with its HTTP status, JSON-RPC error, access-log line and
 * metric; the attest-then-gate chain; SIGHUP; a gateway killed mid-call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLI, EVERYTHING, RECEIPT_KEY, ROOT, cli, codes, connectDirect, exportTrust, logShow, readLog, scope, stripReceipt, verify, waitFor } from './helpers.js';
import { connectHttp, everythingHttp, modernHttp } from './http-helpers.js';
import { ALICE, BOB, CALLERS, mcpHeaders, messagesOf, startGateway } from './gateway-helpers.js';

const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'sampled reply' }, model: 'e2e-model', stopReason: 'endTurn' } as const;
const CALLS = [
  { name: 'echo', arguments: { message: 'héllo ✓' } },
  { name: 'get-sum', arguments: { a: 2, b: 40 } },
  { name: 'get-structured-content', arguments: { location: 'Chicago' } },
  { name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } },
];

test('the SDK client through the gateway to server-everything (stdio and HTTP) gets the direct answers, attested for its principal', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const url = await everythingHttp(s);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}upstreams:\n  - {name: local, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n  - {name: remote, url: ${JSON.stringify(url)}}\n`);
  const caps = { sampling: {} };
  const directs = { local: (await connectDirect(s, caps)).client, remote: (await connectHttp(s, url, caps)).client };
  for (const name of ['local', 'remote'] as const) {
    const direct = directs[name];
    const { client } = await connectHttp(s, `${gw.base}/${name}/mcp`, caps, { authorization: `Bearer ${name === 'local' ? ALICE : BOB}` });
    for (const c of [direct, client]) c.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED);
    assert.deepEqual(await client.listTools(), await direct.listTools(), `${name}: tools/list`);
    for (const call of CALLS) {
      const got = await client.callTool(call);
      assert.ok((got._meta as Record<string, unknown> | undefined)?.[RECEIPT_KEY], `${name} ${call.name}: receipt reference`);
      assert.deepEqual(stripReceipt(got), await direct.callTool(call), `${name} ${call.name}`);
    }
    const seen: number[] = [];
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => seen.push(p.progress) });
    assert.ok(seen.length >= 2, `${name}: progress relayed to the caller's stream (${JSON.stringify(seen)})`);
    await client.close();
  }
  assert.equal(await gw.stop(), 0, gw.stderr());
  const rows = logShow(s.home);
  assert.equal(rows.length, 2 * (CALLS.length + 1));
  assert.ok(rows.every((r) => r.status === 'executed'), JSON.stringify(rows.map((r) => [r.tool, r.status, r.reason])));
  const subs = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/attestation@1')
    .map((e) => [e['server'] as { name: string }, (e['attestation'] as { issuerAsserted: { sub: string } }).issuerAsserted.sub] as const);
  assert.deepEqual([...new Set(subs.map(([srv, sub]) => `${srv.name}:${sub}`))].sort(), ['local:alice', 'remote:bob'], 'the attestation\'s sub is the caller\'s principal');
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.deepEqual(codes(v.report), []);
  const access = gw.access();
  assert.ok(access.some((a) => a['principal'] === 'alice' && a['tool'] === 'echo' && a['status'] === 200), 'access log names principal and tool');
});

const MODERN = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const modernCall = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: MODERN } });
const modernHeaders = (name: string, extra: Record<string, string> = {}) => mcpHeaders(ALICE, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name, ...extra });

test('2026-07-28 callers need no session: headers must match the body; closing the stream cancels the call', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const up = await modernHttp(s);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}upstreams:\n  - {name: modern, url: ${JSON.stringify(up.url)}}\n`);
  const endpoint = `${gw.base}/modern/mcp`;
  const post = (body: object, headers: Record<string, string>, signal?: AbortSignal) => fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

  const res = await post(modernCall(1, 'stream'), modernHeaders('stream'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('mcp-session-id'), null, 'no session minted');
  const msgs = await messagesOf(res);
  assert.equal(msgs.at(-1)?.['id'], 1);
  assert.ok(msgs.some((m) => m['method'] === 'notifications/progress'), 'the progress notification reached the caller');
  const sent = up.received().find((r) => String(r['body']).includes('"stream"'))!;
  assert.deepEqual(sent['headers'], { 'mcp-method': 'tools/call', 'mcp-name': 'stream', 'mcp-protocol-version': '2026-07-28' }, 'mirrored upstream; the caller\'s token never passed on');

  for (const [headers, why] of [
    [modernHeaders('echo', { 'mcp-name': 'rm' }), 'Mcp-Name'],
    [modernHeaders('echo', { 'mcp-method': 'tools/list' }), 'Mcp-Method'],
    [mcpHeaders(ALICE, { 'mcp-method': 'tools/call', 'mcp-name': 'echo' }), 'MCP-Protocol-Version'],
  ] as const) {
    const r = await post(modernCall(2, 'echo'), headers);
    assert.equal(r.status, 400, why);
    const body = (await r.json()) as { id: number; error: { code: number; message: string; data: { code: string } } };
    assert.equal(body.error.code, -32020, why);
    assert.equal(body.error.data.code, 'ERR_GATEWAY_HEADER_MISMATCH');
    assert.match(body.error.message, new RegExp(why));
  }
  assert.ok(!up.received().some((r) => String(r['body']).includes('"id":2')), 'no mismatched request reached the upstream');

  // The caller goes away mid-call: that is its cancellation (2026-07-28), passed on by closing the upstream stream.
  const ac = new AbortController();
  const hanging = await post(modernCall(3, 'hang'), modernHeaders('hang'), ac.signal);
  assert.equal(hanging.status, 200);
  await waitFor('the call to reach the upstream', () => up.received().some((r) => String(r['body']).includes('"hang"')));
  ac.abort();
  await waitFor('the upstream stream to close', () => up.received().some((r) => r['closed'] === 3));
  await waitFor('the cancelled call receipted', () => logShow(s.home).find((r) => r.tool === 'hang')?.reason === 'cancelled');
  assert.equal(await gw.stop(), 0);
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
});

test('refusals: token, Host, Origin, size, an upstream\'s process cap, session, rate, tool list — each with its status, code, access-log line and metric', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\nallowedOrigins: ["https://app.example"]\nlimits: {maxBodyBytes: 4096, requestsPerSecond: 0.01, burst: 3}\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], tools: {allow: ["echo", "get-*"], deny: ["get-env"]}, maxProcesses: 1}\n`);
  const endpoint = `${gw.base}/ev/mcp`;
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  const post = (headers: Record<string, string>, body: string = JSON.stringify(init)) => fetch(endpoint, { method: 'POST', headers, body });
  const refused = async (r: Response, status: number, code: string): Promise<void> => {
    assert.equal(r.status, status, code);
    const body = (await r.json()) as { error: { data: { code: string } } };
    assert.equal(body.error.data.code, code);
  };
  const none = await post(mcpHeaders(null));
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  await refused(none, 401, 'ERR_GATEWAY_UNAUTHENTICATED');
  await refused(await post(mcpHeaders('not-a-valid-token-at-all')), 401, 'ERR_GATEWAY_UNAUTHENTICATED');
  await refused(await post(mcpHeaders(ALICE, { origin: 'https://evil.example' })), 403, 'ERR_GATEWAY_ORIGIN');
  // A rebinding page reaches us under its own name: the Host header gives it away.
  const rebinding = await new Promise<number>((resolve) => {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: evil.example', '-H', `Authorization: Bearer ${ALICE}`, `${gw.base}/healthz`], { encoding: 'utf8' });
    resolve(r.status === 0 ? Number(r.stdout) : -1);
  });
  if (rebinding !== -1) assert.equal(rebinding, 403, 'Host not allowed');
  await refused(await post(mcpHeaders(ALICE), JSON.stringify({ ...init, params: { ...init.params, pad: 'x'.repeat(5000) } })), 413, 'ERR_GATEWAY_TOO_LARGE');

  // CORS: an allowlisted origin gets exactly itself back, never '*'.
  const pre = await fetch(endpoint, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  const preEvil = await fetch(endpoint, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  assert.equal(preEvil.status, 403);

  // Bob opens a session; Alice cannot use it (it looks like no session at all).
  const opened = await post(mcpHeaders(BOB));
  assert.equal(opened.status, 200);
  const sid = opened.headers.get('mcp-session-id')!;
  await messagesOf(opened);
  // The upstream runs its one process (maxProcesses: 1): Alice's conversation would need another.
  const capped = await post(mcpHeaders(ALICE));
  assert.match(await capped.clone().text(), /already runs 1 process, its cap/);
  await refused(capped, 503, 'ERR_GATEWAY_BUSY');
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
  await refused(await post(mcpHeaders(ALICE, { 'mcp-session-id': sid }), JSON.stringify(list)), 404, 'ERR_GATEWAY_SESSION');
  // Bob's tools/list hides what the list refuses; a call to a hidden tool is refused before anything is logged.
  const tools = (await messagesOf(await post(mcpHeaders(BOB, { 'mcp-session-id': sid }), JSON.stringify(list))))[0] as { result: { tools: Array<{ name: string }> } };
  const names = tools.result.tools.map((x) => x.name);
  assert.ok(names.includes('echo') && names.includes('get-sum') && !names.includes('get-env') && !names.includes('trigger-long-running-operation'), names.join());
  const denied = await post(mcpHeaders(BOB, { 'mcp-session-id': sid }), JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get-env', arguments: {} } }));
  const deniedBody = (await denied.json()) as { error: { code: number; data: { code: string } } };
  assert.deepEqual([deniedBody.error.code, deniedBody.error.data.code], [-32601, 'ERR_GATEWAY_TOOL_DENIED']);

  // Bob has spent his burst of 3: the next request is over his rate.
  const limited = await post(mcpHeaders(BOB, { 'mcp-session-id': sid }), JSON.stringify(list));
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  await refused(limited, 429, 'ERR_GATEWAY_RATE_LIMITED');

  const metrics = await (await fetch(`${gw.base}/metrics`)).text();
  for (const code of ['ERR_GATEWAY_UNAUTHENTICATED', 'ERR_GATEWAY_ORIGIN', 'ERR_GATEWAY_TOO_LARGE', 'ERR_GATEWAY_BUSY', 'ERR_GATEWAY_SESSION', 'ERR_GATEWAY_TOOL_DENIED', 'ERR_GATEWAY_RATE_LIMITED']) {
    assert.match(metrics, new RegExp(`mcp_attest_gateway_refusals_total\\{code="${code}"\\} [1-9]`), code);
    assert.ok(gw.access().some((a) => a['code'] === code), `access log: ${code}`);
  }
  assert.ok(!gw.stderr().includes(ALICE) && !gw.stderr().includes(BOB), 'no token in the gateway\'s output');
  assert.equal(logShow(s.home).length, 0, 'nothing refused was logged as a call');
});

test('a command upstream\'s processes are shared: one principal holds at most its share (429), all at most the cap (503); an ended session gives its process back', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], maxProcesses: 3, maxProcessesPerPrincipal: 2}\n`);
  const endpoint = `${gw.base}/ev/mcp`;
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  const post = (token: string) => fetch(endpoint, { method: 'POST', headers: mcpHeaders(token), body: init });
  const open = async (token: string): Promise<string> => {
    const r = await post(token);
    assert.equal(r.status, 200);
    await messagesOf(r);
    return r.headers.get('mcp-session-id')!;
  };
  const refusal = async (token: string): Promise<[number, string, string]> => {
    const r = await post(token);
    const body = (await r.json()) as { error: { message: string; data: { code: string } } };
    return [r.status, body.error.data.code, body.error.message];
  };
  const first = await open(BOB);
  await open(BOB);
  const [status, code, message] = await refusal(BOB);
  assert.deepEqual([status, code], [429, 'ERR_GATEWAY_BUSY']);
  assert.match(message, /bob already holds 2 processes of upstream ev, its share/);
  await open(ALICE); // Bob could not take her process
  const full = await refusal(ALICE);
  assert.equal(full[0], 503);
  assert.match(full[2], /already runs 3 processes, its cap/);
  // Bob ends a session: its process is his to take again.
  const ended = await fetch(endpoint, { method: 'DELETE', headers: mcpHeaders(BOB, { 'mcp-session-id': first }) });
  assert.ok(ended.status < 300, String(ended.status));
  let again = await post(BOB);
  for (let i = 0; i < 40 && again.status !== 200; i++) {
    await again.body?.cancel();
    await new Promise((r) => setTimeout(r, 50));
    again = await post(BOB);
  }
  assert.equal(again.status, 200);
  await messagesOf(again);
  assert.equal(await gw.stop(), 0);
});

test('a connection that sends no request is closed after 10 s (it held a file descriptor for ever), and the gateway serves on; an upstream\'s stderr comes labelled', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);
  const opened = Date.now();
  const silent = connect(gw.port, '127.0.0.1');
  silent.on('error', () => undefined);
  const closed = new Promise<number>((r) => silent.on('close', () => r(Date.now() - opened)));
  const ms = await closed;
  assert.ok(ms >= 9_000 && ms < 20_000, `closed after ${ms} ms`);
  const r = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(ALICE), body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } }) });
  assert.equal(r.status, 200, 'the gateway serves on');
  await r.body?.cancel();
  // The upstream's own stderr comes labelled, a line at a time: it cannot write access-log lines.
  await waitFor('the upstream\'s stderr, labelled', () => gw.stderr().includes('\nmcp-attest: upstream ev: Starting default (STDIO) server...\n'));
  assert.equal(gw.stderr().split('\n').some((l) => l.startsWith('Starting')), false);
});

test('past limits.maxConnections a connection is closed as soon as it is accepted, and stderr says so; a place freed is served', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\nlimits: {maxConnections: 3}\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);
  const held = await Promise.all([1, 2, 3].map(() => new Promise<ReturnType<typeof connect>>((r) => { const c = connect(gw.port, '127.0.0.1', () => r(c)); c.on('error', () => undefined); })));
  t.after(() => { for (const c of held) c.destroy(); });
  const closed = await new Promise<boolean>((r) => {
    const c = connect(gw.port, '127.0.0.1');
    c.on('error', () => undefined);
    c.on('close', () => r(true));
    c.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n\r\n`);
  });
  assert.ok(closed);
  await waitFor('the notice', () => /mcp-attest: gateway: new connections closed at once: \d+ past the 3 it keeps open/.test(gw.stderr()));
  held[0]!.destroy();
  let served: number | null = null;
  for (const end = Date.now() + 10_000; served === null && Date.now() < end; await new Promise((r) => setTimeout(r, 50))) served = await fetch(`${gw.base}/healthz`).then((r) => r.status, () => null);
  assert.equal(served, 200, 'a freed place is served');
  // A bad token's answer closes its connection: kept alive, it would hold a place.
  for (const c of held) c.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const refused = await new Promise<string>((r) => {
    let text = '';
    const c = connect(gw.port, '127.0.0.1', () => c.write(`POST /ev/mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer not-a-valid-token-at-all\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`));
    c.on('data', (d: Buffer) => (text += d.toString()));
    c.on('error', () => undefined);
    c.on('close', () => r(text));
  });
  assert.match(refused, /^HTTP\/1\.1 401 [\s\S]*\r\nConnection: close\r\n/i);
});

test('out of file descriptors, a conversation whose upstream cannot be spawned ends alone: the gateway, and the calls in flight, live on', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  // A connection cap past the descriptors, asked for (the default would stay within them, and they would never run out).
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\nlimits: {maxConnections: 4096}\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`, 'gateway.yaml', {}, 200);
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  // Alice's connection is open before the descriptors run out; then idle sockets take the rest.
  const alice = connect(gw.port, '127.0.0.1');
  let answer = '';
  alice.on('data', (c: Buffer) => (answer += c.toString()));
  alice.on('error', () => undefined);
  await new Promise((r) => alice.once('connect', r));
  const idle = Array.from({ length: 220 }, () => connect(gw.port, '127.0.0.1').on('error', () => undefined));
  t.after(() => { for (const c of idle) c.destroy(); alice.destroy(); });
  await new Promise((r) => setTimeout(r, 1500));
  alice.write(`POST /ev/mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${ALICE}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${init.length}\r\n\r\n${init}`);
  await waitFor('an answer to alice', () => (answer.includes('"id":0') ? answer : null), 20_000);
  assert.match(gw.stderr(), /cannot start upstream: spawn \S+ EMFILE/, 'the upstream could not be spawned');
  assert.match(gw.stderr(), /gateway: warning: 4096 connections are more than half the file descriptors this process may open \(200\)/, 'the cap asked past them was said');
  assert.match(answer, /"code":-32005/, 'her conversation ended, with an error');
  for (const c of idle) c.destroy();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(gw.proc.exitCode, null, 'the gateway lives on');
  const r = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(BOB), body: init });
  assert.equal(r.status, 200);
  await r.body?.cancel();
});

test('attest and gate in one gateway: the gate decides the attestations the gateway signs', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  const trust = exportTrust(s.home, join(s.dir, 'trust.json'));
  writeFileSync(join(s.dir, 'gate.yaml'), `version: 1\nrequired: true\ntrustFiles: [trust.json]\ntools:\n  get-sum: {deny: true}\n`);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: [attest, gate], policy: gate.yaml}\n`);
  const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${ALICE}` });
  const ok = await client.callTool({ name: 'echo', arguments: { message: 'gated' } });
  assert.equal((ok.content as Array<{ text: string }>)[0]!.text, 'Echo: gated');
  assert.ok((ok._meta as Record<string, unknown>)['dev.mcp-attest/response-receipt'] !== undefined || JSON.stringify(ok._meta).includes('receipt'));
  const no = await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
  assert.equal(no.isError, true, 'the gate refused the denied tool');
  // Reloaded unchanged: nothing is said to wait for a restart (the policy names no serverFingerprint).
  gw.proc.kill('SIGHUP');
  await waitFor('the reload', () => gw.stderr().includes('configuration reloaded'));
  assert.doesNotMatch(gw.stderr(), /not applied until a restart/);
  await client.close();
  assert.equal(await gw.stop(), 0);
  const decisions = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/decision@1').map((e) => e['decision']);
  assert.deepEqual(decisions, ['allowed', 'refused']);
  const v = verify(s.home, trust);
  assert.equal(v.status, 0, v.stdout);
});

test('a bad configuration is exit 2 with every problem; SIGHUP swaps tokens without dropping a call in flight', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const bad = join(s.dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nlisten: 0.0.0.0:80:1\ncallers: [{principal: a, token: {env: UNSET_VAR_E2E}}]\nupstreams:\n  - {name: x, command: [a], url: "http://h/mcp"}\n  - {name: y, url: "ftp://h/"}\n');
  const r = cli(['gateway', '--config', bad]);
  assert.equal(r.status, 2);
  for (const m of ['listen', 'upstreams.0', 'upstreams.1.url']) assert.match(r.stderr, new RegExp(m.replace('.', '\\.')), m);
  // Bound beyond loopback with no allowedHosts: every Host would be refused; it is a configuration error instead.
  const open = join(s.dir, 'open.yaml');
  writeFileSync(open, `version: 1\nlisten: 0.0.0.0:0\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);
  const wide = cli(['gateway', '--config', open], 60_000, { env: { ALICE_TOKEN: ALICE, BOB_TOKEN: ALICE + 'b' } });
  assert.equal(wide.status, 2, wide.stderr);
  assert.match(wide.stderr, /ERR_CONFIG_INVALID: .*\n {2}allowedHosts: required when listening on 0\.0\.0\.0 \(not loopback\)/);
  // A gate policy file that cannot be read: the configuration's problem, named by its upstream (not the listen address's).
  const nopolicy = join(s.dir, 'nopolicy.yaml');
  writeFileSync(nopolicy, `version: 1
listen: 127.0.0.1:0
home: ${join(s.dir, 'np')}
${CALLERS}upstreams:
  - {name: crm, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: gate, policy: missing-gate.yaml}
`);
  const np = cli(['gateway', '--config', nopolicy], 60_000, { env: { ALICE_TOKEN: ALICE, BOB_TOKEN: ALICE + 'b' } });
  assert.equal(np.status, 2, np.stderr);
  assert.match(np.stderr, /ERR_CONFIG_INVALID: bad configuration .*\n {2}upstreams\.crm\.policy: cannot read policy file .*missing-gate\.yaml/);

  const yaml = (principal: string, env: string) => `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\ncallers: [{principal: ${principal}, token: {env: ${env}}}]\nupstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`;
  const gw = await startGateway(s, yaml('alice', 'ALICE_TOKEN'));
  const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${ALICE}` });
  const long = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(s.dir, 'gateway.yaml'), `home: ${s.home}\n${yaml('bob', 'BOB_TOKEN')}`);
  gw.proc.kill('SIGHUP');
  await waitFor('the reload', () => gw.stderr().includes('configuration reloaded'));
  assert.match(JSON.stringify(await long), /Long running operation completed/, 'the call in flight finished');
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  assert.equal((await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(ALICE), body: JSON.stringify(init) })).status, 401, 'the old token is gone');
  const bob = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(BOB), body: JSON.stringify(init) });
  assert.equal(bob.status, 200, 'the new token works');
  await bob.body?.cancel();
  // An upstream's command changes only at a restart: the reload says so rather than claim it.
  writeFileSync(join(s.dir, 'gateway.yaml'), `home: ${s.home}\n${yaml('bob', 'BOB_TOKEN').replace('checkpointMs: 200', 'checkpointMs: 300\nlimits: {sessionIdleSeconds: 60}').replace(`${JSON.stringify(EVERYTHING)}]`, `${JSON.stringify(EVERYTHING)}, stdio]`)}`);
  gw.proc.kill('SIGHUP');
  await waitFor('the second reload', () => gw.stderr().includes('not applied until a restart: checkpointMs, limits.sessionIdleSeconds, upstreams.ev.command'));
  await client.close();
  assert.equal(await gw.stop(), 0);
});

test('a gateway killed mid-call and restarted: the log verifies and names the unanswered call', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const yaml = `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 100\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`;
  const gw = await startGateway(s, yaml);
  const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${ALICE}` });
  await client.callTool({ name: 'echo', arguments: { message: 'before' } });
  void client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }).catch(() => undefined);
  await waitFor('the long call attested', () => logShow(s.home).some((r) => r.tool === 'trigger-long-running-operation'));
  gw.proc.kill('SIGKILL');
  await gw.exited;
  const again = await startGateway(s, yaml, 'gateway2.yaml');
  const c2 = await connectHttp(s, `${again.base}/ev/mcp`, {}, { authorization: `Bearer ${ALICE}` });
  await c2.client.callTool({ name: 'echo', arguments: { message: 'after' } });
  await c2.client.close();
  assert.equal(await again.stop(), 0);
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.equal(v.report.inFlight, 1, 'the call the kill cut off is named in flight, never executed');
  const row = logShow(s.home).find((r) => r.tool === 'trigger-long-running-operation')!;
  assert.equal(row.receipt_idx, null);
  void ROOT; void CLI;
});

test('OAuth resource server: RFC 9728 metadata, JWT access tokens checked for issuer, audience, expiry and key; the token\'s sub is the attestation\'s', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
  const as = await generateKeyPair('ES256', { extractable: true });
  const stranger = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(join(s.dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(as.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const resource = 'https://gw.example/ev/mcp';
  const token = (claims: Record<string, unknown>, key = as.privateKey, ttl = 300) => new SignJWT({ scope: 'mcp', iss: 'https://as.example', aud: resource, sub: 'agent-7', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + ttl).sign(key);
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\noauth: {issuer: "https://as.example", jwksFile: jwks.json, resource: "https://gw.example", scopes: [mcp]}\nupstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);
  const prm = (await (await fetch(`${gw.base}/.well-known/oauth-protected-resource/ev/mcp`)).json()) as Record<string, unknown>;
  assert.deepEqual(prm, { resource, authorization_servers: ['https://as.example'], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'], scopes_supported: ['mcp'] });
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  const none = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(null), body: init });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate')!, /^Bearer resource_metadata="https:\/\/gw\.example\/\.well-known\/oauth-protected-resource\/ev\/mcp"/);
  for (const [bad, why] of [
    [await token({ aud: 'https://other.example/mcp' }), 'aud'],
    [await token({}, as.privateKey, -120), 'expired'],
    [await token({ iss: 'https://evil.example' }), 'iss'],
    [await token({}, stranger.privateKey), 'not valid'],
  ] as const) {
    const r = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(bad), body: init });
    assert.equal(r.status, 401, why);
    assert.match(r.headers.get('www-authenticate')!, /error="invalid_token"/, why);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, new RegExp(why), why);
  }
  const scopeless = await fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(await token({ scope: 'other' })), body: init });
  assert.equal(scopeless.status, 403);
  assert.match(scopeless.headers.get('www-authenticate')!, /insufficient_scope/);
  const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${await token({})}` });
  await client.callTool({ name: 'echo', arguments: { message: 'oauth' } });
  await client.close();
  assert.equal(await gw.stop(), 0);
  const subs = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/attestation@1').map((e) => (e['attestation'] as { issuerAsserted: { sub: string } }).issuerAsserted.sub);
  assert.deepEqual(subs, ['oauth:agent-7'], 'an access token\'s principal lives in its own name space');
});

type Signed = { iss: string; sub: string; secretVersion: string };

test('a principal with its own issuer key: its calls are signed with it, trust export lists it, and verify needs it', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { generateKeyPairSync } = await import('node:crypto');
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(join(s.dir, 'alice.pem'), pem, { mode: 0o600 });
  const yaml = (key: string) => `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}issuers:\n  - {principal: alice, key: ${key}, iss: "issuer://team-a/alice"}\nupstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`;
  writeFileSync(join(s.dir, 'nokey.yaml'), `home: ${s.home}\n${yaml('missing.pem')}`);
  const bad = spawnSync(process.execPath, [CLI, 'gateway', '--config', join(s.dir, 'nokey.yaml')], { encoding: 'utf8', cwd: ROOT, timeout: 30_000, env: { ...process.env, ALICE_TOKEN: ALICE, BOB_TOKEN: BOB } });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /issuers\.0\.key: .*missing\.pem/, 'an unreadable key is named at startup');

  const gw = await startGateway(s, yaml('alice.pem'));
  for (const token of [ALICE, BOB]) {
    const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${token}` });
    await client.callTool({ name: 'echo', arguments: { message: token } });
    await client.close();
  }
  assert.equal(await gw.stop(), 0, gw.stderr());
  const own = JSON.parse(cli(['trust', 'export', '--home', s.home]).stdout) as { issuers: Array<{ iss: string; keyId: string }> };
  assert.equal(own.issuers.length, 2, 'the directory\'s issuer and alice\'s');
  const alice = own.issuers.find((i) => i.iss === 'issuer://team-a/alice')!;
  const signed = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/attestation@1' || e['type'] === 'mcp-attest/receipt@1')
    .map((e) => e['attestation'] !== undefined ? (e['attestation'] as { issuerAsserted: Signed }).issuerAsserted : (e['receipt'] as { receiptAsserted: Signed }).receiptAsserted)
    .map((a) => `${a.sub} ${a.iss === alice.iss && a.secretVersion === alice.keyId ? 'own key' : 'directory key'}`);
  assert.deepEqual(signed.sort(), ['alice own key', 'alice own key', 'bob directory key', 'bob directory key'], 'attestation and receipt of alice\'s call under her key, bob\'s under the directory\'s');
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  const without = join(s.dir, 'without-alice.json');
  writeFileSync(without, JSON.stringify({ ...own, issuers: own.issuers.filter((i) => i !== alice) }));
  const refused = verify(s.home, without);
  assert.equal(refused.status, 1, 'a verifier not trusting alice\'s key does not accept her calls');
  assert.ok(codes(refused.report).includes('ERR_KEY_UNAVAILABLE'), JSON.stringify(codes(refused.report)));
});

test('gateway [attest, gate] in front of an upstream that ignores SIGTERM, calls pending: on SIGTERM the upstream does not outlive it', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  exportTrust(s.home, join(s.dir, 'trust.json'));
  writeFileSync(join(s.dir, 'gate.yaml'), 'version: 1\nrequired: false\ntrustFiles: [trust.json]\n');
  // Answers initialize and tools/list, never a call; ignores SIGTERM and the end of its input.
  const up = join(s.dir, 'stubborn-upstream.cjs');
  writeFileSync(up, `process.on('SIGTERM', () => {});
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'initialize') process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'stub', version: '1' } } }) + '\\n');
  if (m.method === 'tools/list') process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'hang', inputSchema: { type: 'object' } }] } }) + '\\n');
});
setInterval(() => {}, 1000);
`);
  const alive = (): boolean => spawnSync('pgrep', ['-f', up]).status === 0;
  s.defer(() => spawnSync('pkill', ['-9', '-f', up]));
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\nlimits: {drainSeconds: 0}\n${CALLERS}upstreams:\n  - {name: st, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(up)}], role: [attest, gate], policy: gate.yaml}\n`);
  const { client } = await connectHttp(s, `${gw.base}/st/mcp`, {}, { authorization: `Bearer ${ALICE}` });
  for (let i = 0; i < 20; i++) void client.callTool({ name: 'hang', arguments: { i } }).catch(() => undefined);
  await waitFor('the calls to be logged', () => logShow(s.home).length >= 20);
  assert.ok(alive());
  assert.equal(await gw.stop(), 0);
  await waitFor('the upstream to be gone', () => !alive(), 5_000);
});

test('attest and gate in one gateway, a task call: the gateway\'s and its gatekeeper\'s handle receipts, then both result receipts, each naming its own; the log verifies', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  const trust = exportTrust(s.home, join(s.dir, 'trust.json'));
  writeFileSync(join(s.dir, 'gate.yaml'), 'version: 1\nrequired: true\ntrustFiles: [trust.json]\n');
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: [attest, gate], policy: gate.yaml}\n`);
  const post = (body: Record<string, unknown>, sid?: string) => fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(ALICE, sid ? { 'mcp-session-id': sid } : {}), body: JSON.stringify(body) });
  const opened = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  const sid = opened.headers.get('mcp-session-id')!;
  await messagesOf(opened);
  await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).text();
  const handle = (await messagesOf(await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'simulate-research-query', arguments: { topic: 'x' }, task: { ttl: 60_000 } } }, sid))).find((m) => m['id'] === 1) as { result: { task: { taskId: string } } };
  const result = (await messagesOf(await post({ jsonrpc: '2.0', id: 2, method: 'tasks/result', params: { taskId: handle.result.task.taskId } }, sid))).find((m) => m['id'] === 2) as { result: { content: unknown } };
  assert.match(JSON.stringify(result.result.content), /Research/);
  assert.equal(await gw.stop(), 0);
  const receipts = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/receipt@1').map((e) => (e['receipt'] as { outcomeDerived: Record<string, unknown> }).outcomeDerived);
  assert.deepEqual(receipts.map((o) => [o['reason'] ?? null, typeof o['taskReceiptDigest']]), [['task_created', 'undefined'], ['task_created', 'undefined'], [null, 'string'], [null, 'string']]);
  const v = verify(s.home, trust);
  assert.equal(v.status, 0, v.stdout);
});
