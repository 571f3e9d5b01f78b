/**
 * A gatekeeper's data directory that is also a credential issuer, with `calls` allowed
 * decisions under one agent credential (recorded as the gate records them: the chain and the
 * identity size it checked against) and a revoked credential of another agent in its identity
 * log; and its trust policy. For the tests that verify identity bundles (the page, the CLI).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueAttestation } from '../../src/attestation/build.js';
import { initCredentialIssuer, withOwnCredentialIssuer } from '../../src/store/credential-issuer.js';
import { agentKeyOf, issueCredential, revokeCredential } from '../../src/store/agent-credentials.js';
import { initHome, loadIdentity, loadIssuerSigner, trustPolicyOf } from '../../src/store/identity.js';
import { Recorder } from '../../src/proxy/recorder.js';

export const IDENTITY_FP = `sha256:${'1d'.repeat(32)}`;

/** Make the world in `dir`; returns the gatekeeper's home and its trust policy file. */
export async function identityWorld(dir: string, calls: number): Promise<{ home: string; trust: string }> {
  const [home, agent, other] = [join(dir, 'gate'), join(dir, 'agent'), join(dir, 'other')];
  for (const h of [home, agent, other]) await initHome(h);
  await initCredentialIssuer(home, { id: 'idp:acme', subjectPrefix: 'agent:acme/' });
  const { credential, index } = await issueCredential(home, { subject: 'agent:acme/bot', key: agentKeyOf(agent), ttl: 3600, tools: ['echo'] });
  const revoked = (await issueCredential(home, { subject: 'agent:acme/other', key: agentKeyOf(other), ttl: 3600 })).credential;
  await revokeCredential(home, revoked, 'left the team');
  const signer = { ...loadIssuerSigner(agent, loadIdentity(agent)), iss: credential.id, sub: credential.subject };
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 1e9, evidence: false });
  try {
    for (let i = 0; i < calls; i++) {
      const a = await issueAttestation(signer, { tool: 'echo', args: { message: `m${i}` }, serverFingerprint: IDENTITY_FP, intent: 'test', now: Math.floor(Date.now() / 1000), nonceBytes: crypto.getRandomValues(new Uint8Array(16)) });
      await r.decision({
        callId: a.issuerAsserted.nonce, server: { name: 'echo', fingerprint: IDENTITY_FP }, tool: 'echo', requestDigest: `sha256:${'00'.repeat(32)}`,
        decision: 'allowed', reason: null, code: null, attestation: a as never, credential: { chain: [{ id: credential.id, index: index.toString() }], identitySize: '4' },
      });
    }
    await r.checkpoint();
  } finally {
    await r.close();
  }
  const trust = join(dir, 'trust.json');
  writeFileSync(trust, JSON.stringify(withOwnCredentialIssuer(home, trustPolicyOf(loadIdentity(home)))));
  return { home, trust };
}
