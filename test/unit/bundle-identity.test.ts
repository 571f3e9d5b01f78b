/**
 * A bundle of calls made under agent credentials (src/store/bundle-identity.ts): it carries,
 * for each call, the first cosigned checkpoint of the log covering it (`witnessed`), with a
 * consistency proof to the bundle's checkpoint, so a verifier knows when the witnesses first
 * saw the call; the bundle verifies offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { utf8 } from '../../src/bytes/index.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { formatBundle } from '../../src/bundle/format.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { formatSignatureLine, parseNote } from '../../src/log/note.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { agentKeyOf, issueCredential } from '../../src/store/agent-credentials.js';
import { buildBundle, selectEntries, sqliteCheckpoints } from '../../src/store/bundle-build.js';
import { addIdentity } from '../../src/store/bundle-identity.js';
import { homeIdentityLog } from '../../src/store/identity-log.js';
import { initCredentialIssuer, withOwnCredentialIssuer } from '../../src/store/credential-issuer.js';
import { initHome, loadIdentity, loadIssuerSigner, trustPolicyOf } from '../../src/store/identity.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { tempDir } from './log-helper.js';

const FP = `sha256:${'11'.repeat(32)}`;

test('a bundle of credential calls carries, per call, the first cosigned checkpoint covering it, and verifies', async (t) => {
  const dir = tempDir(t);
  const [idp, agent] = [join(dir, 'idp'), join(dir, 'agent')];
  for (const h of [idp, agent]) await initHome(h);
  await initCredentialIssuer(idp, { id: 'idp:test', subjectPrefix: 'agent:test/', maxDepth: 0 });
  const credential = (await issueCredential(idp, { subject: 'agent:test/a', key: agentKeyOf(agent), ttl: 86_400 })).credential;
  const signer = { ...loadIssuerSigner(agent, loadIdentity(agent)), iss: credential.id, sub: credential.subject };
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const pub = await exportEd25519Public(pair.publicKey);
  const name = 'w1.example/w';
  const cosigner = cosignatureSigner(name, pair.privateKey, pub, () => 1_800_000_000n);

  const r = await Recorder.open(idp, { durability: 'normal', checkpointMs: 3_600_000, evidence: false });
  const calls: bigint[] = [];
  const sizes: bigint[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const a = await issueAttestation(signer, { tool: 'echo', args: { i }, serverFingerprint: FP, intent: 'test', now: Math.floor(Date.now() / 1000), nonceBytes: crypto.getRandomValues(new Uint8Array(16)) }) as unknown as { issuerAsserted: { nonce: string } } & Record<string, never>;
      calls.push(await r.decision({ callId: a.issuerAsserted.nonce, server: { name: 's', fingerprint: FP }, tool: 'echo', requestDigest: `sha256:${'00'.repeat(32)}`, decision: 'allowed', reason: null, code: null, attestation: a, credential: { chain: [{ id: credential.id, index: '1' }], identitySize: '2' } }));
      await r.checkpoint();
      sizes.push(r.db.size());
    }
    // Cosigned: the checkpoints after calls 0 and 2 (and not the bundle's own, the last).
    for (const size of [sizes[0]!, sizes[2]!]) {
      const note = r.db.checkpoints().find((c) => c.size === size)!.note;
      r.db.addCosignature(size, name, formatSignatureLine(name, cosigner.keyId, await cosigner.sign(utf8(parseNote(note).text))), 0);
    }
    const bundle = buildBundle(r.db, selectEntries(r.db, { range: [calls[0]!, calls[3]!] }), [], true);
    await addIdentity(homeIdentityLog(idp), sqliteCheckpoints(r.db), bundle);
    const witnessed = (bundle.witnessed ?? []).map((n) => parseCheckpoint(parseNote(n).text).size);
    assert.deepEqual(witnessed.sort(), [sizes[0]!, sizes[2]!], 'calls 0 → its own; 1 and 2 → the one after call 2; 3 → none but the bundle\'s');
    assert.deepEqual(bundle.consistency.map((c) => c.size).sort(), [sizes[0]!, sizes[2]!]);
    assert.equal(parseCheckpoint(parseNote(bundle.checkpoint).text).size, sizes[3]);
    // The witness listed (its lines must verify) with no quorum: the identity log here has no cosignature.
    const policy = { ...withOwnCredentialIssuer(idp, trustPolicyOf(loadIdentity(idp))), witnesses: [{ name, vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, pub) }], quorum: 0 };
    const report = await verifyBundle(formatBundle(bundle), policy, policyKeyResolver(policy));
    assert.equal(report.ok, true, JSON.stringify(report.findings));
  } finally {
    await r.close();
  }
});
