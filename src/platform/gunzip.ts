/**
 * Compressed bundles on Node (bundle/gzip.ts, docs/bundle.md): one gzip member decoded
 * strictly with `node:zlib`. Node's own `gunzip` joins concatenated members and skips
 * trailing zeros, so it is not used: the header is parsed by {@link gzipMember}, the deflate
 * stream inflated raw, and the member accepted only when that stream ends exactly at the
 * trailer and the trailer's CRC-32 and ISIZE are the text's. Node only.
 * @see https://www.rfc-editor.org/rfc/rfc1952 section 2.3
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { gzipMalformed, gzipMember, gzipTooLarge } from '../bundle/gzip.js';

/**
 * The text of the one gzip member `bytes` (see the module comment), at most `maxBytes`
 * (inflation stops there). Throws `ERR_BUNDLE_MALFORMED` (the frame, a corrupt or truncated
 * stream, data after it, a CRC-32 or ISIZE that differs) or `ERR_INPUT_TOO_LARGE`.
 */
export function gunzipStrict(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const member = gzipMember(bytes);
  let out: Buffer;
  let consumed: number;
  try {
    // `info` gives the engine, whose bytesWritten is the input the inflater consumed.
    const r = inflateRawSync(member.deflate, { info: true, maxOutputLength: Math.max(1, maxBytes) } as object) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    out = r.buffer;
    consumed = r.engine.bytesWritten;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw gzipTooLarge(maxBytes);
    throw gzipMalformed(`corrupt member: ${(e as Error).message}`, e);
  }
  if (consumed !== member.deflate.length) throw gzipMalformed(`${member.deflate.length - consumed} bytes after the deflate stream: one member, nothing after its trailer`);
  if (out.length !== member.size) throw gzipMalformed(`ISIZE ${member.size} but ${out.length} bytes decompressed`);
  if (crc32(out) !== member.crc32) throw gzipMalformed('CRC-32 does not match the decompressed bytes');
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
