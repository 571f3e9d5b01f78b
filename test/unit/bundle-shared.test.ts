/**
 * Receipt bundles with one shared inclusion proof (`mcp-attest/bundle@2`): built from a real
 * recorded log for a range and for scattered calls, they verify offline and report what the
 * per-entry form reports; they are smaller; an entry or a proof hash changed, a hash
 * dropped or added, an entry claimed at another index fail with ERR_INCLUSION_INVALID,
 * reported before what the entry's own checks find, in either form; the
 * closed schema refuses the two forms mixed; a shared entry has no tlog-proof of its own; an
 * opened bundle parses each entry only when it is read, and one bad entry still refuses it whole,
 * also when its checkpoint does not open; a check source may read the entries twice.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { buildBundle, selectEntries } from '../../src/store/bundle-build.js';
import { listCalls } from '../../src/store/calls.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_SHARED, formatBundle, openBundle, parseBundle, toTlogProof } from '../../src/bundle/format.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { policyKeyResolver, type TrustPolicy } from '../../src/verify/policy.js';
import { isAttestError } from '../../src/errors.js';
import { recordedHome } from './log-helper.js';
import { localFacts, type FactsSource } from '../../src/verify/log.js';

const codes = (r: { findings: Array<{ code: string; severity: string }> }): string[] => [...new Set(r.findings.filter((f) => f.severity === 'error').map((f) => f.code))];

async function fixture(t: TestContext): Promise<{ db: LogDb; policy: TrustPolicy; verify: (text: string) => ReturnType<typeof verifyBundle> }> {
  const { home, policy } = await recordedHome(t, 9);
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  return { db, policy, verify: (text) => verifyBundle(text, policy, policyKeyResolver(policy)) };
}

test('a shared-proof bundle of a range or of scattered calls verifies as the per-entry one does, and is smaller', async (t) => {
  const { db, verify } = await fixture(t);
  const calls = listCalls(db);
  for (const sel of [{ range: [0n, db.size() - 1n] as [bigint, bigint] }, { range: [3n, 11n] as [bigint, bigint] }, { calls: [calls[1]!.call_id, calls[6]!.call_id, calls[7]!.call_id] }]) {
    const idx = selectEntries(db, sel);
    const shared = formatBundle(buildBundle(db, idx, [], true));
    const single = formatBundle(buildBundle(db, idx, [], false));
    assert.ok(shared.startsWith(`{"format":"${BUNDLE_FORMAT_SHARED}"`) && single.startsWith(`{"format":"${BUNDLE_FORMAT}"`));
    const [a, b] = [await verify(shared), await verify(single)];
    assert.equal(a.ok, true, JSON.stringify(a.findings));
    assert.deepEqual(a, b, `${JSON.stringify(sel, (_, v) => (typeof v === 'bigint' ? String(v) : v))}: the reports differ`);
    assert.ok(shared.length < single.length, 'the shared form is smaller');
    assert.equal(formatBundle(parseBundle(shared)), shared, 'parse and format round-trip byte for byte');
  }
});

test('tampering with a shared-proof bundle fails with ERR_INCLUSION_INVALID', async (t) => {
  const { db, verify } = await fixture(t);
  const text = formatBundle(buildBundle(db, selectEntries(db, { range: [2n, 9n] }), [], true));
  const doc = JSON.parse(text) as { entries: Array<{ index: string; record: string }>; proof: string[] };
  const edits: Array<[string, (d: typeof doc) => void]> = [
    ['entry byte', (d) => { d.entries[3]!.record = d.entries[3]!.record.replace('"index":', '"index" :'); }],
    ['proof hash', (d) => { d.proof[0] = Buffer.from(Buffer.from(d.proof[0]!, 'base64').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64'); }],
    ['hash dropped', (d) => { d.proof.pop(); }],
    ['hash added', (d) => { d.proof.push(d.proof[0]!); }],
    ['entry dropped', (d) => { d.entries.splice(4, 1); }],
    ['index moved', (d) => { d.entries[d.entries.length - 1]!.index = '10'; }],
  ];
  assert.ok(doc.proof.length > 0);
  for (const [name, edit] of edits) {
    const d = JSON.parse(text) as typeof doc;
    edit(d);
    const r = await verify(JSON.stringify(d));
    assert.equal(r.ok, false, name);
    assert.ok(codes(r).includes('ERR_INCLUSION_INVALID'), `${name}: ${codes(r).join(', ')}`);
  }
});

test('a signed value changed fails inclusion first, then its signature, in either form', async (t) => {
  const { db, verify } = await fixture(t);
  const idx = selectEntries(db, { range: [2n, 9n] });
  for (const shared of [true, false]) {
    const d = JSON.parse(formatBundle(buildBundle(db, idx, [], shared))) as { entries: Array<{ record?: string }> };
    const k = d.entries.findIndex((e) => e.record?.includes('"status":"executed"'));
    assert.ok(k >= 0, 'the range holds a receipt');
    const e = d.entries[k]!;
    e.record = e.record!.replace('"status":"executed"', '"status":"failed"');
    const errors = (await verify(JSON.stringify(d))).findings.filter((f) => f.severity === 'error').map((f) => f.code);
    assert.equal(errors[0], 'ERR_INCLUSION_INVALID', `${shared ? '@2' : '@1'}: ${errors.join(', ')}`);
    assert.ok(errors.slice(1).includes('ERR_SIGNATURE_INVALID'), `${shared ? '@2' : '@1'}: ${errors.join(', ')}`);
  }
});

test('the two forms are not mixed, and a shared entry has no tlog-proof of its own', async (t) => {
  const { db, verify } = await fixture(t);
  const idx = selectEntries(db, { range: [0n, 3n] });
  const shared = JSON.parse(formatBundle(buildBundle(db, idx, [], true))) as Record<string, unknown> & { entries: Array<Record<string, unknown>> };
  const single = JSON.parse(formatBundle(buildBundle(db, idx, [], false))) as Record<string, unknown> & { entries: Array<Record<string, unknown>> };
  const mixed = [
    { ...shared, format: BUNDLE_FORMAT },
    { ...single, format: BUNDLE_FORMAT_SHARED },
    { ...shared, entries: single.entries },
    { ...single, proof: shared['proof'] },
    { ...shared, proof: Array.from({ length: 64 * idx.length + 1 }, () => (shared['proof'] as string[])[0]) },
  ];
  for (const m of mixed) {
    const r = await verify(JSON.stringify(m));
    assert.deepEqual(codes(r), ['ERR_BUNDLE_MALFORMED'], JSON.stringify(r.findings));
  }
  const b = parseBundle(JSON.stringify(shared));
  assert.throws(() => toTlogProof(b, b.entries[0]!), (e: unknown) => isAttestError(e, 'ERR_PROOF_INVALID'));
});

test('an opened bundle parses each entry only when it is read: a bad entry is found there, and the bundle is still refused whole', async (t) => {
  const { db, verify } = await fixture(t);
  const text = formatBundle(buildBundle(db, selectEntries(db, { range: [0n, 9n] }), [], true));
  const cases = [['{"index":"6"', '{"index":6', 'ERR_BUNDLE_MALFORMED'], ['{"index":"6"', '{"index":"6",,', 'ERR_JSON_SYNTAX'], ['{"index":"6"', '{"index":"5"', 'ERR_BUNDLE_MALFORMED']] as const;
  for (const [from, to, code] of cases) {
    const bad = text.replace(from, to);
    assert.notEqual(bad, text);
    const opened = openBundle(bad);
    assert.equal(opened.count, 10);
    const read: bigint[] = [];
    assert.throws(() => { for (const e of opened.entries()) read.push(e.index); }, (e: unknown) => isAttestError(e, code));
    assert.deepEqual(read, [0n, 1n, 2n, 3n, 4n, 5n], `${to}: the entries before the bad one are read`);
    assert.throws(() => parseBundle(bad), (e: unknown) => isAttestError(e, code));
    const r = await verify(bad);
    assert.equal(r.ok, false);
    assert.deepEqual(r.findings.map((f) => f.code), [code], JSON.stringify(r.findings));
    assert.equal(r.entries, 0);
  }
});

test('an opened bundle whose checkpoint does not open still has its entries read: one that is not a bundle is reported as that', async (t) => {
  const { db } = await fixture(t);
  const { policy: stranger } = await recordedHome(t, 1);
  const text = formatBundle(buildBundle(db, selectEntries(db, { range: [0n, 9n] }), [], true));
  const untrusted = await verifyBundle(text, stranger, policyKeyResolver(stranger));
  assert.deepEqual(codes(untrusted), ['ERR_CHECKPOINT_UNTRUSTED']);
  assert.equal(untrusted.entries, 10);
  const broken = await verifyBundle(text.replace('{"index":"6"', '{"index":"6",,'), stranger, policyKeyResolver(stranger));
  assert.deepEqual(broken.findings.map((f) => f.code), ['ERR_JSON_SYNTAX'], JSON.stringify(broken.findings));
  assert.equal(broken.entries, 0);
});

test('a per-entry check source that reads the entries twice gets the same report', async (t) => {
  const { db, policy, verify } = await fixture(t);
  const text = formatBundle(buildBundle(db, selectEntries(db, { range: [0n, 9n] }), [], true));
  const twice: FactsSource = async function* (entries, p, keys) {
    for (const _ of entries) { /* read once before */ }
    yield* localFacts(entries, p, keys);
  };
  const r = await verifyBundle(text, policy, policyKeyResolver(policy), { facts: twice });
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(r, await verify(text));
});

test('a check source that gives fewer facts than entries: the rest of the leaves are hashed from the entries, and inclusion still holds', async (t) => {
  const { db, policy } = await fixture(t);
  const text = formatBundle(buildBundle(db, selectEntries(db, { range: [0n, 9n] }), [], true));
  const half: FactsSource = async function* (entries, p, keys) {
    let n = 0;
    for await (const f of localFacts(entries, p, keys)) if (n++ < 5) yield f;
  };
  const r = await verifyBundle(text, policy, policyKeyResolver(policy), { facts: half });
  assert.equal(r.entries, 10);
  assert.ok(!codes(r).includes('ERR_INCLUSION_INVALID'), codes(r).join(', '));
});
