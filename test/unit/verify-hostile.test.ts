/**
 * Log verification against keyless tampering found in review: a replayed call (same
 * nonce), a record whose unsigned tool/server differ from the signed attestation, a hostile
 * claimed index (bounded work), entries no checkpoint seals, a policy demanding witnesses;
 * findings inserted in any number (a hostile input's), in place and in order, and at most
 * 1,000 of a code listed; a key resolver that answers only an exact (iss, alg, keyId).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, loadIdentity } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { verifyLog } from '../../src/verify/log.js';
import { mergeTrustPolicies, parseTrustPolicy, policyKeyResolver } from '../../src/verify/policy.js';
import { exportPublicJwk } from '../../src/keys/material.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import { canonicalBytes, parseJsonBytes } from '../../src/jcs/index.js';
import { isAttestError } from '../../src/errors.js';
import type { EntryInput } from '../../src/verify/log.js';
import { error, FindingCap, fromCheck, insertFindings, limitFindings, notice, type Finding } from '../../src/verify/findings.js';
import { encodeRecord, SESSION_RECORD, type EntriesMode } from '../../src/records/record.js';
import { STATEMENT_FORMAT, type Statement } from '../../src/receipt/session.js';

/** A log of two calls (entry 0 its parameters entry, then attestation, receipt, attestation, receipt), private or public. */
/** An entry as the verifier takes it, without its index: the entry, or a record and its salt. */
type Entry = [Uint8Array] | [Uint8Array, Uint8Array];

async function fixture(mode: EntriesMode): Promise<{ entries: Entry[]; notes: string[]; run(entries: Entry[], notes?: string[]): Promise<string[]>; done(): void }> {
  const home = mkdtempSync(join(tmpdir(), 'mcp-attest-hostile-'));
  await initHome(home, { entries: mode });
  const r = await Recorder.open(home, { durability: 'normal' });
  for (const tool of ['read', 'delete_db']) {
    const { attestation, callId, index } = await r.attest({ tool, args: {}, intent: 'x', server: { name: 's', fingerprint: 'sha256:' + '11'.repeat(32) }, requestDigest: 'sha256:' + '22'.repeat(32) });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: {} });
  }
  await r.close();
  const db = new LogDb(homePaths(home).db);
  const entries = [...db.entries()].map(([, ...e]) => e as Entry);
  const notes = db.checkpoints().map((c) => c.note);
  db.close();
  const policy = trustPolicyOf(loadIdentity(home));
  const run = async (es: Entry[], ns = notes): Promise<string[]> => {
    const report = await verifyLog({ entries: es.map((e, i) => [BigInt(i), ...e] as EntryInput), checkpoints: ns }, policy, policyKeyResolver(policy));
    return report.findings.filter((f) => f.severity === 'error').map((f) => f.code);
  };
  return { entries, notes, run, done: () => rmSync(home, { recursive: true }) };
}

/** The record of entry `e` (in clear, or opened) edited by `f`, re-encoded (an opened one keeps its salt). */
const edit = ([bytes, salt]: Entry, f: (r: Record<string, unknown>) => void): Entry => {
  const r = parseJsonBytes(bytes) as Record<string, unknown>;
  f(r);
  return salt === undefined ? [canonicalBytes(r)] : [canonicalBytes(r), salt];
};

for (const mode of ['private', 'public'] as const) {

test(`a replayed call (same attestation appended again) fails even with no checkpoint over it (${mode} log)`, async () => {
  const f = await fixture(mode);
  assert.deepEqual(await f.run(f.entries), []);
  const replay = [...f.entries, edit(f.entries[1]!, (r) => (r['index'] = '5'))];
  const codes = await f.run(replay);
  assert.ok(codes.includes('ERR_LOG_DUPLICATE_NONCE'), codes.join());
  assert.ok(codes.includes('ERR_LOG_UNCHECKPOINTED'), codes.join());
  f.done();
});

test(`a record whose unsigned tool or server differs from the signed attestation fails (${mode} log)`, async () => {
  const f = await fixture(mode);
  const codes = await f.run([f.entries[0]!, edit(f.entries[1]!, (r) => (r['tool'] = 'delete_everything')), ...f.entries.slice(2)]);
  assert.ok(codes.includes('ERR_TOOL_MISMATCH'), codes.join());
  const codes2 = await f.run([f.entries[0]!, edit(f.entries[1]!, (r) => ((r['server'] as Record<string, string>)['fingerprint'] = 'other')), ...f.entries.slice(2)]);
  assert.ok(codes2.includes('ERR_SERVER_MISMATCH'), codes2.join());
  f.done();
});

test(`a hostile claimed index costs nothing: the index it should hold is reported missing (${mode} log)`, async () => {
  const f = await fixture(mode);
  const codes = await f.run([...f.entries.slice(0, 4), edit(f.entries[4]!, (r) => (r['index'] = '99999999999999999999'))]);
  assert.ok(codes.includes('ERR_LOG_ENTRY_MISSING'), codes.join());
  f.done();
});
}

test('a policy that demands witness cosignatures is refused while they are not verified', () => {
  const base = { version: 1, issuers: [], logs: [] };
  assert.throws(() => parseTrustPolicy(JSON.stringify({ ...base, quorum: 1 })), (e) => isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.throws(() => parseTrustPolicy(JSON.stringify({ ...base, witnesses: [{ name: 'w', vkey: 'w+00000000+AA==' }] })), (e) => isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.equal(parseTrustPolicy(JSON.stringify(base)).quorum, 0);
});

test('a trust policy giving one (iss, alg, keyId) two keys is refused: the key that checks a signature is never the list\'s order', () => {
  const one = { iss: 'issuer://a', alg: 'ES256', keyId: 'k1', publicKeyJwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } };
  const other = { ...one, publicKeyJwk: { ...one.publicKeyJwk, x: 'BB' } };
  const policy = (issuers: object[]): string => JSON.stringify({ version: 1, issuers, logs: [] });
  assert.throws(() => parseTrustPolicy(policy([one, other])), (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID') && e.message.includes('.issuers[1]: the issuer and key id of .issuers[0] with another key'));
  assert.equal(parseTrustPolicy(policy([one, { ...one, publicKeyJwk: { y: 'AA', x: 'AA', crv: 'P-256', kty: 'EC' } }])).issuers.length, 2, 'the same key, members in another order, is the same issuer');
  assert.equal(parseTrustPolicy(policy([one, { ...other, alg: 'EdDSA' }])).issuers.length, 2, 'another algorithm is another issuer');
  // The same key with members a JWKS adds (kid, use) is the same key: its thumbprint says so.
  const fromJwks = { ...one, publicKeyJwk: { ...one.publicKeyJwk, kid: 'k1', use: 'sig' } };
  assert.equal(parseTrustPolicy(policy([one, fromJwks])).issuers.length, 2);
  assert.equal(mergeTrustPolicies([parseTrustPolicy(policy([one])), parseTrustPolicy(policy([fromJwks]))]).issuers.length, 2, 'merged: both copies of the one key, for a resolver to take the first that imports');
  assert.equal(mergeTrustPolicies([parseTrustPolicy(policy([one])), parseTrustPolicy(policy([one]))]).issuers.length, 1, 'the same twice once');
  assert.throws(() => mergeTrustPolicies([parseTrustPolicy(policy([one])), parseTrustPolicy(policy([other]))]), (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID'));
  // An agent credential's id is not a policy's to give a key: the identity log gives it.
  assert.throws(() => parseTrustPolicy(policy([{ ...one, iss: 'cred_AAAAAAAAAAAAAAAAAAAAAA' }])), (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID') && e.message.includes('names an agent credential'));
});

test('a key resolver given one (iss, alg, keyId) with two keys (a list no parser checked) answers neither, whatever their order', async () => {
  const keys = await Promise.all([0, 1].map(async () => exportPublicJwk((await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).publicKey)));
  const issuer = (jwk: object) => ({ iss: 'issuer://a', alg: 'ES256' as const, keyId: 'k1', publicKeyJwk: jwk as never });
  for (const order of [[0, 1], [1, 0]]) {
    const resolve = policyKeyResolver({ issuers: order.map((k) => issuer(keys[k]!)) } as never);
    assert.equal(await resolve({ iss: 'issuer://a', alg: 'ES256', keyId: 'k1' }), null);
  }
  const one = policyKeyResolver({ issuers: [issuer(keys[0]!), issuer({ ...keys[0]!, kid: 'x' })] } as never);
  assert.notEqual(await one({ iss: 'issuer://a', alg: 'ES256', keyId: 'k1' }), null, 'the same key twice resolves');
  // A first copy that does not import (a JWK marked for encryption) does not hide the one that does.
  const second = policyKeyResolver({ issuers: [issuer({ ...keys[0]!, use: 'enc' }), issuer(keys[0]!)] } as never);
  assert.notEqual(await second({ iss: 'issuer://a', alg: 'ES256', keyId: 'k1' }), null);
  assert.equal(await policyKeyResolver({ issuers: [issuer({ ...keys[0]!, use: 'enc' })] } as never)({ iss: 'issuer://a', alg: 'ES256', keyId: 'k1' }), null, 'alone, it does not import');
});

test('findings are inserted in any number (more than one call takes as arguments), in place, in order, 1,000 of a code listed', () => {
  const at = (i: number, code: Finding['code'] = 'ERR_ENTRY_MALFORMED'): Finding => error(code, 'x', { index: BigInt(i) });
  const findings = [at(-2), at(-1, 'ERR_LOG_ENTRY_MISSING'), at(1_000_000, 'ERR_LOG_ENTRY_MISSING')];
  const held = findings;
  insertFindings(findings, 2, Array.from({ length: 200_000 }, (_, i) => at(i)));
  assert.equal(held, findings, 'the same array');
  assert.equal(findings.length, 1_003);
  assert.deepEqual([0, 1, 2, 1_000, 1_001].map((k) => findings[k]!.index), ['-2', '-1', '0', '998', '1000000']);
  assert.deepEqual(findings[1_002], { severity: 'error', code: 'ERR_ENTRY_MALFORMED', message: '199001 more ERR_ENTRY_MALFORMED finding(s) not listed (a report lists 1000 of each code)', more: 199_001 });
});

test('a report lists 1,000 findings of a code, then one counting the rest; a count carried in is added, a notice stays a notice', () => {
  const few = [error('ERR_ENTRY_MALFORMED', 'x'), notice('NOTE_IN_FLIGHT', 'y')];
  assert.equal(limitFindings(few), few, 'nothing over: the same array');
  const cap = new FindingCap([]);
  for (let i = 0; i < 1_500; i++) cap.add(notice('NOTE_IN_FLIGHT', `call ${i}`, BigInt(i)));
  cap.add(error('ERR_ENTRY_MALFORMED', 'z'));
  cap.flush();
  assert.equal(cap.out.length, 1_002);
  assert.equal(cap.out[999]!.index, '999');
  assert.equal(cap.out[1_000]!.code, 'ERR_ENTRY_MALFORMED');
  assert.deepEqual({ ...cap.out[1_001], message: '' }, { severity: 'notice', code: 'NOTE_IN_FLIGHT', message: '', more: 500 });
  // Limited again (with a finding appended after the count): the same listing, the count kept and moved last.
  const again = limitFindings([...cap.out, notice('NOTE_IN_FLIGHT', 'late')]);
  assert.equal(again.length, 1_002);
  assert.deepEqual(again.slice(0, 1_001), cap.out.slice(0, 1_001));
  assert.equal(again[1_001]!.more, 501);
  // A code seen at two severities is counted apart: an error after 1,000 notices of its code is listed, never counted into them.
  const mixed = new FindingCap([]);
  for (let i = 0; i < 1_001; i++) mixed.add(notice('ERR_LOG_UNCHECKPOINTED', 'n'));
  mixed.add(error('ERR_LOG_UNCHECKPOINTED', 'e'));
  mixed.flush();
  assert.deepEqual(mixed.out.filter((f) => f.severity === 'error').map((f) => f.message), ['e']);
  assert.deepEqual(mixed.out.at(-1), { severity: 'notice', code: 'ERR_LOG_UNCHECKPOINTED', message: '1 more ERR_LOG_UNCHECKPOINTED finding(s) not listed (a report lists 1000 of each code)', more: 1 });
});

test('a finding shows a long expected or found string cut at 1,024 characters, with its length', () => {
  const long = 'k'.repeat(64_000);
  const f = error('ERR_SESSION_SIGNER', 'x', { expected: long, found: 'short' });
  assert.equal(f.expected, `${'k'.repeat(1_024)}… (64000 characters)`);
  assert.equal(f.found, 'short');
  const c = fromCheck({ dimension: 'back_link', status: 'fail', code: 'ERR_BACK_LINK_MISMATCH', expected: long, found: 'k'.repeat(1_024) }, 3n, 'receipt');
  assert.equal((c.expected as string).length, 1_024 + '… (64000 characters)'.length);
  assert.equal(c.found, 'k'.repeat(1_024), 'exactly 1,024 stays whole');
});

test('a log whose every entry is malformed gets a report of 1,000 findings and one counting the rest (memory and output bounded)', async () => {
  const policy = parseTrustPolicy(JSON.stringify({ version: 1, issuers: [], logs: [] }));
  const junk = new TextEncoder().encode('x');
  const entries = Array.from({ length: 2_501 }, (_, i): EntryInput => [BigInt(i), junk]);
  const report = await verifyLog({ entries, checkpoints: [] }, policy, policyKeyResolver(policy));
  assert.equal(report.ok, false);
  const malformed = report.findings.filter((f) => f.code === 'ERR_ENTRY_MALFORMED');
  assert.equal(malformed.length, 1_001);
  assert.deepEqual(malformed.slice(0, 1_000).map((f) => f.index), Array.from({ length: 1_000 }, (_, i) => String(i)));
  assert.equal(malformed[1_000]!.more, 1_501);
  assert.equal(malformed[1_000]!.severity, 'error');
});

test('a log of 2,000 one-statement sessions (no start, no seal) reports each session finding 1,000 times and counts the rest', async () => {
  const policy = parseTrustPolicy(JSON.stringify({ version: 1, issuers: [], logs: [] }));
  const digest = `sha256:${'0'.repeat(64)}`;
  const entries = Array.from({ length: 2_000 }, (_, i): EntryInput => {
    const sessionId = `ses_${i.toString(36).padStart(22, 'A')}`;
    const statement = { format: STATEMENT_FORMAT, kind: 'action', sessionId, iat: '2026-01-01T00:00:00Z', signer: { id: 'agent://x', alg: 'ES256', keyId: 'k' }, signature: 'ab', seq: 1, prev: digest, name: 'a' };
    return [BigInt(i), encodeRecord({ type: SESSION_RECORD, index: String(i), sessionId, statement: statement as Statement })];
  });
  const report = await verifyLog({ entries, checkpoints: [] }, policy, policyKeyResolver(policy));
  assert.equal(report.ok, false);
  const incomplete = report.findings.filter((f) => f.code === 'ERR_SESSION_INCOMPLETE');
  assert.equal(incomplete.length, 1_001);
  assert.equal(incomplete[1_000]!.more, 1_000);
  assert.equal(report.findings.filter((f) => f.code === 'NOTE_SESSION_OPEN').at(-1)!.more, 1_000);
});

test('the policy\'s key resolver answers only an exact (iss, alg, keyId): members holding the separator do not stand for another issuer\'s', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-attest-hostile-'));
  try {
    await initHome(home);
    const own = trustPolicyOf(loadIdentity(home)).issuers[0]!;
    const policy = parseTrustPolicy(JSON.stringify({ version: 1, issuers: [{ ...own, iss: 'x', keyId: `y\n${own.alg}\nz` }], logs: [] }));
    const keys = policyKeyResolver(policy);
    assert.ok(await keys({ iss: 'x', alg: own.alg, keyId: `y\n${own.alg}\nz` }), 'the issuer itself');
    assert.equal(await keys({ iss: `x\n${own.alg}\ny`, alg: own.alg, keyId: 'z' }), null, 'another triple with the same text once joined by newlines');
    assert.equal(await keys({ iss: 'x', alg: own.alg, keyId: 'y' }), null);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
