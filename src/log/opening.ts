/**
 * Private-by-default log entries (log format v2, docs/log-format.md "Format v2"). In a
 * private log each entry after the parameters entry is a salted commitment to its record,
 * not the record:
 *
 * ```
 * entry      = 0x01 || SHA-256(salt || record)        33 bytes
 * salt       = 16 bytes from a CSPRNG, fresh per entry (128 bits)
 * record     = the record's JCS bytes (RFC 8785), as a v1 entry would be
 * leaf hash  = SHA-256(0x00 || entry)                  RFC 6962 §2.1, unchanged
 * ```
 *
 * What a log publishes (tiles, `log serve`, exports) is the entries, so nobody can confirm a
 * guess about a call by hashing candidates: without the salt a commitment says nothing. The
 * salt and record stay in the operator's store; a bundle *opens* an entry by carrying both.
 * Deleting them (erasure) leaves the commitment, and the tree, intact and unopenable.
 *
 * A verifier is handed an entry as its bytes alone (from tiles, a v1 or public log: whatever
 * they are, they are the entry), or as a record with its salt (an opening, from the
 * operator's store or a bundle), never as one byte string standing for both: a hostile
 * tiles file could otherwise pass an opening off as the entry it opens. Runtime-neutral.
 */
import { sha256 } from '../bytes/digest.js';
import { AttestError } from '../errors.js';

/** First byte of a commitment entry. */
export const COMMITMENT_TAG = 0x01;
/** Bytes of a salt. */
export const SALT_BYTES = 16;
/** Bytes of a commitment entry: the tag and a SHA-256. */
export const COMMITMENT_BYTES = 33;

/** The commitment entry of `record` under `salt` (16 bytes): `0x01 || SHA-256(salt || record)`. Throws `ERR_ENTRY_MALFORMED` for a salt of another length. */
export function commitmentEntry(salt: Uint8Array, record: Uint8Array): Uint8Array {
  if (salt.length !== SALT_BYTES) throw new AttestError('ERR_ENTRY_MALFORMED', `a salt is ${SALT_BYTES} bytes`, { found: salt.length });
  const input = new Uint8Array(SALT_BYTES + record.length);
  input.set(salt);
  input.set(record, SALT_BYTES);
  const out = new Uint8Array(COMMITMENT_BYTES);
  out[0] = COMMITMENT_TAG;
  out.set(sha256(input), 1);
  return out;
}

/**
 * What a verifier holds of one entry: `record` (a v1 or public entry, or a parameters entry:
 * the bytes are the record), `sealed` (a commitment entry without its opening: erased, or
 * read from published tiles; or bytes that start like one), or `opened` (a record and its
 * salt, and the commitment entry they make).
 */
export type EntryForm =
  | { form: 'record'; entry: Uint8Array; record: Uint8Array }
  | { form: 'sealed'; entry: Uint8Array }
  | { form: 'opened'; entry: Uint8Array; record: Uint8Array; salt: Uint8Array };

/**
 * Classify an entry given as `bytes` alone, or a record `bytes` opened by `salt`, as
 * {@link EntryForm}. Throws `ERR_ENTRY_MALFORMED` for a salt of another length than 16.
 */
export function entryForm(bytes: Uint8Array, salt?: Uint8Array): EntryForm {
  if (salt !== undefined) return { form: 'opened', entry: commitmentEntry(salt, bytes), record: bytes, salt };
  return bytes[0] === COMMITMENT_TAG ? { form: 'sealed', entry: bytes } : { form: 'record', entry: bytes, record: bytes };
}

/** The entry proven: `bytes` itself, or, opened by `salt`, the commitment entry of the record `bytes`. */
export function publishedEntry(bytes: Uint8Array, salt?: Uint8Array): Uint8Array {
  return salt === undefined ? bytes : commitmentEntry(salt, bytes);
}
