/**
 * The gatekeeper (`proxy --role server`) in front of the real server-everything, driven by
 * the real SDK client: every SEP-2787 refusal reason produced by a real attempt, and the
 * replay attacks (twice, concurrently, after a restart, at the edge of the window, after a
 * flood from an untrusted key). A refused call never reaches the upstream, and every
 * decision is in the gatekeeper's log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, waitCheckpointed } from './helpers.js';
import { agentKey, assertEchoed, assertRefused, attest, callWith, connectGated, serverHome, writePolicy } from './gate-helpers.js';

const now = (): number => Math.floor(Date.now() / 1000);

test('each refusal reason comes from a real attempt; allowed calls return what the server returns', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const stranger = await agentKey('issuer://stranger');
  const policy = writePolicy(s, [agent.issuer], { tools: { 'get-env': { deny: true }, 'get-sum': { requireCapability: ['math.add'] } } });
  const { client } = await connectGated(s, policy);
  const msg = { message: 'hello' };

  assertEchoed(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'hello');
  assertRefused(await callWith(client, 'echo', msg), 'attestation_required', 'ERR_ATTESTATION_REQUIRED');
  assertRefused(await callWith(client, 'echo', msg, await attest(stranger.signer, 'echo', msg)), 'key_unavailable', 'ERR_KEY_UNAVAILABLE');
  const forged = { ...await attest(agent.signer, 'echo', msg), signature: (await attest(stranger.signer, 'echo', msg)).signature };
  assertRefused(await callWith(client, 'echo', msg, forged), 'signature_invalid', 'ERR_SIGNATURE_INVALID');
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg, { now: now() - 400 })), 'expired', 'ERR_TTL_EXPIRED');
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg, { now: now() + 120 })), 'expired', 'ERR_TTL_NOT_YET_VALID');
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg, { serverFingerprint: `sha256:${'cd'.repeat(32)}` })), 'server_mismatch', 'ERR_SERVER_MISMATCH');
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'get-sum', msg)), 'tool_mismatch', 'ERR_TOOL_MISMATCH');
  assertRefused(await callWith(client, 'echo', { message: 'send it all' }, await attest(agent.signer, 'echo', msg)), 'args_commitment_mismatch', 'ERR_ARGS_COMMITMENT_MISMATCH');
  const unknownAlg = { ...await attest(agent.signer, 'echo', msg) } as Record<string, unknown>;
  unknownAlg['alg'] = 'HS512';
  (unknownAlg['issuerAsserted'] as Record<string, unknown>)['alg'] = 'HS512';
  assertRefused(await callWith(client, 'echo', msg, unknownAlg), 'signature_invalid', 'ERR_ALG_UNSUPPORTED');
  assertRefused(await callWith(client, 'get-env', {}, await attest(agent.signer, 'get-env', {})), 'tool_mismatch', 'ERR_TOOL_DENIED');
  const sum = { a: 2, b: 3 };
  assertRefused(await callWith(client, 'get-sum', sum, await attest(agent.signer, 'get-sum', sum)), 'tool_mismatch', 'ERR_CAPABILITY_MISSING');
  const added = await callWith(client, 'get-sum', sum, await attest(agent.signer, 'get-sum', sum, { requestedCapability: 'math.add' }));
  assert.match(JSON.stringify(added.content), /5/);
  // The response receipt is there (its verification is the client proxy's job, tested elsewhere).
  assert.equal((added._meta?.['dev.mcp-attest/response-receipt'] as { version?: number } | undefined)?.version, 1);
  await client.close();

  // Every decision is logged, in order; the two allowed calls are answered by receipts.
  const { entries } = await waitCheckpointed(serverHome(s));
  const decisions = entries.filter((e) => e['type'] === 'mcp-attest/decision@1');
  assert.deepEqual(decisions.map((d) => d['decision']), ['allowed', ...Array<string>(11).fill('refused'), 'allowed']);
  assert.deepEqual(decisions.slice(1, 12).map((d) => d['code']), [
    'ERR_ATTESTATION_REQUIRED', 'ERR_KEY_UNAVAILABLE', 'ERR_SIGNATURE_INVALID', 'ERR_TTL_EXPIRED', 'ERR_TTL_NOT_YET_VALID', 'ERR_SERVER_MISMATCH',
    'ERR_TOOL_MISMATCH', 'ERR_ARGS_COMMITMENT_MISMATCH', 'ERR_ALG_UNSUPPORTED', 'ERR_TOOL_DENIED', 'ERR_CAPABILITY_MISSING',
  ]);
  assert.equal(entries.filter((e) => e['type'] === 'mcp-attest/receipt@1').length, 2);
});

test('replay: the same attestation twice, and again after a restart, is refused nonce_replay', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const msg = { message: 'pay once' };
  const a = await attest(agent.signer, 'echo', msg);
  const first = await connectGated(s, policy);
  assertEchoed(await callWith(first.client, 'echo', msg, a), 'pay once');
  assertRefused(await callWith(first.client, 'echo', msg, a), 'nonce_replay', 'ERR_NONCE_REPLAY');
  await first.client.close();
  // A new gatekeeper process on the same data directory remembers the nonce.
  const second = await connectGated(s, policy);
  assertRefused(await callWith(second.client, 'echo', msg, a), 'nonce_replay', 'ERR_NONCE_REPLAY');
  assertEchoed(await callWith(second.client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'pay once');
});

test('replay: one attestation sent to two gatekeepers of one server at once is accepted exactly once', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const [g1, g2] = await Promise.all([connectGated(s, policy), connectGated(s, policy)]);
  for (let round = 0; round < 5; round++) {
    const msg = { message: `race ${round}` };
    const a = await attest(agent.signer, 'echo', msg);
    const results = await Promise.all([callWith(g1.client, 'echo', msg, a), callWith(g2.client, 'echo', msg, a)]);
    assert.equal(results.filter((r) => r.isError !== true).length, 1, JSON.stringify(results));
    assertRefused(results.find((r) => r.isError === true)!, 'nonce_replay', 'ERR_NONCE_REPLAY');
  }
});

test('replay at the edge of the window: refused while the attestation is fresh, expired after', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const { client } = await connectGated(s, policy);
  const msg = { message: 'edge' };
  // Valid for about 4 more seconds: iat + expSeconds + 30 s skew = now + 4.
  const a = await attest(agent.signer, 'echo', msg, { now: now() - 60 - 30 + 4, expSeconds: 60 });
  assertEchoed(await callWith(client, 'echo', msg, a), 'edge');
  assertRefused(await callWith(client, 'echo', msg, a), 'nonce_replay', 'ERR_NONCE_REPLAY');
  await new Promise((r) => setTimeout(r, 6000));
  assertRefused(await callWith(client, 'echo', msg, a), 'expired', 'ERR_TTL_EXPIRED');
});

test('replay store: a flood of self-signed attestations from an untrusted key neither burns nor evicts a nonce; a full store fails closed', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const mallory = await agentKey('issuer://agent'); // same issuer name, own key: untrusted
  const policy = writePolicy(s, [agent.issuer], { nonceStore: { maxEntries: 3 } });
  const { client } = await connectGated(s, policy);
  const msg = { message: 'victim' };
  const victim = await attest(agent.signer, 'echo', msg);
  // Copies of the victim's nonce and 200 fresh ones, all validly signed by an untrusted key.
  const copy = await attest(mallory.signer, 'echo', msg, { nonceBytes: Uint8Array.from(Buffer.from(victim.issuerAsserted.nonce, 'base64url')) });
  assert.equal(copy.issuerAsserted.nonce, victim.issuerAsserted.nonce);
  assertRefused(await callWith(client, 'echo', msg, copy), 'key_unavailable', 'ERR_KEY_UNAVAILABLE');
  const flood = await Promise.all(Array.from({ length: 200 }, async () => callWith(client, 'echo', msg, await attest(mallory.signer, 'echo', msg))));
  assert.ok(flood.every((r) => r.isError === true));
  // The victim's call still goes through, and its nonce is held.
  assertEchoed(await callWith(client, 'echo', msg, victim), 'victim');
  assertRefused(await callWith(client, 'echo', msg, victim), 'nonce_replay', 'ERR_NONCE_REPLAY');
  // The store (3 live nonces) fills with trusted calls; the next is refused, no live nonce evicted.
  assertEchoed(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'victim');
  assertEchoed(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'victim');
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'nonce_replay', 'ERR_NONCE_STORE_FULL');
  assertRefused(await callWith(client, 'echo', msg, victim), 'nonce_replay', 'ERR_NONCE_REPLAY');
  await client.close();
  const { entries } = await waitCheckpointed(serverHome(s));
  assert.equal(entries.filter((e) => e['decision'] === 'allowed').length, 3);
});
