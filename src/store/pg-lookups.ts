/**
 * The lookups of store/checkpoint-choice.ts's search on a fleet's PostgreSQL log
 * (store/pg-bundle.ts). A witness at a time only where `mcp_attest.cosignatures` has an index
 * whose first columns are `(witness, size)`: the schema (store/pg-schema.ts) makes none, and
 * an operator may (`CREATE INDEX ON mcp_attest.cosignatures (witness, size)`, as the table's
 * owner; docs/fleet.md). Without it each witness's lookup would read the table, and the
 * choice counts the cosignature rows instead, in one statement.
 */
import type { PgLog } from './pg-log.js';
import { MAX_WITNESSES, type Lookup, type Size } from './checkpoint-choice.js';
import { sizesOf } from './note-rows.js';

/** Whether `mcp_attest.cosignatures` has a valid, whole index on `(witness, size, …)` in the columns' own collations. */
const WITNESS_INDEXED = `SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = 'mcp_attest.cosignatures'::regclass
  AND i.indisvalid AND i.indisready AND i.indpred IS NULL AND i.indnatts >= 2
  AND i.indkey[0] = (SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = i.indrelid AND attname = 'witness')
  AND i.indkey[1] = (SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = i.indrelid AND attname = 'size')
  AND i.indcollation[0] = (SELECT attcollation FROM pg_catalog.pg_attribute WHERE attrelid = i.indrelid AND attname = 'witness') LIMIT 1`;

/**
 * Of the cosigned checkpoints of size from `$1` below `$2`, the one with the most cosignature
 * rows, the largest on a tie, and its count (one with none never beats the search's best):
 * the rows counted once each, grouped by size, not once per checkpoint. The groups come
 * sorted (`OFFSET 0` keeps them so) for the server to look them up among the checkpoints in
 * that order until one is there; the outer `ORDER BY` is what makes the order the answer's,
 * whatever the plan. 0.5 s at a million checkpoints and two million cosignatures, where a
 * count per checkpoint took 3.5 s (docs/design-notes.md).
 */
const SCAN = `SELECT g.size, g.n FROM (SELECT size, count(*) AS n FROM mcp_attest.cosignatures WHERE size >= $1 AND size < $2
  GROUP BY size ORDER BY n DESC, size DESC OFFSET 0) AS g WHERE EXISTS (SELECT 1 FROM mcp_attest.checkpoints c WHERE c.size = g.size)
  ORDER BY g.n DESC, g.size DESC LIMIT 1`;

/**
 * The answers of the fleet's log to the search for the checkpoint of size at least `from`
 * (store/checkpoint-choice.ts {@link Lookup}); `count`, the one the search starts from.
 */
export function pgLookups(log: PgLog, from: bigint): { count(size: Size): Promise<{ n: number; checkpoint: bigint | null }>; answer(l: Lookup): Promise<unknown> } {
  const row = async (sql: string, ...args: unknown[]): Promise<Record<string, unknown> | undefined> => (await log.pool.query(sql, args)).rows[0];
  const size = (v: unknown): bigint | null => (v === null || v === undefined ? null : sizesOf([{ size: v }])[0]!);
  const count = async (at: Size): Promise<{ n: number; checkpoint: bigint | null }> => {
    const r = await row('SELECT (SELECT count(*) FROM mcp_attest.cosignatures WHERE size = $1) AS n, (SELECT size FROM mcp_attest.checkpoints WHERE size = $1) AS c', at.toString());
    return { n: Number(r!['n']), checkpoint: size(r!['c']) };
  };
  const witnesses = async (): Promise<unknown[] | null> => {
    if ((await row(WITNESS_INDEXED)) === undefined) return null;
    const out: unknown[] = [];
    for (let w = (await row('SELECT min(witness) AS w FROM mcp_attest.cosignatures'))!['w']; w !== null; w = (await row('SELECT min(witness) AS w FROM mcp_attest.cosignatures WHERE witness > $1', w))!['w']) {
      if (out.push(w) > MAX_WITNESSES) return null;
    }
    return out;
  };
  const answer = async (l: Lookup): Promise<unknown> => {
    switch (l.kind) {
      case 'witnesses': return witnesses();
      case 'before': return size((await row('SELECT max(size) AS s FROM mcp_attest.cosignatures WHERE witness = $1 AND size >= $2 AND size < $3', l.witness, from.toString(), l.below.toString()))!['s']);
      case 'count': return count(l.size);
      case 'scan': {
        const r = await row(SCAN, from.toString(), l.below.toString());
        return r === undefined ? null : { size: size(r['size'])!, n: Number(r['n']) };
      }
    }
  };
  return { count, answer };
}
