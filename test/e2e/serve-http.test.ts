/**
 * `mcp-attest serve --http`: the receipt-session server over Streamable HTTP, behind the
 * gateway's checks (docs/session.md "Over HTTP"). The official SDK's HTTP client records and
 * seals a session that then verifies; unauthenticated, foreign-origin and other principals'
 * requests are refused; a bad configuration is exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, ROOT, cli, scope, waitFor } from './helpers.js';
import { connectHttp } from './http-helpers.js';
import { ALICE, BOB, CALLERS, mcpHeaders } from './gateway-helpers.js';

test('serve --http: the SDK client records, seals and verifies a session; strangers and other principals are refused', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const config = join(s.dir, 'serve.yaml');
  writeFileSync(config, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}`);
  assert.equal(cli(['serve', '--http', '--config', join(s.dir, 'missing.yaml')]).status, 2);
  assert.equal(cli(['serve', '--listen', '127.0.0.1:0']).status, 2, '--listen without --http');
  const proc = spawn(process.execPath, [CLI, 'serve', '--http', '--config', config, '--home', s.home], { cwd: ROOT, env: { ...process.env, ALICE_TOKEN: ALICE, BOB_TOKEN: BOB }, stdio: 'pipe' });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  s.defer(async () => { if (proc.exitCode === null) proc.kill('SIGKILL'); await exited; });
  const url = await waitFor('the server to listen', () => /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err)?.[1], 20_000);

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
  assert.equal(await exited, 0, err);
});
