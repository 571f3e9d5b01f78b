/**
 * The gateway under load and under faults (docs/gateway.md), real processes: 50 concurrent
 * SDK clients, 100 calls each, through the gateway to server-everything as a stdio command
 * and as an HTTP server; every call answered and receipted, the log verifies, the gateway's
 * memory stays bounded. Then an HTTP upstream killed in the middle of a call's SSE stream and
 * a caller that goes away mid-call: each call ends in a receipt that says what happened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EVERYTHING, exportTrust, logShow, scope, verify, waitFor } from './helpers.js';
import { everythingHttp } from './http-helpers.js';
import { ALICE, CALLERS, mcpHeaders, startGateway } from './gateway-helpers.js';

const CLIENTS = 50;
const CALLS = 100;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

test(`${CLIENTS} clients x ${CALLS} calls through the gateway to a stdio and an HTTP upstream: all answered, receipted, verified`, { timeout: 600_000 }, async (t) => {
  const s = scope(t);
  const url = await everythingHttp(s);
  // One principal runs all 50 clients: it may hold every process of the stdio upstream (docs/gateway.md).
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ndurability: normal\ncheckpointMs: 500\n${CALLERS}limits: {requestsPerSecond: 100000, burst: 100000}\nupstreams:\n  - {name: local, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], maxProcessesPerPrincipal: 64}\n  - {name: remote, url: ${JSON.stringify(url)}}\n`);
  const before = rssMiB(gw.proc.pid!);
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(gw.proc.pid!)); }, 200);
  s.defer(() => clearInterval(sampler));
  for (const name of ['remote', 'local']) {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const c = new Client({ name: 'load', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.base}/${name}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
      return c;
    }));
    const answers = await Promise.all(clients.map(async (c, i) => {
      // A failed call carries the gateway's last words, so a failure here says why.
      const fail = (e: unknown): never => assert.fail(`${name} ${i}: ${(e as Error).message}\n${gw.stderr().slice(-3000)}`);
      let ok = 0;
      for (let k = 0; k < CALLS; k++) {
        const r = await c.callTool({ name: 'echo', arguments: { message: `${i}:${k}` } }).catch(fail);
        if ((r.content as Array<{ text: string }>)[0]?.text === `Echo: ${i}:${k}`) ok++;
      }
      return ok;
    }));
    assert.equal(answers.reduce((a, b) => a + b, 0), CLIENTS * CALLS, `${name}: every call answered with its own answer`);
    await Promise.all(clients.map((c) => c.close()));
  }
  clearInterval(sampler);
  assert.equal(await gw.stop(), 0, gw.stderr().slice(-2000));
  const rows = logShow(s.home);
  assert.equal(rows.length, 2 * CLIENTS * CALLS);
  assert.ok(rows.every((r) => r.status === 'executed'), 'every call receipted as executed');
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout.slice(0, 2000));
  assert.equal(v.report.inFlight, 0);
  t.diagnostic(`gateway RSS: ${before.toFixed(0)} MiB idle, ${peak.toFixed(0)} MiB peak under ${CLIENTS} clients`);
  assert.ok(peak - before < 512, `memory bounded: grew ${(peak - before).toFixed(0)} MiB`);
});

test('faults: an HTTP upstream killed mid-stream, a caller gone mid-call — each call receipted for what happened', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { spawn } = await import('node:child_process');
  const { freePort } = await import('./http-helpers.js');
  const port = await freePort();
  const upstream = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  upstream.stderr.on('data', (c: Buffer) => (err += c.toString()));
  s.defer(() => upstream.kill('SIGKILL'));
  await waitFor('the upstream', () => err.includes('listening'));
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 100\n${CALLERS}upstreams:\n  - {name: remote, url: "http://127.0.0.1:${port}/mcp"}\n  - {name: local, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`);

  // The upstream dies while the call's SSE stream is open: the caller gets an error, the receipt says connection_lost.
  const c1 = new Client({ name: 'fault', version: '1' });
  await c1.connect(new StreamableHTTPClientTransport(new URL(`${gw.base}/remote/mcp`), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
  const dying = c1.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } });
  await waitFor('the call attested', () => logShow(s.home).some((r) => r.server === 'remote'));
  await new Promise((r) => setTimeout(r, 300));
  upstream.kill('SIGKILL');
  await assert.rejects(dying, /-32005|ended without an answer/);
  await waitFor('its receipt', () => logShow(s.home).find((r) => r.server === 'remote')?.reason === 'connection_lost');
  await c1.close().catch(() => undefined);

  // A 2025-11-25 caller goes away mid-call: that era does not cancel on disconnect; the answer is still receipted.
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  const opened = await fetch(`${gw.base}/local/mcp`, { method: 'POST', headers: mcpHeaders(ALICE), body: JSON.stringify(init) });
  const sid = opened.headers.get('mcp-session-id')!;
  await opened.text();
  const h = mcpHeaders(ALICE, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  await (await fetch(`${gw.base}/local/mcp`, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  const ac = new AbortController();
  const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } } };
  await fetch(`${gw.base}/local/mcp`, { method: 'POST', headers: h, body: JSON.stringify(call), signal: ac.signal });
  await waitFor('the call attested', () => logShow(s.home).some((r) => r.server === 'local'));
  ac.abort();
  await waitFor('the answer receipted though nobody was there to read it', () => logShow(s.home).find((r) => r.server === 'local')?.status === 'executed', 15_000);
  assert.equal(await gw.stop(), 0);
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.equal(v.report.unanswered, 1, 'exactly the call the upstream never answered');
});
