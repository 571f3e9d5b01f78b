/**
 * The commit half of group commit (docs/log-format.md "Group commit"): an append that comes
 * while the log's group sync runs would wait for the next sync anyway, so it is queued, and
 * every append queued for that sync is committed in one transaction, a savepoint each, just
 * before the sync starts (store/wal-sync.ts runs the commit as its `before` hook). An append
 * that fails alone (too large, its evidence refused) is rolled back alone; a failure that
 * ends the transaction (a full disk, an I/O error) fails the whole batch with `ERR_STORE_IO`.
 */
import type Database from 'better-sqlite3';
import { AttestError } from '../errors.js';
import type { WalSync } from './wal-sync.js';

/** One queued append and what came of it. */
interface Slot {
  run: () => bigint;
  index: bigint | null;
  error: unknown;
}

/** Appends queued on one connection for the next sync of its WAL. */
export class QueuedCommits {
  private queued: Slot[] = [];
  private readonly savepoint: Database.Transaction<(s: Slot) => bigint>;

  /** `db`: the log's connection; `walSync`: the shared sync of its WAL. */
  constructor(private readonly db: Database.Database, private readonly walSync: WalSync) {
    this.savepoint = db.transaction((s: Slot) => s.run());
  }

  /**
   * Queue `run` (an append inside the caller's transaction, returning its index) for the next
   * sync. Resolves with the index once that sync has finished; rejects with `run`'s own
   * error (it alone is rolled back), or `ERR_STORE_IO` when the commit or the sync fails.
   */
  add(run: () => bigint): Promise<bigint> {
    const slot: Slot = { run, index: null, error: null };
    this.queued.push(slot);
    const synced = this.queued.length === 1 ? this.walSync.sync(() => this.commit()) : this.walSync.sync();
    return synced.then(() => {
      if (slot.error !== null) throw slot.error;
      if (slot.index === null) throw new AttestError('ERR_STORE_IO', 'the append was never committed');
      return slot.index;
    });
  }

  /** Commit the queued appends in one transaction, one savepoint each; each slot gets its index or its error. Never throws. */
  private commit(): void {
    const queued = this.queued;
    this.queued = [];
    try {
      this.db.transaction(() => {
        for (const s of queued) {
          try {
            s.index = this.savepoint(s);
          } catch (e) {
            // Some failures (a full disk, an I/O error) make SQLite roll back the whole
            // transaction, not the savepoint: then the batch fails as one, never in pieces.
            if (!this.db.inTransaction) throw e;
            s.error = e;
          }
        }
      }).immediate();
    } catch (cause) {
      const e = cause instanceof AttestError ? cause : new AttestError('ERR_STORE_IO', `cannot commit to the log: ${(cause as Error).message}`, { cause });
      for (const s of queued) {
        s.index = null;
        s.error = e;
      }
    }
  }
}
