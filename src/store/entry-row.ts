/**
 * How a record becomes a stored entry, the same for both log drivers (store/log-db.ts,
 * store/pg-log.ts): in a private log its salted commitment with its opening, in any other the
 * record itself.
 * @see docs/log-format.md "Format v2"
 */
import type Database from 'better-sqlite3';
import { AttestError } from '../errors.js';
import { randomBytesPooled } from '../bytes/random.js';
import { commitmentEntry, SALT_BYTES } from '../log/opening.js';
import type { EntriesMode } from '../records/record.js';

/** Largest entry accepted: the C2SP entry-bundle limit. */
export const MAX_ENTRY_BYTES = 65535;

/**
 * The row a record is stored as, in a log of format `mode`: in a private log its salted
 * commitment with the opening (a fresh 16-byte salt, log/opening.ts), in any other the record
 * itself. Throws `ERR_ENTRY_TOO_LARGE` past 65,535 bytes.
 */
export function entryRow(record: Uint8Array, mode: EntriesMode | 'v1' | null): { data: Uint8Array; salt: Uint8Array | null; record: Uint8Array | null } {
  if (record.length > MAX_ENTRY_BYTES) throw new AttestError('ERR_ENTRY_TOO_LARGE', 'log entry larger than 65535 bytes', { found: record.length });
  if (mode !== 'private') return { data: record, salt: null, record: null };
  const salt = randomBytesPooled(SALT_BYTES);
  return { data: commitmentEntry(salt, record), salt, record };
}

/**
 * SQL selecting `column` cut one byte past the largest entry when it is longer (`length` and
 * `substr`, the same for SQLite and PostgreSQL, blobs and bytea alike; an empty blob stays one,
 * which SQLite's `substr` would make NULL): a hostile row of hundreds of MB is never read whole
 * (in PostgreSQL, never even sent), and {@link entryBytes} refuses it as too long.
 */
export const cutColumn = (column: string): string => `CASE WHEN length(${column}) > ${MAX_ENTRY_BYTES} THEN substr(${column}, 1, ${MAX_ENTRY_BYTES + 1}) ELSE ${column} END AS ${column}`;

/**
 * A column read through {@link cutColumn}: its bytes, or null when it holds no bytes (NULL,
 * or a value of another type); throws `ERR_STORE_CORRUPT` when it is longer than an entry
 * may be (entry `index`).
 */
export function entryBytes(v: unknown, index: unknown): Uint8Array | null {
  if (!Buffer.isBuffer(v)) return null;
  if (v.length > MAX_ENTRY_BYTES) throw new AttestError('ERR_STORE_CORRUPT', `a column of entry ${String(index)} is larger than ${MAX_ENTRY_BYTES} bytes`);
  return new Uint8Array(v);
}

/** A stored row of the SQLite log: the entry as published, and a private entry's opening (null members when it has none). */
export interface StoredRow { idx: bigint; data: Uint8Array; salt: Uint8Array | null; record: Uint8Array | null }

/**
 * The rows of the SQLite log's `entries` table (index order) matching `where` (SQL over
 * `data` and, when the table has them (`openings`), `salt` and `record`; `?` bound to `arg`).
 * Throws `ERR_STORE_CORRUPT` for a row of other types.
 */
export function* storedRows(db: Database.Database, openings: boolean, where: string, arg?: Buffer): Generator<StoredRow> {
  const cols = openings ? 'idx, data, salt, record' : 'idx, data';
  const stmt = db.prepare(`SELECT ${cols} FROM entries ${where} ORDER BY idx`).safeIntegers(true);
  const it = (arg === undefined ? stmt.iterate() : stmt.iterate(arg)) as IterableIterator<{ idx: unknown; data: unknown; salt?: unknown; record?: unknown }>;
  const blob = (v: unknown): v is Buffer | null | undefined => v == null || Buffer.isBuffer(v);
  // A plain Uint8Array over the Buffer better-sqlite3 made for this value, in memory of its
  // own (node::Buffer::Copy), not a copy of it: 20,001 rows read in ~105 ms instead of ~140.
  const view = (v: Buffer): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  for (const row of it) {
    if (typeof row.idx !== 'bigint' || !Buffer.isBuffer(row.data) || !blob(row.salt) || !blob(row.record)) throw new AttestError('ERR_STORE_CORRUPT', 'an entry row is not (integer, blob)', { found: String(row.idx) });
    yield { idx: row.idx, data: view(row.data), salt: row.salt == null ? null : view(row.salt), record: row.record == null ? null : view(row.record) };
  }
}
