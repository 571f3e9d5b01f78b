/**
 * The gateway's admission (src/gateway/guard.ts `authorize`): a caller's slot is released when
 * it hangs up, also while its DPoP proof's id is being recorded (a fleet's replay store is a
 * database round trip away), and a refused proof (a replay) spends none of the principal's
 * rate. Real HTTP server and sockets; the OAuth resource stands in with a slow admission.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { authorize, Limiter, type Caller, type Refusal } from '../../src/gateway/guard.js';
import type { OAuthResource } from '../../src/gateway/oauth.js';

/** An OAuth resource whose callers are `oauth:alice`, admitted after `ms` with `refusal` (null: admitted). */
function resource(ms: number, refusal: Refusal | null): OAuthResource {
  const caller: Caller = { principal: 'oauth:alice', admit: async () => { await new Promise((r) => setTimeout(r, ms)); return refusal; } };
  return { principal: async () => caller, challenge: () => 'Bearer' } as unknown as OAuthResource;
}

test('a caller that hangs up while its proof is being recorded gives its slot back', async (t) => {
  const limiter = new Limiter({ requestsPerSecond: 1000, burst: 1000, maxConcurrentPerPrincipal: 2 });
  const oauth = resource(200, null);
  const server = createServer((req, res) => void authorize(req, res, new Map(), oauth, 'x', limiter).then((a) => {
    if ('refused' in a) return void res.writeHead(a.refused.status).end();
    res.writeHead(200).end();
  }));
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  for (let i = 0; i < 3; i++) {
    const s = connect(port, '127.0.0.1');
    s.write('GET / HTTP/1.1\r\nHost: x\r\nAuthorization: DPoP a.b.c\r\nDPoP: p\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    s.destroy();
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(typeof limiter.take('oauth:alice'), 'function', 'every slot was given back');
});

test('a refused proof (a replay) spends none of the principal\'s rate; its slot is given back', async () => {
  const limiter = new Limiter({ requestsPerSecond: 0.001, burst: 3, maxConcurrentPerPrincipal: 10 });
  const replay = resource(0, { status: 401, code: 'ERR_GATEWAY_UNAUTHENTICATED', message: 'the DPoP proof was used before' });
  const req = { headers: { authorization: 'DPoP a.b.c', dpop: 'p' }, method: 'POST' } as unknown as IncomingMessage;
  const res = { on: () => undefined, closed: false }; // a response that stays open
  for (let i = 0; i < 10; i++) {
    const a = await authorize(req, res as never, new Map(), replay, 'x', limiter);
    assert.equal('refused' in a && a.refused.status, 401);
  }
  for (let i = 0; i < 3; i++) assert.equal(typeof limiter.take('oauth:alice'), 'function', `the principal's own request ${i + 1}`);
  assert.equal((limiter.take('oauth:alice') as Refusal).code, 'ERR_GATEWAY_RATE_LIMITED', 'then its own burst is spent');
});
