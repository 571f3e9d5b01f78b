/**
 * The PostgreSQL driver of the log store (store/log-store.ts): one log for a fleet of
 * proxies and gateways on many machines (PostgreSQL 13 or later, the `pg` client).
 *
 * Sequencing: each process queues its appends and writes them in batches; a batch takes the
 * counter row (`counter`, `SELECT … FOR UPDATE`), gives its records the next indices (a
 * record names its own index), inserts them and advances the counter in one transaction:
 * in one statement when its records are templated (store/pg-sequence.ts), else from here.
 * An append resolves only once that transaction committed (durable with the server's
 * default `synchronous_commit = on`): the write-ahead rule holds for every record of the
 * batch. Many processes' batches interleave; indices never collide or leave gaps.
 * Integration into the Merkle tree, and checkpoints, are the integrator's
 * (store/pg-integrator.ts). Tables live in the schema `mcp_attest` (store/pg-schema.ts).
 * @see docs/fleet.md
 */
import pg from 'pg';
import { AttestError } from '../errors.js';
import { withNodes as withNodesOf, nodeKey } from '../log/async-nodes.js';
import { consistencyProof, type NodeReader } from '../log/tree.js';
import { decodeParameters, encodeRecord, PARAMETERS_RECORD, type EntriesMode } from '../records/record.js';
import type { EntryInput } from '../verify/log.js';
import { cutColumn, entryBytes, entryRow } from './entry-row.js';
import { boundedLinesSql, NOTE_COLUMN, sizesOf } from './note-rows.js';
import type { LogStore } from './log-store.js';
import { migrateSchema } from './pg-schema.js';
import { sequenceTemplates, templateOf, type Template } from './pg-sequence.js';
import { randomBytes } from 'node:crypto';
import { SALT_BYTES } from '../log/opening.js';
import type { WitnessingLog } from './witnessing.js';
import { connectionConfig, storeIo } from './pg-connect.js';

/** Most records one batch sequences. */
const MAX_BATCH = 1024;
/** Entries read per query when iterating. */
const PAGE = 2048;

interface Pending { build: (index: bigint) => Uint8Array; resolve: (i: bigint) => void; reject: (e: unknown) => void }

/** The columns of a verifier's entry rows, each cut ({@link cutColumn}). */
const ENTRY_COLUMNS = `idx, ${cutColumn('data')}, ${cutColumn('salt')}, ${cutColumn('record')}`;

/** The one row of `log_state`, or `ERR_STORE_CORRUPT`. */
function stateRow(r: pg.QueryResult): Record<string, unknown> {
  if (r.rows.length !== 1) throw new AttestError('ERR_STORE_CORRUPT', 'the PostgreSQL log has no state row');
  return r.rows[0] as Record<string, unknown>;
}

const ignoreError = (): void => undefined;

/** Give back a connection from `PgLog.checkout`; one whose transaction failed is closed, not pooled (its connection may be the one lost). */
function checkin(c: pg.PoolClient, failed: boolean): void {
  c.off('error', ignoreError);
  c.release(failed);
}

/** A log in PostgreSQL. Open with {@link PgLog.open}; close it on exit. */
export class PgLog implements LogStore {
  readonly driver = 'postgres';
  private queue: Pending[] = [];
  private flushing = false;
  private knownMode: EntriesMode | 'v1' | undefined;

  private constructor(readonly pool: pg.Pool) {}

  /**
   * Connect to `url` (`postgres://…`), bring the schema to this version (store/pg-schema.ts)
   * and, when the log is empty and `entries` is given, write its parameters entry. Throws
   * `ERR_STORE_IO` when the server cannot be reached, `ERR_STORE_CORRUPT` for a schema of a
   * newer version.
   */
  static async open(url: string, o: { entries?: EntriesMode; origin?: string; max?: number } = {}): Promise<PgLog> {
    const pool = new pg.Pool({ ...connectionConfig(url), max: o.max ?? 4, connectionTimeoutMillis: 30_000 });
    pool.on('error', () => undefined); // an idle client's error: the next query reports it
    const log = new PgLog(pool);
    try {
      await migrateSchema(pool);
      if (o.entries !== undefined) await log.initialize(o.entries, o.origin);
    } catch (e) {
      await pool.end();
      throw storeIo('cannot open the PostgreSQL log', e);
    }
    return log;
  }

  async mode(): Promise<EntriesMode | 'v1' | null> {
    return this.knownMode ?? this.readMode(this.pool, await this.size());
  }

  /**
   * The format entry 0 says (read through `q`, a log of `size` entries); null while empty.
   * `ERR_STORE_CORRUPT` for entries without an entry 0: private must not fail open.
   */
  private async readMode(q: pg.Pool | pg.PoolClient, size: bigint): Promise<EntriesMode | 'v1' | null> {
    if (this.knownMode !== undefined) return this.knownMode;
    if (size === 0n) return null;
    const first = entryBytes((await q.query(`SELECT ${cutColumn('data')} FROM mcp_attest.entries WHERE idx = 0`)).rows[0]?.data, 0);
    if (first === null) throw new AttestError('ERR_STORE_CORRUPT', 'the PostgreSQL log has entries but no entry 0: its format cannot be known');
    return (this.knownMode = decodeParameters(first)?.entries ?? 'v1');
  }

  /**
   * An empty log gets its parameters entry, and `origin` (the integrator's data directory's:
   * pg-integrator.ts `checkOrigin`), only from its owner (`ERR_USAGE` for another role:
   * store/pg-sequence.ts); a log with entries keeps its format.
   */
  async initialize(entries: EntriesMode, origin?: string): Promise<void> {
    await this.transaction(async (c) => {
      if (await lockCounter(c) !== 0n) return;
      await appendRows(c, 0n, [[0n, encodeRecord({ type: PARAMETERS_RECORD, index: '0', entries }), null, null]]).catch((e: { code?: string }) => {
        throw e.code !== '42501' ? e : new AttestError('ERR_USAGE', "this fleet's log is empty, and its first entry (which says whether it is private) is written only by the log's owner: run `mcp-attest log status --home DIR --store URL` once as the owner, DIR the integrator's data directory (docs/fleet.md \"Running a fleet\")");
      });
      if (origin !== undefined) await c.query('UPDATE mcp_attest.log_state SET origin = $1 WHERE id = 1', [origin]);
    });
  }

  append(build: (index: bigint) => Uint8Array): Promise<bigint> {
    return new Promise((resolve, reject) => {
      this.queue.push({ build, resolve, reject });
      void this.flush();
    });
  }

  /** Sequence the queued appends, a batch at a time, until none is left. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        const done: Array<[Pending, bigint]> = [];
        try {
          if (!await this.sequenceTemplated(batch, done)) await this.sequence(batch, done);
          for (const [p, i] of done) p.resolve(i);
        } catch (e) {
          const err = storeIo('cannot append to the PostgreSQL log', e);
          for (const p of batch) p.reject(err); // a record already refused alone stays refused with its own error
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Sequence `batch` in one statement (store/pg-sequence.ts) when every record of it is
   * templated; false (nothing done) when one is not.
   */
  private async sequenceTemplated(batch: Pending[], done: Array<[Pending, bigint]>): Promise<boolean> {
    const templates: Template[] = [];
    for (const p of batch) {
      const t = templateOf(p.build);
      if (t === null) return false;
      templates.push(t);
    }
    // An empty log's format is not known yet: the client-side path reads it under the counter row's lock.
    const mode = await this.mode();
    if (mode === null) return false;
    const salts = templates.map(() => (mode === 'private' ? new Uint8Array(randomBytes(SALT_BYTES)) : null));
    const first = await sequenceTemplates(this.pool, templates, salts);
    batch.forEach((p, i) => done.push([p, first + BigInt(i)]));
    return true;
  }

  /**
   * One transaction in three round trips: take the counter row (with BEGIN), append the
   * records (`mcp_attest.append_rows`, which advances the counter), commit. Each record of
   * `batch` gets the next index; a record that cannot be built is rejected alone. The lock is
   * held from the first round trip to the commit: batches of all processes are serialized,
   * never overlap.
   */
  private async sequence(batch: Pending[], done: Array<[Pending, bigint]>): Promise<void> {
    const c = await this.checkout();
    let failed = false;
    try {
      const [, locked] = (await c.query('BEGIN; SELECT mcp_attest.lock_counter() AS next_idx')) as unknown as pg.QueryResult[];
      const first = BigInt(stateRow(locked!).next_idx as string);
      const rows = await this.build(c, first, batch, done);
      if (rows.length > 0) await appendRows(c, first, rows);
      await c.query('COMMIT');
    } catch (e) {
      failed = true;
      done.length = 0;
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      checkin(c, failed);
    }
  }

  /** The entry rows of `batch` from index `next` on (private: commitment and opening); each built record goes to `done` with its index. */
  private async build(c: pg.PoolClient, next: bigint, batch: Pending[], done: Array<[Pending, bigint]>): Promise<Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]>> {
    const mode = await this.readMode(c, next);
    const rows: Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]> = [];
    for (const p of batch) {
      let row: ReturnType<typeof entryRow>;
      try {
        row = entryRow(p.build(next), mode);
      } catch (e) {
        p.reject(e);
        continue;
      }
      rows.push([next, row.data, row.salt, row.record]);
      done.push([p, next]);
      next++;
    }
    return rows;
  }

  /** Run `f` in a transaction on one pooled connection; rolled back when it throws. */
  async transaction<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.checkout();
    let failed = false;
    try {
      await c.query('BEGIN');
      const out = await f(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      failed = true;
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      checkin(c, failed);
    }
  }

  /**
   * A pooled connection, listened to while it is out: a connection lost mid-transaction
   * rejects the query in flight, and its `error` event, unheard, would end the process (the
   * pool hears only its idle connections). Given back with {@link checkin}.
   */
  private async checkout(): Promise<pg.PoolClient> {
    const c = await this.pool.connect();
    c.on('error', ignoreError);
    return c;
  }

  async size(): Promise<bigint> {
    return BigInt(stateRow(await this.pool.query('SELECT next_idx FROM mcp_attest.counter WHERE id = 1')).next_idx as string);
  }

  /** This log's random name (`log_state.log_id`, schema v5): a data directory's marker records it. */
  async logId(): Promise<string> {
    return String(stateRow(await this.pool.query('SELECT log_id FROM mcp_attest.log_state WHERE id = 1')).log_id);
  }

  async integratedSize(): Promise<bigint> {
    return BigInt(stateRow(await this.pool.query('SELECT integrated FROM mcp_attest.log_state WHERE id = 1')).integrated as string);
  }

  /** Entries `[from, to)` as published (`[index, entry]`, never an opening), in index order: what the integrator hashes. */
  async *publishedEntries(from: bigint, to: bigint): AsyncIterable<[bigint, Uint8Array]> {
    for (let at = from; at < to;) {
      const r = await this.pool.query(`SELECT idx, ${cutColumn('data')} FROM mcp_attest.entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3`, [at.toString(), to.toString(), PAGE]);
      if (r.rows.length === 0) return;
      for (const row of r.rows) {
        const data = entryBytes(row.data, row.idx);
        if (data === null) throw new AttestError('ERR_STORE_CORRUPT', 'an entry row is not bytes', { found: String(row.idx) });
        yield [BigInt(row.idx), data];
      }
      at = BigInt(r.rows[r.rows.length - 1].idx) + 1n;
    }
  }

  async entry(index: bigint): Promise<Uint8Array | null> {
    return entryBytes((await this.pool.query(`SELECT ${cutColumn('data')} FROM mcp_attest.entries WHERE idx = $1`, [index.toString()])).rows[0]?.data, index);
  }

  async opening(index: bigint): Promise<{ salt: Uint8Array; record: Uint8Array } | null> {
    const row = (await this.pool.query(`SELECT ${cutColumn('salt')}, ${cutColumn('record')} FROM mcp_attest.entries WHERE idx = $1`, [index.toString()])).rows[0];
    const [salt, record] = [entryBytes(row?.salt, index), entryBytes(row?.record, index)];
    return salt && record ? { salt, record } : null;
  }

  async *entries(from: bigint, to: bigint): AsyncIterable<EntryInput> {
    for (let at = from; at < to;) {
      const r = await this.pool.query(`SELECT ${ENTRY_COLUMNS} FROM mcp_attest.entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3`, [at.toString(), to.toString(), PAGE]);
      if (r.rows.length === 0) return;
      for (const row of r.rows) {
        const [data, salt, record] = [entryBytes(row.data, row.idx), entryBytes(row.salt, row.idx), entryBytes(row.record, row.idx)];
        if (data === null) throw new AttestError('ERR_STORE_CORRUPT', 'an entry row is not bytes', { found: String(row.idx) });
        yield salt && record ? [BigInt(row.idx), record, salt, data] : [BigInt(row.idx), data];
      }
      at = BigInt(r.rows[r.rows.length - 1].idx) + 1n;
    }
  }

  /** Fetch stored Merkle nodes by `[level, index]`. */
  readonly fetchNodes = async (wanted: Array<[number, bigint]>): Promise<Map<string, Uint8Array>> => {
    const r = await this.pool.query('SELECT n.level, n.idx, substring(n.hash from 1 for 33) AS hash FROM mcp_attest.nodes n JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx',
      [wanted.map(([l]) => l), wanted.map(([, i]) => i.toString())]);
    return new Map(r.rows.map((row) => {
      if (!Buffer.isBuffer(row.hash) || row.hash.length !== 32) throw new AttestError('ERR_STORE_CORRUPT', `Merkle node ${nodeKey(Number(row.level), BigInt(row.idx))} is not 32 bytes`);
      return [nodeKey(Number(row.level), BigInt(row.idx)), new Uint8Array(row.hash)];
    }));
  };

  withNodes<T>(compute: (read: NodeReader) => T): Promise<T> {
    // One computation's nodes only: a long-lived process must not end up holding the tree.
    return withNodesOf(this.fetchNodes, compute);
  }

  async checkpoints(): Promise<Array<{ size: bigint; note: string; created: number }>> {
    const cps = (await this.pool.query(`SELECT size, ${NOTE_COLUMN}, created FROM mcp_attest.checkpoints ORDER BY size`)).rows;
    const cos = (await this.pool.query(boundedLinesSql('true'))).rows;
    const lines = new Map<string, string>();
    for (const c of cos) lines.set(String(c.size), (lines.get(String(c.size)) ?? '') + String(c.line));
    return cps.map((c) => ({ size: BigInt(c.size), note: String(c.note) + (lines.get(String(c.size)) ?? ''), created: Number(c.created) }));
  }

  async checkpointSizes(from: bigint): Promise<bigint[]> {
    return sizesOf((await this.pool.query('SELECT size FROM mcp_attest.checkpoints WHERE size >= $1 ORDER BY size', [from.toString()])).rows);
  }

  async latestCheckpoint(): Promise<{ size: bigint; note: string; created: number } | null> {
    const c = (await this.pool.query(`SELECT size, ${NOTE_COLUMN}, created FROM mcp_attest.checkpoints ORDER BY size DESC LIMIT 1`)).rows[0];
    if (c === undefined) return null;
    const lines = (await this.pool.query(boundedLinesSql('size = $1'), [c.size])).rows.map((r) => String(r.line));
    return { size: BigInt(c.size), note: String(c.note) + lines.join(''), created: Number(c.created) };
  }

  async addCosignature(size: bigint, witness: string, line: string, received: number): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('INSERT INTO mcp_attest.cosignatures (size, witness, line, received) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [size.toString(), witness, line, received]);
      await c.query(SET_WITNESS_SIZE, [witness, size.toString()]);
    });
  }

  /** This log as a witnessing round takes it (store/witnessing.ts): what the integrator submits to the witnesses. */
  witnessing(): WitnessingLog {
    const q = (sql: string, values: unknown[]): Promise<pg.QueryResult> => this.pool.query(sql, values);
    return {
      latestCheckpoint: async () => {
        const c = (await q(`SELECT size, ${NOTE_COLUMN} FROM mcp_attest.checkpoints ORDER BY size DESC LIMIT 1`, [])).rows[0];
        return c === undefined ? null : { size: BigInt(c.size), note: String(c.note) };
      },
      cosignatureLines: async (size) => (await q(boundedLinesSql('size = $1'), [size.toString()])).rows.map((r) => String(r.line)),
      witnessSize: async (witness) => BigInt((await q('SELECT size FROM mcp_attest.witness_sizes WHERE witness = $1', [witness])).rows[0]?.size ?? 0),
      consistencyProof: (size1, size2) => this.withNodes((read) => consistencyProof(size1, size2, read)),
      addCosignature: (size, witness, line, received) => this.addCosignature(size, witness, line, received),
      addWitnessEvent: async (e) => void await q('INSERT INTO mcp_attest.witness_events (at, witness, size, code, message) VALUES ($1, $2, $3, $4, $5)', [e.at, e.witness, e.size.toString(), e.code, e.message]),
    };
  }

  async witnessSizes(): Promise<Map<string, bigint>> {
    const r = await this.pool.query('SELECT witness, size FROM mcp_attest.witness_sizes');
    return new Map(r.rows.map((row) => [String(row.witness), BigInt(row.size)]));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Lock the counter row for the transaction (`mcp_attest.lock_counter`, any role); returns the next index. */
export async function lockCounter(c: pg.ClientBase): Promise<bigint> {
  return BigInt((await c.query('SELECT mcp_attest.lock_counter() AS next_idx')).rows[0].next_idx);
}

/**
 * Append entry rows `[idx, data, salt, record]` from index `first` through
 * `mcp_attest.append_rows` (store/pg-sequence.ts: a private row's commitment is the
 * server's), in the transaction of `c`, which holds the counter row.
 */
async function appendRows(c: pg.ClientBase, first: bigint, rows: Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]>): Promise<void> {
  await c.query('SELECT mcp_attest.append_rows($1::bigint, $2::bytea[], $3::bytea[], $4::bytea[])', [first.toString(), ...entryColumns(rows).slice(1)]);
}

/** Raise a witness's size (never lowered): `$1` the witness, `$2` the size. */
const SET_WITNESS_SIZE = 'INSERT INTO mcp_attest.witness_sizes (witness, size) VALUES ($1, $2) ON CONFLICT (witness) DO UPDATE SET size = greatest(mcp_attest.witness_sizes.size, excluded.size)';

const INSERT_ENTRIES = 'INSERT INTO mcp_attest.entries (idx, data, salt, record) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[])';

/** The four column arrays of entry rows `[idx, data, salt, record]`, as {@link INSERT_ENTRIES} binds them. */
function entryColumns(rows: Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]>): unknown[] {
  const buf = (v: Uint8Array | null): Buffer | null => (v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  return [rows.map((r) => r[0].toString()), rows.map((r) => buf(r[1])), rows.map((r) => buf(r[2])), rows.map((r) => buf(r[3]))];
}

/** Insert entry rows `[idx, data, salt, record]` in one statement. */
export async function insertEntries(c: pg.ClientBase, rows: Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]>): Promise<void> {
  await c.query(INSERT_ENTRIES, entryColumns(rows));
}
