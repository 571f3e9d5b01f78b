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
 *   never evicts a pair whose window is still open. Only expired pairs are purged, a few
 *   with each record ({@link PURGE_RUN}, oldest first: a store that is still full after them
 *   has no expired pair left). Purging every expired pair at each record deleted a second's
 *   worth at once, each on its own page: with 300,000 live pairs at 1,000 records a second,
 *   one record a second took up to 22–28 ms, now 11–13 ms at most (SQLite's own WAL
 *   checkpoints set that tail now). A pair that expired and is not purged yet counts as absent.
 * - Durable: WAL with `synchronous=FULL` by default, so an accepted nonce survives a crash
 *   and a restart.
 */
import type Database from 'better-sqlite3';
import { databaseFile, openSqlite, prefillWal } from './sqlite.js';
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

/** Expired pairs purged with each record, oldest first: more than one, so purging keeps ahead of recording. */
export const PURGE_RUN = 16;

/** A persistent, bounded, fail-closed store of accepted nonces. */
export class NonceStore {
  private readonly db: Database.Database;
  private readonly maxEntries: number;
  private readonly recordTx: (iss: string, nonce: string, expiresAt: number, now: number) => NonceOutcome;

  /** Open (creating if needed) the store at `path`. Throws `ERR_STORE_CORRUPT`, and `ERR_STORE_IO` when its WAL cannot be synced (store/sqlite.ts `prefillWal`). */
  constructor(path: string, o: NonceStoreOptions = {}) {
    this.maxEntries = o.maxEntries ?? 1_000_000;
    this.db = openSqlite(path, SCHEMA, { durability: o.durability, code: 'ERR_STORE_CORRUPT', what: 'nonce store' });
    // Each accepted nonce is an fsync of the WAL: allocated once, it is never grown meanwhile.
    if ((o.durability ?? 'full') === 'full') {
      try {
        prefillWal(this.db, databaseFile(this.db), AUTOCHECKPOINT_PAGES);
      } catch (e) {
        this.db.close();
        throw e;
      }
    }
    const purgeSome = this.db.prepare(`DELETE FROM nonces WHERE (iss, nonce) IN (SELECT iss, nonce FROM nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ${PURGE_RUN})`);
    const find = this.db.prepare('SELECT expires_at FROM nonces WHERE iss = ? AND nonce = ?').pluck();
    const forget = this.db.prepare('DELETE FROM nonces WHERE iss = ? AND nonce = ?');
    const live = this.db.prepare("SELECT v FROM nonce_meta WHERE k = 'live'").pluck();
    const add = this.db.prepare("UPDATE nonce_meta SET v = v + ? WHERE k = 'live'");
    const insert = this.db.prepare('INSERT INTO nonces (iss, nonce, expires_at) VALUES (?, ?, ?)');
    const purge = (stmt: Database.Statement, ...args: unknown[]): void => {
      const purged = stmt.run(...args).changes;
      if (purged > 0) add.run(-purged);
    };
    const tx = this.db.transaction((iss: string, nonce: string, expiresAt: number, now: number): NonceOutcome => {
      purge(purgeSome, now);
      const known = find.get(iss, nonce) as number | undefined;
      if (known !== undefined && known >= now) return 'replay';
      // Its window closed: not purged yet, and absent all the same.
      if (known !== undefined) purge(forget, iss, nonce);
      // Still full after the purge: it took every expired pair, or freed PURGE_RUN slots.
      if ((live.get() as number) >= this.maxEntries) return 'full';
      insert.run(iss, nonce, expiresAt);
      add.run(1);
      return 'recorded';
    });
    this.recordTx = (iss, nonce, expiresAt, now) => tx.immediate(iss, nonce, expiresAt, now);
  }

  /**
   * Atomically record `(iss, nonce)` as accepted until `expiresAt` (`iat + expSeconds +
   * skew`, POSIX seconds), purging up to {@link PURGE_RUN} pairs whose window closed before
   * `now`. Returns `replay` when the pair is recorded and its window still open, and `full`
   * when `maxEntries` live pairs exist (the pair is not recorded then). Throws `ERR_USAGE` for
   * a non-integer time, `ERR_STORE_IO` when the database cannot be written.
   */
  record(iss: string, nonce: string, expiresAt: number, now: number): NonceOutcome {
    if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) throw new AttestError('ERR_USAGE', 'nonce times are integer POSIX seconds');
    try {
      return this.recordTx(iss, nonce, expiresAt, now);
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot record nonce: ${(cause as Error).message}`, { cause });
    }
  }

  /** Number of pairs recorded and not purged yet (expired ones remain until records purge them). */
  size(): number {
    return this.db.prepare("SELECT v FROM nonce_meta WHERE k = 'live'").pluck().get() as number;
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}
