/**
 * The C2SP tlog-witness `add-checkpoint` wire format, both directions. Pure (no I/O), so the
 * log side, the witness and tests share it.
 *
 * Request body (every line LF-terminated):
 *
 *     old <size>              decimal, no leading zeros; 0 when the client has no record
 *     <base64 hash>           0..63 lines: RFC 6962 consistency proof old -> new
 *                             (empty line)
 *     <checkpoint note, with the log signature(s)>
 *
 * A 409 Conflict answer carries the witness's size: `<size>\n`, `Content-Type:
 * text/x.tlog.size`. A 200 answer carries one or more note signature lines (`— <name>
 * <base64>\n`), the cosignatures, to append to the checkpoint note.
 * @see https://c2sp.org/tlog-witness ("add-checkpoint")
 */
import { fromBase64, toBase64 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { HASH_SIZE } from '../log/hash.js';
import { MAX_NOTE_SIZE, parseNote } from '../log/note.js';
import { parseDecimal } from '../log/u64.js';

/** Most consistency proof lines a request may carry (C2SP tlog-witness: 63). */
export const MAX_WITNESS_PROOF_LINES = 63;
/** Largest request body accepted, in bytes: a maximal note plus 63 base64 hashes and the `old` line. */
export const MAX_ADD_CHECKPOINT_BYTES = MAX_NOTE_SIZE + 64 * 46;
/** Content type of the 409 Conflict body. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';

/** A parsed `add-checkpoint` request. `checkpointNote` is the signed note, unverified. */
export interface AddCheckpointRequest {
  /** The size the client believes the witness last cosigned (uint64); 0 for none. */
  oldSize: bigint;
  /** Consistency proof from `oldSize` to the checkpoint's size, 32-byte hashes. */
  proof: Uint8Array[];
  /** The checkpoint note text, verbatim, with its signature lines. */
  checkpointNote: string;
}

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_WITNESS_REQUEST_MALFORMED', message, cause === undefined ? {} : { cause });
}

/**
 * Format a request body. Throws `ERR_WITNESS_REQUEST_MALFORMED` for more than 63 proof
 * hashes or one not 32 bytes, `ERR_NOTE_MALFORMED` for a note that does not parse.
 * @see https://c2sp.org/tlog-witness
 */
export function formatAddCheckpointRequest(r: AddCheckpointRequest): string {
  if (r.proof.length > MAX_WITNESS_PROOF_LINES || !r.proof.every((h) => h.length === HASH_SIZE)) {
    throw malformed('a proof is at most 63 hashes of 32 bytes');
  }
  parseNote(r.checkpointNote);
  return `old ${r.oldSize.toString()}\n${r.proof.map((h) => `${toBase64(h)}\n`).join('')}\n${r.checkpointNote}`;
}

/**
 * Parse a request body strictly: `old` matching `0|[1-9][0-9]*` within uint64, at most 63
 * canonical base64 32-byte hashes, one empty line, a note that parses (its signatures are
 * not verified here). UTF-8 is checked by the note parser. Throws
 * `ERR_WITNESS_REQUEST_MALFORMED` (a witness answers 400).
 * @see https://c2sp.org/tlog-witness ("add-checkpoint")
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  if (body.length > MAX_ADD_CHECKPOINT_BYTES) throw malformed('request too large');
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw malformed('missing the empty line before the checkpoint');
  const head = body.slice(0, blank).split('\n');
  const first = head.shift()!;
  const oldSize = first.startsWith('old ') ? parseDecimal(first.slice(4)) : null;
  if (oldSize === null) throw malformed('first line must be "old <size>"');
  if (head.length > MAX_WITNESS_PROOF_LINES) throw malformed('more than 63 proof lines');
  const proof = head.map((line) => {
    let h: Uint8Array;
    try {
      h = fromBase64(line);
    } catch (cause) {
      throw malformed('proof line is not canonical base64', cause);
    }
    if (h.length !== HASH_SIZE) throw malformed('proof hash must be 32 bytes');
    return h;
  });
  const checkpointNote = body.slice(blank + 2);
  try {
    parseNote(checkpointNote);
  } catch (cause) {
    throw malformed(`checkpoint note: ${(cause as Error).message}`, cause);
  }
  return { oldSize, proof, checkpointNote };
}

/** The 409 Conflict body for a witness whose latest cosigned size is `size`. */
export function formatConflictBody(size: bigint): string {
  return `${size.toString()}\n`;
}

/**
 * Parse a 409 Conflict body `<size>\n`. Returns null for anything else (a client then
 * treats the answer as a refusal, not as a size to retry with).
 */
export function parseConflictBody(body: string): bigint | null {
  return body.endsWith('\n') ? parseDecimal(body.slice(0, -1)) : null;
}
