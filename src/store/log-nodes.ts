/**
 * Where the log's Merkle nodes live in log.db: in the rows of the entries that complete
 * them. Appending leaf `i` completes its own node (level 0, index i: the `leaf` column) and,
 * when `i` ends in L one-bits, its ancestors at levels 1..L; their hashes, bottom up, are the
 * entry's `up` column (32·L bytes). So node (level L >= 1, index n) is bytes
 * [32·(L-1), 32·L) of `up` in row (n+1)·2^L - 1, and an append writes one row, near the
 * others, not a row per node across a separate index (two or three pages more per append).
 * Logs written before (a `nodes(level, idx, hash)` table) are moved to this layout when
 * first opened for writing, in one transaction; opened read-only they are read as they are.
 * An earlier version opening a moved log creates an empty `nodes` table again and appends
 * entries without `up`: the next writable open here repairs both from the leaf hashes.
 * @see RFC 9162 §2.1.1; docs/log-format.md (Storage)
 */
import type Database from 'better-sqlite3';
import { AttestError } from '../errors.js';
import { HASH_SIZE } from '../log/hash.js';
import { appendNodes, type NodeReader } from '../log/tree.js';

const corrupt = (level: number, index: bigint): AttestError => new AttestError('ERR_STORE_CORRUPT', `missing node ${level}/${index}`);

function hasNodesTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nodes'").get() !== undefined;
}

function hasUpColumn(db: Database.Database): boolean {
  return (db.prepare("SELECT name FROM pragma_table_info('entries')").all() as Array<{ name: string }>).some((c) => c.name === 'up');
}

/**
 * The log's {@link NodeReader}: from the entries' rows, or, for a log of the earlier layout
 * opened read-only (no `up` column), from its `nodes` table. Throws `ERR_STORE_CORRUPT` for a
 * node that is not stored.
 */
export function nodeReader(db: Database.Database): NodeReader {
  if (!hasUpColumn(db)) {
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

/** Parents (levels >= 1) entry `idx` completes: as many as its index ends in one-bits. */
function parentCount(idx: bigint): number {
  let n = 0;
  for (let i = idx; (i & 1n) === 1n; i >>= 1n) n++;
  return n;
}

/**
 * Bring a log to this layout, in one immediate transaction (another process opening it at
 * the same time waits, then finds it done): add the `up` column if missing, then compute,
 * in index order from the entries' own leaf hashes, the `up` of every entry that lacks it
 * (a log of the earlier layout, or entries an earlier version appended after the move), and
 * drop a `nodes` table (which an earlier version creates again). Runs when the column is
 * missing or a `nodes` table exists. Nothing recorded changes: entries and leaf hashes are
 * kept; every node is recomputed from them, as the tree defines it.
 */
export function migrateNodes(db: Database.Database): void {
  if (hasUpColumn(db) && !hasNodesTable(db)) return;
  db.transaction(() => {
    if (!hasUpColumn(db)) db.exec("ALTER TABLE entries ADD COLUMN up BLOB NOT NULL DEFAULT x''");
    const read = nodeReader(db);
    const set = db.prepare('UPDATE entries SET up = ? WHERE idx = ?');
    const odd = db.prepare('SELECT idx, length(up) AS n FROM entries WHERE idx % 2 = 1 ORDER BY idx').safeIntegers(true);
    for (const { idx, n } of odd.all() as Array<{ idx: bigint; n: bigint }>) {
      if (Number(n) === HASH_SIZE * parentCount(idx)) continue;
      const parents = appendNodes(idx, read(0, idx), read).slice(1).map((p) => p.hash);
      set.run(Buffer.concat(parents), idx);
    }
    if (hasNodesTable(db)) db.exec('DROP TABLE nodes');
  }).immediate();
}
