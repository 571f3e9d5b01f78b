/**
 * Replay protection that holds (SEP-2787 "Verification Rules" step 2, done right): a SQLite
 * table of accepted (issuer, nonce) pairs, each kept until its attestation can no longer
 * pass the TTL check anywhere: `iat + expSeconds + skew` (POSIX seconds), measured from the
 * attestation's own time, never from when it was first seen.
 *
 * - Record only after every other check passed (the caller's duty): forged or untrusted
 *   copies never reach {@link NonceStore.record}, so they can neither burn a nonce nor fill
 *   the store.
 * - Atomic check-and-insert in one `BEGIN IMMEDIATE` transaction, so concurrent gatekeepers
 *   sharing the file (several processes) accept a nonce once.
 * - Bounded: at most `maxEntries` live pairs. When full it **fails closed** (`full`): it
 *   never evicts a pair whose window is still open. Only expired pairs are purged.
 * - Durable: WAL with `synchronous=FULL` by default, so an accepted nonce survives a crash
 *   and a restart.
 */
import type Database from 'better-sqlite3';
import { openSqlite, prefillWal } from './sqlite.js';
import { AUTOCHECKPOINT_PAGES } from './wal-checkpointer.js';
import { AttestError } from '../errors.js';
import type { Durability } from './log-db.js';

/** Outcome of {@link NonceStore.record}. */
export type NonceOutcome = 'recorded' | 'replay' | 'full';

/** Options of {@link NonceStore}. */
export interface NonceStoreOptions {
  /** Largest number of live (issuer, nonce) pairs (default 1,000,000). */
  maxEntries?: number;
  durability?: Durability;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nonces (iss TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (iss, nonce)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);
CREATE TABLE IF NOT EXISTS nonce_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO nonce_meta (k, v) VALUES ('live', 0);
`;

/** A persistent, bounded, fail-closed store of accepted nonces. */
export class NonceStore {
  private readonly db: Database.Database;
  private readonly maxEntries: number;
  private readonly recordTx: (iss: string, nonce: string, expiresAt: number, now: number) => NonceOutcome;

  /** Open (creating if needed) the store at `path`. Throws `ERR_STORE_CORRUPT`. */
  constructor(path: string, o: NonceStoreOptions = {}) {
    this.maxEntries = o.maxEntries ?? 1_000_000;
    this.db = openSqlite(path, SCHEMA, { durability: o.durability, code: 'ERR_STORE_CORRUPT', what: 'nonce store' });
    // Each accepted nonce is an fsync of the WAL: allocated once, it is never grown meanwhile.
    if ((o.durability ?? 'full') === 'full') prefillWal(this.db, path, AUTOCHECKPOINT_PAGES);
    const purge = this.db.prepare('DELETE FROM nonces WHERE expires_at < ?');
    const find = this.db.prepare('SELECT expires_at FROM nonces WHERE iss = ? AND nonce = ?');
    const live = this.db.prepare("SELECT v FROM nonce_meta WHERE k = 'live'").pluck();
    const add = this.db.prepare("UPDATE nonce_meta SET v = v + ? WHERE k = 'live'");
    const insert = this.db.prepare('INSERT INTO nonces (iss, nonce, expires_at) VALUES (?, ?, ?)');
    const tx = this.db.transaction((iss: string, nonce: string, expiresAt: number, now: number): NonceOutcome => {
      const purged = purge.run(now).changes;
      if (purged > 0) add.run(-purged);
      if (find.get(iss, nonce) !== undefined) return 'replay';
      if ((live.get() as number) >= this.maxEntries) return 'full';
      insert.run(iss, nonce, expiresAt);
      add.run(1);
      return 'recorded';
    });
    this.recordTx = (iss, nonce, expiresAt, now) => tx.immediate(iss, nonce, expiresAt, now);
  }

  /**
   * Atomically record `(iss, nonce)` as accepted until `expiresAt` (`iat + expSeconds +
   * skew`, POSIX seconds), purging pairs whose window closed before `now`. Returns `replay`
   * when the pair is already recorded and `full` when `maxEntries` live pairs exist (nothing
   * is written then). Throws `ERR_USAGE` for a non-integer time, `ERR_STORE_IO` when the
   * database cannot be written.
   */
  record(iss: string, nonce: string, expiresAt: number, now: number): NonceOutcome {
    if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) throw new AttestError('ERR_USAGE', 'nonce times are integer POSIX seconds');
    try {
      return this.recordTx(iss, nonce, expiresAt, now);
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot record nonce: ${(cause as Error).message}`, { cause });
    }
  }

  /** Number of live pairs recorded (expired ones may remain until the next record). */
  size(): number {
    return this.db.prepare("SELECT v FROM nonce_meta WHERE k = 'live'").pluck().get() as number;
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}
