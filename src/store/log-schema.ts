/**
 * The tables of a SQLite log (store/log-db.ts; docs/log-format.md) and the one change a log
 * made before format v2 needs: the `salt` and `record` columns of its entries.
 */
import type Database from 'better-sqlite3';

/**
 * The page size of a new log file, bytes: 1,024, not SQLite's 4,096. Each append writes the
 * last page of `entries` to the WAL again, whole, and the checkpoint copies it again; with a
 * typical private entry (its row about 1.1 KiB) an append wrote 6.9 KB to the WAL with 4 KiB
 * pages and writes 3.3 KB with 1 KiB pages. Per sequential call (two appends, checkpoints
 * and the evidence store included) 25.7 KB became 18.5 KB, with no difference measured in
 * time per call or in `verify` (docs/design-notes.md). A log created earlier keeps its
 * 4 KiB pages. The evidence store keeps 4 KiB: its payloads are often tens of KiB, which
 * small pages made 25–50% slower to append.
 */
export const LOG_PAGE_SIZE = 1024;

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

/** Most cosignature rows a writable open indexes by witness when the index is missing (~0.1 s); a larger table is left as it is. */
export const WITNESS_INDEX_MAX_ROWS = 100_000;

/**
 * Make the index on `cosignatures(witness, size)` by which a bundle's checkpoint is found
 * (store/checkpoint-choice.ts) when it is missing and the table holds at most
 * {@link WITNESS_INDEX_MAX_ROWS} rows: a new log gets it at once and keeps it as it grows. A
 * log made before it with more rows is not indexed on open (its writers would wait while
 * millions of rows are, past their busy timeout): its bundles count the rows as before,
 * until its operator makes the index at a quiet time (docs/log-format.md "Storage").
 */
export function indexWitnesses(db: Database.Database): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'cosignatures_by_witness'").get() !== undefined) return;
  const rows = (db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM cosignatures LIMIT ${WITNESS_INDEX_MAX_ROWS + 1})`).get() as { n: number }).n;
  if (rows <= WITNESS_INDEX_MAX_ROWS) db.exec('CREATE INDEX IF NOT EXISTS cosignatures_by_witness ON cosignatures (witness, size)');
}
