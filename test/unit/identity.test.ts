/**
 * Agent credentials decided offline (src/identity/, docs/identity.md): a chain issuer → agent
 * → sub-agent with narrowing; a sub-agent that widens; revocations before and after the
 * call, of a parent, by a key not allowed to revoke; expiry, not yet valid, clock skew; a
 * credential logged after its first use; an issuer the policy does not list; a forged issuer
 * signature; the wrong key, a tool out of scope, a call witnessed too late; strict parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webCryptoSign } from '../../src/envelope/sign.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportPublicJwk, jwkThumbprint } from '../../src/keys/material.js';
import { isAttestError } from '../../src/errors.js';
import { mergeTrustPolicies, parseTrustPolicy, type TrustPolicy } from '../../src/verify/policy.js';
import { CREDENTIAL_TYPE, REVOCATION_TYPE, credentialDigest, parseCredential, parseRevocation, signIdentity, type Credential, type CredentialKey, type Revocation } from '../../src/identity/credential.js';
import { decideCall, type CallFacts, type LoggedCredential, type LoggedRevocation } from '../../src/identity/decide.js';

const T = 1_800_000_000;
const SERVER = `sha256:${'ab'.repeat(32)}`;

interface Holder { key: CredentialKey; sign: (u: object) => Promise<object> }

async function holder(): Promise<Holder> {
  const pair = await getAlgorithm('ES256').generate() as CryptoKeyPair;
  const publicKeyJwk = await exportPublicJwk(pair.publicKey);
  const key: CredentialKey = { alg: 'ES256', keyId: jwkThumbprint(publicKeyJwk), publicKeyJwk };
  return { key, sign: (u) => signIdentity('ES256', webCryptoSign('ES256', pair.privateKey), u as never) };
}

let seq = 0;
const newId = (): string => `cred_${String(++seq).padStart(22, 'A')}`;

async function credential(by: Holder, of: Holder, o: Partial<Credential> & { subject: string }): Promise<Credential> {
  // A member given as undefined is left out (a list left out allows anything).
  const unsigned = Object.fromEntries(Object.entries({ type: CREDENTIAL_TYPE, id: newId(), issuer: 'idp:acme', key: of.key, notBefore: T, notAfter: T + 3600, maxDepth: 0, ...o }).filter(([, v]) => v !== undefined));
  return parseCredential(JSON.stringify(await by.sign(unsigned)));
}

async function revocation(by: Holder, target: Credential, reason = 'key leaked'): Promise<Revocation> {
  return parseRevocation(JSON.stringify(await by.sign({ type: REVOCATION_TYPE, credential: target.id, credentialDigest: credentialDigest(target), issuer: 'idp:acme', signerKeyId: by.key.keyId, reason })));
}

function policyOf(issuer: Holder, grant: Record<string, unknown> = {}): TrustPolicy {
  return parseTrustPolicy(JSON.stringify({
    version: 1, issuers: [], logs: [], clockSkewSeconds: 30,
    credentialIssuers: [{ id: 'idp:acme', ...issuer.key, subjectPrefix: 'agent:acme/', tools: ['crm.*', 'mail.send'], maxDepth: 1, ...grant }],
  }));
}

const codes = (d: { findings: Array<{ code: string; severity: string }> }): string[] => d.findings.filter((f) => f.severity === 'error').map((f) => f.code);

/** An issuer, an agent under it, a sub-agent under the agent (narrower), logged at 0 and 1; a call by the sub-agent at T+60 checked at size 5. */
async function world() {
  const [issuer, agent, sub] = [await holder(), await holder(), await holder()];
  const agentCred = await credential(issuer, agent, { subject: 'agent:acme/7f3c', tools: ['crm.*'], servers: [SERVER], maxDepth: 1 });
  const subCred = await credential(agent, sub, { subject: 'agent:acme/7f3c/reader', parent: agentCred.id, tools: ['crm.read*'], servers: [SERVER], notAfter: T + 1800 });
  const chain: LoggedCredential[] = [{ credential: agentCred, index: 0n }, { credential: subCred, index: 1n }];
  const call: CallFacts = { identitySize: 5n, time: T + 60, keyId: sub.key.keyId, server: SERVER, tool: 'crm.read_contact', witnessedAt: T + 65 };
  return { issuer, agent, sub, agentCred, subCred, chain, call, policy: policyOf(issuer) };
}

test('a chain issuer → agent → sub-agent that narrows decides a call within it', async () => {
  const w = await world();
  const d = await decideCall(w.chain, [], w.call, w.policy);
  assert.deepEqual(codes(d), []);
  assert.equal(d.ok, true);
});

test('a sub-agent that widens its parent (tools, window, depth, subject) is refused, and so is every call under it', async () => {
  const w = await world();
  for (const [what, o] of [
    ['tools', { tools: ['crm.*', 'mail.*'] }], ['no tool list under a parent with one', { tools: undefined }],
    ['window', { notAfter: T + 7200 }], ['depth', { maxDepth: 1 }], ['subject', { subject: 'agent:other/x' }],
  ] as const) {
    const wide = await credential(w.agent, w.sub, { subject: 'agent:acme/7f3c/reader', parent: w.agentCred.id, tools: ['crm.read*'], servers: [SERVER], notAfter: T + 1800, ...o } as never);
    const d = await decideCall([w.chain[0]!, { credential: wide, index: 1n }], [], w.call, w.policy);
    assert.ok(codes(d).includes('ERR_CREDENTIAL_WIDENED'), `${what}: ${JSON.stringify(d.findings)}`);
  }
  // A root credential granting more than the policy lets its issuer grant.
  const tooLong = await credential(w.issuer, w.agent, { subject: 'agent:acme/7f3c', notAfter: T + 2 * 86_400 });
  assert.ok(codes(await decideCall([{ credential: tooLong, index: 0n }], [], { ...w.call, keyId: w.agent.key.keyId }, w.policy)).includes('ERR_CREDENTIAL_WIDENED'));
});

test('revocation: before the call (of the credential or of its parent) fails it; at or after the size it was checked against, it does not reach back; by a key not allowed, it is ignored', async () => {
  const w = await world();
  const bySelfParent = await revocation(w.agent, w.subCred);
  const byIssuer = await revocation(w.issuer, w.agentCred);
  const at = (r: Revocation, index: bigint): LoggedRevocation[] => [{ revocation: r, index }];
  assert.deepEqual(codes(await decideCall(w.chain, at(bySelfParent, 3n), w.call, w.policy)), ['ERR_CREDENTIAL_REVOKED'], 'the parent revokes its sub-agent');
  assert.deepEqual(codes(await decideCall(w.chain, at(byIssuer, 4n), w.call, w.policy)), ['ERR_CREDENTIAL_REVOKED'], 'a revoked parent revokes the chain');
  assert.deepEqual(codes(await decideCall(w.chain, at(byIssuer, 5n), w.call, w.policy)), [], 'logged at the size checked against: after the call');
  assert.deepEqual(codes(await decideCall(w.chain, at(byIssuer, 9n), w.call, w.policy)), [], 'a later revocation does not reach back');
  // The sub-agent cannot revoke its parent; a stranger cannot revoke anything.
  const upward = await revocation(w.sub, w.agentCred);
  const stranger = await revocation(await holder(), w.subCred);
  for (const r of [upward, stranger]) {
    const d = await decideCall(w.chain, at(r, 3n), w.call, w.policy);
    assert.deepEqual([codes(d), d.findings.map((f) => f.code)], [[], ['NOTE_REVOCATION_UNTRUSTED']]);
  }
  // A gatekeeper that checked against a stale size: a revocation witnessed before the call still fails it.
  assert.deepEqual(codes(await decideCall(w.chain, [{ revocation: byIssuer, index: 7n, witnessedAt: T + 10 }], w.call, w.policy)), ['ERR_CREDENTIAL_REVOKED']);
  assert.deepEqual(codes(await decideCall(w.chain, [{ revocation: byIssuer, index: 7n, witnessedAt: T + 100 }], w.call, w.policy)), [], 'witnessed after the call');
  // A revocation names its credential by digest too: another credential under the same id is not revoked.
  const sameId = { ...byIssuer, credentialDigest: `sha256:${'00'.repeat(32)}` };
  assert.deepEqual(codes(await decideCall(w.chain, [{ revocation: sameId, index: 3n }], w.call, w.policy)), []);
  // A bundle that omits the revocation decides as if there were none: the bundle must carry the identity log's range (docs/identity.md).
});

test('a chain that repeats an id, is deeper than its issuer allows, or uses an algorithm the policy does not accept is refused (depth before any signature)', async () => {
  const w = await world();
  const twin = await credential(w.agent, w.sub, { id: w.agentCred.id, subject: 'agent:acme/7f3c/reader', parent: w.agentCred.id, tools: ['crm.read*'], servers: [SERVER], notAfter: T + 1800 });
  assert.ok(codes(await decideCall([w.chain[0]!, { credential: twin, index: 1n }], [], w.call, w.policy)).includes('ERR_CREDENTIAL_MALFORMED'));
  const long = Array.from({ length: 50 }, (_, i) => ({ credential: w.subCred, index: BigInt(i) }));
  const t0 = performance.now();
  assert.deepEqual(codes(await decideCall([w.chain[0]!, ...long], [], w.call, w.policy)), ['ERR_CREDENTIAL_WIDENED']);
  assert.ok(performance.now() - t0 < 1000, 'refused before checking 50 signatures');
  const edOnly = parseTrustPolicy(JSON.stringify({ ...JSON.parse(JSON.stringify(w.policy)), acceptedAlgorithms: ['EdDSA'] }));
  assert.ok(codes(await decideCall(w.chain, [], w.call, edOnly)).includes('ERR_ALG_NOT_ALLOWED'));
});

test('time: expired, not yet valid, and within the clock skew', async () => {
  const w = await world();
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, time: T + 1800 + 31 }, w.policy)), ['ERR_CREDENTIAL_EXPIRED']);
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, time: T + 1800 + 30 }, w.policy)), [], 'within the skew');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, time: T - 31 }, w.policy)), ['ERR_CREDENTIAL_NOT_YET_VALID', 'ERR_CREDENTIAL_NOT_YET_VALID']);
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, witnessedAt: T + 1800 + 31 }, w.policy)), ['ERR_CREDENTIAL_LATE'], 'witnessed only after the window: back-dated');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, witnessedAt: null }, w.policy)), ['ERR_CREDENTIAL_LATE'], 'never witnessed: nothing bounds a back-dated call');
});

test('a credential logged after its first use; an issuer the policy does not list; a forged issuer signature; the wrong key or subject; a tool out of scope', async () => {
  const w = await world();
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, identitySize: 1n }, w.policy)), ['ERR_CREDENTIAL_UNLOGGED']);
  const other = parseTrustPolicy(JSON.stringify({ version: 1, issuers: [], logs: [] }));
  assert.deepEqual(codes(await decideCall(w.chain, [], w.call, other)), ['ERR_CREDENTIAL_UNTRUSTED']);
  const forger = await holder();
  const forged = await credential(forger, w.agent, { subject: 'agent:acme/7f3c', tools: ['crm.*'], servers: [SERVER], maxDepth: 1 });
  assert.ok(codes(await decideCall([{ credential: forged, index: 0n }, w.chain[1]!], [], w.call, w.policy)).includes('ERR_SIGNATURE_INVALID'));
  const tampered = { ...w.subCred, tools: ['crm.*'] };
  assert.ok(codes(await decideCall([w.chain[0]!, { credential: tampered, index: 1n }], [], w.call, w.policy)).includes('ERR_SIGNATURE_INVALID'), 'altered after signing');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, keyId: w.agent.key.keyId }, w.policy)), ['ERR_CREDENTIAL_KEY'], 'the parent\'s key is not the sub-agent\'s');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, subject: 'agent:acme/7f3c/reader' }, w.policy)), [], 'the leaf credential\'s own subject');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, subject: 'agent:acme/admin' }, w.policy)), ['ERR_CREDENTIAL_KEY'], 'a call naming another subject than its credential\'s');
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, tool: 'crm.delete_contact' }, w.policy)), ['ERR_CREDENTIAL_SCOPE']);
  assert.deepEqual(codes(await decideCall(w.chain, [], { ...w.call, server: `sha256:${'cd'.repeat(32)}` }, w.policy)), ['ERR_CREDENTIAL_SCOPE']);
});

test('strict parsing: unknown members, bad ids, a key whose id is not its thumbprint, a window that ends before it starts; the policy\'s credentialIssuers checked', async () => {
  const w = await world();
  const good = JSON.parse(JSON.stringify(w.agentCred)) as Record<string, unknown>;
  for (const [what, edit] of [
    ['unknown member', (c: Record<string, unknown>) => void (c['trustLevel'] = 'high')],
    ['bad id', (c: Record<string, unknown>) => void (c['id'] = 'cred_short')],
    ['keyId not the thumbprint', (c: Record<string, unknown>) => void ((c['key'] as Record<string, unknown>)['keyId'] = 'x')],
    ['window', (c: Record<string, unknown>) => void (c['notAfter'] = T)],
    ['HS256 key', (c: Record<string, unknown>) => void ((c['key'] as Record<string, unknown>)['alg'] = 'HS256')],
  ] as const) {
    const c = structuredClone(good);
    edit(c);
    assert.throws(() => parseCredential(JSON.stringify(c)), (e) => isAttestError(e, 'ERR_CREDENTIAL_MALFORMED'), what);
  }
  assert.throws(() => parseCredential('{"type":"mcp-attest/credential@1","type":"x"}'), (e) => isAttestError(e, 'ERR_JSON_DUPLICATE_KEY'));
  assert.throws(() => policyOf(w.issuer, { maxLifetimeSeconds: 2 * 86_400 }), (e) => isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.throws(() => policyOf(w.issuer, { keyId: 'not-the-thumbprint' }), (e) => isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.equal(parseTrustPolicy(JSON.stringify({ version: 1, issuers: [], logs: [] })).credentialIssuers, undefined, 'absent when none: trust exports are unchanged');
  assert.throws(() => policyOf(w.issuer, { subjectPrefix: 'agent:acme' }), (e) => isAttestError(e, 'ERR_POLICY_INVALID'), 'a prefix ends a name segment');
  const two = { version: 1, issuers: [], logs: [], credentialIssuers: [{ id: 'a', ...w.issuer.key, subjectPrefix: 'agent:acme/' }, { id: 'b', ...w.agent.key, subjectPrefix: 'agent:acme/sub/' }] };
  assert.throws(() => parseTrustPolicy(JSON.stringify(two)), (e) => isAttestError(e, 'ERR_POLICY_INVALID'), 'overlapping prefixes');
  assert.throws(() => mergeTrustPolicies([policyOf(w.issuer, { tools: ['crm.read'] }), policyOf(w.issuer, { tools: ['*'] })]), (e) => isAttestError(e, 'ERR_POLICY_INVALID'), 'two grants of one issuer conflict');
  const root = await credential(w.issuer, w.agent, { subject: 'agent:acme/' });
  assert.ok(codes(await decideCall([{ credential: root, index: 0n }], [], { ...w.call, keyId: w.agent.key.keyId, tool: 'crm.x' }, w.policy)).includes('ERR_CREDENTIAL_WIDENED'), 'the prefix alone is not a name');
});
