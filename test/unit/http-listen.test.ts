/**
 * The cap on a server's open connections (src/http/listen.ts `capConnections`): a real
 * node:http server on loopback, real TCP connections held open by a client, and what the
 * connection past the cap sees (closed at once) and what the operator is told.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { listen } from '../../src/http/listen.js';
import { DEFAULT_MAX_CONNECTIONS, addressKey, capConnections, descriptorBudget } from '../../src/http/caps.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';

/** GET `url` on a fresh connection: the status, or the error's code when the connection is closed first. */
function status(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

test('a connection past maxConnections is closed as soon as it is accepted, the operator told once; one closed makes room', async (t) => {
  const server = createServer((_req, res) => res.end('ok'));
  const lines: string[] = [];
  capConnections(server, { max: 2, who: 'test server', notify: (l) => lines.push(l) });
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}/`;
  // Two clients open connections and send nothing: they hold the server's two places.
  const held: Socket[] = [];
  for (let i = 0; i < 2; i++) held.push(await new Promise<Socket>((r) => { const s = connect(port, '127.0.0.1', () => r(s)); s.on('error', () => undefined); }));
  for (const end = Date.now() + 5_000; accepted < 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  assert.equal(accepted, 2);
  const refused = [await status(url), await status(url)];
  assert.ok(refused.every((s) => typeof s === 'string'), `refused: ${refused.join(', ')}`);
  assert.equal(lines.length, 1, 'one notice within 10 s, however many are refused');
  assert.match(lines[0]!, /^mcp-attest: test server: new connections closed at once: 1 past the 2 it keeps open, 0 past the 256 of one client address\n$/);
  held[0]!.destroy();
  let after: number | string = '';
  for (const end = Date.now() + 5_000; after !== 200 && Date.now() < end; await new Promise((r) => setTimeout(r, 20))) after = await status(url);
  assert.equal(after, 200, 'a place freed is taken');
  held[1]!.destroy();
});

test('listen() caps every server it starts (log serve, witness serve) at 4,096 (within the descriptors) unless told; the gateway and serve --http read limits.maxConnections', async (t) => {
  const server = createServer((_req, res) => res.end('ok'));
  const bound = await listen(server, { host: '127.0.0.1', port: 0 });
  t.after(() => bound.close());
  assert.equal(server.maxConnections, Math.min(DEFAULT_MAX_CONNECTIONS, descriptorBudget()));
  assert.equal(DEFAULT_MAX_CONNECTIONS, 4096);
  const other = createServer();
  const two = await listen(other, { host: '127.0.0.1', port: 0, maxConnections: 7, who: 'x' });
  t.after(() => two.close());
  assert.equal(other.maxConnections, 7);
  const base = 'version: 1\ncallers: [{principal: a, token: {env: T}}]\nupstreams: [{name: u, command: [x]}]\n';
  assert.equal(parseGatewayConfig(base, '/etc/gw', { T: 'x'.repeat(32) }).config.limits.maxConnections, undefined, 'the default: 4,096 within the descriptors');
  assert.equal(parseGatewayConfig(`${base}limits: {maxConnections: 10}\n`, '/etc/gw', { T: 'x'.repeat(32) }).config.limits.maxConnections, 10);
  assert.throws(() => parseGatewayConfig(`${base}limits: {maxConnections: 0}\n`, '/etc/gw', { T: 'x'.repeat(32) }), /limits\.maxConnections/);
});

test('the default cap never passes half the file descriptors the process may open (a cap it could not reach would leave the log and upstreams to run out), and says so; a cap asked past it is kept, with a warning', () => {
  const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 1048576              files\n`;
  assert.equal(descriptorBudget(limits('1024')), 512);
  assert.equal(descriptorBudget(limits('20')), 16, 'at least 16');
  assert.equal(descriptorBudget(limits('unlimited')), Infinity);
  assert.equal(descriptorBudget(null), Infinity, 'not Linux: no budget');
  const lines: string[] = [];
  const server = createServer();
  capConnections(server, { who: 'x', notify: (l) => lines.push(l), budget: 512 });
  assert.equal(server.maxConnections, 512);
  assert.deepEqual(lines, ['mcp-attest: x: keeps at most 512 connections open, half the file descriptors this process may open (raise ulimit -n for more)\n']);
  const within = createServer();
  capConnections(within, { max: 100, who: 'y', notify: (l) => lines.push(l), budget: 512 });
  assert.deepEqual([within.maxConnections, lines.length], [100, 1], 'a cap within the budget is kept, silently');
  // One asked past the budget is the operator's: kept, and said.
  const past = createServer();
  capConnections(past, { max: 2000, who: 'z', notify: (l) => lines.push(l), budget: 512 });
  assert.equal(past.maxConnections, 2000);
  assert.match(lines[1]!, /^mcp-attest: z: warning: 2000 connections are more than half the file descriptors this process may open \(1024\)/);
});

test('one client address holds at most its share: past it a connection is closed at once, the others are served; an IPv6 client counts by its /64', async (t) => {
  assert.equal(addressKey('127.0.0.1'), '127.0.0.1');
  assert.equal(addressKey('::ffff:10.0.0.7'), '10.0.0.7');
  assert.equal(addressKey('2001:db8:0:1::5'), addressKey('2001:0db8:0000:0001:ffff:1:2:3'));
  assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.notEqual(addressKey('2001:db8:0:2::5'), addressKey('2001:db8:0:1::5'));
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  const server = createServer((_req, res) => res.end('ok'));
  const lines: string[] = [];
  capConnections(server, { max: 100, perAddress: 2, who: 'test', notify: (l) => lines.push(l) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const { port } = server.address() as { port: number };
  const held: Socket[] = [];
  for (let i = 0; i < 2; i++) held.push(await new Promise<Socket>((r) => { const s = connect(port, '127.0.0.1', () => r(s)); s.on('error', () => undefined); }));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(typeof await status(`http://127.0.0.1:${port}/`), 'string', 'a third from the same address is closed');
  assert.match(lines[0]!, /1 past the 2 of one client address/);
  for (const s of held) s.destroy();
  let after: number | string = '';
  for (const end = Date.now() + 5_000; after !== 200 && Date.now() < end; await new Promise((r) => setTimeout(r, 20))) after = await status(`http://127.0.0.1:${port}/`);
  assert.equal(after, 200, 'its places freed, it is served again');
});
