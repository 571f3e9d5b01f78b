/**
 * Receipt bundles (src/bundle/format.ts, src/store/bundle-build.ts, src/verify/bundle.ts):
 * built from a real recorded log, verified offline; every entry is a C2SP tlog-proof; witness
 * cosignatures and the quorum; tampering of every part fails with its own code; split view
 * and rollback against checkpoints accepted earlier.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { toBase64, utf8 } from '../../src/bytes/index.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { buildBundle, selectEntries } from '../../src/store/bundle-build.js';
import { listCalls } from '../../src/store/calls.js';
import { asciiJson, formatBundle, parseBundle, toTlogProof } from '../../src/bundle/format.js';
import { parseTlogProof } from '../../src/log/tlog-proof.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { parseNote } from '../../src/log/note.js';
import { leafHash } from '../../src/log/hash.js';
import { publishedEntry } from '../../src/log/opening.js';
import { verifyInclusion } from '../../src/log/proof.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { formatSignatureLine } from '../../src/log/note.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { isAttestError } from '../../src/errors.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { verifyLog } from '../../src/verify/log.js';
import { parseTrustPolicy, policyKeyResolver, type TrustPolicy } from '../../src/verify/policy.js';
import type { KnownCheckpoint } from '../../src/verify/split-view.js';
import { recordCalls, recordedHome } from './log-helper.js';

const codes = (r: { findings: Array<{ code: string; severity: string }> }, severity = 'error'): string[] => [...new Set(r.findings.filter((f) => f.severity === severity).map((f) => f.code))];

async function witnessKey(name: string): Promise<{ name: string; vkey: string; cosign(note: string): Promise<string> }> {
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const pub = await exportEd25519Public(pair.publicKey);
  const signer = cosignatureSigner(name, pair.privateKey, pub, () => 1_800_000_000n);
  return {
    name, vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, pub),
    cosign: async (note) => formatSignatureLine(name, signer.keyId, await signer.sign(utf8(parseNote(note).text))),
  };
}

/** A home with 6 calls (13 entries: the parameters entry of its private log, then 12), its bundle of a range, and what verifies it. */
async function fixture(t: TestContext, calls = 6): Promise<{ home: string; db: LogDb; policy: TrustPolicy; text: (a?: bigint, b?: bigint, since?: bigint[]) => string }> {
  const { home, policy } = await recordedHome(t, calls);
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  const text = (a = 0n, b = db.size() - 1n, since: bigint[] = []): string => formatBundle(buildBundle(db, selectEntries(db, { range: [a, b] }), since));
  return { home, db, policy, text };
}

test('a bundle of a range verifies offline; each entry with the checkpoint is a C2SP tlog-proof', async (t) => {
  const { db, policy, text } = await fixture(t);
  const bundleText = text();
  const r = await verifyBundle(bundleText, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual([r.entries, r.calls, r.receipts, r.inFlight, codes(r, 'notice')], [13, 6, 6, 0, ['NOTE_UNWITNESSED']], 'the policy asks no witness: the log key alone vouches, and the report says so');
  assert.equal(r.checkpoint?.size, db.size().toString());
  const b = parseBundle(bundleText);
  for (const e of b.entries) {
    const p = parseTlogProof(toTlogProof(b, e));
    const cp = parseCheckpoint(parseNote(p.checkpointNote).text);
    assert.equal(p.index, e.index);
    assert.ok(verifyInclusion(p.index, cp.size, leafHash(publishedEntry(e.bytes, e.salt)), p.proof, cp.rootHash));
  }
  assert.equal(formatBundle(b), bundleText, 'parse and format round-trip byte for byte');
});

test('a bundle is written in ASCII when escaping adds little: the checkpoint\'s em dash and a record\'s non-ASCII text are \\u escapes, read back as the same values', async (t) => {
  const { home, policy } = await recordedHome(t, 0);
  const recorder = await Recorder.open(home, { durability: 'normal', checkpointMs: 3_600_000 });
  const intent = 'pay é — 漢字 🙂 \u0080\u07ff\u0800\uffff';
  const { attestation, callId, index } = await recorder.attest({ tool: 'échoé', args: { note: intent }, intent, server: { name: 'sérveur', fingerprint: `sha256:${'11'.repeat(32)}` }, requestDigest: `sha256:${'22'.repeat(32)}` });
  await recorder.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { note: intent } });
  await recorder.checkpoint();
  await recorder.close();
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  const b = buildBundle(db, selectEntries(db, { range: [0n, db.size() - 1n] }));
  const text = formatBundle(b);
  assert.ok(/^[\x00-\x7f]*$/.test(text), 'every byte ASCII');
  assert.match(text, /\\u2014 mcp-attest\.local\//, 'the checkpoint\'s em dash escaped');
  assert.match(text, /\\ud83d\\ude42/, 'a pair as two escapes');
  const back = parseBundle(text);
  assert.equal(back.checkpoint, b.checkpoint);
  assert.deepEqual(back.entries.map((e) => e.bytes), b.entries.map((e) => e.bytes), 'the same record bytes');
  assert.ok(new TextDecoder().decode(back.entries[1]!.bytes).includes('漢字 🙂'), 'the record itself is UTF-8, not escaped');
  assert.equal(formatBundle(back), text, 'round-trips byte for byte');
  const r = await verifyBundle(text, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  // The escape itself: only code units above U+007F, each as JSON reads it back.
  const value = { s: '\u007f\u0080 \ud800 \ud83d\ude42 \u2014 "\\' };
  const ascii = asciiJson(JSON.stringify(value));
  assert.equal(ascii, '{"s":"\u007f\\u0080 \\ud800 \\ud83d\\ude42 \\u2014 \\"\\\\"}');
  assert.deepEqual(JSON.parse(ascii), value);
  // Only when escaping adds little (5 bytes an escape: at most 1 KiB or a thousandth of the
  // text) and the text stays within what a verifier reads; else as it is.
  const dense = JSON.stringify({ s: 'ж'.repeat(205) });
  assert.equal(asciiJson(dense), dense, '1,025 bytes more: as it is');
  assert.match(asciiJson(JSON.stringify({ s: 'ж'.repeat(204) })), /^[\x00-\x7f]*$/, '1,020 bytes more: escaped');
  const long = JSON.stringify({ s: 'ж'.repeat(400), t: 'a'.repeat(2_000_000) });
  assert.match(asciiJson(long), /^[\x00-\x7f]*$/, 'a thousandth of a long text: escaped');
  assert.equal(asciiJson(JSON.stringify({ s: 'é' })), '{"s":"\\u00e9"}');
  assert.equal(asciiJson(JSON.stringify({ s: 'é' }), 13), '{"s":"é"}', 'escaped it would pass maxBytes');
  assert.equal(asciiJson(JSON.stringify({ s: 'é' }), 14), '{"s":"\\u00e9"}');
});

test('a range that cuts a call in two: the receipt outside is a notice, the attestation in flight', async (t) => {
  const { policy, text } = await fixture(t);
  const r = await verifyBundle(text(2n, 5n), policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(codes(r, 'notice').sort(), ['NOTE_IN_FLIGHT', 'NOTE_OUTSIDE_BUNDLE', 'NOTE_UNWITNESSED']);
});

test('a call bundle holds exactly that call\'s attestation and receipt, and the log\'s parameters entry', async (t) => {
  const { db, policy } = await fixture(t);
  const call = listCalls(db)[3]!;
  const idx = selectEntries(db, { calls: [call.call_id] });
  assert.deepEqual(idx, [0n, BigInt(call.attestation_idx), BigInt(call.receipt_idx!)]);
  const r = await verifyBundle(formatBundle(buildBundle(db, idx)), policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual([r.calls, r.receipts], [1, 1]);
});

test('a hostile bundle of 130,000 entries beyond its checkpoint is reported, not thrown (more findings than one call takes as arguments), 1,000 listed and the rest counted', async (t) => {
  const { policy, text } = await fixture(t, 1);
  const doc = JSON.parse(text()) as { entries: Array<Record<string, unknown>> };
  const N = 130_000;
  for (let i = 0; i < N; i++) doc.entries.push({ index: String(1000 + i), entry: '{}', proof: [] });
  const r = await verifyBundle(JSON.stringify(doc), policy, policyKeyResolver(policy));
  assert.equal(r.ok, false);
  const beyond = r.findings.filter((f) => f.code === 'ERR_INCLUSION_INVALID');
  assert.equal(beyond.length, 1_001, 'the first 1,000 inclusion findings, and one counting the rest');
  assert.deepEqual([beyond[0]!.index, beyond[999]!.index, beyond[1_000]!.more], ['1000', '1999', N - 1_000]);
  assert.equal(r.findings.filter((f) => f.severity === 'error').findIndex((f) => f.code === 'ERR_INCLUSION_INVALID'), 0, 'reported first');
});

test('tampering with any part of a bundle fails with its own code', async (t) => {
  const { policy, text } = await fixture(t);
  const good = text();
  const keys = policyKeyResolver(policy);
  const b = JSON.parse(good);
  const cases: Array<[string, (x: any) => void, string]> = [
    ['record altered', (x) => { x.entries[2].record = x.entries[2].record.replace('executed', 'exeCuted'); }, 'ERR_INCLUSION_INVALID'],
    ['salt altered', (x) => { x.entries[2].salt = toBase64(new Uint8Array(16)); }, 'ERR_INCLUSION_INVALID'],
    ['salt of 15 bytes', (x) => { x.entries[2].salt = toBase64(new Uint8Array(15)); }, 'ERR_BUNDLE_MALFORMED'],
    ['opened entry also given in clear', (x) => { x.entries[2].entry = x.entries[2].record; }, 'ERR_BUNDLE_MALFORMED'],
    ['opening dropped for the record in clear', (x) => { x.entries[2].entry = x.entries[2].record; delete x.entries[2].salt; delete x.entries[2].record; }, 'ERR_INCLUSION_INVALID'],
    ['entry that is not a JSON record', (x) => { x.entries[2] = { index: x.entries[2].index, entry: '\u0001' + 'x'.repeat(32), proof: x.entries[2].proof }; }, 'ERR_BUNDLE_MALFORMED'],
    ['parameters entry says public', (x) => { x.entries[0].entry = x.entries[0].entry.replace('private', 'public'); }, 'ERR_INCLUSION_INVALID'],
    ['proof hash altered', (x) => { x.entries[2].proof[0] = toBase64(new Uint8Array(32)); }, 'ERR_INCLUSION_INVALID'],
    ['proof hash dropped', (x) => { x.entries[2].proof.pop(); }, 'ERR_INCLUSION_INVALID'],
    ['index changed', (x) => { x.entries[12].index = '13'; }, 'ERR_INCLUSION_INVALID'],
    ['entries reordered', (x) => { [x.entries[0], x.entries[1]] = [x.entries[1], x.entries[0]]; }, 'ERR_BUNDLE_MALFORMED'],
    ['checkpoint root altered', (x) => { x.checkpoint = x.checkpoint.replace(/\n([A-Za-z0-9+/]{43}=)\n/, `\n${toBase64(new Uint8Array(32))}\n`); }, 'ERR_CHECKPOINT_SIGNATURE_INVALID'],
    ['checkpoint signature removed', (x) => { x.checkpoint = x.checkpoint.split('\n\u2014')[0] + '\n\u2014 other.example/log AAAAAAAA\n'; }, 'ERR_CHECKPOINT_UNTRUSTED'],
    ['unknown member', (x) => { x.extra = 1; }, 'ERR_BUNDLE_MALFORMED'],
    ['wrong format', (x) => { x.format = 'mcp-attest/bundle@2'; }, 'ERR_BUNDLE_MALFORMED'],
    ['non-canonical base64', (x) => { x.entries[0].proof[0] = x.entries[0].proof[0].replace(/=$/, ''); }, 'ERR_BUNDLE_MALFORMED'],
    ['no entries', (x) => { x.entries = []; }, 'ERR_BUNDLE_MALFORMED'],
  ];
  for (const [name, mutate, code] of cases) {
    const x = structuredClone(b);
    mutate(x);
    const r = await verifyBundle(JSON.stringify(x), policy, keys);
    assert.equal(r.ok, false, name);
    assert.ok(codes(r).includes(code), `${name}: ${codes(r).join(',')}`);
  }
  const dup = await verifyBundle(good.replace('"format":', '"format":"x","format":'), policy, keys);
  assert.deepEqual(codes(dup), ['ERR_JSON_DUPLICATE_KEY']);
  const other = await recordedHome(t, 1);
  const foreign = await verifyBundle(good, other.policy, policyKeyResolver(other.policy));
  assert.deepEqual(codes(foreign), ['ERR_CHECKPOINT_UNTRUSTED']);
});

test('witness cosignatures: quorum met, not met, a bad cosignature of a listed witness, an unlisted one ignored', async (t) => {
  const { db, policy, text } = await fixture(t);
  const [w1, w2, w3] = await Promise.all([witnessKey('w1.example/w'), witnessKey('w2.example/w'), witnessKey('w3.example/w')]);
  const latest = db.latestCheckpoint()!;
  db.addCosignature(latest.size, w1.name, await w1.cosign(latest.note), 0);
  db.addCosignature(latest.size, w3.name, await w3.cosign(latest.note), 0);
  const keys = policyKeyResolver(policy);
  const withW = (quorum: number): TrustPolicy => ({ ...policy, witnesses: [w1, w2].map((w) => ({ name: w.name, vkey: w.vkey })), quorum });
  const one = await verifyBundle(text(), withW(1), keys);
  assert.equal(one.ok, true, JSON.stringify(one.findings));
  assert.deepEqual(one.witnesses, [{ name: w1.name, timestamp: '1800000000' }], 'w3 is not listed: ignored');
  assert.deepEqual(codes(one, 'notice'), [], 'a witness vouches: no NOTE_UNWITNESSED');
  // Witnesses listed with no quorum would have been quorum 0: the policy is refused instead.
  const { quorum: _q, ...noQuorum } = withW(1);
  assert.throws(() => parseTrustPolicy(JSON.stringify(noQuorum)), (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID') && e.message.includes('.quorum: required when witnesses are listed'));
  assert.equal(parseTrustPolicy(JSON.stringify({ ...noQuorum, quorum: 0 })).quorum, 0, 'quorum 0, said outright, is the policy\'s choice');
  const short = await verifyBundle(text(), withW(2), keys);
  assert.deepEqual(codes(short), ['ERR_QUORUM_NOT_MET']);
  assert.match(short.findings.find((f) => f.code === 'ERR_QUORUM_NOT_MET')!.message, /cosigned by 1 of the 2 witnesses the trust policy requires \(no cosignature of w2\.example\/w\)$/, 'the missing witness is named');
  db.addCosignature(latest.size, w2.name, await w2.cosign(latest.note), 0);
  const two = await verifyBundle(text(), withW(2), keys);
  assert.equal(two.ok, true, JSON.stringify(two.findings));
  assert.equal(two.witnesses.length, 2);
  const line = db.cosignatureLines(latest.size).find((l) => l.includes(w2.name))!;
  const bad = line.slice(0, -6) + (line.at(-6) === 'A' ? 'B' : 'A') + line.slice(-5);
  const forged = text().replace(asciiJson(JSON.stringify(line)).slice(1, -1), asciiJson(JSON.stringify(bad)).slice(1, -1));
  assert.notEqual(forged, text());
  assert.deepEqual(codes(await verifyBundle(forged, withW(1), keys)), ['ERR_COSIGNATURE_INVALID']);
});

test('split view: a bundle must extend the checkpoint accepted earlier, or carry no conflict with it', async (t) => {
  const { db, policy, text } = await fixture(t);
  const keys = policyKeyResolver(policy);
  const cp = parseCheckpoint(parseNote(db.latestCheckpoint()!.note).text);
  const at = (size: bigint, root = db.root(size)): KnownCheckpoint[] => [{ origin: cp.origin, size, rootHash: root }];
  assert.equal((await verifyBundle(text(), policy, keys, { known: at(cp.size) })).ok, true, 'same checkpoint');
  assert.deepEqual(codes(await verifyBundle(text(), policy, keys, { known: at(cp.size, new Uint8Array(32)) })), ['ERR_CHECKPOINT_INCONSISTENT']);
  assert.deepEqual(codes(await verifyBundle(text(), policy, keys, { known: at(5n) })), ['ERR_CONSISTENCY_MISSING']);
  assert.equal((await verifyBundle(text(0n, 11n, [5n]), policy, keys, { known: at(5n) })).ok, true, 'proof from 5 included');
  assert.deepEqual(codes(await verifyBundle(text(0n, 11n, [5n]), policy, keys, { known: at(5n, new Uint8Array(32)) })), ['ERR_CHECKPOINT_INCONSISTENT']);
  const older = await verifyBundle(text(), policy, keys, { known: at(cp.size + 1n, new Uint8Array(32)) });
  assert.deepEqual(codes(older), ['ERR_CONSISTENCY_MISSING'], 'older than accepted');
  assert.match(older.findings.find((f) => f.code === 'ERR_CONSISTENCY_MISSING')!.message, new RegExp(`ask for a bundle against a newer checkpoint \\(mcp-attest bundle … --since ${cp.size + 1n}\\)$`), 'the message says how to ask');
  assert.equal((await verifyBundle(text(), policy, keys, { known: [{ origin: 'another.example/log', size: 99n, rootHash: new Uint8Array(32) }] })).ok, true, 'other origins are not compared');
});

test('a forked log (same keys, two histories) and a rolled-back log fail against what was accepted', async (t) => {
  const { home, policy } = await fixture(t, 3);
  const twin = join(home, '..', 'twin');
  const snapshot = join(home, '..', 'snapshot');
  cpSync(home, twin, { recursive: true });
  cpSync(home, snapshot, { recursive: true });
  await recordCalls(home, 2, 100);
  await recordCalls(twin, 2, 200);
  const keys = policyKeyResolver(policy);
  const open = (h: string): LogDb => {
    const d = new LogDb(homePaths(h).db, 'full', true);
    t.after(() => d.close());
    return d;
  };
  const branchA = open(home);
  const accepted = parseCheckpoint(parseNote(branchA.latestCheckpoint()!.note).text);
  const known = [{ origin: accepted.origin, size: accepted.size, rootHash: accepted.rootHash }];
  const input = (d: LogDb) => ({ entries: d.entries(), checkpoints: d.checkpoints().map((c) => c.note), known });
  assert.equal((await verifyLog(input(branchA), policy, keys)).ok, true);
  assert.deepEqual(codes(await verifyLog(input(open(twin)), policy, keys)), ['ERR_CHECKPOINT_INCONSISTENT'], 'the other branch');
  assert.deepEqual(codes(await verifyLog(input(open(snapshot)), policy, keys)), ['ERR_LOG_ROLLBACK'], 'the log as it was before');
});

test('a receipt whose attestation is outside the bundle still has its signature verified', async (t) => {
  const { policy, text } = await fixture(t);
  const alone = text(2n, 2n);
  const ok = await verifyBundle(alone, policy, policyKeyResolver(policy));
  assert.equal(ok.ok, true, JSON.stringify(ok.findings));
  assert.deepEqual(codes(ok, 'notice'), ['NOTE_UNWITNESSED', 'NOTE_OUTSIDE_BUNDLE']);
  const noIssuers = { ...policy, issuers: [] };
  const r = await verifyBundle(alone, noIssuers, policyKeyResolver(noIssuers));
  assert.equal(r.ok, false);
  assert.deepEqual(codes(r), ['ERR_KEY_UNAVAILABLE']);
});

test('split view: a --checkpoint given explicitly must link too, not only the latest known; size 0 links to anything', async (t) => {
  const { db, policy, text } = await fixture(t);
  const keys = policyKeyResolver(policy);
  const origin = parseCheckpoint(parseNote(db.latestCheckpoint()!.note).text).origin;
  const bogus = { origin, size: 2n, rootHash: new Uint8Array(32), demanded: true };
  const good = { origin, size: 4n, rootHash: db.root(4n) };
  assert.deepEqual(codes(await verifyBundle(text(0n, 11n, [4n]), policy, keys, { known: [bogus, good] })), ['ERR_CONSISTENCY_MISSING']);
  assert.deepEqual(codes(await verifyBundle(text(0n, 11n, [2n, 4n]), policy, keys, { known: [bogus, good] })), ['ERR_CHECKPOINT_INCONSISTENT']);
  assert.equal((await verifyBundle(text(0n, 11n, [2n, 4n]), policy, keys, { known: [{ ...bogus, rootHash: db.root(2n) }, good] })).ok, true);
  assert.equal((await verifyBundle(text(), policy, keys, { known: [{ origin, size: 0n, rootHash: db.root(0n) }] })).ok, true);
});

test('split view: a --checkpoint of another origin fails the bundle and the log (ERR_CHECKPOINT_ORIGIN), one only kept (--state) does not', async (t) => {
  const { db, policy, text } = await fixture(t);
  const keys = policyKeyResolver(policy);
  const elsewhere = { origin: 'other.example/log', size: 20n, rootHash: new Uint8Array(32) };
  const bundle = await verifyBundle(text(0n, 11n), policy, keys, { known: [{ ...elsewhere, demanded: true }] });
  assert.deepEqual(codes(bundle), ['ERR_CHECKPOINT_ORIGIN']);
  assert.equal(bundle.findings.find((f) => f.code === 'ERR_CHECKPOINT_ORIGIN')!.expected, 'other.example/log');
  const log = (known: KnownCheckpoint[]) => verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note), known }, policy, keys);
  assert.deepEqual(codes(await log([{ ...elsewhere, demanded: true }])), ['ERR_CHECKPOINT_ORIGIN']);
  assert.equal((await log([elsewhere])).ok, true, 'a verifier\'s state holds other logs\' checkpoints too');
  assert.equal((await verifyBundle(text(0n, 11n), policy, keys, { known: [elsewhere] })).ok, true);
});

test('the bundle\'s checkpoint: among those covering every entry, the most cosigned, the largest on a tie; none covering is ERR_USAGE', async (t) => {
  const { home, policy } = await recordedHome(t, 0);
  const recorder = await Recorder.open(home, { durability: 'normal', checkpointMs: 3_600_000 });
  for (let i = 0; i < 5; i++) {
    const { attestation, callId, index } = await recorder.attest({ tool: 'echo', args: { i }, intent: 'test', server: { name: 's', fingerprint: `sha256:${'11'.repeat(32)}` }, requestDigest: `sha256:${'22'.repeat(32)}` });
    await recorder.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { i } });
    if (i >= 1) await recorder.checkpoint(); // at 5, 7, 9, 11
  }
  await recorder.close();
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  assert.deepEqual(db.checkpoints().map((c) => c.size), [1n, 5n, 7n, 9n, 11n]);
  const [w1, w2] = await Promise.all([witnessKey('w1.example/w'), witnessKey('w2.example/w')]);
  const cosign = async (size: bigint, w: typeof w1): Promise<void> => db.addCosignature(size, w.name, await w.cosign(db.checkpoints().find((c) => c.size === size)!.note), 0);
  const chosen = (a: bigint, b: bigint): bigint => parseCheckpoint(parseNote(buildBundle(db, selectEntries(db, { range: [a, b] })).checkpoint).text).size;
  assert.equal(chosen(1n, 4n), 11n, 'none cosigned: the largest');
  await cosign(5n, w1); // covers 0..4 only
  await cosign(7n, w1);
  await cosign(7n, w2);
  await cosign(9n, w1);
  assert.equal(chosen(1n, 4n), 7n, 'the most cosigned');
  assert.equal(chosen(1n, 7n), 9n, '7 does not cover entry 7: of 9 and 11, the cosigned one');
  await cosign(11n, w2);
  assert.equal(chosen(1n, 7n), 11n, 'a tie: the largest');
  const b = buildBundle(db, selectEntries(db, { range: [1n, 4n] }));
  assert.equal((b.checkpoint.match(/^\u2014 /gm) ?? []).length, 3, 'the log\'s signature and both cosignatures');
  const r = await verifyBundle(formatBundle(b), { ...policy, witnesses: [w1, w2].map((w) => ({ name: w.name, vkey: w.vkey })), quorum: 2 }, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.throws(() => buildBundle(db, [12n]), (e) => isAttestError(e, 'ERR_USAGE'));
  // A recipient holding a larger tree than the best cosigned checkpoint gets one at least as large, its consistency proven.
  const since = (held: bigint): bigint => parseCheckpoint(parseNote(buildBundle(db, selectEntries(db, { range: [1n, 4n] }), [held]).checkpoint).text).size;
  assert.equal(since(8n), 11n, 'of 9 and 11 (both cosigned once), the largest');
  assert.equal(since(7n), 7n, 'the most cosigned covers 7');
  assert.equal(buildBundle(db, selectEntries(db, { range: [1n, 4n] }), [8n]).consistency[0]!.size, 8n);
  assert.throws(() => buildBundle(db, [1n], [12n]), (e) => isAttestError(e, 'ERR_USAGE') && /--since 12: no checkpoint of the log is that large/.test((e as Error).message));
  // Past the log itself, the message says how large it is; within it, that a checkpoint is what is missing.
  assert.throws(() => buildBundle(db, [1n], [99n]), (e) => isAttestError(e, 'ERR_USAGE') && new RegExp(`the log holds ${db.size()} entries: check the size$`).test((e as Error).message));
});
