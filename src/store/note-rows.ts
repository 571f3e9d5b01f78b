/**
 * Reading a log file's checkpoint notes, cosignature lines and sizes as hostile input (store/log-db.ts, store/pg-log.ts):
 * each at most one character longer than a note may be (log/note.ts `MAX_NOTE_SIZE`), and lines
 * only until they make a note that long, so the note's parser refuses it as too large
 * (`ERR_NOTE_MALFORMED`) without a file's note or lines ever being read whole.
 */
import { AttestError } from '../errors.js';
import { MAX_NOTE_SIZE } from '../log/note.js';

/** SQL column `note`, cut one character past the largest note. */
export const NOTE_COLUMN = `substr(note, 1, ${MAX_NOTE_SIZE + 1}) AS note`;
/** SQL column `line`, cut the same way. */
export const LINE_COLUMN = `substr(line, 1, ${MAX_NOTE_SIZE + 1}) AS line`;
/**
 * The least a cosignature line counts towards a note's size while lines are read: no valid
 * line is shorter (its signature alone is 104 base64 characters), and an empty or NULL line
 * counted as nothing would let a table of millions through; at most 16,385 lines are read.
 */
const MIN_LINE_CHARGE = 64;

/**
 * PostgreSQL: the cosignature lines (cut as {@link LINE_COLUMN}) of the checkpoints `where`
 * selects (SQL over `size`, with its `$n` parameters), each size's in witness order and only
 * until they total more than a note may be (each counted as at least {@link MIN_LINE_CHARGE}),
 * as {@link boundedLines} reads SQLite's rows: the server counts, so a table of a million
 * lines for one size never reaches the client. Columns `size` and `line`, ordered by size,
 * then witness. Witness names are ordered by their bytes (`COLLATE "C"`), as SQLite orders
 * them, whatever the database's collation: both stores give the same cosigned note and cut
 * the same lines. `where` is SQL: a constant of the caller's, never input.
 */
export const boundedLinesSql = (where: string): string => `SELECT size, line FROM (SELECT size, witness, ${LINE_COLUMN},
  coalesce(sum(greatest(coalesce(length(substr(line, 1, ${MAX_NOTE_SIZE + 1})), 0), ${MIN_LINE_CHARGE})) OVER (PARTITION BY size ORDER BY witness COLLATE "C" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
  FROM mcp_attest.cosignatures WHERE ${where}) AS lines WHERE before <= ${MAX_NOTE_SIZE} ORDER BY size, witness COLLATE "C"`;

/**
 * The lines of `rows` (a statement's `{ line }` rows, in order) until they total more than a
 * note may be, each counted as at least {@link MIN_LINE_CHARGE}; the statement is closed early then.
 */
export function boundedLines(rows: IterableIterator<{ line: unknown }>): string[] {
  const lines: string[] = [];
  let total = 0;
  for (const r of rows) {
    const line = String(r.line);
    lines.push(line);
    total += Math.max(line.length, MIN_LINE_CHARGE);
    if (total > MAX_NOTE_SIZE) break;
  }
  return lines;
}

/** The `size` column of checkpoint rows as tree sizes; `ERR_STORE_CORRUPT` for a value that is not one (a hostile row). */
export function sizesOf(rows: Array<{ size: unknown }>): bigint[] {
  return rows.map((r) => {
    const v = typeof r.size === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(r.size) ? BigInt(r.size) : r.size;
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new AttestError('ERR_STORE_CORRUPT', `a checkpoint row's size is not a tree size: ${String(v).slice(0, 40)}`);
    return v;
  });
}
