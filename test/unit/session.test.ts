/**
 * Receipt sessions in process, with the real session store and log: record, seal, export,
 * verify; and the attacks the issue names (head and tail truncation, reordering, an empty
 * sealed session, an approval moved to another action, an approver using the agent's key,
 * keys taken from the receipt itself, a bad signature anywhere). Each fails closed with its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadIdentity } from '../../src/store/identity.js';
import { loadIssuerSigner } from '../../src/store/identity.js';
import { encodeRecord, SESSION_RECORD } from '../../src/records/record.js';
import { actionsDigest, policyDocDigest, statementDigest } from '../../src/receipt/session.js';
import { SessionStore } from '../../src/store/sessions.js';
import { LogDb } from '../../src/store/log-db.js';
import { homePaths } from '../../src/store/home.js';
import { verifyLog } from '../../src/verify/log.js';
import { buildBundle } from '../../src/store/bundle-build.js';
import { formatSessionReceipt } from '../../src/bundle/session-receipt.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { isAttestError } from '../../src/errors.js';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { canonicalBytes } from '../../src/jcs/index.js';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { SessionHome } from '../../src/store/session-export.js';
import { formatBundle } from '../../src/bundle/format.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { fromBase64Url } from '../../src/bytes/index.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { tempDir } from './log-helper.js';
import { codes, edit, forge, kinds, newPartyKey, partyStatement, policyWith, sessionHome, verify } from './session-helper.js';

test('record, seal, export, verify: every dimension passes; evidence disclosed and checked', async (t) => {
  const doc = 'refunds above 100 EUR need an approver';
  const { home, h, sessionId } = await sessionHome(t, 3, { policyDigest: policyDocDigest(doc) });
  const { text } = await h.exportReceipt(sessionId, { evidence: true });
  const r = await verify(text, policyWith(home), { policyDocDigest: policyDocDigest(doc) });
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.equal(r.level, 'sealed');
  assert.deepEqual(r.dimensions, { integrity: 'pass', agentSignature: 'pass', sealCompleteness: 'pass', policyBinding: 'pass', witnessed: 'none', approvals: 'none', counterparty: 'none' });
  assert.deepEqual(r.session!.actions.map((a) => a.name), ['step/1', 'step/2', 'step/3']);
  assert.deepEqual(kinds(text), ['start', 'action', 'action', 'action', 'seal']);
  assert.equal((JSON.parse(text) as { evidence: unknown[] }).evidence.length, 3);
  const other = await verify(text, policyWith(home), { policyDocDigest: policyDocDigest('another policy') });
  assert.equal(other.dimensions.policyBinding, 'fail');
  assert.deepEqual(codes(other), ['ERR_POLICY_DOC_MISMATCH']);
  const none = await verify(text, policyWith(home));
  assert.equal(none.ok, true);
  assert.equal(none.dimensions.policyBinding, 'unchecked');
});

test('head truncation: the first action, or the start, cut off the receipt fails the seal', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 3);
  const { text } = await h.exportReceipt(sessionId);
  const noFirst = await verify(edit(text, (r) => r.entries.splice(2, 1)), policyWith(home)); // entry 0 of the receipt: the log's parameters entry
  assert.equal(noFirst.ok, false);
  assert.equal(noFirst.dimensions.sealCompleteness, 'fail');
  assert.deepEqual(codes(noFirst), ['ERR_SESSION_CHAIN_BROKEN', 'ERR_SESSION_INCOMPLETE']);
  const noStart = await verify(edit(text, (r) => r.entries.splice(1, 1)), policyWith(home));
  assert.equal(noStart.ok, false);
  assert.ok(codes(noStart).includes('ERR_SESSION_INCOMPLETE'));
  assert.equal(noStart.dimensions.agentSignature, 'fail');
});

test('tail truncation: the last action cut off fails; cut off with the seal, the receipt is unsealed', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 3);
  const { text } = await h.exportReceipt(sessionId);
  const noLast = await verify(edit(text, (r) => r.entries.splice(4, 1)), policyWith(home));
  assert.deepEqual(codes(noLast), ['ERR_SESSION_INCOMPLETE']);
  assert.equal(noLast.level, 'failed');
  const noTail = await verify(edit(text, (r) => r.entries.splice(4, 2)), policyWith(home));
  assert.deepEqual(codes(noTail), ['ERR_SESSION_UNSEALED']);
});

test('reordering: two actions swapped in the receipt fail (inclusion and chain)', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 3);
  const { text } = await h.exportReceipt(sessionId);
  const swapped = edit(text, (r) => {
    const a = [r.entries[2]!.record, r.entries[2]!.salt];
    [r.entries[2]!.record, r.entries[2]!.salt] = [r.entries[3]!.record, r.entries[3]!.salt];
    [r.entries[3]!.record, r.entries[3]!.salt] = a as [string, string];
  });
  const r = await verify(swapped, policyWith(home));
  assert.equal(r.ok, false);
  assert.ok(codes(r).includes('ERR_INCLUSION_INVALID'));
  assert.ok(codes(r).includes('ERR_SESSION_CHAIN_BROKEN'));
  const outOfOrder = await verify(edit(text, (r2) => r2.entries.reverse()), policyWith(home));
  assert.deepEqual(codes(outOfOrder), ['ERR_BUNDLE_MALFORMED']);
});

test('an empty session cannot be sealed, and an empty seal forged with the agent key fails', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 0, { seal: false });
  assert.throws(() => h.sessions.seal(sessionId), (e: unknown) => isAttestError(e, 'ERR_SESSION_EMPTY'));
  const start = h.sessions.statements(sessionId)[0]!;
  const seal = forge(h.recorder.issuerSigner, sessionId, {
    kind: 'seal', actionCount: 0, actionsDigest: actionsDigest([]), startDigest: statementDigest(start.statement), firstIndex: String(start.index), lastIndex: String(start.index),
    partyCount: 0, partiesDigest: actionsDigest([]),
  });
  const at = h.recorder.db.append((i) => encodeRecord({ type: SESSION_RECORD, index: i.toString(), sessionId, statement: seal }));
  await h.recorder.checkpoint();
  const bundle = buildBundle(h.recorder.db, [...h.sessions.entryIndexes(sessionId), at]);
  const r = await verify(formatSessionReceipt({ sessionId, bundle, attachments: [], evidence: [] }), policyWith(home));
  assert.equal(r.ok, false);
  assert.equal(r.dimensions.sealCompleteness, 'fail');
  assert.ok(codes(r).includes('ERR_SESSION_EMPTY'));
});

test('approvals: bound to one action; moved to another, or signed with the agent key, they fail', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 2);
  const alice = newPartyKey();
  const policy = policyWith(home, [{ pem: alice, id: 'approver:alice', roles: ['approver'] }]);
  const [d1, d2] = h.sessions.statements(sessionId).filter((e) => e.statement.kind === 'action').map((e) => statementDigest(e.statement));
  const good = partyStatement(alice, 'approver:alice', sessionId, 'approval', { seq: 1, actionDigest: d1! });
  h.sessions.attach(sessionId, good, 'sealed');
  const ok = await verify((await h.exportReceipt(sessionId)).text, policy);
  assert.equal(ok.ok, true, JSON.stringify(ok.findings));
  assert.equal(ok.dimensions.approvals, 'pass');
  assert.deepEqual(ok.approvals.map((a) => [a.target, a.party, a.status]), [[1, 'approver:alice', 'verified']]);
  // Moved: the same approval presented for action 2 (its digest is action 1's).
  const moved = { ...good, target: { seq: 2, actionDigest: d1! } };
  assert.throws(() => h.sessions.attach(sessionId, moved, 'sealed'), (e: unknown) => isAttestError(e, 'ERR_APPROVAL_TARGET'));
  const base = (await h.exportReceipt(sessionId)).text;
  const r1 = await verify(edit(base, (r) => { r.attachments = [moved]; }), policy);
  assert.equal(r1.dimensions.approvals, 'fail');
  assert.ok(codes(r1).includes('ERR_APPROVAL_TARGET'));
  // Re-signed by the approver for action 2 but with action 1's digest: still not action 2.
  const rebound = partyStatement(alice, 'approver:alice', sessionId, 'approval', { seq: 2, actionDigest: d1! });
  assert.deepEqual(codes(await verify(edit(base, (r) => { r.attachments = [rebound]; }), policy)), ['ERR_APPROVAL_TARGET']);
  // The agent signing "as alice" with its own key.
  const agentKey = forge(h.recorder.issuerSigner, sessionId, { kind: 'approval', party: 'approver:alice', declared: false, target: { seq: 2, actionDigest: d2! }, decision: 'approved' }, 'approver:alice');
  assert.throws(() => h.sessions.attach(sessionId, agentKey, 'sealed'), (e: unknown) => isAttestError(e, 'ERR_APPROVER_IS_AGENT'));
  const r2 = await verify(edit(base, (r) => { r.attachments = [agentKey]; }), policy);
  assert.equal(r2.ok, false);
  assert.ok(codes(r2).includes('ERR_APPROVER_IS_AGENT'));
});

test('a party not in the trust policy, or a bad party signature, fails: never a downgrade', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1);
  const bob = newPartyKey();
  const d1 = statementDigest(h.sessions.statements(sessionId)[1]!.statement);
  const conf = partyStatement(bob, 'counterparty:bob', sessionId, 'confirmation', { seq: 1, actionDigest: d1 });
  const text = edit((await h.exportReceipt(sessionId)).text, (r) => { r.attachments = [conf]; });
  const untrusted = await verify(text, policyWith(home));
  assert.deepEqual(codes(untrusted), ['ERR_PARTY_UNTRUSTED']);
  assert.equal(untrusted.dimensions.counterparty, 'fail');
  // Trusted as an approver only: the counterparty role is missing.
  assert.deepEqual(codes(await verify(text, policyWith(home, [{ pem: bob, id: 'counterparty:bob', roles: ['approver'] }]))), ['ERR_PARTY_UNTRUSTED']);
  const trusted = policyWith(home, [{ pem: bob, id: 'counterparty:bob', roles: ['counterparty'] }]);
  const ok = await verify(text, trusted);
  assert.equal(ok.ok, true, JSON.stringify(ok.findings));
  assert.equal(ok.confirmations[0]!.status, 'verified');
  assert.equal(ok.confirmations[0]!.index, null);
  assert.ok(ok.findings.some((f) => f.code === 'NOTE_UNLOGGED'));
  const flipped = { ...conf, signature: conf.signature.slice(0, -2) + (conf.signature.endsWith('00') ? '01' : '00') };
  const bad = await verify(edit(text, (r) => { r.attachments = [flipped]; }), trusted);
  assert.deepEqual(codes(bad), ['ERR_SIGNATURE_INVALID']);
  assert.equal(bad.level, 'failed');
});

test('keys embedded in the receipt are never trusted: another agent\'s receipt fails under our policy', async (t) => {
  const ours = await sessionHome(t, 1);
  const theirs = await sessionHome(t, 1);
  const { text } = await theirs.h.exportReceipt(theirs.sessionId);
  const r = await verify(text, policyWith(ours.home));
  assert.equal(r.ok, false);
  assert.equal(r.level, 'failed');
  assert.equal(r.dimensions.integrity, 'fail');
  assert.equal((await verify(text, policyWith(theirs.home))).ok, true);
});

test('declared approvals are the agent\'s record, reported as declared, never as verified', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1);
  const d1 = statementDigest(h.sessions.statements(sessionId)[1]!.statement);
  h.sessions.declare(sessionId, { kind: 'approval', party: 'approver:carol', target: { seq: 1, actionDigest: d1 }, decision: 'approved' }, 'sealed');
  const r = await verify((await h.exportReceipt(sessionId)).text, policyWith(home));
  assert.equal(r.ok, true);
  assert.equal(r.dimensions.approvals, 'declared');
  assert.equal(r.approvals[0]!.status, 'declared');
  assert.equal(r.level, 'sealed');
});

test('an action\'s evidence is stored with its entry: a refused action (sealed session) leaves no payload', async (t) => {
  const { h, sessionId } = await sessionHome(t, 1, { seal: false });
  const stored = (value: unknown): boolean => h.recorder.evidence!.get(createHash('sha256').update(canonicalBytes(value)).digest('hex')) !== null;
  h.sessions.action(sessionId, { name: 'kept', evidence: { kept: true } });
  assert.equal(stored({ kept: true }), true);
  h.sessions.seal(sessionId);
  assert.throws(() => h.sessions.action(sessionId, { name: 'late', evidence: { late: true } }), (e) => isAttestError(e, 'ERR_SESSION_SEALED'));
  assert.equal(stored({ late: true }), false);
});

test('two writers on one session (two store handles, as server and proxy) keep one chain', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1, { seal: false });
  const db2 = new LogDb(homePaths(home).db, 'normal');
  t.after(() => db2.close());
  const other = new SessionStore(db2, loadIssuerSigner(home, loadIdentity(home)), null);
  for (let i = 0; i < 4; i++) (i % 2 === 0 ? other : h.sessions).action(sessionId, { name: `w${i}` });
  h.sessions.seal(sessionId);
  const r = await verify((await h.exportReceipt(sessionId)).text, policyWith(home));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(r.session!.actions.map((a) => a.seq), [1, 2, 3, 4, 5]);
});

test('whole-log verification checks sessions too: an open one is a notice, a forged statement an error', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 2, { seal: false });
  await h.recorder.checkpoint();
  const policy = policyWith(home);
  const input = () => ({ entries: h.recorder.db.entries(), checkpoints: h.recorder.db.checkpoints().map((c) => c.note) });
  const open = await verifyLog(input(), policy, policyKeyResolver(policy));
  assert.equal(open.ok, true);
  assert.ok(open.findings.some((f) => f.code === 'NOTE_SESSION_OPEN'));
  const intruder = (await sessionHome(t, 0, { seal: false })).h.recorder.issuerSigner;
  const last = h.sessions.statements(sessionId).at(-1)!;
  const bad = forge(intruder, sessionId, { kind: 'action', seq: 3, prev: statementDigest(last.statement), name: 'injected' });
  h.recorder.db.append((i) => encodeRecord({ type: SESSION_RECORD, index: i.toString(), sessionId, statement: bad }));
  await h.recorder.checkpoint();
  const r = await verifyLog(input(), policy, policyKeyResolver(policy));
  assert.equal(r.ok, false);
  assert.ok(r.findings.some((f) => f.code === 'ERR_SESSION_SIGNER'));
});

test('a verified rejection is authentic but not an approval; a logged approval dropped from the receipt fails the seal', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 2, { seal: false });
  const alice = newPartyKey();
  const policy = policyWith(home, [{ pem: alice, id: 'approver:alice', roles: ['approver'] }]);
  const d2 = statementDigest(h.sessions.statements(sessionId)[2]!.statement);
  h.sessions.attach(sessionId, partyStatement(alice, 'approver:alice', sessionId, 'approval', { seq: 2, actionDigest: d2 }, 'rejected'), 'open');
  h.sessions.seal(sessionId);
  const { text } = await h.exportReceipt(sessionId);
  const r = await verify(text, policy);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.equal(r.dimensions.approvals, 'rejected');
  assert.ok(r.findings.some((f) => f.code === 'NOTE_REJECTED'));
  assert.notEqual(r.level, 'countersigned');
  const dropped = await verify(edit(text, (x) => x.entries.splice(kinds(text).indexOf('approval') + 1, 1)), policy);
  assert.deepEqual(codes(dropped), ['ERR_SESSION_INCOMPLETE']);
});

test('a party algorithm the policy does not accept fails; an HS256 agent cannot start a session', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1);
  const bob = newPartyKey();
  const d1 = statementDigest(h.sessions.statements(sessionId)[1]!.statement);
  const conf = partyStatement(bob, 'counterparty:bob', sessionId, 'confirmation', { seq: 1, actionDigest: d1 });
  const text = edit((await h.exportReceipt(sessionId)).text, (r) => { r.attachments = [conf]; });
  const policy = { ...policyWith(home, [{ pem: bob, id: 'counterparty:bob', roles: ['counterparty'] }]) };
  policy.acceptedAlgorithms = policy.acceptedAlgorithms.filter((a) => a !== 'EdDSA');
  assert.ok(codes(await verify(text, policy)).includes('ERR_ALG_NOT_ALLOWED'));
  const hs = join(tempDir(t), 'hs');
  await initHome(hs, { alg: 'HS256' });
  const hh = await SessionHome.open(hs, { durability: 'normal' });
  t.after(() => hh.close());
  assert.throws(() => hh.sessions.start({ task: 't', delegator: 'd' }), (e: unknown) => isAttestError(e, 'ERR_ALG_NOT_ALLOWED'));
});

test('a missed witness quorum fails "witnessed" alone; the other dimensions are still checked', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1);
  const raw = fromBase64Url((generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string }).x);
  const policy = { ...policyWith(home), witnesses: [{ name: 'w.example/w1', vkey: formatVerifierKey('w.example/w1', SIG_TYPE_COSIGNATURE_V1, raw) }], quorum: 1 };
  const r = await verify((await h.exportReceipt(sessionId)).text, policy);
  assert.equal(r.ok, false);
  assert.equal(r.dimensions.witnessed, 'fail');
  assert.deepEqual(codes(r), ['ERR_QUORUM_NOT_MET']);
  assert.equal(r.dimensions.sealCompleteness, 'pass');
  assert.equal(r.dimensions.agentSignature, 'pass');
});

test('session statements in a plain bundle are flagged as not checked as a session', async (t) => {
  const { home, h, sessionId } = await sessionHome(t, 1);
  await h.recorder.checkpoint();
  const text = formatBundle(buildBundle(h.recorder.db, h.sessions.entryIndexes(sessionId)));
  const policy = policyWith(home);
  const r = await verifyBundle(text, policy, policyKeyResolver(policy));
  assert.ok(r.findings.some((f) => f.code === 'NOTE_SESSION_UNCHECKED'));
});
