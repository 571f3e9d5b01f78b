/**
 * The lookups of store/checkpoint-choice.ts's search on a SQLite log (store/log-db.ts), and
 * whether its tables are as mcp-attest makes them, the search's premise: `checkpoints.size`
 * an INTEGER key, `cosignatures` keyed by (size INTEGER, witness TEXT NOT NULL), so a count
 * of rows under a size is a count of distinct witnesses. A log file someone else made may
 * declare them otherwise; the choice then counts every row, as it always did.
 */
import type { LogDb } from './log-db.js';
import { MAX_WITNESSES, type Lookup, type Size } from './checkpoint-choice.js';

const asWritten = new WeakMap<LogDb, boolean>();

/** A column of `table` as `pragma_table_info` lists it. */
type Column = { name: string; type: string; notnull: number; pk: number };

/** Whether `db`'s `checkpoints` and `cosignatures` are declared as mcp-attest declares them (see the module comment); read once per connection. */
export function tablesAsWritten(db: LogDb): boolean {
  let ok = asWritten.get(db);
  if (ok === undefined) {
    const cols = (table: string): Column[] => db.db.prepare('SELECT name, upper(type) AS type, "notnull", pk FROM pragma_table_info(?)').all(table) as Column[];
    const has = (list: Column[], c: Column): boolean => list.some((x) => x.name === c.name && x.type === c.type && x.notnull === c.notnull && x.pk === c.pk);
    const cp = cols('checkpoints');
    const cs = cols('cosignatures');
    ok = has(cp, { name: 'size', type: 'INTEGER', notnull: 0, pk: 1 }) && cp.filter((c) => c.pk > 0).length === 1
      && has(cs, { name: 'size', type: 'INTEGER', notnull: 1, pk: 1 }) && has(cs, { name: 'witness', type: 'TEXT', notnull: 1, pk: 2 }) && cs.filter((c) => c.pk > 0).length === 2
      && db.db.prepare("SELECT 1 FROM pragma_table_xinfo('cosignatures') WHERE name IN ('size', 'witness') AND hidden <> 0").get() === undefined;
    asWritten.set(db, ok);
  }
  return ok;
}

/**
 * Whether `db` has an index that serves the search's lookups of a witness's sizes: over
 * `cosignatures`, whole (not partial), its first columns `witness` and `size` in their own
 * collation, as `cosignatures_by_witness` (store/log-schema.ts `indexWitnesses`).
 * Without one each lookup would read the table, and the search is not run.
 */
function witnessIndexed(db: LogDb): boolean {
  return db.statement(`SELECT 1 FROM pragma_index_list('cosignatures') AS l WHERE l.partial = 0
    AND EXISTS (SELECT 1 FROM pragma_index_xinfo(l.name) AS i WHERE i.seqno = 0 AND i.name = 'witness' AND i.coll = 'BINARY')
    AND EXISTS (SELECT 1 FROM pragma_index_xinfo(l.name) AS i WHERE i.seqno = 1 AND i.name = 'size' AND i.coll = 'BINARY')`).get() !== undefined;
}

/**
 * The answers of `db` to the search for the checkpoint of size at least `from`
 * (store/checkpoint-choice.ts {@link Lookup}); `count`, the one the search starts from.
 * For a log whose tables are as written ({@link tablesAsWritten}).
 */
export function sqliteLookups(db: LogDb, from: bigint): { count(size: Size): { n: number; checkpoint: bigint | null }; answer(l: Lookup): unknown } {
  const get = (sql: string, ...args: unknown[]): Record<string, unknown> => db.statement(sql).safeIntegers(true).get(...args) as Record<string, unknown>;
  const count = (size: Size): { n: number; checkpoint: bigint | null } => {
    const r = get('SELECT (SELECT count(*) FROM cosignatures WHERE size = ?) AS n, (SELECT size FROM checkpoints WHERE size = ?) AS c', size, size);
    return { n: Number(r['n']), checkpoint: r['c'] as bigint | null };
  };
  const witnesses = (): unknown[] | null => {
    if (!witnessIndexed(db)) return null;
    // Rows a walk by value cannot reach (a NULL witness, in a table made to hold one) are counted only by the full count.
    if (get('SELECT EXISTS (SELECT 1 FROM cosignatures WHERE witness IS NULL) AS x')['x'] !== 0n) return null;
    const out: unknown[] = [];
    for (let w = get('SELECT min(witness) AS w FROM cosignatures')['w']; w !== null; w = get('SELECT min(witness) AS w FROM cosignatures WHERE witness > ?', w)['w']) {
      // A value that does not read back as itself (text not UTF-8, changed on the way out) would skip the witnesses between: the full count instead.
      if (get('SELECT EXISTS (SELECT 1 FROM cosignatures WHERE witness = ?) AS x', w)['x'] === 0n) return null;
      if (out.push(w) > MAX_WITNESSES) return null;
    }
    return out;
  };
  const answer = (l: Lookup): unknown => {
    switch (l.kind) {
      case 'witnesses': return witnesses();
      case 'before': return get('SELECT max(size) AS s FROM cosignatures WHERE witness = ? AND size >= ? AND size < ?', l.witness, from, l.below)['s'];
      case 'count': return count(l.size);
      case 'scan': {
        const r = db.statement('SELECT size, n FROM (SELECT size, (SELECT count(*) FROM cosignatures s WHERE s.size = c.size) AS n FROM checkpoints c WHERE c.size >= ? AND c.size < ?) ORDER BY n DESC, size DESC LIMIT 1')
          .safeIntegers(true).get(from, l.below) as { size: bigint; n: bigint } | undefined;
        return r === undefined ? null : { size: r.size, n: Number(r.n) };
      }
    }
  };
  return { count, answer };
}
