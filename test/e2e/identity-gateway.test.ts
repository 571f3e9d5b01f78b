/**
 * Agent credentials through the HTTP gateway with DPoP-bound OAuth access tokens (RFC 9449),
 * real processes: a local authorization server's key signs access tokens bound (`cnf.jkt`) to
 * the agent's key; the agent proves possession on every request and attests each call under
 * its credential, itself bound to the same key. The gate allows it; a thief holding the
 * token and its own DPoP key, a bearer token where the credential demands a DPoP key, a
 * DPoP-bound token sent as a bearer token and a replayed proof are all refused, the proof also
 * after a configuration reload and after a restart (its id is in nonces.db, not in memory);
 * a caller over its rate limit records no proof id.
 * The decisions record the token's issuer, subject, digest and key, and the log verifies offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVERYTHING, cli, exportTrust, readLog, scope, verify, waitCheckpointed, waitFor } from './helpers.js';
import { mcpHeaders, messagesOf, startGateway } from './gateway-helpers.js';
import { GATED_FP } from './gate-helpers.js';
import { issueAttestation } from '../../src/attestation/build.js';
import Database from 'better-sqlite3';
import { nodeSigner } from '../../src/store/node-signer.js';

const RESOURCE = 'https://gw.example/ev/mcp';

test('DPoP through the gateway: a call under a DPoP-bound credential is allowed only with a proof by the credential\'s key', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { SignJWT, exportJWK, generateKeyPair, importPKCS8, calculateJwkThumbprint } = await import('jose');
  // The gateway's home is the credential issuer too (its identity log is the one the gate reads).
  const agentHome = join(s.dir, 'agent');
  for (const h of [s.home, agentHome]) assert.equal(cli(['init', '--home', h]).status, 0);
  const agentPem = readFileSync(join(agentHome, 'keys', 'issuer.pem'), 'utf8');
  const agentKey = await importPKCS8(agentPem, 'ES256', { extractable: true });
  const agentJwk = await exportJWK(agentKey);
  const agentPublic = { kty: agentJwk.kty!, crv: agentJwk.crv!, x: agentJwk.x!, y: agentJwk.y! };
  const jkt = await calculateJwkThumbprint(agentPublic, 'sha256');
  assert.equal(cli(['agent', 'issuer', 'init', '--home', s.home, '--id', 'idp:acme', '--subject-prefix', 'agent:acme/']).status, 0);
  const credFile = join(s.dir, 'cred.json');
  const issued = cli(['agent', 'issue', '--home', s.home, '--agent-home', agentHome, '--subject', 'agent:acme/bot7', '--tools', 'echo', '--jkt', jkt, '--out', credFile]);
  assert.equal(issued.status, 0, issued.stderr);
  const credential = JSON.parse(readFileSync(credFile, 'utf8')) as { id: string; subject: string; key: { keyId: string } };
  assert.equal(credential.key.keyId, jkt, 'our key ids are RFC 7638 thumbprints: the DPoP key and the attestation key compare directly');
  exportTrust(s.home, join(s.dir, 'idp-trust.json'));
  writeFileSync(join(s.dir, 'gate.yaml'), `version: 1\ntrustFiles: [idp-trust.json]\nserverFingerprint: "${GATED_FP}"\n`);

  // The local authorization server: its key, its JWKS, its tokens.
  const as = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(join(s.dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(as.publicKey)), kid: 'as1', alg: 'ES256', use: 'sig' }] }));
  const token = (cnf: string | null) => new SignJWT({ scope: 'mcp', iss: 'https://as.example', aud: RESOURCE, sub: 'bot7', ...(cnf ? { cnf: { jkt: cnf } } : {}) })
    .setProtectedHeader({ alg: 'ES256', kid: 'as1' }).setIssuedAt().setExpirationTime('5m').sign(as.privateKey);
  const proof = (key: CryptoKey, jwk: Record<string, unknown>, access: string, htu = RESOURCE) => new SignJWT({ htm: 'POST', htu, ath: createHash('sha256').update(access).digest('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().setJti(randomUUID()).sign(key);

  const config = `version: 1\nlisten: 127.0.0.1:0\ncheckpointMs: 200\noauth: {issuer: "https://as.example", jwksFile: jwks.json, resource: "https://gw.example", scopes: [mcp]}\nupstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: gate, policy: gate.yaml}\n`;
  let gw = await startGateway(s, config);
  const post = async (auth: Record<string, string>, body: Record<string, unknown>, sid?: string): Promise<Response> =>
    fetch(`${gw.base}/ev/mcp`, { method: 'POST', headers: mcpHeaders(null, { ...auth, ...(sid ? { 'mcp-session-id': sid } : {}) }), body: JSON.stringify(body) });
  const dpop = async (access: string, key = agentKey, jwk: Record<string, unknown> = agentPublic) => ({ authorization: `DPoP ${access}`, dpop: await proof(key, jwk, access) });
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } };
  const signer = { iss: credential.id, sub: credential.subject, alg: 'ES256' as const, keyId: credential.key.keyId, sign: nodeSigner('ES256', agentPem) };
  const callBody = async (id: number, message: string) => ({
    jsonrpc: '2.0', id, method: 'tools/call',
    params: { name: 'echo', arguments: { message }, _meta: { attestation: await issueAttestation(signer, { tool: 'echo', args: { message }, serverFingerprint: GATED_FP, intent: 'test', now: Math.floor(Date.now() / 1000), nonceBytes: crypto.getRandomValues(new Uint8Array(16)) }) } },
  });
  /** Open a session with `auth()` and make one call; the call's result. */
  const session = async (auth: () => Promise<Record<string, string>>, message: string): Promise<Record<string, unknown>> => {
    const opened = await post(await auth(), init);
    assert.equal(opened.status, 200, await opened.clone().text());
    const sid = opened.headers.get('mcp-session-id')!;
    await post(await auth(), { jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
    // The stream may carry the server's notifications too: the answer is the message with the call's id.
    const reply = (await messagesOf(await post(await auth(), await callBody(1, message), sid))).find((m) => m['id'] === 1);
    return reply!['result'] as Record<string, unknown>;
  };
  const refusal = (r: Record<string, unknown>) => (r['_meta'] as Record<string, { code?: string }> | undefined)?.['dev.mcp-attest/refusal']?.code;

  const bound = await token(jkt);
  const ok = await session(() => dpop(bound), 'proved');
  assert.deepEqual(ok['content'], [{ type: 'text', text: 'Echo: proved' }], JSON.stringify(ok));

  // A thief with the agent's attestations and a token bound to its own key: its proofs are valid, its key is not the credential's.
  const thief = await generateKeyPair('ES256', { extractable: true });
  const thiefJwk = await exportJWK(thief.publicKey);
  const stolen = await session(async () => dpop(await token(await calculateJwkThumbprint(thiefJwk, 'sha256')), thief.privateKey, thiefJwk as Record<string, unknown>), 'thief');
  assert.equal(refusal(stolen), 'ERR_CREDENTIAL_KEY');
  // A plain bearer token: the credential demands a DPoP key nobody proved.
  const plain = await token(null);
  const bearer = await session(async () => ({ authorization: `Bearer ${plain}` }), 'bearer');
  assert.equal(refusal(bearer), 'ERR_CREDENTIAL_KEY');

  // A DPoP-bound token sent as a bearer token, a replayed proof, a proof for another URL: 401.
  const asBearer = await post({ authorization: `Bearer ${bound}` }, init);
  assert.equal(asBearer.status, 401);
  assert.match(asBearer.headers.get('www-authenticate')!, /, DPoP algs="ES256 EdDSA RS256 PS256"$/, 'the challenge offers DPoP (RFC 9449 §7.1)');
  const once = await dpop(bound);
  assert.equal((await post(once, init)).status, 200);
  const replayed = await post(once, init);
  assert.equal(replayed.status, 401);
  assert.match(await replayed.text(), /used before/);
  assert.equal((await post({ authorization: `DPoP ${bound}`, dpop: await proof(agentKey, agentPublic, bound, 'https://gw.example/other/mcp') }, init)).status, 401);
  // The proof's id outlives a reload (a new OAuth resource) and a restart of the gateway: still used before.
  gw.proc.kill('SIGHUP');
  await waitFor('the reload', () => gw.stderr().includes('configuration reloaded'));
  assert.match(await (await post(once, init)).text(), /used before/, 'after a reload');
  assert.equal(await gw.stop(), 0);
  gw = await startGateway(s, config);
  const restarted = await post(once, init);
  assert.equal(restarted.status, 401);
  assert.match(await restarted.text(), /used before/, 'after a restart');
  assert.equal((await post(await dpop(bound), init)).status, 200, 'a fresh proof is accepted');
  assert.equal(await gw.stop(), 0);

  // A caller over its rate limit records no proof id: its requests cannot fill the store the
  // gate's nonces share (each id is kept 70 s; unlimited, one principal could fill it).
  const proofIds = () => {
    const db = new Database(join(s.home, 'nonces.db'), { readonly: true });
    try { return (db.prepare(`SELECT count(*) AS n FROM nonces WHERE iss LIKE 'dpop-proof %'`).get() as { n: number }).n; } finally { db.close(); }
  };
  gw = await startGateway(s, config.replace('checkpointMs: 200\n', 'checkpointMs: 200\nlimits: {requestsPerSecond: 0.001, burst: 2}\n'));
  const before = proofIds();
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await post(await dpop(bound), init)).status);
  assert.deepEqual(statuses, [200, 200, 429, 429, 429, 429, 429, 429]);
  assert.equal(proofIds() - before, 2, 'only the admitted requests\' proof ids are recorded');
  assert.equal(await gw.stop(), 0);

  // The decisions name the token that carried each call; the log verifies offline.
  const decisions = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/decision@1');
  assert.deepEqual(decisions.map((d) => [d['decision'], (d['caller'] as { sub: string; jkt?: string }).sub, (d['caller'] as { jkt?: string }).jkt ?? null]), [
    ['allowed', 'bot7', jkt], ['refused', 'bot7', await calculateJwkThumbprint(thiefJwk, 'sha256')], ['refused', 'bot7', null],
  ]);
  await waitCheckpointed(s.home);
  const { status, report } = verify(s.home, join(s.dir, 'idp-trust.json'));
  assert.equal(status, 0, JSON.stringify(report.findings));
});

