/**
 * `mcp-attest serve --http`: the receipt-session server over Streamable HTTP, behind the
 * gateway's checks (docs/session.md "Over HTTP"). The official SDK's HTTP client records and
 * seals a session that then verifies; unauthenticated, foreign-origin and other principals'
 * requests are refused; a bad configuration is exit 2. A receipt session is its starter's:
 * another principal neither sees, reads, adds to nor seals it, nor joins it by `_meta`
 * through the gateway, also after a restart, and one principal cannot open more MCP
 * sessions than its share. A DPoP proof is accepted once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, EVERYTHING, ROOT, cli, scope, waitFor } from './helpers.js';
import { connectHttp } from './http-helpers.js';
import { ALICE, BOB, CALLERS, mcpHeaders, startGateway } from './gateway-helpers.js';

/** `serve --http` with `yaml` added to a configuration of Alice and Bob; its URL, its stderr so far, and its exit. */
async function serveHttp(s: ReturnType<typeof scope>, yaml = ''): Promise<{ url: string; proc: ChildProcess; err: () => string; exited: Promise<number | null> }> {
  const config = join(s.dir, 'serve.yaml');
  writeFileSync(config, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}${yaml}`);
  const proc = spawn(process.execPath, [CLI, 'serve', '--http', '--config', config, '--home', s.home], { cwd: ROOT, env: { ...process.env, ALICE_TOKEN: ALICE, BOB_TOKEN: BOB }, stdio: 'pipe' });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  s.defer(async () => { if (proc.exitCode === null) proc.kill('SIGKILL'); await exited; });
  const url = await waitFor('the server to listen', () => /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err)?.[1], 20_000);
  return { url, proc, err: () => err, exited };
}

test('serve --http: the SDK client records, seals and verifies a session; strangers and other principals are refused', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const missing = cli(['serve', '--http', '--config', join(s.dir, 'missing.yaml')]);
  assert.equal(missing.status, 3, 'a configuration that cannot be read is an I/O error, as every input file');
  assert.match(missing.stderr, /ERR_STORE_IO: cannot read configuration .*missing\.yaml/);
  assert.equal(cli(['serve', '--listen', '127.0.0.1:0']).status, 2, '--listen without --http');
  const { url, proc, err: stderr, exited } = await serveHttp(s);
  // --listen beyond loopback, the configuration naming no allowedHosts: refused at start, not 403 to every request.
  const wide = cli(['serve', '--http', '--config', join(s.dir, 'serve.yaml'), '--listen', '0.0.0.0:0', '--home', join(s.dir, 'wide')], 60_000, { env: { ALICE_TOKEN: ALICE, BOB_TOKEN: ALICE + 'b' } });
  assert.equal(wide.status, 2, wide.stderr);
  assert.match(wide.stderr, /ERR_CONFIG_INVALID: --listen 0\.0\.0\.0:0: allowedHosts: required when listening on 0\.0\.0\.0/);

  const { client, transport } = await connectHttp(s, url, {}, { authorization: `Bearer ${ALICE}` });
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    assert.ok(!r.isError, `${name}: ${JSON.stringify(r.content)}`);
    return r.structuredContent as Record<string, unknown>;
  };
  const id = (await call('start_session', { task: 'refund order 1234', delegator: 'user:carol' }))['sessionId'] as string;
  await call('record_action', { sessionId: id, name: 'payments/refund', summary: 'refunded 42.50 EUR' });
  await call('finalize_session', { sessionId: id });
  const verdict = await call('verify_session', { sessionId: id });
  assert.equal(verdict['ok'], true, JSON.stringify(verdict));
  assert.equal(verdict['level'], 'sealed');

  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  assert.equal((await fetch(url, { method: 'POST', headers: mcpHeaders(null), body: init })).status, 401);
  assert.equal((await fetch(url, { method: 'POST', headers: mcpHeaders(ALICE, { origin: 'https://evil.example' }), body: init })).status, 403);
  const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const foreign = await fetch(url, { method: 'POST', headers: mcpHeaders(BOB, { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' }), body: list });
  assert.equal(foreign.status, 404, 'Bob cannot use Alice\'s session');
  const bad = await fetch(url, { method: 'POST', headers: mcpHeaders(ALICE), body: '{"jsonrpc":"2.0","id":1,"id":2,"method":"initialize","params":{}}' });
  assert.equal(bad.status, 400, 'not strict JSON-RPC');
  await client.close();
  proc.kill('SIGTERM');
  assert.equal(await exited, 0, stderr());
});

test('serve --http: a receipt session is its starter\'s alone, also after a restart; one principal cannot take every MCP session', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const as = async (url: string, token: string) => {
    const { client, transport } = await connectHttp(s, url, {}, { authorization: `Bearer ${token}` });
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
    const listed = async () => JSON.parse(((await client.readResource({ uri: 'mcp-attest://sessions' })).contents[0] as { text: string }).text) as Array<{ sessionId: string }>;
    return { client, transport, call, listed };
  };
  const first = await serveHttp(s, 'limits: {maxSessionsPerPrincipal: 3}\n');
  const alice = await as(first.url, ALICE);
  const id = ((await alice.call('start_session', { task: 'alice: refund order 1234', delegator: 'user:carol' })).structuredContent as { sessionId: string }).sessionId;
  assert.ok(!(await alice.call('record_action', { sessionId: id, name: 'payments/refund' })).isError);
  const check = async (url: string): Promise<void> => {
    const bob = await as(url, BOB);
    assert.deepEqual(await bob.listed(), [], 'Bob sees none of Alice\'s sessions');
    for (const [name, args] of [['record_action', { sessionId: id, name: 'bob/was/here' }], ['finalize_session', { sessionId: id }], ['verify_session', { sessionId: id }]] as const) {
      const r = await bob.call(name, args);
      assert.equal(r.isError, true, name);
      assert.equal((r.structuredContent as { code: string }).code, 'ERR_SESSION_UNKNOWN', name);
    }
    await assert.rejects(bob.client.readResource({ uri: `mcp-attest://sessions/${id}` }), /Resource not found/);
    await assert.rejects(bob.client.readResource({ uri: `mcp-attest://sessions/${id}/receipt` }), /Resource not found/);
    await bob.transport.terminateSession();
    await bob.client.close();
  };
  await check(first.url);
  // Through the gateway on the same directory, a call joins a session by _meta only if its principal started it.
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);
  s.defer(() => gw.stop());
  for (const [token, message] of [[BOB, 'bob was here'], [ALICE, 'alice was here']] as const) {
    const { client } = await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${token}` });
    assert.ok(!((await client.callTool({ name: 'echo', arguments: { message }, _meta: { 'dev.mcp-attest/session': id } })) as CallToolResult).isError);
    await client.close();
  }
  await waitFor('the gateway to say Bob\'s call joins no session', () => /joins no session[^\n]*ERR_SESSION_UNKNOWN/.test(gw.stderr()) || undefined, 10_000);
  const joined = JSON.parse(((await alice.client.readResource({ uri: `mcp-attest://sessions/${id}` })).contents[0] as { text: string }).text) as { actions: Array<{ name: string }> };
  assert.deepEqual(joined.actions.map((a) => a.name), ['payments/refund', 'echo'], 'Alice\'s call joined; Bob\'s did not');
  await gw.stop();
  // Bob's share is 3 MCP sessions at once: a fourth is refused, Alice's still open.
  const bobs = await Promise.all([1, 2, 3].map(() => as(first.url, BOB)));
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
  const fourth = await fetch(first.url, { method: 'POST', headers: mcpHeaders(BOB), body: init });
  assert.equal(fourth.status, 429);
  assert.equal((await fetch(first.url, { method: 'POST', headers: mcpHeaders(ALICE), body: init })).status, 200);
  for (const b of bobs) await b.client.close();
  await alice.client.close();
  first.proc.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.err());
  // Restarted on the same directory: the session is still Alice's, and only hers.
  const second = await serveHttp(s);
  await check(second.url);
  const again = await as(second.url, ALICE);
  assert.deepEqual((await again.listed()).map((l) => l.sessionId), [id]);
  const sealed = await again.call('finalize_session', { sessionId: id });
  assert.equal((sealed.structuredContent as { actionCount: number }).actionCount, 2, 'only Alice\'s actions');
  await again.client.close();
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.err());
});

test('serve --http with DPoP-bound access tokens: a proof is accepted once (its id recorded, as at the gateway), a replay is 401', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint } = await import('jose');
  const as = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(join(s.dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(as.publicKey)), kid: 'as1', alg: 'ES256', use: 'sig' }] }));
  const resource = 'https://srv.example';
  const { url } = await serveHttp(s, `oauth: {issuer: "https://as.example", jwksFile: jwks.json, resource: "${resource}", scopes: [mcp]}\n`);
  const key = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(key.publicKey);
  const endpoint = `${resource}/sessions/mcp`;
  const token = await new SignJWT({ scope: 'mcp', iss: 'https://as.example', aud: endpoint, sub: 'bot', cnf: { jkt: await calculateJwkThumbprint(jwk, 'sha256') } })
    .setProtectedHeader({ alg: 'ES256', kid: 'as1' }).setIssuedAt().setExpirationTime('5m').sign(as.privateKey);
  const proof = await new SignJWT({ htm: 'POST', htu: endpoint, ath: createHash('sha256').update(token).digest('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().setJti(randomUUID()).sign(key.privateKey);
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  const post = () => fetch(url, { method: 'POST', headers: mcpHeaders(null, { authorization: `DPoP ${token}`, dpop: proof }), body: JSON.stringify(init) });
  assert.equal((await post()).status, 200);
  const replayed = await post();
  assert.equal(replayed.status, 401);
  assert.match(await replayed.text(), /used before/);
});
