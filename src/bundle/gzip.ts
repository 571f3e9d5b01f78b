/**
 * Compressed bundles (docs/bundle.md, "Compressed bundles"): a receipt bundle or session
 * receipt file may be one gzip member (RFC 1952) of its UTF-8 JSON text, as
 * `mcp-attest bundle --out FILE.gz` writes it. A 10,000-call range bundle shrinks ~5x
 * (2,417 to ~480 bytes per call); what is verified is the text inside, unchanged.
 *
 * Strict, so every reader sees the same text or refuses: exactly one member; compression
 * method 8 (deflate); no header flags but FTEXT and FNAME (a name of at most 1,024 bytes,
 * as `gzip FILE` writes it); nothing after the member's trailer (no second member, no
 * padding); its CRC-32 and ISIZE those of the text. An ISIZE past the caller's limit is
 * refused before inflating (`ERR_INPUT_TOO_LARGE`), and inflation stops one byte past ISIZE
 * (a "zip bomb" whose trailer lies is `ERR_BUNDLE_MALFORMED` having cost at most its ISIZE
 * and, in a browser, one 16 KiB slice's inflation more). This module parses the header and
 * trailer; the deflate stream is decoded by the platform's inflater (Node: `node:zlib`,
 * platform/gunzip.ts; a browser: `DecompressionStream`, {@link gunzipWeb}).
 * @see https://www.rfc-editor.org/rfc/rfc1952 sections 2.2-2.3
 */
import { AttestError } from '../errors.js';

/** True when `bytes` start with the gzip magic (0x1f 0x8b): never the first byte of JSON text or a SQLite file. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** One gzip member's parts: its deflate stream (the bytes between header and trailer) and the trailer's CRC-32 and ISIZE (bytes, mod 2^32). */
export interface GzipMember { deflate: Uint8Array; crc32: number; size: number }

const FTEXT = 0x01;
const FNAME = 0x08;
/** Longest FNAME accepted, in bytes before its terminating zero. */
const MAX_NAME_BYTES = 1024;
/** The fixed header (RFC 1952 2.3) and the trailer (CRC32, ISIZE). */
const HEADER_BYTES = 10;
const TRAILER_BYTES = 8;

/** `ERR_BUNDLE_MALFORMED` with a "gzip:" message. */
export function gzipMalformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_BUNDLE_MALFORMED', `gzip: ${message}`, cause === undefined ? {} : { cause });
}

/** `ERR_INPUT_TOO_LARGE`: the member's trailer says it decompresses to `found` bytes, more than `max`. */
function gzipTooLarge(max: number, found: number): AttestError {
  return new AttestError('ERR_INPUT_TOO_LARGE', `gzip: decompresses to ${found} bytes (its ISIZE, its last 4 bytes: a file cut short or with data after its member reads a wrong one), more than ${max}`, { expected: max, found });
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * Parse `bytes` as one gzip member's frame (RFC 1952 2.3): the header strictly (see the
 * module comment), the last 8 bytes as its trailer. Nothing is decompressed: whether the
 * deflate stream ends exactly before the trailer, and the CRC-32, are the inflater's to check.
 * Throws `ERR_BUNDLE_MALFORMED` (not gzip, truncated, another method, unsupported flags,
 * an unterminated or overlong name).
 */
export function gzipMember(bytes: Uint8Array): GzipMember {
  if (!isGzip(bytes)) throw gzipMalformed('not a gzip member (no 1f 8b magic)');
  if (bytes.length < HEADER_BYTES + TRAILER_BYTES) throw gzipMalformed('truncated');
  if (bytes[2] !== 8) throw gzipMalformed(`compression method ${bytes[2]}: only 8 (deflate) is defined`);
  const flags = bytes[3]!;
  if ((flags & ~(FTEXT | FNAME)) !== 0) throw gzipMalformed(`header flags 0x${flags.toString(16)}: only FTEXT and FNAME are accepted`);
  let at = HEADER_BYTES;
  if ((flags & FNAME) !== 0) {
    const end = bytes.subarray(at, at + MAX_NAME_BYTES + 1).indexOf(0);
    if (end < 0) throw gzipMalformed(`file name unterminated or longer than ${MAX_NAME_BYTES} bytes`);
    at += end + 1;
  }
  const trailer = bytes.length - TRAILER_BYTES;
  if (trailer <= at) throw gzipMalformed('truncated');
  return { deflate: bytes.subarray(at, trailer), crc32: u32le(bytes, trailer), size: u32le(bytes, trailer + 4) };
}

/** Bytes handed to the browser's decoder at a time: it inflates a whole chunk before anything can be counted, so this bounds the overshoot of a hostile member to ~16 MiB (deflate expands at most ~1,032x). */
const SLICE_BYTES = 16 * 1024;

/**
 * `ERR_INPUT_TOO_LARGE` when the member's trailer says its text is longer than `maxBytes`;
 * the inflaters then stop one byte past the ISIZE the trailer gives ({@link gzipLiar}). So
 * which code a hostile file gets depends on its bytes alone, not on which of a corrupt
 * block and the limit an inflater meets first.
 */
export function checkClaimedSize(member: GzipMember, maxBytes: number): void {
  if (member.size > maxBytes) throw gzipTooLarge(maxBytes, member.size);
}

/** `ERR_BUNDLE_MALFORMED`: the member inflates to more than its trailer's ISIZE (inflation stopped there). */
export function gzipLiar(member: GzipMember): AttestError {
  return gzipMalformed(`inflates to more than the ${member.size} bytes its trailer (ISIZE) gives`);
}

/**
 * Decompress one gzip member with the Compression Streams API (`DecompressionStream`), for
 * browsers: the verify page. The header is checked by {@link gzipMember}, the size by
 * {@link checkClaimedSize}; the decoder is fed 16 KiB at a time and read until one byte past
 * ISIZE. The browser's decoder checks the CRC-32 and, as the Compression Streams standard
 * requires, refuses data after the member (Chromium does, tested: test/e2e/browser-parity.test.ts).
 * Node's implementation of the same API joins a second member instead: on Node use
 * `gunzipStrict` (platform/gunzip.ts). Throws `ERR_BUNDLE_MALFORMED` (the frame, a corrupt
 * stream, data after it, more or fewer bytes than ISIZE) or `ERR_INPUT_TOO_LARGE` (ISIZE past
 * `maxBytes`, or more than this runtime can allocate).
 */
export async function gunzipWeb(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const member = gzipMember(bytes);
  checkClaimedSize(member, maxBytes);
  let fed = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      if (fed >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(fed, (fed += SLICE_BYTES)));
    },
  }, { highWaterMark: 0 });
  let out: Uint8Array;
  try {
    out = new Uint8Array(member.size);
  } catch (e) {
    throw new AttestError('ERR_INPUT_TOO_LARGE', `gzip: its ${member.size} bytes (ISIZE) cannot be allocated here`, { found: member.size, cause: e });
  }
  const reader = source.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>).getReader();
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.length > member.size) throw gzipLiar(member);
      out.set(value, length);
      length += value.length;
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e instanceof AttestError ? e : gzipMalformed(`corrupt member: ${(e as Error).message}`, e);
  }
  if (length !== member.size) throw gzipMalformed(`ISIZE ${member.size} but ${length} bytes decompressed`);
  return out;
}
