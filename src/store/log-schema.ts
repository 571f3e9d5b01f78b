/**
 * The tables of a SQLite log (store/log-db.ts; docs/log-format.md) and the one change a log
 * made before format v2 needs: the `salt` and `record` columns of its entries.
 */
import type Database from 'better-sqlite3';

/** The log's tables (docs/log-format.md), created when missing. */
export const LOG_SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL, leaf BLOB NOT NULL, up BLOB NOT NULL DEFAULT x'', salt BLOB, record BLOB);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cosignatures (size INTEGER NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (size, witness)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS witness_sizes (witness TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS witness_events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, witness TEXT NOT NULL, size INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, start_idx INTEGER NOT NULL, agent_key TEXT NOT NULL, task TEXT NOT NULL, delegator TEXT NOT NULL,
  policy_digest TEXT, created TEXT NOT NULL, action_count INTEGER NOT NULL, last_digest TEXT NOT NULL, last_action_idx INTEGER, seal_idx INTEGER, seal_digest TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_entries (session_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, seq INTEGER, digest TEXT NOT NULL,
  PRIMARY KEY (session_id, idx)) WITHOUT ROWID;
`;

/** Whether `entries` has the `salt` and `record` columns of a v2 log. */
export function hasOpeningColumns(db: Database.Database): boolean {
  return (db.prepare("SELECT name FROM pragma_table_info('entries')").all() as Array<{ name: string }>).some((c) => c.name === 'record');
}

/** Add the `salt` and `record` columns to a log made before v2 (it stays a v1 log: they stay NULL). */
export function addOpeningColumns(db: Database.Database): void {
  if (hasOpeningColumns(db)) return;
  db.transaction(() => {
    if (!hasOpeningColumns(db)) db.exec('ALTER TABLE entries ADD COLUMN salt BLOB; ALTER TABLE entries ADD COLUMN record BLOB');
  }).immediate();
}
