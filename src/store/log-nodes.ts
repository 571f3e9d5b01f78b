/**
 * Where the log's Merkle nodes live in log.db: in the rows of the entries that complete
 * them. Appending leaf `i` completes its own node (level 0, index i: the `leaf` column) and,
 * when `i` ends in L one-bits, its ancestors at levels 1..L; their hashes, bottom up, are the
 * entry's `up` column (32·L bytes). So node (level L >= 1, index n) is bytes
 * [32·(L-1), 32·L) of `up` in row (n+1)·2^L - 1, and an append writes one row, near the
 * others, not a row per node across a separate index (two or three pages more per append).
 * Logs written before (a `nodes(level, idx, hash)` table) are moved to this layout when
 * first opened for writing, in one transaction; opened read-only they are read as they are.
 * @see RFC 9162 §2.1.1; docs/log-format.md (Storage)
 */
import type Database from 'better-sqlite3';
import { AttestError } from '../errors.js';
import { HASH_SIZE } from '../log/hash.js';
import type { NodeReader } from '../log/tree.js';

const corrupt = (level: number, index: bigint): AttestError => new AttestError('ERR_STORE_CORRUPT', `missing node ${level}/${index}`);

function hasNodesTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nodes'").get() !== undefined;
}

/** The log's {@link NodeReader}: from the entries' rows, or from a `nodes` table (a log of the earlier layout opened read-only). Throws `ERR_STORE_CORRUPT` for a node that is not stored. */
export function nodeReader(db: Database.Database): NodeReader {
  if (hasNodesTable(db)) {
    const get = db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?');
    return (level, index) => {
      const row = get.get(level, index) as { hash: Buffer } | undefined;
      if (!row) throw corrupt(level, index);
      return new Uint8Array(row.hash);
    };
  }
  const leaf = db.prepare('SELECT leaf FROM entries WHERE idx = ?');
  const up = db.prepare('SELECT up FROM entries WHERE idx = ?');
  return (level, index) => {
    if (level === 0) {
      const row = leaf.get(index) as { leaf: Buffer } | undefined;
      if (!row || row.leaf.length !== HASH_SIZE) throw corrupt(level, index);
      return new Uint8Array(row.leaf);
    }
    const row = up.get(((index + 1n) << BigInt(level)) - 1n) as { up: Buffer } | undefined;
    if (!row || row.up.length < HASH_SIZE * level) throw corrupt(level, index);
    return new Uint8Array(row.up.subarray(HASH_SIZE * (level - 1), HASH_SIZE * level));
  };
}

/**
 * Move a log of the earlier layout (`nodes` table, no `up` column) to this one, in one
 * immediate transaction (another process opening it at the same time waits, then finds it
 * done). Nothing recorded changes: every entry, leaf and node hash is kept, only moved.
 * Throws `ERR_STORE_CORRUPT` when a node the entries need is missing.
 */
export function migrateNodes(db: Database.Database): void {
  const hasUp = (): boolean => (db.prepare("SELECT name FROM pragma_table_info('entries')").all() as Array<{ name: string }>).some((c) => c.name === 'up');
  if (hasUp() && !hasNodesTable(db)) return;
  db.transaction(() => {
    if (!hasUp()) db.exec("ALTER TABLE entries ADD COLUMN up BLOB NOT NULL DEFAULT x''");
    if (!hasNodesTable(db)) return;
    const get = db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?');
    const set = db.prepare('UPDATE entries SET up = ? WHERE idx = ?');
    const odd = db.prepare('SELECT idx FROM entries WHERE idx % 2 = 1 ORDER BY idx').safeIntegers(true);
    for (const { idx } of odd.all() as Array<{ idx: bigint }>) {
      const parents: Buffer[] = [];
      for (let level = 1; ((idx + 1n) & ((1n << BigInt(level)) - 1n)) === 0n; level++) {
        const index = ((idx + 1n) >> BigInt(level)) - 1n;
        const row = get.get(level, index) as { hash: Buffer } | undefined;
        if (!row) throw corrupt(level, index);
        parents.push(row.hash);
      }
      set.run(Buffer.concat(parents), idx);
    }
    db.exec('DROP TABLE nodes');
  }).immediate();
}
