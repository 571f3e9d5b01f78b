/**
 * Opening a SQLite file the way every mcp-attest store does: WAL journal, `synchronous`
 * FULL (fsync at every commit) or NORMAL (survives process crashes only), a 15 s busy
 * timeout so several processes can share the file, and the store's schema applied.
 */
import Database from 'better-sqlite3';
import { AttestError, type ErrorCode } from '../errors.js';
import type { Durability } from './log-db.js';

/** Open (creating if needed) `path` and apply `schema`. Throws `code` naming `what` and the path. */
export function openSqlite(path: string, schema: string, o: { durability?: Durability | undefined; code: ErrorCode; what: string }): Database.Database {
  try {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${o.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('busy_timeout = 15000');
    db.exec(schema);
    return db;
  } catch (cause) {
    throw new AttestError(o.code, `cannot open ${o.what} ${path}: ${(cause as Error).message}`, { path, cause });
  }
}
