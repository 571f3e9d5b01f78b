/**
 * The PostgreSQL schema of a fleet's log (schema `mcp_attest`) and its forward migrations.
 * `mcp_attest.schema_version` holds the version; opening a store brings an older schema up
 * to this one, in one transaction serialized by a lock on that table, and refuses a newer
 * one (`ERR_STORE_CORRUPT`: this version cannot know what it holds).
 *
 * Tables (version 1): `entries(idx, data, salt, record)` as in SQLite (data = the entry as
 * published, salt/record a private entry's opening); `log_state`, one row: `next_idx` (the
 * sequencing counter), `integrated` and `root` (the Merkle tree integrated so far),
 * `checkpoint_size` (the latest checkpoint: advanced only by compare-and-swap) and `epoch`
 * (bumped by each integrator that takes over: its fencing token); `nodes(level, idx, hash)`
 * (every complete subtree, RFC 9162 §2.1.1); `checkpoints`, `cosignatures`, `witness_sizes`
 * as in SQLite; `nonces` (the gatekeeper's replay store shared by a fleet). Version 2 adds
 * `witness_events` (a witness's refusals and alarms, as in SQLite), `log_state.lease_until`
 * (the integrator's lease, on the server's clock: store/pg-integrator.ts) and `tool_pins`
 * (the fleet's pinned tool definitions: store/pg-pins.ts). Version 3 adds the function
 * `mcp_attest.sequence` (a batch sequenced in one statement: store/pg-sequence.ts). Version
 * 4 adds `mcp_attest.append_rows`, `mcp_attest.lock_counter`, `mcp_attest.record_nonce` and
 * `mcp_attest.purge_nonces`, and makes every append function run with the owner's rights, so
 * writers need no write grant on the tables. Version 5 adds `log_state.holder` (the
 * integrator's backend pid: store/pg-integrator.ts), granted for update to every role that
 * may update `epoch`; moves `next_idx` to its own table `counter` (readable by every role
 * that reads `log_state`), so a writer holding the counter's row stalls appends but never
 * the integrator; adds `log_state.origin` (the log's origin, set by the owner with entry 0:
 * no integrator of another data directory signs it) and `log_state.log_id` (a random name of
 * this log, which a data directory's marker records: store/synced.ts `markMoved`); and takes
 * entry 0 only from the owner (store/pg-sequence.ts).
 * @see docs/fleet.md
 */
import type pg from 'pg';
import { AttestError } from '../errors.js';
import { APPEND_FUNCTION, LOCK_FUNCTION, SEQUENCE_FUNCTION } from './pg-sequence.js';
import { REPLAY_FUNCTIONS } from './pg-replay.js';

/** The advisory lock key serializing schema migrations. */
const SCHEMA_LOCK = '7306813489436938613';

/** The schema version this code writes. */
export const SCHEMA_VERSION = 5;

const MIGRATIONS: string[] = [
  // 0 -> 1
  `CREATE TABLE mcp_attest.entries (idx bigint PRIMARY KEY, data bytea NOT NULL, salt bytea, record bytea);
   CREATE TABLE mcp_attest.log_state (id smallint PRIMARY KEY CHECK (id = 1), next_idx bigint NOT NULL, integrated bigint NOT NULL,
     root bytea NOT NULL, checkpoint_size bigint NOT NULL, epoch bigint NOT NULL);
   INSERT INTO mcp_attest.log_state VALUES (1, 0, 0, decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'), 0, 0);
   CREATE TABLE mcp_attest.nodes (level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
   CREATE TABLE mcp_attest.checkpoints (size bigint PRIMARY KEY, note text NOT NULL, created bigint NOT NULL);
   CREATE TABLE mcp_attest.cosignatures (size bigint NOT NULL, witness text NOT NULL, line text NOT NULL, received bigint NOT NULL, PRIMARY KEY (size, witness));
   CREATE TABLE mcp_attest.witness_sizes (witness text PRIMARY KEY, size bigint NOT NULL);
   CREATE TABLE mcp_attest.nonces (key text PRIMARY KEY, expires bigint NOT NULL);`,
  // 1 -> 2
  `CREATE TABLE mcp_attest.witness_events (id bigserial PRIMARY KEY, at bigint NOT NULL, witness text NOT NULL, size bigint NOT NULL, code text NOT NULL, message text NOT NULL);
   ALTER TABLE mcp_attest.log_state ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now();
   CREATE TABLE mcp_attest.tool_pins (server text NOT NULL, name text NOT NULL, digest text NOT NULL, definition text NOT NULL, pinned_at bigint NOT NULL, PRIMARY KEY (server, name));`,
  // 2 -> 3 (the function as v4 has it: a database at v3 gets it again below)
  SEQUENCE_FUNCTION,
  // 3 -> 4: writers append only through functions that run with the owner's rights (docs/fleet.md "Roles")
  `${APPEND_FUNCTION};\n${LOCK_FUNCTION};\n${SEQUENCE_FUNCTION};\n${REPLAY_FUNCTIONS}`,
  // 4 -> 5: the integrator's election by lease and holder (store/pg-integrator.ts); every role that may move the epoch may name the holder; entry 0 is the owner's
  // and the sequencing counter moves to its own row, readable by every role that reads log_state
  `ALTER TABLE mcp_attest.log_state ADD COLUMN holder integer, ADD COLUMN origin text, ADD COLUMN log_id text NOT NULL DEFAULT gen_random_uuid()::text;
   CREATE TABLE mcp_attest.counter (id smallint PRIMARY KEY CHECK (id = 1), next_idx bigint NOT NULL);
   INSERT INTO mcp_attest.counter SELECT 1, next_idx FROM mcp_attest.log_state WHERE id = 1;
   ALTER TABLE mcp_attest.log_state DROP COLUMN next_idx;
   DO $grant$ DECLARE g regrole; BEGIN
     -- The counter is the schema owner's, as log_state is, whoever upgrades (a superuser would otherwise own it, and the functions, the owner's, could not touch it).
     EXECUTE format('ALTER TABLE mcp_attest.counter OWNER TO %s', (SELECT relowner::regrole FROM pg_catalog.pg_class WHERE oid = 'mcp_attest.log_state'::regclass));
     IF EXISTS (SELECT 1 FROM pg_catalog.pg_class t, pg_catalog.aclexplode(t.relacl) a WHERE t.oid = 'mcp_attest.log_state'::regclass AND a.privilege_type = 'SELECT' AND a.grantee = 0) THEN
       GRANT SELECT ON mcp_attest.counter TO PUBLIC;
     END IF;
     IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a WHERE t.attrelid = 'mcp_attest.log_state'::regclass AND t.attname = 'epoch' AND a.privilege_type = 'UPDATE' AND a.grantee = 0) THEN
       GRANT UPDATE (holder) ON mcp_attest.log_state TO PUBLIC;
     END IF;
     FOR g IN SELECT DISTINCT a.grantee::regrole FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
       WHERE t.attrelid = 'mcp_attest.log_state'::regclass AND t.attname = 'epoch' AND a.privilege_type = 'UPDATE' AND a.grantee <> 0
     LOOP EXECUTE format('GRANT UPDATE (holder) ON mcp_attest.log_state TO %s', g); END LOOP;
     -- Whoever may read the state (the table, or a column of it) may read the counter that was in it.
     FOR g IN SELECT DISTINCT a.grantee::regrole FROM pg_catalog.pg_class t, pg_catalog.aclexplode(t.relacl) a
       WHERE t.oid = 'mcp_attest.log_state'::regclass AND a.privilege_type = 'SELECT' AND a.grantee <> 0 AND a.grantee <> t.relowner
       UNION SELECT a.grantee::regrole FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
       WHERE t.attrelid = 'mcp_attest.log_state'::regclass AND NOT t.attisdropped AND a.privilege_type = 'SELECT' AND a.grantee <> 0
     LOOP EXECUTE format('GRANT SELECT ON mcp_attest.counter TO %s', g); END LOOP;
     -- A role reading log_state by columns reads the new ones too.
     FOR g IN SELECT DISTINCT a.grantee::regrole FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
       WHERE t.attrelid = 'mcp_attest.log_state'::regclass AND NOT t.attisdropped AND a.privilege_type = 'SELECT' AND a.grantee <> 0
     LOOP EXECUTE format('GRANT SELECT (holder, origin, log_id) ON mcp_attest.log_state TO %s', g); END LOOP;
   END $grant$;
   ${APPEND_FUNCTION};
   ${LOCK_FUNCTION};
   ${SEQUENCE_FUNCTION}`,
];

/**
 * Bring the schema to {@link SCHEMA_VERSION}. Safe when several processes open the store at
 * once. A schema already current is only read, so processes may run under a role that may
 * read and write the tables but not change them (docs/fleet.md "Roles"). Throws `ERR_STORE_CORRUPT` for a newer schema; database errors propagate.
 */
export async function migrateSchema(pool: pg.Pool): Promise<void> {
  // Current already: nothing to take or create, so a role without DDL rights (a proxy's) can open the log.
  const current = await pool.query("SELECT version FROM mcp_attest.schema_version").catch(() => null);
  if (current !== null && current.rows.length === 1 && Number(current.rows[0].version) === SCHEMA_VERSION) return;
  const c = await pool.connect();
  try {
    // Concurrent CREATE … IF NOT EXISTS can still collide: one process at a time, server-wide.
    await c.query('SELECT pg_advisory_lock($1::bigint)', [SCHEMA_LOCK]);
    await c.query('CREATE SCHEMA IF NOT EXISTS mcp_attest');
    await c.query('CREATE TABLE IF NOT EXISTS mcp_attest.schema_version (version integer NOT NULL)');
    await c.query('BEGIN');
    // A function written by an older step may name a table a later step makes (all commit together).
    await c.query('SET LOCAL check_function_bodies = off');
    await c.query('LOCK TABLE mcp_attest.schema_version IN EXCLUSIVE MODE');
    const r = await c.query('SELECT version FROM mcp_attest.schema_version');
    const version = r.rows.length === 0 ? 0 : Number(r.rows[0].version);
    if (version > SCHEMA_VERSION) throw new AttestError('ERR_STORE_CORRUPT', `the PostgreSQL log has schema version ${version}; this mcp-attest knows up to ${SCHEMA_VERSION}: upgrade it`, { found: version, expected: SCHEMA_VERSION });
    for (let v = version; v < SCHEMA_VERSION; v++) await c.query(MIGRATIONS[v]!);
    if (r.rows.length === 0) await c.query('INSERT INTO mcp_attest.schema_version VALUES ($1)', [SCHEMA_VERSION]);
    else await c.query('UPDATE mcp_attest.schema_version SET version = $1', [SCHEMA_VERSION]);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await c.query('SELECT pg_advisory_unlock($1::bigint)', [SCHEMA_LOCK]).catch(() => undefined);
    c.release();
  }
}
