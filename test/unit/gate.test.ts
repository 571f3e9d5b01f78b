/**
 * The gate's decision with a controlled clock: the exact edges of the replay window, the
 * order of checks (nothing but a fully verified attestation touches the replay store),
 * fail-closed storage, policy reload, and the wire helpers shared with the middleware.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gate, MemoryReplayStore, type GateDecision, type ReplayStore } from '../../src/gate/gate.js';
import { parseGatePolicy } from '../../src/gate/policy.js';
import { committedResult, keyFingerprint, refusalResult, RESPONSE_RECEIPT_META_KEY } from '../../src/gate/wire.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { NonceStore } from '../../src/store/nonce-store.js';
import { isAttestationRefusal } from '../../src/proxy/relay.js';
import { signerFor } from './keys-helper.js';

const FP = `sha256:${'11'.repeat(32)}`;
const T0 = 1_800_000_000;

async function setup(policyText = 'version: 1\nissuers: []\n', replay: ReplayStore = new MemoryReplayStore()) {
  const { signer, keys } = await signerFor('ES256');
  const gate = new Gate({ policy: parseGatePolicy(policyText), keys, serverFingerprint: FP, replay });
  const attest = (over: { now?: number; expSeconds?: number; tool?: string; args?: unknown; nonce?: number } = {}) => issueAttestation(signer, {
    tool: over.tool ?? 'pay', args: over.args ?? { amount: 5 }, serverFingerprint: FP, intent: 'unit', now: over.now ?? T0,
    expSeconds: over.expSeconds ?? 60, nonceBytes: new Uint8Array(16).fill(over.nonce ?? 1),
  });
  return { gate, attest };
}

function reasonOf(d: GateDecision): string {
  return d.allowed ? 'allowed' : `${d.reason}/${d.code}`;
}

test('a replay at the last valid second (iat + expSeconds + skew) is refused nonce_replay, one second later the TTL refuses', async () => {
  const { gate, attest } = await setup();
  const a = await attest({ now: T0, expSeconds: 60 });
  const edge = T0 + 60 + 30;
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: a as never, now: edge - 1 })), 'allowed');
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: a as never, now: edge })), 'nonce_replay/ERR_NONCE_REPLAY');
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: a as never, now: edge + 1 })), 'expired/ERR_TTL_EXPIRED');
  // The earliest acceptable time is iat - skew.
  const b = await attest({ now: T0, nonce: 2 });
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: b as never, now: T0 - 31 })), 'expired/ERR_TTL_NOT_YET_VALID');
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: b as never, now: T0 - 30 })), 'allowed');
});

test('only a fully verified attestation reaches the replay store', async () => {
  const touched: string[] = [];
  const spy: ReplayStore = { record: (iss, nonce) => { touched.push(nonce); return 'recorded'; } };
  const { gate, attest } = await setup('version: 1\nissuers: []\ntools:\n  wipe: {deny: true}\n  pay2: {requireCapability: true}\n', spy);
  const a = await attest();
  const attempts: Array<[string, unknown, unknown, number]> = [
    ['pay', { amount: 6 }, a, T0], // altered arguments
    ['refund', { amount: 5 }, a, T0], // other tool
    ['pay', { amount: 5 }, { ...a, signature: '00'.repeat(64) }, T0], // forged
    ['pay', { amount: 5 }, a, T0 + 500], // expired
    ['wipe', {}, await attest({ tool: 'wipe', args: {} }), T0], // denied
    ['pay2', { amount: 5 }, await attest({ tool: 'pay2' }), T0], // capability missing
    ['pay', { amount: 5 }, JSON.stringify(a).replace('{', '{"x":1,"x":2,'), T0], // duplicate member, as text
  ];
  for (const [name, args, attestation, now] of attempts) assert.equal((await gate.check({ name, args, attestation: attestation as never, now })).allowed, false, name);
  assert.deepEqual(touched, []);
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: JSON.stringify(a), now: T0 })), 'allowed');
  assert.equal(touched.length, 1);
});

test('a replay store that fails or is full refuses the call (fail closed)', async () => {
  const broken: ReplayStore = { record: () => { throw new Error('disk gone'); } };
  const one = await setup('version: 1\nissuers: []\n', broken);
  assert.equal(reasonOf(await one.gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await one.attest()) as never, now: T0 })), 'nonce_replay/ERR_NONCE_STORE_FULL');
  const dir = mkdtempSync(join(tmpdir(), 'gate-'));
  try {
    const store = new NonceStore(join(dir, 'n.db'), { maxEntries: 1 });
    const two = await setup('version: 1\nissuers: []\n', store);
    assert.equal(reasonOf(await two.gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await two.attest({ nonce: 1 })) as never, now: T0 })), 'allowed');
    assert.equal(reasonOf(await two.gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await two.attest({ nonce: 2 })) as never, now: T0 })), 'nonce_replay/ERR_NONCE_STORE_FULL');
    // The first nonce is held until iat + expSeconds + 300 s (the largest skew), then its slot is free again.
    assert.equal(reasonOf(await two.gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await two.attest({ nonce: 3, now: T0 + 360 })) as never, now: T0 + 360 })), 'nonce_replay/ERR_NONCE_STORE_FULL');
    assert.equal(reasonOf(await two.gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await two.attest({ nonce: 3, now: T0 + 361 })) as never, now: T0 + 361 })), 'allowed');
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unattested calls: refused when required, allowed when not; a tool named like an Object.prototype member has no rule', async () => {
  const required = await setup();
  assert.equal(reasonOf(await required.gate.check({ name: 'pay', args: {}, attestation: undefined, now: T0 })), 'attestation_required/ERR_ATTESTATION_REQUIRED');
  assert.equal(reasonOf(await required.gate.check({ name: 'constructor', args: {}, attestation: undefined, now: T0 })), 'attestation_required/ERR_ATTESTATION_REQUIRED');
  const optional = await setup('version: 1\nrequired: false\n');
  const d = await optional.gate.check({ name: 'pay', args: {}, attestation: undefined, now: T0 });
  assert.ok(d.allowed && !d.attested);
  // An attestation that is present is still verified when not required.
  assert.equal((await optional.gate.check({ name: 'pay', args: { amount: 9 }, attestation: (await optional.attest()) as never, now: T0 })).allowed, false);
});

test('reload swaps the policy for the next decision', async () => {
  const { gate, attest } = await setup();
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await attest({ nonce: 7 })) as never, now: T0 })), 'allowed');
  gate.reload(parseGatePolicy('version: 1\nissuers: []\ntools:\n  pay: {deny: true}\n'), async () => null);
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: (await attest({ nonce: 8 })) as never, now: T0 })), 'tool_mismatch/ERR_TOOL_DENIED');
});

test('wire: the refusal is exactly the SEP shape; committedResult drops our key and an empty _meta; keyFingerprint is the thumbprint in hex', () => {
  const r = refusalResult('nonce_replay', 'ERR_NONCE_REPLAY', 'm');
  assert.deepEqual(r['content'], [{ type: 'text', text: '{"attestationError":true,"reason":"nonce_replay"}' }]);
  assert.ok(isAttestationRefusal(r));
  const base = { content: [{ type: 'text', text: 'x' }] };
  assert.deepEqual(committedResult({ ...base, _meta: { [RESPONSE_RECEIPT_META_KEY]: {} } }), base);
  assert.deepEqual(committedResult({ ...base, _meta: {} }), base);
  assert.deepEqual(committedResult({ ...base, _meta: { a: 1, [RESPONSE_RECEIPT_META_KEY]: {} } }), { ...base, _meta: { a: 1 } });
  assert.equal(keyFingerprint('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'), `sha256:${Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex')}`);
});

test('a reload that widens the skew keeps nonces recorded under the narrower one for the wider window', async () => {
  const { gate, attest } = await setup('version: 1\nissuers: []\nclockSkewSeconds: 0\n');
  const a = await attest({ now: T0, expSeconds: 60 });
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: a as never, now: T0 })), 'allowed');
  gate.reload(parseGatePolicy('version: 1\nissuers: []\nclockSkewSeconds: 30\n'), (gate as unknown as { o: { keys: never } }).o.keys);
  // Under the new skew the attestation is fresh until T0 + 90: its nonce must still be held.
  assert.equal(reasonOf(await gate.check({ name: 'pay', args: { amount: 5 }, attestation: a as never, now: T0 + 80 })), 'nonce_replay/ERR_NONCE_REPLAY');
});
