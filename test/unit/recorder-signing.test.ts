/**
 * Where the recorder signs (proxy/recorder.ts): a call alone in the recorder signs on the
 * event loop; while other calls are in it, signatures go to libuv's thread pool
 * (`Signer.offload`, store/node-signer.ts), so the loop works on the other calls meanwhile.
 * Either way every attestation and receipt verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initHome, loadIdentity, loadIssuerSigner, trustPolicyOf } from '../../src/store/identity.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { LogDb } from '../../src/store/log-db.js';
import { homePaths } from '../../src/store/home.js';
import { verifyLog } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import type { Signer } from '../../src/envelope/sign.js';
import { tempDir } from './log-helper.js';

const server = { name: 's', fingerprint: 'sha256:' + '11'.repeat(32) };

test('a call alone signs on the event loop, calls made together on the thread pool, and every signature verifies', async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const own = loadIssuerSigner(home, loadIdentity(home));
  assert.ok(own.offload, 'a data directory\'s ES256 key can sign on the thread pool');
  let onLoop = 0;
  let offloaded = 0;
  const counted: Signer = { ...own, sign: (d) => (onLoop++, own.sign(d)), offload: (d) => (offloaded++, own.offload!(d)) };
  const r = await Recorder.open(home, { durability: 'full', checkpointMs: 5 });
  // Attestations name it as their issuer; receipts find it by issuer and key id.
  r.addIssuer(counted);
  const call = async (i: number): Promise<void> => {
    const a = await r.attest({ tool: 'echo', args: { i }, intent: 'test', server, requestDigest: 'sha256:' + '22'.repeat(32), issuer: counted });
    await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { i } });
  };
  for (let i = 0; i < 3; i++) await call(i);
  assert.deepEqual({ onLoop, offloaded }, { onLoop: 6, offloaded: 0 });
  await Promise.all(Array.from({ length: 8 }, (_, i) => call(100 + i)));
  assert.equal(onLoop + offloaded, 6 + 16);
  assert.ok(offloaded >= 14, `signatures made while other calls were in the recorder go to the thread pool (${offloaded} of 16)`);
  await r.close();

  const db = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => db.close());
  const policy = trustPolicyOf(loadIdentity(home));
  const report = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note), sealed: 'erased' }, policy, policyKeyResolver(policy));
  assert.deepEqual(report.findings.map((f) => f.code), ['NOTE_UNWITNESSED']);
  assert.equal(report.ok, true);
  assert.equal(report.calls, 11);
  assert.equal(report.receipts, 11);
});

test('a signature that fails on the thread pool fails its call alone; the others are recorded, and a call alone signs on the loop again', async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const own = loadIssuerSigner(home, loadIdentity(home));
  let onLoop = 0;
  let offloads = 0;
  // Every third signature on the thread pool fails.
  const flaky: Signer = { ...own, sign: (d) => (onLoop++, own.sign(d)), offload: (d) => (++offloads % 3 === 0 ? Promise.reject(new Error('pool failure')) : own.offload!(d)) };
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 5 });
  r.addIssuer(flaky);
  const attest = (i: number) => r.attest({ tool: 'echo', args: { i }, intent: 'test', server, requestDigest: 'sha256:' + '22'.repeat(32), issuer: flaky });
  const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => attest(i)));
  const failed = settled.filter((s) => s.status === 'rejected');
  assert.ok(failed.length > 0 && failed.length < 12, `${failed.length} of 12 failed`);
  for (const f of failed) assert.match(String((f as PromiseRejectedResult).reason), /pool failure/);
  const size = r.db.size();
  assert.equal(size, 1n + BigInt(12 - failed.length), 'the parameters entry and one entry per call that was signed: nothing for a failed one');
  const loop = onLoop;
  await attest(100);
  assert.equal(onLoop, loop + 1, 'alone again: signed on the loop');
  assert.equal(r.db.size(), size + 1n);
  await r.close();
});
