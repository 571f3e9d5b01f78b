/**
 * Helpers for the Streamable HTTP tests: real servers on loopback ports (server-everything
 * in its `streamableHttp` mode, the modern-era fixture), the official SDK's HTTP client, and a
 * raw stdio peer on `mcp-attest proxy --url`.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CLI, EVERYTHING, ROOT, RawPeer, waitFor, type Scope } from './helpers.js';

/** A free loopback TCP port (released before it is returned). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** server-everything in Streamable HTTP mode (2025-11-25 era, sessions, SSE); returns its MCP URL. */
export async function everythingHttp(s: Scope): Promise<string> {
  const port = await freePort();
  const proc = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  s.defer(() => proc.kill('SIGKILL'));
  await waitFor(`server-everything listening on ${port}`, () => err.includes('listening'));
  return `http://127.0.0.1:${port}/mcp`;
}

/** The modern-era fixture server (test/e2e/fixtures/modern-http-server.mjs); returns its URL and what it received. */
export async function modernHttp(s: Scope): Promise<{ url: string; received(): Array<Record<string, unknown>> }> {
  const record = join(s.dir, 'http-received.jsonl');
  writeFileSync(record, '');
  const proc = spawn(process.execPath, [join(ROOT, 'test/e2e/fixtures/modern-http-server.mjs'), record], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  s.defer(() => proc.kill('SIGKILL'));
  const port = await waitFor('the fixture port', () => /^\d+\n/.test(out) && out.trim());
  const { readFileSync } = await import('node:fs');
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received: () => readFileSync(record, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** The official SDK client over Streamable HTTP to `url` (closed when the test ends). */
export async function connectHttp(s: Scope, url: string, capabilities: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'mcp-attest-e2e', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  s.defer(() => client.close());
  await client.connect(transport);
  return { client, transport };
}

/** `mcp-attest proxy --home HOME FLAGS --url URL` with raw stdio. */
export function rawUrlProxy(s: Scope, url: string, flags: string[] = [], env: Record<string, string> = {}): RawPeer {
  const proc = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, ...flags, '--url', url], { cwd: ROOT, stdio: 'pipe', env: { ...process.env, ...env } });
  const peer = new RawPeer(proc);
  s.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await peer.exited;
  });
  return peer;
}
