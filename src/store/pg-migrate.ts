/**
 * `mcp-attest log migrate --to postgres://…`: move a data directory's SQLite log to
 * PostgreSQL with the same indices, entries, openings, checkpoints (and so the same roots),
 * cosignatures, witness sizes and witness events, in one transaction that commits only once the root of
 * every checkpoint has been checked against the moved tree. The SQLite log is only read. Stop the proxies writing to
 * it first: entries appended during the move are not moved (the command says how many it
 * moved), and the data directory, once moved, is not moved again; a recorder still open signs
 * no checkpoint after the move, and the integrator signs only a fleet's tree extending the
 * SQLite log's latest checkpoint (cli/fleet-home.ts).
 * @see docs/fleet.md
 */
import { AttestError } from '../errors.js';
import { equalBytes } from '../bytes/index.js';
import { EMPTY_ROOT, leafHash } from '../log/hash.js';
import { nodeKey } from '../log/async-nodes.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { parseNote } from '../log/note.js';
import type { StoredNode } from '../log/tree.js';
import { CompactRoots } from '../log/compact-range.js';
import type { LogDb } from './log-db.js';
import { insertEntries, lockCounter, type PgLog } from './pg-log.js';
import { compactRange, integrateLeaves } from './pg-integrator.js';
import type pg from 'pg';

/** What a migration moved. */
export interface Migrated { entries: bigint; checkpoints: number; cosignatures: number }

const CHUNK = 1000;

/** Copy the entries and compute every Merkle node; returns the entry count, the tree's root, and the roots at `sizes`. */
async function copyTree(db: LogDb, c: pg.ClientBase, sizes: Set<bigint>): Promise<{ size: bigint; root: Uint8Array; roots: CompactRoots }> {
  const roots = new CompactRoots(sizes);
  const edge = new Map<string, Uint8Array>();
  let size = 0n;
  let rows: Array<[bigint, Uint8Array, Uint8Array | null, Uint8Array | null]> = [];
  let root: Uint8Array = EMPTY_ROOT;
  const flush = async (): Promise<void> => {
    if (rows.length === 0) return;
    await insertEntries(c, rows);
    const leaves = rows.map(([, data]) => leafHash(data));
    for (const l of leaves) roots.appendLeafHash(l);
    const { nodes, root: r } = integrateLeaves(size, leaves, edge);
    await insertNodes(c, nodes);
    // Only the right edge is needed to go on: keep memory bounded.
    size += BigInt(rows.length);
    const keep = new Set(compactRange(size).map(([l, i]) => nodeKey(l, i)));
    for (const k of edge.keys()) if (!keep.has(k)) edge.delete(k);
    root = r;
    rows = [];
  };
  for (const row of db.storedRows()) {
    if (row.idx !== size + BigInt(rows.length)) throw new AttestError('ERR_STORE_CORRUPT', `entry ${size + BigInt(rows.length)} is missing from the SQLite log`, { index: size + BigInt(rows.length) });
    rows.push([row.idx, row.data, row.salt, row.record]);
    if (rows.length >= CHUNK) await flush();
  }
  await flush();
  return { size, root, roots };
}

async function insertNodes(c: pg.ClientBase, nodes: StoredNode[]): Promise<void> {
  await c.query('INSERT INTO mcp_attest.nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])',
    [nodes.map((n) => n.level), nodes.map((n) => n.index.toString()), nodes.map((n) => Buffer.from(n.hash))]);
}

/**
 * Move the log `db` into the empty PostgreSQL log `log`; `beforeCommit(entries)` runs last
 * inside the transaction (the data directory's marker: store/home.ts `moved`); `origin`, the
 * data directory's log origin, becomes the fleet's log's (pg-integrator.ts `checkOrigin`). Throws `ERR_USAGE` when `log`
 * already has entries, `ERR_STORE_CORRUPT` when the SQLite log has a gap or a moved
 * checkpoint's root differs from the moved tree's, `ERR_STORE_IO`.
 */
export async function migrateToPostgres(db: LogDb, log: PgLog, o: { beforeCommit?: (entries: bigint) => void; origin?: string } = {}): Promise<Migrated> {
  const checkpoints = db.db.prepare('SELECT size, note, created FROM checkpoints ORDER BY size').safeIntegers(true).all() as Array<{ size: bigint; note: string; created: bigint }>;
  const cosignatures = db.db.prepare('SELECT size, witness, line, received FROM cosignatures').safeIntegers(true).all() as Array<{ size: bigint; witness: string; line: string; received: bigint }>;
  const witnessSizes = db.db.prepare('SELECT witness, size FROM witness_sizes').safeIntegers(true).all() as Array<{ witness: string; size: bigint }>;
  const events = db.hasTable('witness_events') ? db.db.prepare('SELECT at, witness, size, code, message FROM witness_events ORDER BY id').safeIntegers(true).all() as Array<{ at: bigint; witness: string; size: bigint; code: string; message: string }> : [];
  const moved = await log.transaction(async (c) => {
    if ((await lockCounter(c)) !== 0n) throw new AttestError('ERR_USAGE', 'the PostgreSQL log already has entries: migrate into an empty database');
    const { size, root, roots } = await copyTree(db, c, new Set(checkpoints.map((cp) => cp.size)));
    // Every moved checkpoint must name the moved tree's root at its size, before anything commits.
    for (const cp of checkpoints) {
      if (cp.size > size) continue;
      if (!equalBytes(parseCheckpoint(parseNote(cp.note).text).rootHash, roots.rootAt(cp.size))) {
        throw new AttestError('ERR_STORE_CORRUPT', `the checkpoint of size ${cp.size} does not name the moved tree's root`, { index: cp.size });
      }
    }
    const latest = checkpoints.filter((cp) => cp.size <= size).at(-1)?.size ?? 0n;
    for (const cp of checkpoints) if (cp.size <= size) await c.query('INSERT INTO mcp_attest.checkpoints (size, note, created) VALUES ($1, $2, $3)', [cp.size.toString(), cp.note, cp.created.toString()]);
    for (const x of cosignatures) if (x.size <= size) await c.query('INSERT INTO mcp_attest.cosignatures (size, witness, line, received) VALUES ($1, $2, $3, $4)', [x.size.toString(), x.witness, x.line, x.received.toString()]);
    for (const w of witnessSizes) await c.query('INSERT INTO mcp_attest.witness_sizes (witness, size) VALUES ($1, $2)', [w.witness, w.size.toString()]);
    // The witnesses' refusals and alarms, in order: `log status` and `log serve` show them after the move too.
    for (const e of events) await c.query('INSERT INTO mcp_attest.witness_events (at, witness, size, code, message) VALUES ($1, $2, $3, $4, $5)', [e.at.toString(), e.witness, e.size.toString(), e.code, e.message]);
    await c.query('UPDATE mcp_attest.counter SET next_idx = $1 WHERE id = 1', [size.toString()]);
    await c.query('UPDATE mcp_attest.log_state SET integrated = $1, root = $2, checkpoint_size = $3, origin = coalesce($4, origin) WHERE id = 1', [size.toString(), Buffer.from(root), latest.toString(), o.origin ?? null]);
    o.beforeCommit?.(size);
    return size;
  });
  return { entries: moved, checkpoints: checkpoints.filter((c) => c.size <= moved).length, cosignatures: cosignatures.filter((c) => c.size <= moved).length };
}
