/**
 * What a verifier remembers between runs (`mcp-attest verify --state DIR`): every checkpoint
 * it accepted, per origin, in `DIR/verifier.db` (SQLite). The next verification of the same
 * origin must be consistent with them (src/verify/split-view.ts). Rows are only ever
 * inserted: a checkpoint accepted once is never replaced, even by one of the same size.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from './sqlite.js';
import type { KnownCheckpoint } from '../verify/split-view.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS accepted (origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL,
  note TEXT NOT NULL, accepted INTEGER NOT NULL, PRIMARY KEY (origin, size)) WITHOUT ROWID;`;

/** The accepted checkpoints of one verifier state directory. */
export class VerifierState {
  private readonly db: Database.Database;

  /** Open (creating) the state in `dir`. Throws `ERR_STORE_IO`. */
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = openSqlite(join(dir, 'verifier.db'), SCHEMA, { code: 'ERR_STORE_IO', what: 'verifier state' });
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
