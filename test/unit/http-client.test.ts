/**
 * The upstream HTTP client's connection reuse (src/proxy/http-client.ts): an idle kept-alive
 * connection is closed by this side before the server's own idle timer can close it under a
 * request being sent (the ECONNRESET race that lost a call under load), while a response that
 * stays silent longer than that idle time is still read to its end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { IDLE_SOCKET_MS, send } from '../../src/proxy/http-client.js';

async function listen(server: Server): Promise<URL> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  let s = '';
  for await (const b of body) s += b.toString();
  return s;
}

test('an idle kept-alive connection is closed by the client before the server would (no ECONNRESET race)', async () => {
  const closedBy: string[] = [];
  // The server never closes idle connections itself and gives no Keep-Alive hint.
  const server = createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 0;
  server.on('connection', (sock: Socket) => {
    sock.on('end', () => closedBy.push('client'));
  });
  const url = await listen(server);
  try {
    const res = await send(url, { method: 'POST', headers: {}, body: '{}', signal: new AbortController().signal });
    assert.equal(await text(res.body), 'ok');
    await new Promise((r) => setTimeout(r, IDLE_SOCKET_MS + 500));
    assert.deepEqual(closedBy, ['client'], 'the client closed its idle connection after IDLE_SOCKET_MS');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a response silent for longer than the idle time is still read to its end', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
    setTimeout(() => res.end('data: late\n\n'), IDLE_SOCKET_MS + 800);
  });
  const url = await listen(server);
  try {
    const res = await send(url, { method: 'GET', headers: {}, signal: new AbortController().signal });
    assert.equal(await text(res.body), ': open\n\ndata: late\n\n');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('requests are not queued behind long-lived streams: 300 open SSE streams, then one POST', async () => {
  const streams: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      streams.push(res);
      return;
    }
    res.end('ok');
  });
  const url = await listen(server);
  const ac = new AbortController();
  try {
    const opened = await Promise.all(Array.from({ length: 300 }, () => send(url, { method: 'GET', headers: {}, signal: ac.signal })));
    assert.equal(opened.length, 300);
    const res = await send(url, { method: 'POST', headers: {}, body: '{}', signal: new AbortController().signal });
    assert.equal(await text(res.body), 'ok');
  } finally {
    ac.abort();
    for (const s of streams) s.destroy();
    server.closeAllConnections();
    server.close();
  }
});
