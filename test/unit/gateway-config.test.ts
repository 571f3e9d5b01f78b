/**
 * The gateway's configuration (src/gateway/config.ts) and its checks before any work
 * (src/gateway/guard.ts, src/gateway/tools-filter.ts): the published JSON Schema is the one
 * the code checks with; every configuration problem is listed with its path; header/body
 * agreement of the 2026-07-28 revision; token buckets; wildcard tool lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import Ajv2020 from 'ajv/dist/2020.js';
import { gatewayJsonSchema, parseGatewayConfig, tokenDigest } from '../../src/gateway/config.js';
import { Limiter, headerMismatch } from '../../src/gateway/guard.js';
import { MAX_TOOL_NAME, globMatch, toolFilter } from '../../src/gateway/tools-filter.js';
import type { RpcMessage } from '../../src/proxy/message.js';
import { isAttestError } from '../../src/errors.js';

const MIN = 'version: 1\ncallers: [{principal: a, token: {sha256: "' + 'b'.repeat(64) + '"}}]\nupstreams: [{name: a, command: [node, s.js]}]\n';

test('docs/gateway.schema.json is generated from the checking schema, and agrees with it on examples', () => {
  const text = readFileSync(new URL('../../docs/gateway.schema.json', import.meta.url), 'utf8');
  assert.equal(text, gatewayJsonSchema(), 'stale: node --import tsx scripts/gen-gateway-schema.ts');
  const validate = new Ajv2020.default({ strict: false }).compile(JSON.parse(text) as object);
  const good = { version: 1, upstreams: [{ name: 'a', url: 'https://h.example/mcp', role: ['attest', 'gate'], policy: 'p.yaml' }], callers: [{ principal: 'x', token: { sha256: 'a'.repeat(64) } }] };
  assert.ok(validate(good), JSON.stringify(validate.errors));
  assert.doesNotThrow(() => parseGatewayConfig(JSON.stringify(good), '/tmp'));
  const bad = { ...good, extra: true };
  assert.ok(!validate(bad));
  assert.throws(() => parseGatewayConfig(JSON.stringify(bad), '/tmp'), { code: 'ERR_CONFIG_INVALID' });
});

test('defaults: loopback listen, no origins, full durability, limits filled in', () => {
  const { config } = parseGatewayConfig(MIN, '/etc/gw');
  assert.equal(config.listen, '127.0.0.1:3030');
  assert.deepEqual(config.allowedOrigins, []);
  assert.equal(config.durability, 'full');
  assert.equal(config.limits.maxBodyBytes, 4 * 1024 * 1024);
  assert.equal(config.upstreams[0]!.role, 'attest');
});

test('every problem is listed with its path', () => {
  const text = 'version: 1\nlisten: nowhere\ncallers:\n  - {principal: " a", token: {env: UNSET_X}}\n  - {principal: b, token: {env: SHORT}}\nupstreams:\n  - {name: x, command: [a], url: "http://h/mcp"}\n  - {name: x, url: "ftp://h/"}\n  - {name: g, command: [a], role: gate}\n';
  try {
    parseGatewayConfig(text, '/tmp', { SHORT: 'abc' });
    assert.fail('accepted');
  } catch (e) {
    const m = (e as Error).message;
    for (const p of ['listen:', 'callers.0.principal', 'upstreams.0: give exactly one', 'upstreams.1.url', 'upstreams.2.policy']) assert.ok(m.includes(p), `${p} in ${m}`);
  }
  const twice = 'version: 1\ncallers: [{principal: a, token: {env: T}}, {principal: b, token: {env: T}}]\nupstreams: [{name: x, command: [a]}, {name: x, command: [b]}]\n';
  assert.throws(() => parseGatewayConfig(twice, '/tmp', { T: 't'.repeat(20) }), (e: Error) => /same token/.test(e.message) && /used twice/.test(e.message));
  assert.throws(() => parseGatewayConfig('version: 1\nupstreams: [{name: a, command: [x]}]\nversion: 1\n', '/tmp'), { code: 'ERR_CONFIG_INVALID' }, 'duplicate key');
  assert.throws(() => parseGatewayConfig('version: 1\nupstreams: [{name: a, command: [x]}]\n', '/tmp'), /nobody could use the gateway/);
  assert.throws(() => parseGatewayConfig('version: 1\noauth: {issuer: "https://as.example", resource: "https://gw.example"}\nupstreams: [{name: a, command: [x]}]\n', '/tmp'), /exactly one of jwksUrl and jwksFile/);
  assert.throws(() => parseGatewayConfig('version: 1\nupstreams: [{name: a, command: [x], maxProcesses: 2, maxProcessesPerPrincipal: 3}]\n', '/tmp'), /upstreams\.0\.maxProcessesPerPrincipal: at most maxProcesses/);
  assert.throws(() => parseGatewayConfig('version: 1\nupstreams: [{name: a, url: "https://h.example/mcp", maxProcessesPerPrincipal: 1}]\n', '/tmp'), /maxProcessesPerPrincipal is for command upstreams/);
  const loaded = parseGatewayConfig('version: 1\ncallers: [{principal: a, token: {env: T}}]\nupstreams: [{name: a, command: [x]}]\n', '/tmp', { T: 't'.repeat(20) });
  assert.equal(loaded.tokens.get(tokenDigest('t'.repeat(20))), 'a');
});

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
const call = (name: string, meta: object = META): RpcMessage => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, _meta: meta as never } });

test('2026-07-28 header/body agreement, in either era for the headers present', () => {
  const ok = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
  assert.equal(headerMismatch(req(ok), call('echo')), null);
  assert.match(headerMismatch(req({ ...ok, 'mcp-name': 'rm' }), call('echo'))!, /Mcp-Name/);
  assert.match(headerMismatch(req({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }), call('echo'))!, /MCP-Protocol-Version is missing/);
  assert.match(headerMismatch(req({ 'mcp-protocol-version': '2026-07-28', 'mcp-name': 'echo' }), call('echo'))!, /Mcp-Method is missing/);
  assert.equal(headerMismatch(req({ ...ok, 'mcp-name': `=?base64?${Buffer.from('échо').toString('base64')}?=` }), call('échо')), null, 'base64 form');
  assert.match(headerMismatch(req({ ...ok, 'mcp-name': '=?base64?ZWNobw?=' }), call('echo'))!, /Mcp-Name/, 'non-canonical base64 refused');
  assert.equal(headerMismatch(req({}), call('echo', {})), null, 'legacy without headers');
  assert.match(headerMismatch(req({ 'mcp-name': 'other' }), call('echo', {}))!, /Mcp-Name/, 'a legacy request\'s header is still checked');
  const read: RpcMessage = { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'file:///a', _meta: META } };
  assert.equal(headerMismatch(req({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': 'file:///a' }), read), null);
});

test('token buckets per principal: burst, refill, and the in-flight cap', () => {
  const l = new Limiter({ requestsPerSecond: 2, burst: 2, maxConcurrentPerPrincipal: 10 });
  const r1 = l.take('a', 0), r2 = l.take('a', 0), r3 = l.take('a', 0);
  assert.equal(typeof r1, 'function');
  assert.equal(typeof r2, 'function');
  assert.equal((r3 as { code: string }).code, 'ERR_GATEWAY_RATE_LIMITED');
  assert.equal(typeof l.take('b', 0), 'function', 'another principal has its own bucket');
  assert.equal(typeof l.take('a', 600), 'function', 'refilled after 0.5 s');
  const c = new Limiter({ requestsPerSecond: 1000, burst: 1000, maxConcurrentPerPrincipal: 1 });
  const held = c.take('a', 0) as () => void;
  assert.equal((c.take('a', 0) as { code: string }).code, 'ERR_GATEWAY_BUSY');
  held();
  held();
  assert.equal(typeof c.take('a', 0), 'function', 'released once, even if called twice');
});

test('tool allow/deny wildcards match whole names, literally apart from * and ?', () => {
  const f = toolFilter({ allow: ['get-*', 'echo'], deny: ['get-env', 'a.?'] });
  assert.deepEqual(['echo', 'get-sum', 'get-env', 'echoes', 'x-get-sum'].map(f), [true, true, false, false, false]);
  const dots = toolFilter({ deny: ['a.?'] });
  assert.deepEqual(['a.b', 'axb', 'a.bc'].map(dots), [false, true, true]);
  assert.equal(toolFilter(undefined)('anything'), true);
});

test('wildcards never backtrack exponentially, and over-long names never match', () => {
  const long = '_'.repeat(MAX_TOOL_NAME);
  assert.equal(globMatch('*_*_*_drop', long), false);
  assert.equal(globMatch('*_*_*_drop', `${long}drop`), true);
  assert.equal(globMatch('a*b*c', 'axxbyyc'), true);
  assert.equal(globMatch('a*b*c', 'axxbyy'), false);
  assert.equal(globMatch('?é*', 'xé!'), true, 'code points, not UTF-16 units');
  assert.equal(toolFilter(undefined)('x'.repeat(MAX_TOOL_NAME + 1)), false);
});

test('a configured principal may not take the oauth: name space', () => {
  assert.throws(() => parseGatewayConfig('version: 1\ncallers: [{principal: "oauth:alice", token: {sha256: "' + 'c'.repeat(64) + '"}}]\nupstreams: [{name: a, command: [x]}]\n', '/tmp'), /oauth: prefix/);
});

test('principal issuer keys: paths resolved against the file, one key per principal, keys checked when loaded', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { generateKeyPairSync } = await import('node:crypto');
  const { loadPrincipalIssuers } = await import('../../src/gateway/issuers.js');
  const dir = mkdtempSync(join(tmpdir(), 'gw-issuers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'p384.pem'), generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'junk.pem'), 'not a key', { mode: 0o600 });
  const base = `${MIN}issuers:\n`;
  assert.throws(() => parseGatewayConfig(`${base}  - {principal: a, key: a.pem}\n  - {principal: a, key: b.pem}\n`, dir), /issuers\.1\.principal: a has a key already/);
  assert.throws(() => parseGatewayConfig(`${base}  - {principal: a, key: a.pem, iss: "no scheme"}\n`, dir), /issuers\.0\.iss/);
  const loaded = parseGatewayConfig(`${base}  - {principal: a, key: a.pem}\n  - {principal: "oauth:b", key: a.pem, iss: "issuer://b"}\n`, dir);
  assert.equal(loaded.config.issuers[0]!.key, join(dir, 'a.pem'));
  const issuers = await loadPrincipalIssuers(loaded.config.issuers);
  const a = issuers.get('a')!;
  assert.equal(a.signer.alg, 'ES256');
  assert.equal(a.signer.sub, 'a');
  assert.equal(a.signer.iss, `issuer://${a.trusted.keyId}`, 'default iss: the key thumbprint');
  assert.equal(issuers.get('oauth:b')!.signer.iss, 'issuer://b');
  const bad = parseGatewayConfig(`${base}  - {principal: a, key: junk.pem}\n  - {principal: b, key: p384.pem}\n  - {principal: c, key: none.pem}\n`, dir);
  await assert.rejects(loadPrincipalIssuers(bad.config.issuers), (e: Error) => ['issuers.0.key', 'issuers.1.key', 'issuers.2.key'].every((p) => e.message.includes(p)));
  // A key or token file others may read is its own problem (ERR_KEY_EXPOSED, exit 3), not the configuration's.
  const { chmodSync } = await import('node:fs');
  chmodSync(join(dir, 'a.pem'), 0o644);
  await assert.rejects(loadPrincipalIssuers(loaded.config.issuers), (e: Error) => isAttestError(e, 'ERR_KEY_EXPOSED') && e.message.includes(join(dir, 'a.pem')));
  writeFileSync(join(dir, 'ci.token'), 'x'.repeat(32), { mode: 0o644 });
  assert.throws(() => parseGatewayConfig(MIN.replace(`{sha256: "${'b'.repeat(64)}"}`, '{file: ci.token}'), dir), (e: Error) => isAttestError(e, 'ERR_KEY_EXPOSED'));
  chmodSync(join(dir, 'ci.token'), 0o600);
  assert.equal(parseGatewayConfig(MIN.replace(`{sha256: "${'b'.repeat(64)}"}`, '{file: ci.token}'), dir).config.callers.length, 1);
});

test('a mapping key YAML reads as another type is refused (quote it)', () => {
  assert.throws(() => parseGatewayConfig(MIN.replace('upstreams: [{name: a, command: [node, s.js]}]', 'upstreams: [{name: a, command: [node, s.js], headers: {0x1F: x}}]'), '/tmp'), /a mapping key must be a string/);
});
