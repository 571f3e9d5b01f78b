/**
 * Several gated upstreams behind one gateway (real processes): each answers to a server
 * fingerprint of its own (gate/wire.ts `upstreamFingerprint`), so an attestation addressed
 * to one upstream is refused by another (`server_mismatch`) and still allowed by its own;
 * two gated upstreams given one fingerprint by their policies are a configuration error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, EVERYTHING, cli, exportTrust, scope } from './helpers.js';
import { ALICE, CALLERS, mcpHeaders, messagesOf, startGateway } from './gateway-helpers.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { nodeSigner } from '../../src/store/node-signer.js';
import { loadIdentity } from '../../src/store/identity.js';
import { upstreamFingerprint } from '../../src/gate/wire.js';
import { spawnSync } from 'node:child_process';

const upstream = (name: string): string => `  - {name: ${name}, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: gate, policy: gate.yaml}\n`;

test('an attestation for one gated upstream is refused by another behind the same gateway (server_mismatch), and allowed by its own', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const agent = join(s.dir, 'agent');
  for (const h of [s.home, agent]) assert.equal(cli(['init', '--home', h]).status, 0);
  exportTrust(agent, join(s.dir, 'trust.json'));
  writeFileSync(join(s.dir, 'gate.yaml'), 'version: 1\ntrustFiles: [trust.json]\n');
  const gw = await startGateway(s, `version: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n${upstream('crm')}${upstream('files')}`);
  const id = loadIdentity(agent);
  const signer = { iss: id.iss, sub: id.sub, alg: 'ES256' as const, keyId: id.issuer.keyId, sign: nodeSigner('ES256', readFileSync(join(agent, 'keys', 'issuer.pem'), 'utf8')) };
  const crm = upstreamFingerprint(loadIdentity(s.home).issuer.keyId, 'crm');
  assert.notEqual(crm, upstreamFingerprint(loadIdentity(s.home).issuer.keyId, 'files'));
  const call = async (path: string, attestation: unknown): Promise<Record<string, unknown>> => {
    const post = (body: unknown, sid?: string) => fetch(`${gw.base}/${path}/mcp`, { method: 'POST', headers: mcpHeaders(ALICE, sid ? { 'mcp-session-id': sid } : {}), body: JSON.stringify(body) });
    const opened = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
    assert.equal(opened.status, 200, await opened.clone().text());
    const sid = opened.headers.get('mcp-session-id')!;
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
    const reply = (await messagesOf(await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, _meta: { attestation } } }, sid))).find((m) => m['id'] === 1);
    return reply!['result'] as Record<string, unknown>;
  };
  const refusal = (r: Record<string, unknown>) => (r['_meta'] as Record<string, { code?: string }> | undefined)?.['dev.mcp-attest/refusal']?.code;
  const forCrm = await issueAttestation(signer, { tool: 'echo', args: { message: 'hi' }, serverFingerprint: crm, intent: 'test', now: Math.floor(Date.now() / 1000), nonceBytes: crypto.getRandomValues(new Uint8Array(16)) });
  const elsewhere = await call('files', forCrm);
  assert.equal(elsewhere['isError'], true, JSON.stringify(elsewhere));
  assert.equal(refusal(elsewhere), 'ERR_SERVER_MISMATCH', JSON.stringify(elsewhere));
  const own = await call('crm', forCrm);
  assert.deepEqual(own['content'], [{ type: 'text', text: 'Echo: hi' }], JSON.stringify(own));
  await gw.stop();

  // One fingerprint for both, set by their policies: refused at start, naming the upstream.
  writeFileSync(join(s.dir, 'gate.yaml'), `version: 1\ntrustFiles: [trust.json]\nserverFingerprint: "${crm}"\n`);
  writeFileSync(join(s.dir, 'same.yaml'), `home: ${s.home}\nversion: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n${upstream('crm')}${upstream('files')}`);
  const same = spawnSync(process.execPath, [CLI, 'gateway', '--config', join(s.dir, 'same.yaml')], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ALICE_TOKEN: ALICE, BOB_TOKEN: ALICE + 'x' } });
  assert.equal(same.status, 2, same.stderr);
  assert.match(same.stderr, /^mcp-attest: ERR_CONFIG_INVALID: bad configuration .*same\.yaml:\n {2}upstreams: files answers to the serverFingerprint of another gated upstream/);
});
