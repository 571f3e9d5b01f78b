/**
 * C2SP offline inclusion proof, `.tlog-proof` files:
 *
 *     c2sp.org/tlog-proof@v1 LF
 *     [extra <base64> LF]      optional opaque data, UNAUTHENTICATED
 *     index <decimal> LF       zero-based, no leading zeros, uint64
 *     [<base64 hash> LF]*      inclusion path, leaf sibling first, 32 bytes each (<= 64)
 *     LF
 *     <checkpoint note, verbatim, with log signature and witness cosignatures>
 *
 * Parsing checks the syntax only. Verifying is the caller's pipeline: compute the leaf
 * hash, open the note with the log key, apply the witness policy to the cosignatures, parse
 * the checkpoint, then verifyInclusion(index, size, leafHash, proof, rootHash).
 * @see https://c2sp.org/tlog-proof ("Format")
 */
import { fromBase64, toBase64 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { HASH_SIZE } from './hash.js';
import { MAX_NOTE_SIZE, parseNote } from './note.js';
import { inRange, parseDecimal } from './u64.js';

/** First line of every tlog-proof. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** Longest inclusion path in a uint64 tree: 64 hashes (RFC 9162 §2.1.3.1: at most ceil(log2 n)). */
export const MAX_PROOF_HASHES = 64;

/** A parsed tlog-proof. `checkpointNote` is the signed note text, verbatim and unverified. */
export interface TlogProof {
  extra?: Uint8Array;
  index: bigint;
  proof: Uint8Array[];
  checkpointNote: string;
}

function invalid(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_PROOF_INVALID', message, cause === undefined ? {} : { cause });
}

function decode(text: string, what: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch (cause) {
    throw invalid(`invalid base64 ${what}`, cause);
  }
}

/**
 * Format a tlog-proof. Requires index a uint64, at most 64 proof hashes of 32 bytes, a
 * non-empty `extra` when present, and a well-formed signed note. Throws
 * `ERR_PROOF_INVALID`, or `ERR_NOTE_MALFORMED` for the note.
 * @see https://c2sp.org/tlog-proof
 */
export function formatTlogProof(p: TlogProof): string {
  if (!inRange(p.index)) throw invalid('index out of uint64 range');
  if (p.proof.length > MAX_PROOF_HASHES || !p.proof.every((h) => h.length === HASH_SIZE)) {
    throw invalid('proof must be at most 64 hashes of 32 bytes');
  }
  if (p.extra !== undefined && p.extra.length === 0) throw invalid('extra must not be empty');
  parseNote(p.checkpointNote);
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra !== undefined) lines.push(`extra ${toBase64(p.extra)}`);
  lines.push(`index ${p.index.toString()}`, ...p.proof.map(toBase64));
  return `${lines.join('\n')}\n\n${p.checkpointNote}`;
}

/**
 * Parse a tlog-proof strictly: exact header, optional non-empty canonical-base64 `extra`,
 * `index` matching `0|[1-9][0-9]*` within uint64, up to 64 canonical base64 32-byte
 * hashes, one blank line, then a well-formed signed note (not verified here). Throws
 * `ERR_PROOF_INVALID`, or `ERR_NOTE_MALFORMED` for the note.
 * @see https://c2sp.org/tlog-proof
 */
export function parseTlogProof(text: string): TlogProof {
  if (text.length > MAX_NOTE_SIZE + 8192) throw invalid('proof too large');
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw invalid('missing blank line before the checkpoint');
  const head = text.slice(0, blank).split('\n');
  if (head.shift() !== TLOG_PROOF_HEADER) throw invalid('not a c2sp.org/tlog-proof@v1');
  let extra: Uint8Array | undefined;
  if (head[0]?.startsWith('extra ')) {
    extra = decode(head.shift()!.slice('extra '.length), 'extra');
    if (extra.length === 0) throw invalid('extra must not be empty');
  }
  const indexLine = head.shift() ?? '';
  const index = indexLine.startsWith('index ') ? parseDecimal(indexLine.slice('index '.length)) : null;
  if (index === null) throw invalid('invalid index line');
  if (head.length > MAX_PROOF_HASHES) throw invalid('too many proof hashes');
  const proof = head.map((line) => decode(line, 'proof hash'));
  if (!proof.every((h) => h.length === HASH_SIZE)) throw invalid('proof hash must be 32 bytes');
  const checkpointNote = text.slice(blank + 2);
  parseNote(checkpointNote);
  return extra === undefined ? { index, proof, checkpointNote } : { extra, index, proof, checkpointNote };
}
