/**
 * Opening a SQLite file someone else wrote (a log.db handed to the verifier, a verifier
 * state) without trusting its structure. Before SQLite sees the file: the database and each
 * of its journal files that exists (`-journal`, `-wal`, `-shm`) must be a regular file, not
 * a symlink (SQLite opens them blocking: a FIFO journal would hang it), the database at most
 * {@link MAX_SQLITE_FILE_BYTES}. Once open, before any query: `PRAGMA trusted_schema=OFF`,
 * and the schema must hold plain tables and indexes only: no view (a recursive view never
 * ends), no trigger, no virtual table, no generated column (computed on every read). An
 * mcp-attest store never has any of them.
 */
import type Database from 'better-sqlite3';
import { closeSync } from 'node:fs';
import { AttestError } from '../errors.js';
import { checkRegular, isNotFound, openRegular, type RegularOptions } from './read-regular.js';

/** Largest SQLite file (log.db, verifier.db) the verifier opens: 1 TiB; a larger one is refused unopened. */
export const MAX_SQLITE_FILE_BYTES = 2 ** 40;

/** The files SQLite opens next to a database. */
const JOURNALS = ['-journal', '-wal', '-shm'] as const;

/**
 * Check the files of the SQLite database `path` before opening it (see the module comment).
 * `o.follow`: `path` itself may be a symlink (a path the user named); `o.mayBeMissing`: a
 * database that does not exist yet is fine. Returns the path to give SQLite (resolved when
 * `o.follow`). Throws `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`, `ERR_STORE_IO`
 * (ENOENT and the like).
 */
export function checkSqliteFiles(path: string, o: RegularOptions & { mayBeMissing?: boolean } = {}): string {
  const what = o.what ?? 'database';
  let target: string;
  try {
    const opened = openRegular(path, MAX_SQLITE_FILE_BYTES, { ...o, what });
    closeSync(opened.fd);
    target = opened.path;
  } catch (e) {
    if (o.mayBeMissing && isNotFound(e)) target = path;
    else throw e;
  }
  for (const suffix of JOURNALS) {
    try {
      checkRegular(target + suffix, MAX_SQLITE_FILE_BYTES, { what: `${what} journal` });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return target;
}

function refuse(what: string, path: string, thing: string): AttestError {
  return new AttestError('ERR_STORE_CORRUPT', `${what} ${path} holds ${thing}: refused (a store mcp-attest wrote has only plain tables; nothing was queried)`, { path });
}

/**
 * Turn off `trusted_schema` on `db` and check its schema (see the module comment). Runs no
 * query on any table. Throws `ERR_STORE_CORRUPT` naming the object found.
 */
export function checkPlainSchema(db: Database.Database, what: string, path: string): void {
  db.pragma('trusted_schema = OFF');
  const rows = db.prepare('SELECT type, name, sql FROM sqlite_schema').all() as Array<{ type: string; name: string; sql: string | null }>;
  for (const r of rows) {
    if (r.type === 'view' || r.type === 'trigger') throw refuse(what, path, `a ${r.type} "${r.name}"`);
    if (r.type !== 'table') continue;
    if (/^\s*create\s+virtual\b/i.test(r.sql ?? '')) throw refuse(what, path, `a virtual table "${r.name}"`);
    const cols = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(r.name) as Array<{ name: string; hidden: number }>;
    const generated = cols.find((c) => c.hidden === 2 || c.hidden === 3);
    if (generated) throw refuse(what, path, `a generated column "${r.name}.${generated.name}"`);
  }
}
