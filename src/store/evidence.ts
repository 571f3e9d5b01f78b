/**
 * The local evidence store: payloads (tool arguments, tool results) kept outside the log, in
 * their own SQLite file (`evidence.db`), content-addressed by `hex(SHA-256(JCS(value)))`: the
 * same digest the hash-only commitment in the log carries, so a payload can be disclosed
 * later and checked against its commitment. Rows are inserted once and never changed, only
 * deleted when a call is erased (store/erase.ts).
 * Writes use `synchronous=NORMAL` (they survive a process crash; a power loss may lose the
 * newest payloads, never a log entry): the log, not the evidence, is the record. The
 * recorder attaches the file to the log's connection, so a payload commits with its entry.
 */
import Database from 'better-sqlite3';
import { toHex } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import { canonicalBytes } from '../jcs/index.js';
import { openSqlite } from './sqlite.js';
import { AttestError } from '../errors.js';

const TABLE = 'evidence (digest TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID';

/** Content-addressed payloads in one SQLite file. */
export class EvidenceStore {
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;

  /**
   * Open (creating if needed) `path` on its own connection, or, with `attachTo`, attached to
   * that connection (the log's) as schema `evidence`, so a put inside one of its transactions
   * (a log append's `after`) commits with it: one commit per append, not two. Throws `ERR_STORE_IO`.
   */
  constructor(path: string, readonly = false, attachTo?: Database.Database) {
    if (attachTo === undefined) {
      this.db = openSqlite(path, `CREATE TABLE IF NOT EXISTS ${TABLE}`, { durability: 'normal', readonly, code: 'ERR_STORE_IO', what: 'evidence store' });
    } else {
      this.db = null;
      try {
        attachTo.prepare('ATTACH DATABASE ? AS evidence').run(path);
        attachTo.pragma('evidence.journal_mode = WAL');
        attachTo.pragma('evidence.synchronous = NORMAL');
        attachTo.exec(`CREATE TABLE IF NOT EXISTS evidence.${TABLE}`);
      } catch (cause) {
        throw new AttestError('ERR_STORE_IO', `cannot open evidence store ${path}: ${(cause as Error).message}`, { path, cause });
      }
    }
    const conn = attachTo ?? this.db!;
    const table = attachTo === undefined ? 'evidence' : 'evidence.evidence';
    this.conn = conn;
    this.schema = attachTo === undefined ? 'main' : 'evidence';
    this.insert = readonly ? conn.prepare('SELECT 1') : conn.prepare(`INSERT OR IGNORE INTO ${table} (digest, data) VALUES (?, ?)`);
    this.select = conn.prepare(`SELECT data FROM ${table} WHERE digest = ?`);
  }

  /** Its own connection; null when attached to the log's (closed with it). */
  private readonly db: Database.Database | null;
  /** The connection it is read through, and the schema name of its file there. */
  private readonly conn: Database.Database;
  private readonly schema: string;

  /**
   * Delete the payloads of `hexes` for good: overwritten on disk (`secure_delete`), the file
   * rewritten from its live content (`VACUUM`), then the WAL checkpointed and truncated. Returns how many were stored. Throws `ERR_STORE_IO` when
   * the WAL cannot be truncated (another process reading it).
   */
  erase(hexes: string[]): number {
    const s = this.schema;
    this.conn.pragma(`${s}.secure_delete = ON`);
    const del = this.conn.prepare(`DELETE FROM ${s}.evidence WHERE digest = ?`);
    let n = 0;
    this.conn.transaction(() => {
      for (const h of hexes) n += del.run(h).changes;
    }).immediate();
    this.conn.exec(`VACUUM ${s}`);
    const [cp] = this.conn.pragma(`${s}.wal_checkpoint(TRUNCATE)`) as Array<{ busy: number }>;
    if (cp && cp.busy !== 0) throw new AttestError('ERR_STORE_IO', 'payloads erased, but the evidence WAL is still read by another process: run the erase again once it is idle');
    return n;
  }

  /** Store JCS(value); returns its hex SHA-256. Idempotent. */
  put(value: unknown): string {
    return this.putBytes(canonicalBytes(value));
  }

  /** Store `bytes`, which the caller has made as JCS(value) (the bytes a commitment hashed); returns their hex SHA-256. Idempotent. */
  putBytes(bytes: Uint8Array): string {
    const hex = toHex(sha256(bytes));
    this.insert.run(hex, bytes);
    return hex;
  }

  /** The stored JCS bytes for a hex digest, or null. */
  get(hex: string): Uint8Array | null {
    const row = this.select.get(hex) as { data: Buffer } | undefined;
    return row ? new Uint8Array(row.data) : null;
  }

  /** Close its own connection (an attached store closes with the log's). */
  close(): void {
    if (this.db?.open) this.db.close();
  }
}
