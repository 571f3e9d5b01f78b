/**
 * Byte encodings used across the formats: lowercase hex (SEP-2787 signatures), standard
 * base64 with padding (C2SP notes, RFC 4648 §4), base64url without padding (RFC 4648 §5),
 * UTF-8, and a constant-time comparison. Decoders are strict: they re-encode what they
 * decoded and compare, so lenient forms (missing padding, stray characters, non-zero
 * trailing bits, uppercase hex) are rejected with `ERR_ENCODING_INVALID`.
 * Runtime-neutral: no `Buffer`, no `node:*`.
 */
import { AttestError } from '../errors.js';

const HEX = '0123456789abcdef';
const HEX_CODES = new TextEncoder().encode(HEX);
/** Decodes ASCII (every byte here is below 0x80, where windows-1252 is ASCII). */
const ASCII = new TextDecoder('latin1');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Encode bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  // Written as ASCII codes and decoded once: one flat string, not a chain of 2n
  // concatenations that a long-lived digest would keep (~2 KB for 32 bytes).
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = HEX_CODES[bytes[i]! >> 4]!;
    out[2 * i + 1] = HEX_CODES[bytes[i]! & 15]!;
  }
  return ASCII.decode(out);
}

/**
 * Decode lowercase, even-length hex. Throws `ERR_ENCODING_INVALID` on uppercase, odd
 * length or any other character.
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    throw new AttestError('ERR_ENCODING_INVALID', 'invalid hex', { found: 'hex' });
  }
  const out = new Uint8Array(hex.length / 2);
  // Only 0-9 and a-f are left: '0'-'9' are 0x30-0x39, 'a'-'f' 0x61-0x66.
  const nibble = (c: number): number => (c <= 0x39 ? c - 0x30 : c - 0x57);
  for (let i = 0; i < out.length; i++) out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
  return out;
}

function encode64(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += alphabet[(n >> (18 - 6 * j)) & 63]!;
    if (pad) out += '='.repeat(4 - chars);
  }
  return out;
}

function decode64(text: string, alphabet: string, pad: boolean): Uint8Array {
  const body = pad ? text.replace(/={1,2}$/, '') : text;
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new AttestError('ERR_ENCODING_INVALID', 'invalid base64');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (acc >> bits) & 0xff;
    }
  }
  // Strictness: the canonical re-encoding must equal the input (padding, trailing bits).
  if (encode64(bytes, alphabet, pad) !== text) {
    throw new AttestError('ERR_ENCODING_INVALID', 'non-canonical base64');
  }
  return bytes;
}

/** Encode as standard base64 with padding, RFC 4648 §4. */
export function toBase64(bytes: Uint8Array): string {
  return encode64(bytes, B64, true);
}

/** Decode strict standard base64 with padding, RFC 4648 §4. Throws `ERR_ENCODING_INVALID`. */
export function fromBase64(text: string): Uint8Array {
  return decode64(text, B64, true);
}

/** Encode as base64url without padding, RFC 4648 §5. */
export function toBase64Url(bytes: Uint8Array): string {
  return encode64(bytes, B64URL, false);
}

/** Decode strict base64url without padding, RFC 4648 §5. Throws `ERR_ENCODING_INVALID`. */
export function fromBase64Url(text: string): Uint8Array {
  return decode64(text, B64URL, false);
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 encode a string (lone surrogates become U+FFFD; check well-formedness first). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decode. Throws `ERR_ENCODING_INVALID` on malformed input. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new AttestError('ERR_ENCODING_INVALID', 'invalid UTF-8', { cause });
  }
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Compare two byte arrays in time independent of their contents (not of their lengths). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * `text` with each control character (C0, DEL, C1) and bidirectional override written as
 * `\uXXXX`: words from elsewhere (a witness's, a log's tool names and call ids, a client's)
 * printed to a terminal can then neither move its cursor nor draw a line of ours.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
