/**
 * Offline verification against an identity log (src/identity/verify-identity.ts), with a real
 * identity log in a data directory: a call recorded as checked after a revocation fails,
 * one before it verifies (what a dishonest gatekeeper allowed is caught); a log no issuer is
 * pinned to, a recorded size the log given does not reach and a recorded chain that is not
 * the logged one all fail; the time a call was first witnessed is the quorum-th cosignature
 * of the smallest checkpoint covering it; a bundle's range must run to its checkpoint's end; a
 * revocation the witnesses saw before a call fails it whatever size its gatekeeper recorded.
 */
import { test } from 'node:test';
import { showTime } from '../../src/envelope/time.js';
import { issuerAndAgent } from './identity-helper.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { initCredentialIssuer } from '../../src/store/credential-issuer.js';
import { agentKeyOf, appendIdentity, issueCredential, renewCredential, revokeCredential } from '../../src/store/agent-credentials.js';
import { isAttestError } from '../../src/errors.js';
import { parseTrustPolicy } from '../../src/verify/policy.js';
import { IdentityLog } from '../../src/store/identity-log.js';
import { multiInclusionProof } from '../../src/log/multiproof.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import { loadCredentialIssuer, withOwnCredentialIssuer } from '../../src/store/credential-issuer.js';
import { loadIdentity } from '../../src/store/identity.js';
import { decideCalls, openIdentityLog, openIdentitySection, witnessedAtOf, type CredentialCall, type IdentityView } from '../../src/identity/verify-identity.js';
import type { Finding } from '../../src/verify/findings.js';
import type { TrustPolicy } from '../../src/verify/policy.js';
import type { OpenedCheckpoint } from '../../src/verify/checkpoints.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { formatSignatureLine, parseNote } from '../../src/log/note.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../src/log/vkey.js';
import { utf8 } from '../../src/bytes/index.js';
import { credentialDigest, type Revocation } from '../../src/identity/credential.js';
import { identityOf, identityPath } from '../../src/cli/verify-identity.js';
import Database from 'better-sqlite3';

const SERVER = `sha256:${'cd'.repeat(32)}`;

/** An issuer home with its identity log: a credential (index 1), a second one (2), the first revoked (3). */
async function world(t: { after: (fn: () => void) => void }) {
  const { idp, key } = await issuerAndAgent(t, 'mcp-attest-idv-');
  const a = (await issueCredential(idp, { subject: 'agent:acme/a', key, ttl: 3600 })).credential;
  const b = (await issueCredential(idp, { subject: 'agent:acme/b', key, ttl: 3600 })).credential;
  const { sameKey } = await revokeCredential(idp, a, 'leaked');
  const policy: TrustPolicy = withOwnCredentialIssuer(idp, trustPolicyOf(loadIdentity(idp)));
  const log = IdentityLog.open(idp, false)!;
  t.after(() => log.close());
  const size = log.db.size();
  const entries = Array.from({ length: Number(size) }, (_, i) => log.db.entry(BigInt(i))!);
  const notes = log.db.checkpoints().map((c) => c.note);
  return { idp, a, b, key, policy, log, entries, notes, sameKey };
}

const callOf = (credential: string, keyId: string, identitySize: bigint | null, chain: string[] | null = null): CredentialCall => ({
  entry: 7n, credential, time: Math.floor(Date.now() / 1000), keyId, server: SERVER, tool: 'echo', identitySize, chain, gated: identitySize !== null,
});
/** The issuer's own call log: its gatekeeper's decisions count. */
const own = (p: TrustPolicy): string[] => p.logs.map((l) => l.vkey);
const errors = (f: Finding[]): string[] => f.filter((x) => x.severity === 'error').map((x) => x.code);

test('a call recorded as checked after the revocation of its credential fails; one checked before it, and one under another credential, verify', async (t) => {
  const w = await world(t);
  const findings: Finding[] = [];
  const view = await openIdentityLog(w.entries, w.notes, w.policy, findings);
  assert.ok(view, JSON.stringify(findings));
  assert.equal(view.size, 4n);
  const decide = async (c: CredentialCall): Promise<string[]> => {
    const f: Finding[] = [];
    await decideCalls([c], view, w.policy, (_i, time) => time, own(w.policy), f);
    return errors(f);
  };
  assert.deepEqual(await decide(callOf(w.a.id, w.key.keyId, 3n)), [], 'checked before the revocation at 3');
  assert.deepEqual(await decide(callOf(w.a.id, w.key.keyId, 4n)), ['ERR_CREDENTIAL_REVOKED'], 'a dishonest gatekeeper that checked against 4 allowed a revoked credential');
  assert.deepEqual(await decide(callOf(w.b.id, w.key.keyId, 4n)), []);
  assert.deepEqual(await decide(callOf(w.b.id, w.key.keyId, 2n)), ['ERR_CREDENTIAL_UNLOGGED'], 'b at 2 was logged after a call checked at size 2');
  assert.deepEqual(await decide(callOf(w.b.id, w.key.keyId, 9n)), ['ERR_CREDENTIAL_UNLOGGED'], 'the log given ends before the recorded size');
  assert.deepEqual(await decide(callOf(w.b.id, w.key.keyId, 4n, [w.a.id])), ['ERR_CREDENTIAL_MALFORMED'], 'the recorded chain is not the logged one');
  assert.deepEqual(await decide(callOf(w.b.id, 'another-key', 4n)), ['ERR_CREDENTIAL_KEY']);
  // Without a verified identity log, nothing is decided in the call's favour.
  const f: Finding[] = [];
  await decideCalls([callOf(w.b.id, w.key.keyId, 4n)], null, w.policy, (_i, time) => time, own(w.policy), f);
  assert.deepEqual(errors(f), ['ERR_CREDENTIAL_UNLOGGED']);
});

test('a decision counts as a gatekeeper\'s only in a log its issuer designates: one in any other log (an agent\'s own gatekeeper over an old copy) is decided against the whole identity log', async (t) => {
  const w = await world(t);
  const view = await openIdentityLog(w.entries, w.notes, w.policy, []);
  assert.ok(view);
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const agentLog = formatVerifierKey('mcp-attest.local/agent', SIG_TYPE_ED25519, await exportEd25519Public(pair.publicKey));
  const decide = async (policy: TrustPolicy, signers: string[]): Promise<Finding[]> => {
    const f: Finding[] = [];
    await decideCalls([callOf(w.a.id, w.key.keyId, 3n)], view, policy, (_i, time) => time, signers, f);
    return f;
  };
  // Checked at size 3, before the revocation at 3: the issuer's own gatekeeper's decision stands.
  assert.deepEqual(errors(await decide(w.policy, own(w.policy))), []);
  const elsewhere = await decide(w.policy, [agentLog]);
  assert.deepEqual(errors(elsewhere), ['ERR_CREDENTIAL_REVOKED']);
  assert.ok(elsewhere.some((x) => x.code === 'NOTE_GATEKEEPER_UNDESIGNATED' && x.message.includes('idp:')), JSON.stringify(elsewhere));
  assert.deepEqual(errors(await decide(w.policy, [])), ['ERR_CREDENTIAL_REVOKED'], 'no log key known: no gatekeeper');
  // The issuer names that log among its gatekeepers: its decision counts.
  const named = parseTrustPolicy(JSON.stringify({ ...w.policy, credentialIssuers: [{ ...w.policy.credentialIssuers![0]!, gatekeepers: [agentLog] }] }));
  const f = await decide(named, [agentLog]);
  assert.deepEqual(errors(f), []);
  assert.ok(!f.some((x) => x.code === 'NOTE_GATEKEEPER_UNDESIGNATED'));
  assert.throws(() => parseTrustPolicy(JSON.stringify({ ...w.policy, credentialIssuers: [{ ...w.policy.credentialIssuers![0]!, gatekeepers: ['not a vkey'] }] })), /gatekeepers/);
  // No call log takes an identity log's origin (a verifier's --state keeps checkpoints by origin).
  const identityName = parseVerifierKey(w.policy.credentialIssuers![0]!.log!).name;
  assert.throws(() => parseTrustPolicy(JSON.stringify({ ...w.policy, logs: [...w.policy.logs, { origin: identityName, vkey: agentLog }] })), /is a credential issuer's identity log, not a call log/);
});

test('an identity log is read only under the key its issuer is pinned to, and only as far as its checkpoint', async (t) => {
  const w = await world(t);
  // Another issuer pinned to another identity log: this log is none of its.
  const elsewhere = { ...w.policy, credentialIssuers: [{ ...w.policy.credentialIssuers![0]!, log: w.policy.logs[0]!.vkey }] };
  const f1: Finding[] = [];
  assert.equal(await openIdentityLog(w.entries, w.notes, elsewhere, f1), null);
  assert.deepEqual(errors(f1), ['ERR_CREDENTIAL_UNLOGGED']);
  // An entry changed under the signed checkpoint.
  const altered = w.entries.map((e, i) => (i === 3 ? new TextEncoder().encode(new TextDecoder().decode(e).replace('leaked', 'nothing')) : e));
  const f2: Finding[] = [];
  assert.equal(await openIdentityLog(altered, w.notes, w.policy, f2), null);
  assert.ok(errors(f2).includes('ERR_LOG_ROOT_MISMATCH'), JSON.stringify(f2));
  // Entries past the latest checkpoint are not read.
  const f3: Finding[] = [];
  const view = await openIdentityLog(w.entries, w.notes.slice(0, 1), w.policy, f3) as IdentityView;
  assert.equal(view.size, 2n);
  assert.deepEqual(errors(f3), []);
  assert.ok(f3.some((f) => f.code === 'ERR_LOG_UNCHECKPOINTED' && f.severity === 'notice'));
});

test('a bundle\'s identity range must run from its start to the end of its checkpoint\'s tree, every entry in it', async (t) => {
  const w = await world(t);
  const note = w.log.db.latestCheckpoint()!.note;
  const range = [1n, 2n, 3n];
  const section = { checkpoint: note, start: 1n, entries: range.map((i) => w.entries[Number(i)]!), proof: multiInclusionProof(range, 4n, w.log.db.read) };
  const ok: Finding[] = [];
  const view = await openIdentitySection(section, w.policy, ok);
  assert.ok(view, JSON.stringify(ok));
  assert.equal(view.index.chain(w.a.id) !== 'unknown', true);
  const short: Finding[] = [];
  assert.equal(await openIdentitySection({ ...section, entries: section.entries.slice(0, 2), proof: multiInclusionProof([1n, 2n], 4n, w.log.db.read) }, w.policy, short), null);
  assert.deepEqual(errors(short), ['ERR_INCLUSION_INVALID']);
  const swapped: Finding[] = [];
  assert.equal(await openIdentitySection({ ...section, entries: [section.entries[0]!, section.entries[1]!, section.entries[1]!] }, w.policy, swapped), null);
  assert.deepEqual(errors(swapped), ['ERR_INCLUSION_INVALID']);
});

test('a call is first witnessed when the quorum cosigned the smallest checkpoint covering it; a quorum of 0 trusts the operator', () => {
  const cp = (size: bigint, times: number[]): OpenedCheckpoint => ({ origin: 'o', size, rootHash: new Uint8Array(32), extensions: [], signers: [], cosigners: times.map((x, i) => ({ name: `w${i}`, timestamp: BigInt(x) })) });
  const cps = [cp(5n, [100, 90]), cp(10n, [200, 150, 170]), cp(20n, [300])];
  assert.equal(witnessedAtOf(cps, 2, 3n, 1), 100, 'the second cosignature of the checkpoint of size 5');
  assert.equal(witnessedAtOf(cps, 2, 7n, 1), 170);
  assert.equal(witnessedAtOf(cps, 2, 15n, 1), null, 'the checkpoint of size 20 misses the quorum');
  assert.equal(witnessedAtOf(cps, 0, 15n, 42), 42);
});

test('a revocation the witness quorum saw before a call fails it, whatever stale size its gatekeeper recorded; an identity log witnessed before the call is said to be so', async (t) => {
  const w = await world(t);
  // One more credential (entry 4): the identity log has checkpoints of size 4 (holding the revocation) and 5.
  await issueCredential(w.idp, { subject: 'agent:acme/c', key: w.key, ttl: 3600, allowRevokedKey: true });
  const entries = Array.from({ length: Number(w.log.db.size()) }, (_, i) => w.log.db.entry(BigInt(i))!);
  const notes = w.log.db.checkpoints().map((c) => c.note);
  const T = Math.floor(Date.now() / 1000) + 60; // within the credentials' hour
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const pub = await exportEd25519Public(pair.publicKey);
  const cosign = async (note: string, at: number): Promise<string> => {
    const signer = cosignatureSigner('witness.example/w1', pair.privateKey, pub, () => BigInt(at));
    return note + formatSignatureLine('witness.example/w1', signer.keyId, await signer.sign(utf8(parseNote(note).text)));
  };
  // The witness saw the revocation (size 4) at T, and size 5 at T + 700.
  const [n4, n5] = [notes[notes.length - 2]!, notes[notes.length - 1]!];
  const policy: TrustPolicy = { ...w.policy, witnesses: [{ name: 'witness.example/w1', vkey: formatVerifierKey('witness.example/w1', SIG_TYPE_COSIGNATURE_V1, pub) }], quorum: 1 };
  const decide = async (noteList: string[], time: number): Promise<string[]> => {
    const f: Finding[] = [];
    const view = await openIdentityLog(entries, noteList, policy, f);
    assert.ok(view, JSON.stringify(f));
    // The gatekeeper recorded size 3: the revocation at 3 was not below it.
    await decideCalls([{ ...callOf(w.a.id, w.key.keyId, 3n), time }], view, policy, () => time, own(w.policy), f);
    return errors(f);
  };
  const full = [...notes.slice(0, -2), await cosign(n4, T), await cosign(n5, T + 700)];
  assert.deepEqual(await decide(full, T + 600), ['ERR_CREDENTIAL_REVOKED'], 'made ten minutes after the witnesses saw the revocation');
  assert.deepEqual(await decide(full, T - 40), [], 'made before it');
  // Only the checkpoint of size 4, witnessed at T, for a call witnessed at T + 650.
  const old = [...notes.slice(0, -2), await cosign(n4, T)];
  const f: Finding[] = [];
  const view = await openIdentityLog(entries, old, policy, f);
  await decideCalls([{ ...callOf(w.b.id, w.key.keyId, 4n), time: T + 650 }], view, policy, () => T + 650, own(w.policy), f);
  assert.deepEqual(errors(f), [], 'an identity log is witnessed when it changes: an honest one older than the call is no failure');
  assert.ok(f.some((x) => x.code === 'NOTE_IDENTITY_STALE'), 'but what a newer one could add is said');
});

test('only what this identity log can vouch for is appended or renewed; two keys may not share an identity log\'s name', async (t) => {
  const w = await world(t);
  // A credential file edited by hand (wider tools, another subject) is not renewed: it is not the logged one.
  const edited = { ...w.b, subject: 'agent:acme/ceo-bot', tools: ['crm.*'] };
  await assert.rejects(renewCredential(w.idp, edited), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_UNLOGGED'));
  // A revoked credential is not renewed, nor revoked again; its revocation named the live credential with the same key.
  await assert.rejects(renewCredential(w.idp, w.a), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_REVOKED'));
  await assert.rejects(revokeCredential(w.idp, w.a), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_REVOKED'));
  assert.deepEqual(w.sameKey, [w.b.id]);
  // An edited copy is not revoked (it would name another digest and revoke nothing).
  await assert.rejects(revokeCredential(w.idp, { ...w.b, signature: '00'.repeat(64) }), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_UNLOGGED'));
  // A credential signed by another key than the issuer's is never appended.
  const strangerDir = mkdtempSync(join(tmpdir(), 'mcp-attest-idv-'));
  t.after(() => rmSync(strangerDir, { recursive: true, force: true }));
  const stranger = join(strangerDir, 'x');
  await initHome(stranger);
  await initCredentialIssuer(stranger, { id: 'idp:acme', subjectPrefix: 'agent:acme/' });
  const foreign = (await issueCredential(stranger, { subject: 'agent:acme/intruder', key: w.key, ttl: 600, allowRevokedKey: true })).credential;
  await assert.rejects(appendIdentity(w.idp, foreign), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_UNTRUSTED'));
  // Two issuers whose identity logs share a name under different keys: one could stand in for the other.
  const other = loadCredentialIssuer(stranger)!;
  assert.throws(() => parseTrustPolicy(JSON.stringify({ ...w.policy, credentialIssuers: [w.policy.credentialIssuers![0], { ...other, id: 'idp:other', subjectPrefix: 'agent:other/', log: formatVerifierKey(parseVerifierKey(w.policy.credentialIssuers![0]!.log!).name, SIG_TYPE_ED25519, parseVerifierKey(other.log!).publicKey) }] })),
    (e: unknown) => isAttestError(e, 'ERR_POLICY_INVALID') && /under another key/.test((e as Error).message));
});

test('a root credential outside its issuer\'s own grant is never signed into the identity log; what is not given defaults to the grant or the parent (a sub-agent\'s lifetime to what its parent has left)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-idv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [idp, agent, kid] = [join(dir, 'idp'), join(dir, 'agent'), join(dir, 'kid')];
  for (const h of [idp, agent, kid]) await initHome(h);
  // A grant naming a server no credential can name is refused, as a credential naming it would be.
  await assert.rejects(initCredentialIssuer(idp, { id: 'idp:acme', subjectPrefix: 'agent:acme/', servers: ['sha256:abc'] }), (e: unknown) => isAttestError(e, 'ERR_POLICY_INVALID') && /servers: server fingerprints/.test((e as Error).message));
  await initCredentialIssuer(idp, { id: 'idp:acme', subjectPrefix: 'agent:acme/', tools: ['crm.*'], servers: [SERVER], maxLifetimeSeconds: 600, maxDepth: 1 });
  const key = agentKeyOf(agent);
  const credentials = (): number => {
    const log = IdentityLog.open(idp, false);
    try {
      log?.refresh();
      return log?.index.credentials().length ?? 0;
    } finally {
      log?.close();
    }
  };
  const base = { key, tools: ['crm.read'], servers: [SERVER], ttl: 600 };
  const widened = [
    { ...base, subject: 'agent:evil/bot' }, { ...base, subject: 'agent:acme/' }, { ...base, subject: 'agent:acme/bot', tools: ['mail.send'] },
    { ...base, subject: 'agent:acme/bot', servers: [`sha256:${'ef'.repeat(32)}`] },
    { ...base, subject: 'agent:acme/bot', ttl: 601 }, { ...base, subject: 'agent:acme/bot', maxDepth: 2 },
  ];
  for (const spec of widened) await assert.rejects(issueCredential(idp, spec), (e: unknown) => isAttestError(e, 'ERR_CREDENTIAL_WIDENED'), JSON.stringify(spec));
  assert.equal(credentials(), 0, 'nothing was appended');
  // Servers and tools not given are the grant's; the lifetime, the grant's longest.
  const parent = (await issueCredential(idp, { key, subject: 'agent:acme/bot', maxDepth: 1 })).credential;
  assert.deepEqual([parent.tools, parent.servers, parent.notAfter - parent.notBefore], [['crm.*'], [SERVER], 600]);
  // A sub-agent's are its parent's, its default lifetime cut to its parent's end: it is issued, not refused as wider.
  const child = (await issueCredential(idp, { subject: 'agent:acme/bot/kid', key: agentKeyOf(kid), parent }, agent)).credential;
  assert.deepEqual([child.tools, child.servers, child.notAfter], [parent.tools, parent.servers, parent.notAfter]);
  assert.equal(credentials(), 2);
});

test('one witness\'s clock cannot make an old identity log look fresh: freshness is the quorum-th latest cosignature', async (t) => {
  const w = await world(t);
  const T = Math.floor(Date.now() / 1000);
  const witnesses = await Promise.all(['witness.example/a', 'witness.example/b'].map(async (name) => {
    const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
    const pub = await exportEd25519Public(pair.publicKey);
    return { name, pair, pub, vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, pub) };
  }));
  const latest = w.notes[w.notes.length - 1]!;
  let note = latest;
  // An honest witness cosigned at T - 100; the other claims a time far in the future.
  for (const [x, at] of [[witnesses[0]!, T - 100], [witnesses[1]!, 4_000_000_000]] as const) {
    const signer = cosignatureSigner(x.name, x.pair.privateKey, x.pub, () => BigInt(at));
    note += formatSignatureLine(x.name, signer.keyId, await signer.sign(utf8(parseNote(latest).text)));
  }
  const policy: TrustPolicy = { ...w.policy, witnesses: witnesses.map((x) => ({ name: x.name, vkey: x.vkey })), quorum: 2 };
  const f: Finding[] = [];
  const view = await openIdentityLog(w.entries, [...w.notes.slice(0, -1), note], policy, f);
  assert.ok(view, JSON.stringify(f));
  assert.equal(view.witnessedAt, T - 100);
  await decideCalls([{ ...callOf(w.b.id, w.key.keyId, 4n), time: T }], view, policy, () => T + 600, own(w.policy), f);
  assert.ok(f.some((x) => x.code === 'NOTE_IDENTITY_STALE'));
});

test('a call against an identity log holding 130,000 revocations of its credential by another issuer is decided, the notices capped (no spread into push)', async (t) => {
  const w = await world(t);
  const found: Finding[] = [];
  const opened = await openIdentityLog(w.entries, w.notes, w.policy, found);
  assert.ok(opened, JSON.stringify(found));
  const N = 130_000;
  const rev: Revocation = { type: 'mcp-attest/revocation@1', credential: w.b.id, credentialDigest: credentialDigest(w.b), issuer: 'idp:someone-else', signerKeyId: 'k', signature: 'ab' } as Revocation;
  for (let i = 0; i < N; i++) opened.index.add(opened.size + BigInt(i), rev);
  const view: IdentityView = { ...opened, size: opened.size + BigInt(N) };
  const f: Finding[] = [];
  await decideCalls([callOf(w.b.id, w.key.keyId, view.size)], view, w.policy, (_i, time) => time, own(w.policy), f);
  const untrusted = f.filter((x) => x.code === 'NOTE_REVOCATION_UNTRUSTED');
  assert.equal(untrusted.length, 1_001);
  assert.equal(untrusted[1_000]!.more, N - 1_000);
  assert.deepEqual(errors(f), [], 'a revocation its issuer did not sign revokes nothing');
});

test('many calls under a credential the identity log revokes many times over: each call gets one finding naming the earliest revocation, the revocations checked once per chain', async (t) => {
  const w = await world(t);
  const found: Finding[] = [];
  const opened = await openIdentityLog(w.entries, w.notes, w.policy, found);
  assert.ok(opened, JSON.stringify(found));
  // The logged revocation of `a` (entry 3), repeated 400 times after it, and one another issuer signed.
  const revocation = opened.index.revocations()[0]!.revocation;
  const R = 400;
  for (let i = 0; i < R; i++) opened.index.add(opened.size + BigInt(i), revocation);
  opened.index.add(opened.size + BigInt(R), { ...revocation, issuer: 'idp:someone-else' } as Revocation);
  const view: IdentityView = { ...opened, size: opened.size + BigInt(R + 1) };
  const C = 300;
  const f: Finding[] = [];
  await decideCalls(Array.from({ length: C }, () => callOf(w.a.id, w.key.keyId, view.size)), view, w.policy, (_i, time) => time, own(w.policy), f);
  const revoked = f.filter((x) => x.code === 'ERR_CREDENTIAL_REVOKED');
  assert.equal(revoked.length, C, 'one finding a call');
  assert.ok(revoked.every((x) => x.message.includes('revoked at identity entry 3,') && x.message.includes(`(${R + 1} revocations apply to the chain)`)), revoked[0]!.message);
  assert.equal(f.filter((x) => x.code === 'NOTE_REVOCATION_UNTRUSTED').length, 1, 'an ignored revocation is said once, with the chain\'s first call');
  // A call checked before the revocation, made before anyone saw it, stands.
  const early: Finding[] = [];
  await decideCalls([callOf(w.a.id, w.key.keyId, 3n)], view, w.policy, (_i, time) => time, own(w.policy), early);
  assert.deepEqual(errors(early), []);
});

test('an identity log file with an entry at index 10^12 is read up to its gap, not through it', { timeout: 30_000 }, async (t) => {
  const w = await world(t);
  const db = new Database(join(w.idp, 'identity.db'));
  db.prepare('INSERT INTO entries (idx, data, leaf) VALUES (?, ?, ?)').run(10n ** 12n, Buffer.from('{}'), Buffer.alloc(32));
  db.close();
  const findings: Finding[] = [];
  const { view } = await identityOf(identityPath(w.idp), w.policy, findings);
  assert.ok(findings.some((f) => f.code === 'ERR_STORE_CORRUPT' && f.message.includes('entry 4 is missing')), JSON.stringify(findings));
  assert.equal(view?.size, 4n, 'the entries before the gap, which the checkpoint covers, still verify');
});

test('under a quorum of 0 a call after its credential\'s window is ERR_CREDENTIAL_EXPIRED alone (its own time stands in for its witnessing), with times in RFC 3339', async (t) => {
  const w = await world(t);
  const findings: Finding[] = [];
  const view = await openIdentityLog(w.entries, w.notes, w.policy, findings);
  assert.ok(view, JSON.stringify(findings));
  const late = w.b.notAfter + 1000;
  const f: Finding[] = [];
  await decideCalls([{ ...callOf(w.b.id, w.key.keyId, 4n), time: late }], view, w.policy, (_i, time) => time, own(w.policy), f);
  assert.deepEqual(errors(f), ['ERR_CREDENTIAL_EXPIRED']);
  assert.ok(f.some((x) => x.message === `identity: credential ${w.b.id} expired at ${showTime(w.b.notAfter)}; the call is at ${showTime(late)}`), JSON.stringify(f));
  // Witnessed (a quorum), late: both said, each with its own time.
  const g: Finding[] = [];
  await decideCalls([{ ...callOf(w.b.id, w.key.keyId, 4n), time: w.b.notAfter - 10 }], view, w.policy, () => late, own(w.policy), g);
  assert.deepEqual(errors(g), ['ERR_CREDENTIAL_LATE']);
});
