/**
 * Log format v2, private by default (src/log/opening.ts, docs/log-format.md "Format v2"):
 * what a published log holds lets nobody recover a call's arguments by brute force (a
 * public log, the control, gives them all away); bundles open exactly their entries; erasure
 * of one call; the parameters entry fixes every later entry's form; v1 logs still verify.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome, loadIdentity, trustPolicyOf } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { readTilesDir } from '../../src/store/tiles.js';
import { publishTiles } from '../../src/store/publish.js';
import { SqliteLogStore } from '../../src/store/log-store.js';
import { buildBundle, selectEntries } from '../../src/store/bundle-build.js';
import { formatBundle } from '../../src/bundle/format.js';
import { eraseCall } from '../../src/store/erase.js';
import { listCalls } from '../../src/store/calls.js';
import { verifyLog } from '../../src/verify/log.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { canonicalBytes } from '../../src/jcs/index.js';
import { sha256 } from '../../src/bytes/digest.js';
import { toHex, utf8 } from '../../src/bytes/index.js';
import { commitmentEntry } from '../../src/log/opening.js';
import type { EntryInput } from '../../src/verify/log.js';
import { isAttestError } from '../../src/errors.js';
import Database from 'better-sqlite3';
import type { EntriesMode } from '../../src/records/record.js';
import { tempDir } from './log-helper.js';

const server = { name: 'bank', fingerprint: 'sha256:' + '11'.repeat(32) };

/** A home whose calls are `transfer {amount}` for each amount given, each answered; checkpointed. */
async function home(t: TestContext, entries: EntriesMode | 'v1', amounts: number[]): Promise<string> {
  const h = join(tempDir(t), 'home');
  await initHome(h, entries === 'v1' ? {} : { entries });
  if (entries === 'v1') {
    // A data directory made before v2: no `log.entries` in its identity.
    const id = JSON.parse(readFileSync(homePaths(h).identity, 'utf8'));
    delete id.log.entries;
    writeFileSync(homePaths(h).identity, JSON.stringify(id));
  }
  const r = await Recorder.open(h, { durability: 'normal', checkpointMs: 5 });
  for (const amount of amounts) {
    const args = { amount, to: 'acct-7' };
    const a = await r.attest({ tool: 'transfer', args, intent: 'pay', server, requestDigest: 'sha256:' + toHex(sha256(canonicalBytes(args))) });
    await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { paid: amount } });
  }
  await r.close();
  return h;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

function includes(hay: Buffer, needle: Uint8Array | string): boolean {
  return hay.indexOf(typeof needle === 'string' ? Buffer.from(needle) : Buffer.from(needle)) >= 0;
}

/**
 * The attacker: holds every byte of the published tiles and knows the argument space
 * (amounts 0..199 to one account). For each candidate it looks for the argument digest
 * (hex, tagged and raw), the result digest, the candidate's JSON, and an unsalted
 * commitment of the records it can guess. Returns the amounts it recovered.
 */
function bruteForce(tilesDir: string): Set<number> {
  const published = Buffer.concat(files(tilesDir).map((f) => readFileSync(f)));
  const found = new Set<number>();
  for (let amount = 0; amount < 200; amount++) {
    const args = canonicalBytes({ amount, to: 'acct-7' });
    const result = canonicalBytes({ paid: amount });
    const guesses: Array<Uint8Array | string> = [toHex(sha256(args)), sha256(args), toHex(sha256(result)), sha256(result), args, result, commitmentEntry(new Uint8Array(16), args)];
    if (guesses.some((g) => includes(published, g))) found.add(amount);
  }
  return found;
}

async function exportOf(h: string, out: string): Promise<void> {
  const db = new LogDb(homePaths(h).db, 'full', true);
  try {
    await publishTiles(new SqliteLogStore(db), out);
  } finally {
    db.close();
  }
}

test('a private log\'s published tiles let a brute-force attacker recover no argument; a public log\'s give every one away', async (t) => {
  const amounts = [3, 42, 99, 150, 7];
  for (const mode of ['private', 'public'] as const) {
    const h = await home(t, mode, amounts);
    const out = join(tempDir(t), 'tiles');
    await exportOf(h, out);
    const recovered = bruteForce(out);
    if (mode === 'public') assert.deepEqual([...recovered].sort((a, b) => a - b), [...amounts].sort((a, b) => a - b), 'control: the attack works on records in clear');
    else assert.deepEqual([...recovered], [], 'nothing recovered from commitments');
    // The published tiles verify (tree and checkpoint); a private log's records are sealed there.
    const policy = trustPolicyOf(loadIdentity(h));
    const tiles = readTilesDir(out);
    const r = await verifyLog({ entries: tiles.entries, checkpoints: [tiles.checkpoint] }, policy, policyKeyResolver(policy));
    assert.equal(r.ok, true, JSON.stringify(r.findings));
    assert.deepEqual([r.sealed, r.calls], mode === 'private' ? [10, 0] : [0, 5]);
  }
});

test('a bundle opens exactly the entries it covers, and verifies offline', async (t) => {
  const h = await home(t, 'private', [1, 2, 3]);
  const db = new LogDb(homePaths(h).db, 'full', true);
  t.after(() => db.close());
  const policy = trustPolicyOf(loadIdentity(h));
  const call = listCalls(db)[1]!;
  const text = formatBundle(buildBundle(db, selectEntries(db, { calls: [call.call_id] })));
  const doc = JSON.parse(text) as { entries: Array<Record<string, string>> };
  assert.deepEqual(doc.entries.map((e) => [e['index'], Object.keys(e).sort().join()]), [['0', 'entry,index,proof'], ['3', 'index,proof,record,salt'], ['4', 'index,proof,record,salt']], 'the parameters entry in clear, the call opened');
  // Another call's arguments are not in it.
  assert.equal(text.includes('"amount\\":1'), false);
  const r = await verifyBundle(text, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual([r.calls, r.receipts], [1, 1]);
});

/** Erase `callId` as `log erase` does: through a recorder, whose close signs a checkpoint over the erasure record. */
async function erase(h: string, callId: string): Promise<Awaited<ReturnType<typeof eraseCall>>> {
  const r = await Recorder.open(h, { evidence: false });
  try {
    return await eraseCall(r.db, homePaths(h).evidence, callId, 1_800_000_000);
  } finally {
    await r.close();
  }
}

async function verifyHome(h: string): Promise<{ r: Awaited<ReturnType<typeof verifyLog>>; mismatched: string[] }> {
  const db = new LogDb(homePaths(h).db, 'full', true);
  try {
    const policy = trustPolicyOf(loadIdentity(h));
    const r = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note), sealed: 'erased' }, policy, policyKeyResolver(policy));
    return { r, mismatched: r.findings.filter((f) => f.code === 'ERR_OPENING_MISMATCH').map((f) => f.index!) };
  } finally {
    db.close();
  }
}

test('erasure: a call\'s records, salts and payloads are gone from the files; the log still verifies, reporting it erased', async (t) => {
  // Calls 0 and 2 have the same arguments: that payload stays, a kept record names it.
  const h = await home(t, 'private', [5, 6, 5]);
  const p = homePaths(h);
  const db = new LogDb(p.db, 'full', true);
  const [c0, c1] = listCalls(db);
  const salt = db.opening(BigInt(c1!.attestation_idx))!.salt;
  const signature = /"signature":"([^"]+)"/.exec(Buffer.from(db.record(BigInt(c1!.attestation_idx))!).toString())![1]!;
  db.close();
  const nonce = utf8(c1!.call_id);
  const erased = await erase(h, c1!.call_id);
  assert.deepEqual([erased.entries, erased.record], [[3n, 4n], 7n]);
  assert.equal(erased.payloads, 2, 'the arguments and the result of call 1');
  for (const f of [p.db, `${p.db}-wal`, p.evidence, `${p.evidence}-wal`]) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch {
      continue;
    }
    assert.equal(includes(bytes, nonce), false, `the erased call id is gone from ${f}`);
    assert.equal(includes(bytes, signature), false, `the erased attestation's signature is gone from ${f}`);
    assert.equal(includes(bytes, salt), false, `the erased salt is gone from ${f}`);
  }
  const ev = new Database(p.evidence, { readonly: true });
  t.after(() => ev.close());
  assert.notEqual(ev.prepare('SELECT data FROM payloads WHERE digest = ?').get(sha256(canonicalBytes({ amount: 5, to: 'acct-7' }))), undefined, 'the other call\'s arguments are kept');
  const { r } = await verifyHome(h);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual([r.calls, r.erased, r.findings.map((f) => f.code)], [2, 2, ['NOTE_ERASED', 'NOTE_UNWITNESSED']]);
  const after = new LogDb(p.db, 'full', true);
  t.after(() => after.close());
  assert.equal(after.record(3n), null);
  assert.notEqual(after.entry(3n), null, 'the commitment stays');
  assert.throws(() => buildBundle(after, selectEntries(after, { calls: [c1!.call_id] })), (e) => isAttestError(e, 'ERR_USAGE'), 'an erased call is found no more');
  assert.throws(() => buildBundle(after, selectEntries(after, { range: [1n, 6n] })), (e) => isAttestError(e, 'ERR_USAGE'), 'nor opened in a range');
  const policy = trustPolicyOf(loadIdentity(h));
  const kept = await verifyBundle(formatBundle(buildBundle(after, selectEntries(after, { calls: [c0!.call_id] }))), policy, policyKeyResolver(policy));
  assert.equal(kept.ok, true);
  await assert.rejects(erase(h, c1!.call_id), (e) => isAttestError(e, 'ERR_USAGE'), 'erased already');
  await assert.rejects(erase(h, ''), (e) => isAttestError(e, 'ERR_USAGE'), 'the empty id of unattested decisions names no call');
});

test('erasure of a call in flight: refused; with inFlight, erased, and a receipt its proxy logs after is erased by erasing the call again', async (t) => {
  const h = await home(t, 'private', [1]);
  const r = await Recorder.open(h, { durability: 'normal' });
  const a = await r.attest({ tool: 'transfer', args: { amount: 2, to: 'acct-7' }, intent: 'pay', server, requestDigest: 'sha256:' + '22'.repeat(32) });
  await assert.rejects(erase(h, a.callId), (e) => isAttestError(e, 'ERR_USAGE') && /in flight/.test(e.message), 'no receipt yet');
  const inFlight = await Recorder.open(h, { evidence: false });
  try {
    assert.deepEqual((await eraseCall(inFlight.db, homePaths(h).evidence, a.callId, 1_800_000_000, { inFlight: true })).entries, [a.index]);
  } finally {
    await inFlight.close();
  }
  const before = await verifyHome(h);
  assert.equal(before.r.ok, true, JSON.stringify(before.r.findings));
  // The proxy, still running, answers the call: its receipt names an erased attestation.
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { paid: 2 } });
  await r.close();
  assert.deepEqual((await verifyHome(h)).r.findings.filter((f) => f.severity === 'error').map((f) => f.code), ['ERR_RECEIPT_ORPHAN']);
  await erase(h, a.callId);
  const after = await verifyHome(h);
  assert.equal(after.r.ok, true, JSON.stringify(after.r.findings));
  assert.equal(includes(readFileSync(homePaths(h).evidence), '"paid":2'), false, 'the result is gone too');
});

test('erasure in the SEP-text profile deletes the arguments its evidence reference names', async (t) => {
  const h = join(tempDir(t), 'home');
  await initHome(h);
  const r = await Recorder.open(h, { durability: 'normal', profile: 'sep-text' });
  const a = await r.attest({ tool: 'transfer', args: { amount: 777123 }, intent: 'pay', server, requestDigest: 'sha256:' + '22'.repeat(32) });
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { paid: 1 } });
  await r.close();
  assert.equal((await erase(h, a.callId)).payloads, 2);
  assert.equal(includes(readFileSync(homePaths(h).evidence), '777123'), false);
});

test('an opening deleted or altered outside log erase is tampering, not erasure', async (t) => {
  const h = await home(t, 'private', [1, 2]);
  const edit = (sql: string): void => {
    const db = new Database(homePaths(h).db);
    db.exec(sql);
    db.close();
  };
  edit('UPDATE entries SET record = CAST(replace(CAST(record AS TEXT), \'executed\', \'exeCuted\') AS BLOB) WHERE idx = 4');
  const altered = await verifyHome(h);
  assert.deepEqual(altered.mismatched, ['4'], 'the stored opening no longer makes the published entry');
  edit('UPDATE entries SET salt = NULL, record = NULL WHERE idx IN (3, 4)');
  const { r } = await verifyHome(h);
  assert.equal(r.ok, false);
  assert.deepEqual(r.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.index]), [['ERR_ENTRY_UNOPENED', '3'], ['ERR_ENTRY_UNOPENED', '4']]);
});

test('a public or v1 log cannot erase', async (t) => {
  for (const mode of ['public', 'v1'] as const) {
    const h = await home(t, mode, [1]);
    const db = new LogDb(homePaths(h).db, 'full', true);
    const id = listCalls(db)[0]!.call_id;
    db.close();
    await assert.rejects(erase(h, id), (e) => isAttestError(e, 'ERR_USAGE'));
  }
});

test('the parameters entry fixes every later entry\'s form; a v1 log (no parameters entry) still verifies', async (t) => {
  type Entry = [Uint8Array] | [Uint8Array, Uint8Array];
  const run = async (h: string, change?: (entries: Entry[]) => Entry[]) => {
    const db = new LogDb(homePaths(h).db, 'full', true);
    t.after(() => db.close());
    const policy = trustPolicyOf(loadIdentity(h));
    let entries = [...db.entries()].map(([, ...e]) => e as Entry);
    if (change) entries = change(entries);
    const r = await verifyLog({ entries: entries.map((e, i) => [BigInt(i), ...e] as EntryInput), checkpoints: db.checkpoints().map((c) => c.note) }, policy, policyKeyResolver(policy));
    return { r, mode: db.mode(), errors: r.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}@${f.index}`) };
  };
  const v1 = await home(t, 'v1', [1, 2]);
  const old = await run(v1);
  assert.deepEqual([old.mode, old.r.ok, old.r.size, old.r.calls], ['v1', true, '4', 2]);
  const priv = await home(t, 'private', [1, 2]);
  assert.equal((await run(priv)).mode, 'private');
  // A record in clear in a private log (the opening's record shown as the entry): wrong form, and not the committed leaf.
  const clear = await run(priv, (es) => es.map((e, i): Entry => (i === 2 ? [e[0]] : e)));
  assert.ok(clear.errors.includes('ERR_ENTRY_MALFORMED@2'), clear.errors.join());
  // A commitment in a v1 log.
  const sealedIn = await run(v1, (es) => es.map((e, i): Entry => (i === 1 ? [commitmentEntry(new Uint8Array(16), e[0])] : e)));
  // An opening handed over as one byte string (0x01 || salt || record) is an entry, not an opening: a commitment of the wrong length.
  const smuggled = await run(priv, (es) => es.map((e, i): Entry => (i === 2 ? [Buffer.concat([Buffer.from([1]), e[1]!, e[0]])] : e)));
  assert.ok(smuggled.errors.includes('ERR_ENTRY_MALFORMED@2'), smuggled.errors.join());
  assert.ok(sealedIn.errors.includes('ERR_ENTRY_MALFORMED@1'), sealedIn.errors.join());
  // A second parameters entry.
  const again = await run(priv, (es) => [...es, es[0]!]);
  assert.ok(again.errors.includes('ERR_ENTRY_MALFORMED@5'), again.errors.join());
  // A commitment of another length.
  const short = await run(priv, (es) => es.map((e, i): Entry => (i === 3 ? [commitmentEntry(new Uint8Array(16), e[0]).subarray(0, 20)] : e)));
  assert.ok(short.errors.includes('ERR_ENTRY_MALFORMED@3'), short.errors.join());
});

test('a bundle from a hostile log.db: a row of another type or past 65,535 bytes, or a missing row, is ERR_STORE_CORRUPT before anything is allocated', async (t) => {
  const h = await home(t, 'private', [1, 2, 3]);
  const build = (): string => {
    const db = new LogDb(homePaths(h).db, 'full', true);
    try {
      return formatBundle(buildBundle(db, selectEntries(db, { range: [0n, 6n] })));
    } finally {
      db.close();
    }
  };
  build(); // the untouched log bundles
  const edit = (sql: string): void => {
    const db = new Database(homePaths(h).db);
    db.exec(sql);
    db.close();
  };
  const corrupt = (what: string): void => assert.throws(build, (e) => isAttestError(e, 'ERR_STORE_CORRUPT'), what);
  edit('UPDATE entries SET data = 2000000000 WHERE idx = 5');
  corrupt('an integer where the entry is (read as a 2 GB buffer before)');
  edit("UPDATE entries SET data = 'text' WHERE idx = 5");
  corrupt('text (read as an empty entry before)');
  edit('UPDATE entries SET data = zeroblob(70000) WHERE idx = 5');
  corrupt('a blob past the entry limit');
  edit('DELETE FROM entries WHERE idx = 5');
  corrupt('a missing row (a TypeError before)');
});
