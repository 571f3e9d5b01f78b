/**
 * A session statement's signature is checked with its entry (verify/entry-facts.ts), where a
 * log's entries are checked in parallel, and its session's check takes that verdict instead
 * of checking it again: the verdicts are those the session check would reach (valid, a bad
 * signature, an agent key the policy lacks, a party it does not list, a declared approval on
 * the agent's key), the results with and without them are the same, and a verdict given is
 * the one used (not by the public `checkSession`, which checks every signature itself); and a
 * log's sessions checked as their statements are folded report what they do checked whole; a
 * trust policy's party changed in place is what the next check uses; an HS256 agent's
 * statements fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecord, SESSION_RECORD } from '../../src/records/record.js';
import { actionsDigest, sessionGenesis, statementDigest, type Statement } from '../../src/receipt/session.js';
import { hmacSigner } from '../../src/store/node-signer.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { RecordChecker } from '../../src/verify/records.js';
import { sessionEntries } from '../../src/verify/logged-statements.js';
import { entryFacts, type EntryFacts } from '../../src/verify/entry-facts.js';
import { checkKnown, checkSession, type KnownEntry, type SessionEntry } from '../../src/verify/session.js';
import { withoutCredentialKeys } from '../../src/identity/gate-check.js';
import { forge, newPartyKey, partyStatement, policyWith, sessionHome } from './session-helper.js';

/** `hex` with its last digit changed. */
const flip = (hex: string): string => hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');

/** A log with two sessions: ours (good and bad statements of every kind) and an intruder's, whose key no policy here lists. */
async function mixedLog(t: Parameters<typeof sessionHome>[0]) {
  const { home, h, sessionId } = await sessionHome(t, 3, { seal: false });
  const alice = newPartyKey();
  const digest = (seq: number): string => statementDigest(h.sessions.statements(sessionId)[seq]!.statement);
  h.sessions.attach(sessionId, partyStatement(alice, 'approver:alice', sessionId, 'approval', { seq: 1, actionDigest: digest(1) }), 'open');
  h.sessions.attach(sessionId, partyStatement(newPartyKey(), 'approver:bob', sessionId, 'approval', { seq: 2, actionDigest: digest(2) }), 'open');
  h.sessions.declare(sessionId, { kind: 'approval', party: 'approver:carol', target: { seq: 3, actionDigest: digest(3) }, decision: 'approved' }, 'open');
  const append = (id: string, s: Statement): void => void h.recorder.db.append((i) => encodeRecord({ type: SESSION_RECORD, index: i.toString(), sessionId: id, statement: s }));
  const tampered = forge(h.recorder.issuerSigner, sessionId, { kind: 'action', seq: 4, prev: digest(3), name: 'tampered' });
  append(sessionId, { ...tampered, signature: flip(tampered.signature) });
  const other = await sessionHome(t, 1, { seal: false });
  for (const { statement } of other.h.sessions.statements(other.sessionId)) append(other.sessionId, statement);
  const policy = policyWith(home, [{ pem: alice, id: 'approver:alice', roles: ['approver'] }]);
  const keys = policyKeyResolver(policy);
  const facts: EntryFacts[] = [];
  for (const [i, bytes, salt] of h.recorder.db.entries()) facts.push(await entryFacts(i, bytes, policy, keys, salt));
  const checker = new RecordChecker(policy, keys, []);
  for (const f of facts) checker.fold(f);
  return { sessionId, otherId: other.sessionId, policy, keys: withoutCredentialKeys(keys, policy), checker, facts, logKeys: keys };
}

test('a statement\'s signature checked with its entry gets the verdict its session check would reach', async (t) => {
  const { sessionId, otherId, checker } = await mixedLog(t);
  const verdicts = (id: string): string[] => sessionEntries(checker.sessions.get(id)!).map((e) => `${e.statement.kind}${'party' in e.statement ? ` ${e.statement.party}` : ''}: ${e.signed}`);
  assert.deepEqual(verdicts(sessionId), [
    'start: valid', 'action: valid', 'action: valid', 'action: valid',
    'approval approver:alice: valid', 'approval approver:bob: no-key', 'approval approver:carol: valid', 'action: invalid',
  ]);
  assert.deepEqual(verdicts(otherId), ['start: no-key', 'action: no-key']);
});

test('a session\'s check gives the same result with the verdicts of its entries as checking each signature itself', async (t) => {
  const { sessionId, otherId, policy, keys, checker } = await mixedLog(t);
  const found = new Set<string>();
  for (const id of [sessionId, otherId]) {
    const list = checker.sessions.get(id)!;
    const given = sessionEntries(list);
    assert.equal(list.length, 0, 'the texts are let go once parsed');
    const bare: SessionEntry[] = given.map(({ index, statement }) => ({ index, statement }));
    const withVerdicts = await checkKnown(id, given, policy, keys, { calls: checker.lookupCall });
    assert.deepEqual(withVerdicts, await checkSession(id, bare, policy, keys, { calls: checker.lookupCall }), `session ${id}`);
    for (const list of Object.values(withVerdicts.findings)) for (const f of list) found.add(f.code);
    // The logged approval no listed party signed proves nothing: not counted, said in a notice, failing nothing.
    if (id === sessionId) assert.deepEqual(withVerdicts.parties.map((p) => p.status), ['verified', 'ignored', 'declared']);
  }
  // The cases the verdicts stand for all occurred.
  for (const code of ['ERR_SIGNATURE_INVALID', 'NOTE_PARTY_IGNORED', 'ERR_KEY_UNAVAILABLE']) assert.ok(found.has(code), `${code} not among ${[...found].join(', ')}`);
});

test('a log\'s sessions checked as their statements are folded give the results of each session checked whole', async (t) => {
  const { sessionId, otherId, policy, keys, checker, facts, logKeys } = await mixedLog(t);
  const streamed = new RecordChecker(policy, logKeys, [], false, true);
  for (const f of facts) streamed.fold(f);
  assert.equal(streamed.sessions.size, 0, 'no statement kept for the caller');
  const results = [];
  for await (const r of streamed.sessionResults()) results.push(r);
  const whole = [];
  for (const id of [sessionId, otherId]) whole.push(await checkKnown(id, sessionEntries(checker.sessions.get(id)!), policy, keys, { calls: checker.lookupCall, context: 'log', actions: false }));
  assert.deepEqual(results, whole);
  assert.deepEqual(results.map((r) => r.findings.agentSignature.map((f) => f.code)), [['ERR_SIGNATURE_INVALID'], ['ERR_KEY_UNAVAILABLE', 'ERR_KEY_UNAVAILABLE']]);
});

test('a verdict given is the one a session\'s check uses, for the agent\'s statements and a party\'s; the public checkSession takes none', async (t) => {
  const { sessionId, policy, keys, checker } = await mixedLog(t);
  const given = sessionEntries(checker.sessions.get(sessionId)!);
  const codesWith = async (at: number, signed: KnownEntry['signed'], check = checkKnown): Promise<string[]> => {
    const entries = given.map((e, k) => (k === at ? { ...e, signed } : e));
    const r = await check(sessionId, entries, policy, keys, { calls: checker.lookupCall });
    return [...r.findings.agentSignature, ...r.findings.parties].filter((f) => f.index === String(given[at]!.index)).map((f) => f.code);
  };
  assert.deepEqual(await codesWith(1, 'valid'), []);
  assert.deepEqual(await codesWith(1, 'invalid'), ['ERR_SIGNATURE_INVALID']);
  assert.deepEqual(await codesWith(1, 'no-key'), ['ERR_KEY_UNAVAILABLE']);
  assert.deepEqual(await codesWith(4, 'no-key'), ['NOTE_PARTY_IGNORED']);
  assert.deepEqual(await codesWith(5, 'valid'), []);
  // The public checkSession takes no verdict from its caller: it checks every signature itself.
  assert.deepEqual(await codesWith(1, 'invalid', checkSession), []);
  assert.deepEqual(await codesWith(7, 'valid', checkSession), ['ERR_SIGNATURE_INVALID']);
  assert.deepEqual(await codesWith(5, 'valid', checkSession), ['NOTE_PARTY_IGNORED']);
});

test('a trust policy\'s party changed in place, revoked or added, is what the next check uses', async (t) => {
  const { sessionId, policy, keys, checker } = await mixedLog(t);
  const given: SessionEntry[] = sessionEntries(checker.sessions.get(sessionId)!).map(({ index, statement }) => ({ index, statement }));
  const alice = async (): Promise<string> => (await checkSession(sessionId, given, policy, keys)).parties[0]!.status;
  assert.equal(await alice(), 'verified');
  const listed = [...policy.parties];
  policy.parties.length = 0;
  assert.equal(await alice(), 'ignored', 'revoked in place');
  policy.parties.push(...listed);
  assert.equal(await alice(), 'verified', 'listed again');
  // The same entry given another key: that key, not the one imported before.
  const entry = policy.parties[0]!;
  const jwk = entry.publicKeyJwk;
  (entry as { publicKeyJwk: unknown }).publicKeyJwk = { ...jwk, x: (jwk as { x: string }).x.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
  assert.equal(await alice(), 'ignored', 'another key in the same entry');
});

test('statements signed with an HS256 agent key fail, even under a policy that accepts HS256: every holder of the secret could forge them', async (t) => {
  const { home } = await sessionHome(t, 0, { seal: false });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const signer = { iss: 'issuer://shared', sub: 'agent', alg: 'HS256' as const, keyId: 'v1', sign: hmacSigner(secret) };
  const hmac = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const keys = async (q: { iss: string; alg: string }): Promise<CryptoKey | null> => (q.iss === 'issuer://shared' && q.alg === 'HS256' ? hmac : null);
  const sessionId = `ses_${'A'.repeat(22)}`;
  const start = forge(signer, sessionId, { kind: 'start', task: 't', delegator: 'd', genesis: sessionGenesis(sessionId) });
  const action = forge(signer, sessionId, { kind: 'action', seq: 1, prev: sessionGenesis(sessionId), name: 'step' });
  const seal = forge(signer, sessionId, { kind: 'seal', actionCount: 1, actionsDigest: actionsDigest([statementDigest(action)]), startDigest: statementDigest(start), firstIndex: '1', lastIndex: '2', partyCount: 0, partiesDigest: actionsDigest([]) });
  const policy = policyWith(home);
  assert.ok(policy.acceptedAlgorithms.includes('HS256'));
  const r = await checkSession(sessionId, [start, action, seal].map((statement, k) => ({ index: BigInt(k + 1), statement })), policy, keys);
  assert.deepEqual(r.findings.agentSignature.map((f) => f.code), ['ERR_ALG_NOT_ALLOWED', 'ERR_ALG_NOT_ALLOWED', 'ERR_ALG_NOT_ALLOWED']);
  assert.deepEqual([...r.findings.seal, ...r.findings.parties], [], 'the session is otherwise complete');
  assert.equal(r.agentSignature, 'fail');
});
