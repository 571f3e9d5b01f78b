/**
 * The 2026-07-28 era end to end with the official v2 SDK on both sides
 * (`@modelcontextprotocol/client` pinned to 2026-07-28, `@modelcontextprotocol/server`'s
 * `createMcpHandler`, test/e2e/fixtures/v2-http-server.mjs): through the gateway (HTTP
 * caller, HTTP upstream) and through `proxy --url` (stdio caller, HTTP upstream), answers equal
 * the direct ones apart from our `_meta`, progress arrives, and the log verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLI, ROOT, exportTrust, logShow, scope, stripReceipt, verify, waitFor, type Scope } from './helpers.js';
import { ALICE, CALLERS, startGateway } from './gateway-helpers.js';

const PIN = { versionNegotiation: { mode: { pin: '2026-07-28' } } } as const;

async function v2Server(s: Scope): Promise<string> {
  const p = spawn(process.execPath, [join(ROOT, 'test/e2e/fixtures/v2-http-server.mjs')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  s.defer(() => p.kill('SIGKILL'));
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return `http://127.0.0.1:${await waitFor('the v2 server', () => /^(\d+)\n/.exec(out)?.[1])}/mcp`;
}

/** Connect, keeping every message the client receives as it arrived (the SDK may drop a progress callback that lands in one read with the result). */
async function connectWatched(client: Client, transport: Parameters<Client['connect']>[0]): Promise<Array<Record<string, unknown>>> {
  await client.connect(transport);
  const received: Array<Record<string, unknown>> = [];
  const onmessage = transport.onmessage!;
  transport.onmessage = (m, extra) => {
    received.push(structuredClone(m) as Record<string, unknown>);
    onmessage(m, extra);
  };
  return received;
}

async function exercise(client: Client, received: Array<Record<string, unknown>>, direct: Client, label: string): Promise<void> {
  assert.deepEqual((await client.listTools()).tools, (await direct.listTools()).tools, `${label}: tools/list`);
  const echo = { name: 'echo', arguments: { message: 'héllo' } };
  assert.deepEqual(stripReceipt(await client.callTool(echo)), await direct.callTool(echo), `${label}: echo`);
  const done = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, { onprogress: () => undefined });
  const progress = received.filter((m) => m['method'] === 'notifications/progress').map((m) => (m['params'] as { progress: number }).progress);
  assert.deepEqual(progress, [1, 2, 3], `${label}: progress relayed, in order`);
  assert.ok(JSON.stringify(done).includes('dev.mcp-attest/receipt'), `${label}: receipt reference`);
}

test('a 2026-07-28 v2 SDK client through the gateway and through proxy --url to a v2 SDK server', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const url = await v2Server(s);
  const direct = new Client({ name: 'direct', version: '1' }, PIN);
  await direct.connect(new StreamableHTTPClientTransport(new URL(url)));
  s.defer(() => direct.close());

  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\n${CALLERS}upstreams:\n  - {name: v2, url: ${JSON.stringify(url)}}\n`);
  const viaGateway = new Client({ name: 'via-gateway', version: '1' }, PIN);
  const gwSeen = await connectWatched(viaGateway, new StreamableHTTPClientTransport(new URL(`${gw.base}/v2/mcp`), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
  await exercise(viaGateway, gwSeen, direct, 'gateway');
  await viaGateway.close();
  assert.ok(!gw.access().some((a) => a['rpc'] === 'initialize'), 'no initialize: the modern era all the way');
  assert.equal(await gw.stop(), 0);

  const viaProxy = new Client({ name: 'via-proxy', version: '1' }, PIN);
  const stdio = new StdioClientTransport({ command: process.execPath, args: [CLI, 'proxy', '--home', s.home, '--checkpoint-ms', '200', '--url', url], stderr: 'ignore' });
  const pxSeen = await connectWatched(viaProxy, stdio);
  const pid = stdio.pid;
  s.defer(() => { if (pid !== null) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  await exercise(viaProxy, pxSeen, direct, 'proxy --url');
  await viaProxy.close();
  // The v2 transport closes its end of a socket pair rather than ending the stream: the proxy must still finish.
  await waitFor('the proxy to exit', () => { try { process.kill(pid!, 0); return false; } catch { return true; } }, 15_000);

  await waitFor('both runs logged', () => logShow(s.home).length === 4);
  assert.ok(logShow(s.home).every((r) => r.status === 'executed'));
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
});
