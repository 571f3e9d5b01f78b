/**
 * Compressed bundles on Node (bundle/gzip.ts, docs/bundle.md): one gzip member decoded
 * strictly with `node:zlib`. Node's own `gunzip` joins concatenated members and skips
 * trailing zeros, so it is not used: the header is parsed by {@link gzipMember}, the deflate
 * stream inflated raw, and the member accepted only when that stream ends exactly at the
 * trailer and the trailer's CRC-32 and ISIZE are the text's. Node only.
 * @see https://www.rfc-editor.org/rfc/rfc1952 section 2.3
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { checkClaimedSize, gzipLiar, gzipMalformed, gzipMember } from '../bundle/gzip.js';

/**
 * The text of the one gzip member `bytes` (see the module comment): refused when its ISIZE is
 * past `maxBytes`, inflated only to one byte past its ISIZE. Throws `ERR_BUNDLE_MALFORMED`
 * (the frame, a corrupt or truncated stream, data after it, a CRC-32 or ISIZE that differs
 * from the text) or `ERR_INPUT_TOO_LARGE` (ISIZE past `maxBytes`).
 */
export function gunzipStrict(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const member = gzipMember(bytes);
  checkClaimedSize(member, maxBytes);
  let out: Buffer;
  let consumed: number;
  try {
    // `info` gives the engine, whose bytesWritten is the input the inflater consumed.
    const r = inflateRawSync(member.deflate, { info: true, maxOutputLength: member.size + 1 } as object) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    out = r.buffer;
    consumed = r.engine.bytesWritten;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw gzipLiar(member);
    throw gzipMalformed(`corrupt member: ${(e as Error).message}`, e);
  }
  if (consumed !== member.deflate.length) throw gzipMalformed(`${member.deflate.length - consumed} bytes after the deflate stream: one member, nothing after its trailer`);
  if (out.length !== member.size) throw gzipMalformed(`ISIZE ${member.size} but ${out.length} bytes decompressed`);
  if (crc32(out) !== member.crc32) throw gzipMalformed('CRC-32 does not match the decompressed bytes');
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
