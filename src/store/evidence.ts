/**
 * The local evidence store: payloads (tool arguments, tool results, session evidence) kept
 * outside the log, in their own SQLite file (`evidence.db`), named by `hex(SHA-256(JCS(value)))`:
 * the same digest the hash-only commitment in the log carries, so a payload can be disclosed
 * later and checked against its commitment.
 *
 * Layout (docs/log-format.md "Evidence store"):
 * - `payloads (id, digest, data)`: appended in order, never changed, deleted only when a call
 *   is erased (store/erase.ts). An append touches the table's last page, not a page chosen by
 *   the digest: the write a call waits for stays small.
 * - `payload_index (digest, id)`: the lookup by digest of the payloads put to be looked up
 *   (a session action's evidence, which a session receipt discloses), written with them. A
 *   call's arguments and result are not indexed: nothing reads them by digest but an erase,
 *   and indexing them wrote a random page per payload (see {@link EvidenceStore.putBytes}).
 * - `payload_state (indexed)`: the mark: every payload up to it that is looked up is
 *   indexed. {@link EvidenceStore.settle} moves it to the newest payload (the recorder, with
 *   each checkpoint); opening the store writable indexes what lies past it (an earlier
 *   version's payloads, which it indexed once a second) first. A lookup reads the index, then
 *   the earlier versions' table, then only the payloads past the mark. An erase deleting the
 *   newest ids lowers the mark to the newest id left, so the id SQLite gives next is past it.
 * - `evidence (digest, data)`: the content-addressed table of earlier versions, still read.
 * The same payload put twice is kept twice; a lookup returns one of them (the same bytes:
 * the digest is theirs).
 *
 * Writes use `synchronous=NORMAL` (they survive a process crash; a power loss may lose the
 * newest payloads, never a log entry): the log, not the evidence, is the record. The
 * recorder attaches the file to the log's connection, so a payload commits with its entry.
 */
import Database from 'better-sqlite3';
import { toHex } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import type { CanonicalMemo } from '../jcs/index.js';
import { canonicalDigest } from '../envelope/commitment.js';
import { createPrivate, openSqlite, retryBusy, truncateWal, walMode } from './sqlite.js';
import { AttestError } from '../errors.js';

const SCHEMA = (s: string): string => `
CREATE TABLE IF NOT EXISTS ${s}payloads (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}payload_index (digest BLOB NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (digest, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${s}payload_state (k INTEGER PRIMARY KEY CHECK (k = 0), indexed INTEGER NOT NULL);
INSERT OR IGNORE INTO ${s}payload_state (k, indexed) VALUES (0, 0);
`;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** Attach `path` (made 0600 when new: store/sqlite.ts `createPrivate`) to `db` as schema `evidence`, in WAL, with its tables; detached again on failure. */
function attach(db: Database.Database, path: string): void {
  createPrivate(path);
  db.prepare('ATTACH DATABASE ? AS evidence').run(path);
  try {
    walMode(db, 'evidence', 'normal');
    db.exec(SCHEMA('evidence.'));
  } catch (cause) {
    db.exec('DETACH DATABASE evidence');
    throw cause;
  }
}

/** Payloads in one SQLite file, named by the hex SHA-256 of their bytes. */
export class EvidenceStore {
  private readonly insert: Database.Statement | null;
  private readonly lookups: Array<{ stmt: Database.Statement; args: (digest: Buffer, hex: string) => unknown[] }> = [];

  /**
   * Open (creating if needed) `path` on its own connection, or, with `attachTo`, attached to
   * that connection (the log's) as schema `evidence`, so a put inside one of its transactions
   * (a log append's `after`) commits with it: one commit per append, not two. Read-only, a
   * file of an earlier version (only the `evidence` table) is read as it is. Throws `ERR_STORE_IO`.
   */
  constructor(path: string, readonly = false, attachTo?: Database.Database) {
    if (attachTo === undefined) {
      this.db = openSqlite(path, SCHEMA(''), { durability: 'normal', readonly, code: 'ERR_STORE_IO', what: 'evidence store' });
    } else {
      this.db = null;
      try {
        retryBusy(() => attach(attachTo, path));
      } catch (cause) {
        throw new AttestError('ERR_STORE_IO', `cannot open evidence store ${path}: ${(cause as Error).message}`, { path, cause });
      }
    }
    const conn = attachTo ?? this.db!;
    this.conn = conn;
    this.schema = attachTo === undefined ? 'main' : 'evidence';
    const s = this.schema;
    const tables = new Set((conn.prepare(`SELECT name FROM ${s}.sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((r) => r.name));
    this.current = tables.has('payloads') && tables.has('payload_index') && tables.has('payload_state');
    this.insert = readonly ? null : conn.prepare(`INSERT INTO ${s}.payloads (digest, data) VALUES (?, ?)`);
    const index = readonly || !this.current ? null : conn.prepare(`INSERT OR IGNORE INTO ${s}.payload_index (digest, id) VALUES (?, ?)`);
    const insert = this.insert;
    this.putIndexed = index === null || insert === null ? null : conn.transaction((digest: Uint8Array, bytes: Uint8Array) => index.run(digest, insert.run(digest, bytes).lastInsertRowid));
    if (this.current) this.lookups.push({ stmt: conn.prepare(`SELECT p.data FROM ${s}.payload_index i JOIN ${s}.payloads p ON p.id = i.id AND p.digest = i.digest WHERE i.digest = ? ORDER BY i.id LIMIT 1`), args: (d) => [d] });
    this.legacy = tables.has('evidence');
    if (this.legacy) this.lookups.push({ stmt: conn.prepare(`SELECT data FROM ${s}.evidence WHERE digest = ?`), args: (_d, hex) => [hex] });
    if (this.current) {
      this.lookups.push({ stmt: conn.prepare(`SELECT data FROM ${s}.payloads WHERE id > (SELECT indexed FROM ${s}.payload_state WHERE k = 0) AND digest = ? ORDER BY id LIMIT 1`), args: (d) => [d] });
      if (!readonly) this.indexTail();
    }
  }

  /** Appends a payload and indexes it, in one transaction (a savepoint inside the caller's). */
  private readonly putIndexed: ((digest: Uint8Array, bytes: Uint8Array) => unknown) | null;
  /** Its own connection; null when attached to the log's (closed with it). */
  private readonly db: Database.Database | null;
  /** The connection it is read through, and the schema name of its file there. */
  private readonly conn: Database.Database;
  private readonly schema: string;

  /** Whether the file has this version's tables (an earlier version's, opened read-only, has not). */
  private readonly current: boolean;
  /** Whether the file has the `evidence` table of earlier versions. */
  private readonly legacy: boolean;

  /**
   * Index the payloads past the mark (`payload_state`) and move the mark to the newest: what an
   * earlier version stored and did not index yet (it indexed once a second), and at most what
   * this version appended since the last {@link settle}. Run once when the store opens
   * writable, so a lookup never has to read more of the table than the payloads appended
   * since a settle. Throws `ERR_STORE_IO`.
   */
  private indexTail(): void {
    const s = this.schema;
    try {
      retryBusy(() => this.conn.transaction(() => {
        this.conn.prepare(`INSERT OR IGNORE INTO ${s}.payload_index (digest, id) SELECT digest, id FROM ${s}.payloads WHERE id > (SELECT indexed FROM ${s}.payload_state WHERE k = 0)`).run();
        this.settle();
      }).immediate());
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot index the evidence store: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Move the mark to the newest payload: everything below it that is looked up is indexed
   * (this version indexes a payload as it stores it, when asked to), so a lookup reads the
   * table only past it. The recorder settles with each checkpoint: one row written, not an
   * index entry per payload. Throws `ERR_STORE_IO`.
   */
  settle(): void {
    const s = this.schema;
    try {
      this.conn.prepare(`UPDATE ${s}.payload_state SET indexed = max(indexed, (SELECT coalesce(max(id), 0) FROM ${s}.payloads)) WHERE k = 0`).run();
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot settle the evidence store: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Delete the payloads of `hexes` (every copy) for good: overwritten on disk (`secure_delete`),
   * the file rewritten from its live content (`VACUUM`), then the WAL checkpointed and
   * truncated. Returns how many rows were stored. Throws `ERR_STORE_IO` when the WAL cannot be
   * truncated (another process kept it busy for 5 s: {@link truncateWal}).
   */
  erase(hexes: string[]): number {
    const s = this.schema;
    this.conn.pragma(`${s}.secure_delete = ON`);
    // By digest, reading the table: copies not indexed (a call's) are erased too (erasing is rare).
    const del = this.current ? this.conn.prepare(`DELETE FROM ${s}.payloads WHERE digest = ?`) : null;
    const unindex = this.current ? this.conn.prepare(`DELETE FROM ${s}.payload_index WHERE digest = ?`) : null;
    const legacy = this.legacy ? this.conn.prepare(`DELETE FROM ${s}.evidence WHERE digest = ?`) : null;
    let n = 0;
    this.conn.transaction(() => {
      for (const h of hexes) {
        const digest = Buffer.from(h, 'hex');
        if (del !== null) n += del.run(digest).changes;
        unindex?.run(digest);
        if (legacy !== null) n += legacy.run(h).changes;
      }
      // SQLite gives the next payload the newest id left plus one: keep it past the mark.
      if (this.current) this.conn.prepare(`UPDATE ${s}.payload_state SET indexed = min(indexed, (SELECT coalesce(max(id), 0) FROM ${s}.payloads)) WHERE k = 0`).run();
    }).immediate();
    this.conn.exec(`VACUUM ${s}`);
    if (!truncateWal(this.conn, s)) throw new AttestError('ERR_STORE_IO', 'payloads erased, but the evidence WAL is still read by another process: run the erase again once it is idle');
    return n;
  }

  /** Store JCS(value) (`memo`: its bytes and digest, if a commitment made them already: `canonicalDigest`); returns its hex SHA-256. Throws `ERR_STORE_IO` when read-only, `ERR_JSON_*` for a value JCS cannot write. */
  put(value: unknown, memo?: CanonicalMemo): string {
    const { bytes, digest } = canonicalDigest(value, memo);
    return this.putBytes(bytes, digest);
  }

  /**
   * Append `bytes`, which the caller has made as JCS(value) (the bytes a commitment hashed),
   * under `digest`, their SHA-256 (computed here when not given); returns its hex. `indexed`:
   * the payload will be looked up by digest ({@link get}), so it is indexed too, in the same
   * transaction. Other payloads are appended only: the index is keyed by digest, so each new
   * entry lands on a page of its own, and indexing every payload made a call's cost grow with
   * the store (docs/design-notes.md). Throws `ERR_STORE_IO` when read-only.
   */
  putBytes(bytes: Uint8Array, digest: Uint8Array = sha256(bytes), indexed = false): string {
    if (this.insert === null) throw new AttestError('ERR_STORE_IO', 'the evidence store is open read-only');
    if (indexed && this.putIndexed !== null) this.putIndexed(digest, bytes);
    else this.insert.run(digest, bytes);
    return toHex(digest);
  }

  /**
   * The stored JCS bytes for a hex digest (64 lowercase hex digits), or null: a payload put to
   * be looked up, one an earlier version stored, or any appended since the last
   * {@link settle} (a call's arguments and result are not found once settled).
   */
  get(hex: string): Uint8Array | null {
    if (!HEX_DIGEST.test(hex)) return null;
    const digest = Buffer.from(hex, 'hex');
    for (const l of this.lookups) {
      const row = l.stmt.get(...l.args(digest, hex)) as { data: Buffer } | undefined;
      if (row) return new Uint8Array(row.data);
    }
    return null;
  }

  /**
   * The stored JCS bytes of each hex digest in `hexes` that is stored, by hex: {@link get} for
   * each, then a read of the whole table for those it did not find (a payload an earlier
   * version stored while this version had moved the mark past it, or one erased), so nothing
   * stored is left out and misses cost one pass over the table per 500 of them, not one each.
   * Digests that are not 64 lowercase hex digits are skipped. Throws SQLite's error.
   */
  getMany(hexes: Iterable<string>): Map<string, Uint8Array> {
    const found = new Map<string, Uint8Array>();
    const missing: Buffer[] = [];
    for (const hex of new Set(hexes)) {
      const bytes = this.get(hex);
      if (bytes !== null) found.set(hex, bytes);
      else if (HEX_DIGEST.test(hex) && this.current) missing.push(Buffer.from(hex, 'hex'));
    }
    // Bound parameters per statement: well under SQLite's limit.
    for (let k = 0; k < missing.length; k += 500) {
      const some = missing.slice(k, k + 500);
      const rows = this.conn.prepare(`SELECT digest, data FROM ${this.schema}.payloads WHERE digest IN (${some.map(() => '?').join(',')}) ORDER BY id`).all(...some) as Array<{ digest: Buffer; data: Buffer }>;
      for (const row of rows) {
        const hex = row.digest.toString('hex');
        if (!found.has(hex)) found.set(hex, new Uint8Array(row.data));
      }
    }
    return found;
  }

  /** Close its own connection (an attached store closes with the log's). */
  close(): void {
    if (this.db?.open) this.db.close();
  }
}
