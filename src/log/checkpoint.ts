/**
 * C2SP checkpoint note text (the body a log signs):
 *
 *     <origin> LF              non-empty, no control characters
 *     <tree size> LF           ASCII decimal, no sign, no leading zeros, <= 2^64-1
 *     <root hash> LF           canonical base64 of the 32-byte RFC 6962 root
 *     [<extension> LF]*        each non-empty, opaque
 *
 * Size 0 must carry the empty-tree root SHA-256(""). Parsing is strict: what is parsed is
 * re-formatted and must equal the input byte for byte (rejects `0123`, `+5`, CR).
 * @see https://c2sp.org/tlog-checkpoint (v1.0.0, "Note text")
 */
import { equalBytes, fromBase64, toBase64 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { EMPTY_ROOT, HASH_SIZE } from './hash.js';
import { inRange, parseDecimal } from './u64.js';

/**
 * A parsed checkpoint. `size` is a uint64; `rootHash` is 32 bytes.
 * @see https://c2sp.org/tlog-checkpoint
 */
export interface Checkpoint {
  origin: string;
  size: bigint;
  rootHash: Uint8Array;
  extensions: string[];
}

// A line: non-empty, no ASCII control character (LF included), no lone surrogate.
const LINE = /^(?:[^\u0000-\u001f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])+$/;

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_CHECKPOINT_MALFORMED', message, cause === undefined ? {} : { cause });
}

/**
 * Format a checkpoint as note text, LF-terminated. Requires a valid origin and extension
 * lines (non-empty, no control characters), 0 <= size <= 2^64-1, a 32-byte root, and the
 * empty-tree root when size is 0. Throws `ERR_CHECKPOINT_MALFORMED`.
 * @see https://c2sp.org/tlog-checkpoint ("Note text")
 */
export function formatCheckpoint(c: Checkpoint): string {
  if (!LINE.test(c.origin)) throw malformed('invalid origin line');
  if (!inRange(c.size)) throw malformed('tree size out of uint64 range');
  if (c.rootHash.length !== HASH_SIZE) throw malformed('root hash must be 32 bytes');
  if (c.size === 0n && !equalBytes(c.rootHash, EMPTY_ROOT)) {
    throw malformed('empty tree needs the SHA-256("") root');
  }
  if (!c.extensions.every((e) => LINE.test(e))) throw malformed('invalid extension line');
  return [c.origin, c.size.toString(), toBase64(c.rootHash), ...c.extensions].join('\n') + '\n';
}

/**
 * Parse checkpoint note text (as returned by openNote, not the signed note itself): at
 * least three lines, every line LF-terminated, size matching `0|[1-9][0-9]*` within
 * uint64, strict base64 of exactly 32 bytes, and the re-formatted text equal to the input.
 * Throws `ERR_CHECKPOINT_MALFORMED`.
 * @see https://c2sp.org/tlog-checkpoint ("Note text")
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw malformed('checkpoint must end with LF');
  const [origin, sizeText, rootText, ...extensions] = text.slice(0, -1).split('\n');
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw malformed('checkpoint needs origin, size and root lines');
  }
  const size = parseDecimal(sizeText);
  if (size === null) throw malformed('invalid tree size');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootText);
  } catch (cause) {
    throw malformed('invalid root hash base64', cause);
  }
  const checkpoint: Checkpoint = { origin, size, rootHash, extensions };
  if (formatCheckpoint(checkpoint) !== text) throw malformed('non-canonical checkpoint');
  return checkpoint;
}

/** The longest origin {@link noteOrigin} reports, in UTF-16 code units. */
export const MAX_ORIGIN_CHARS = 1024;

/**
 * The origin of a signed checkpoint note as a store holds it (unverified): its text (before
 * the blank line) must parse as a checkpoint ({@link parseCheckpoint}: one line, no control
 * character) and the origin be at most {@link MAX_ORIGIN_CHARS} long; null otherwise. Never
 * throws. For naming a log (a receipt reference, a status), never for trusting it.
 */
export function noteOrigin(note: string): string | null {
  const end = note.indexOf('\n\n');
  if (end < 0 || end > 64 * 1024) return null;
  try {
    const { origin } = parseCheckpoint(note.slice(0, end + 1));
    return origin.length <= MAX_ORIGIN_CHARS ? origin : null;
  } catch {
    return null;
  }
}
