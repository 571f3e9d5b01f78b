/**
 * What a verifier remembers between runs (`mcp-attest verify --state DIR`): every checkpoint
 * it accepted, per origin, in `DIR/verifier.db` (SQLite). The next verification of the same
 * origin must be consistent with them (src/verify/split-view.ts). Rows are only ever
 * inserted: a checkpoint accepted once is never replaced, even by one of the same size.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from './sqlite.js';
import { checkSqliteFiles } from './sqlite-guard.js';
import { AttestError } from '../errors.js';
import type { KnownCheckpoint } from '../verify/split-view.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS accepted (origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL,
  note TEXT NOT NULL, accepted INTEGER NOT NULL, PRIMARY KEY (origin, size)) WITHOUT ROWID;`;

/** The accepted checkpoints of one verifier state directory. */
export class VerifierState {
  private readonly db: Database.Database;

  /**
   * Open (creating) the state in `dir`. `dir` may be a symlink to a directory (a path the
   * user named); `verifier.db` and its journal files inside it must be regular files, not
   * symlinks, and its schema plain tables (store/sqlite-guard.ts). Throws `ERR_STORE_IO`,
   * `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`, `ERR_STORE_CORRUPT` (a view, trigger,
   * virtual table or generated column).
   */
  constructor(dir: string) {
    let real: string;
    try {
      mkdirSync(dir, { recursive: true });
      real = realpathSync(dir);
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot use verifier state directory ${dir}: ${(cause as Error).message}`, { path: dir, cause });
    }
    const file = checkSqliteFiles(join(real, 'verifier.db'), { what: 'verifier state', mayBeMissing: true });
    this.db = openSqlite(file, SCHEMA, { code: 'ERR_STORE_IO', what: 'verifier state', untrusted: true });
  }

  /** Every accepted checkpoint (all origins), smallest size first. */
  known(): KnownCheckpoint[] {
    const rows = this.db.prepare('SELECT origin, size, root FROM accepted ORDER BY origin, size').safeIntegers(true).all() as Array<{ origin: string; size: bigint; root: Buffer }>;
    return rows.map((r) => ({ origin: r.origin, size: r.size, rootHash: new Uint8Array(r.root) }));
  }

  /** Remember a checkpoint that was just accepted, with its note; an existing (origin, size) row is kept. */
  accept(cp: KnownCheckpoint, note: string): void {
    this.db.prepare('INSERT OR IGNORE INTO accepted (origin, size, root, note, accepted) VALUES (?, ?, ?, ?, ?)')
      .run(cp.origin, cp.size, Buffer.from(cp.rootHash), note, Math.floor(Date.now() / 1000));
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}
