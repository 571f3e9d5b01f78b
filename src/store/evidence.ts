/**
 * The local evidence store: payloads (tool arguments, tool results) kept outside the log, in
 * their own SQLite file (`evidence.db`), content-addressed by `hex(SHA-256(JCS(value)))`: the
 * same digest the hash-only commitment in the log carries, so a payload can be disclosed
 * later and checked against its commitment. Rows are inserted once and never changed.
 * Writes use `synchronous=NORMAL` (they survive a process crash; a power loss may lose the
 * newest payloads, never a log entry): the log, not the evidence, is the record.
 */
import Database from 'better-sqlite3';
import { toHex } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import { canonicalBytes } from '../jcs/index.js';
import { openSqlite } from './sqlite.js';

/** Content-addressed payloads in one SQLite file. */
export class EvidenceStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;

  /** Open (creating if needed) `path`. Throws `ERR_STORE_IO`. */
  constructor(path: string, readonly = false) {
    this.db = openSqlite(path, 'CREATE TABLE IF NOT EXISTS evidence (digest TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID', { durability: 'normal', readonly, code: 'ERR_STORE_IO', what: 'evidence store' });
    this.insert = readonly ? this.db.prepare('SELECT 1') : this.db.prepare('INSERT OR IGNORE INTO evidence (digest, data) VALUES (?, ?)');
    this.select = this.db.prepare('SELECT data FROM evidence WHERE digest = ?');
  }

  /** Store JCS(value); returns its hex SHA-256. Idempotent. */
  put(value: unknown): string {
    const bytes = canonicalBytes(value);
    const hex = toHex(sha256(bytes));
    this.insert.run(hex, bytes);
    return hex;
  }

  /** The stored JCS bytes for a hex digest, or null. */
  get(hex: string): Uint8Array | null {
    const row = this.select.get(hex) as { data: Buffer } | undefined;
    return row ? new Uint8Array(row.data) : null;
  }

  /** Close the database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
