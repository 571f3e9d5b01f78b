/**
 * The gate on calls under agent credentials read from an identity log (src/identity/gate-check.ts):
 * a sub-agent's credential that widens its parent, logged by someone who skipped the issuer's
 * checks, is refused at the gate (ERR_CREDENTIAL_WIDENED), and a narrow one is allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gate, MemoryReplayStore } from '../../src/gate/gate.js';
import { parseGatePolicy } from '../../src/gate/policy.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { CREDENTIAL_TYPE, parseCredential, signIdentity } from '../../src/identity/credential.js';
import { initHome, loadIdentity, loadIssuerSigner } from '../../src/store/identity.js';
import { initCredentialIssuer, loadCredentialIssuer } from '../../src/store/credential-issuer.js';
import { agentKeyOf, issueCredential } from '../../src/store/agent-credentials.js';
import { IdentityLog, identitySource } from '../../src/store/identity-log.js';

const FP = `sha256:${'9a'.repeat(32)}`;

test('a widened sub-agent credential in the identity log is refused at the gate; a narrow one is allowed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-idgate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [idp, agent, sub] = [join(dir, 'idp'), join(dir, 'agent'), join(dir, 'sub')];
  for (const h of [idp, agent, sub]) await initHome(h);
  await initCredentialIssuer(idp, { id: 'idp:acme', subjectPrefix: 'agent:acme/', maxDepth: 1 });
  const parent = (await issueCredential(idp, { subject: 'agent:acme/a', key: agentKeyOf(agent), ttl: 3600, tools: ['echo'], maxDepth: 1 })).credential;
  const parentSigner = loadIssuerSigner(agent, loadIdentity(agent));
  const now = Math.floor(Date.now() / 1000);
  // Signed by the parent's key and appended straight to the log, past the issuer's own checks.
  const child = async (tools: string[]) => {
    const c = parseCredential(JSON.stringify(await signIdentity(parentSigner.alg, parentSigner.sign, {
      type: CREDENTIAL_TYPE, id: `cred_${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url')}`, issuer: 'idp:acme', parent: parent.id,
      subject: 'agent:acme/a/r', key: agentKeyOf(sub), notBefore: now, notAfter: now + 600, tools, maxDepth: 0,
    } as never)));
    const log = IdentityLog.open(idp, false)!;
    log.append(c);
    log.close();
    return c;
  };
  const [narrow, wide] = [await child(['echo']), await child(['echo', 'get-env'])];
  const policy = parseGatePolicy(JSON.stringify({ version: 1, required: true, issuers: [], credentialIssuers: [loadCredentialIssuer(idp)] }));
  const gate = new Gate({ policy, keys: async () => null, serverFingerprint: FP, replay: new MemoryReplayStore(), identity: identitySource(idp) });
  const subSigner = loadIssuerSigner(sub, loadIdentity(sub));
  const decide = async (c: { id: string; subject: string }) => {
    const a = await issueAttestation({ ...subSigner, iss: c.id, sub: c.subject }, { tool: 'echo', args: { m: 1 }, serverFingerprint: FP, intent: 't', now, nonceBytes: crypto.getRandomValues(new Uint8Array(16)) });
    return gate.check({ name: 'echo', args: { m: 1 }, attestation: JSON.stringify(a), now });
  };
  const ok = await decide(narrow);
  assert.equal(ok.allowed, true, JSON.stringify(ok));
  const refused = await decide(wide);
  assert.equal(refused.allowed, false);
  assert.equal(!refused.allowed && refused.code, 'ERR_CREDENTIAL_WIDENED');
});
