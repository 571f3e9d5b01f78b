/**
 * How a record becomes a stored entry, the same for both log drivers (store/log-db.ts,
 * store/pg-log.ts): in a private log its salted commitment with its opening, in any other the
 * record itself.
 * @see docs/log-format.md "Format v2"
 */
import { AttestError } from '../errors.js';
import { randomBytesPooled } from './random-pool.js';
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
