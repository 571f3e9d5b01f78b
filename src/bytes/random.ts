/**
 * Random bytes for nonces and salts (an attested call takes four), drawn from the runtime's
 * CSPRNG (`crypto.getRandomValues`: Node's and every browser's) a block at a time: one draw of
 * 4 KiB serves 256 nonces of 16 bytes, and each costs a copy instead of a trip into the
 * CSPRNG (~7–12 µs each through Node's `getRandomValues` on this project's machine, a copy
 * ~0.2 µs). Every byte is handed out once and zeroed in the pool; each thread (worker, page
 * worker) has its own pool. The bytes not yet handed out (at most 4 KiB) sit in the heap
 * until used, as in any CSPRNG's buffer. The CSPRNG is the one the runtime had when this
 * module loaded: code that replaces `globalThis.crypto` later does not choose salts and nonces.
 * Runtime-neutral.
 */
import { AttestError } from '../errors.js';
import { toBase64Url } from './index.js';

const getRandomValues = globalThis.crypto.getRandomValues.bind(globalThis.crypto);

/** Bytes drawn from the CSPRNG at once (within `getRandomValues`' 65,536-byte limit per call). */
const BLOCK = 4096;
let pool = new Uint8Array(new ArrayBuffer(0));
let offset = 0;

/** `n` fresh random bytes (a copy the caller owns); more than 4 KiB are drawn directly. Throws `ERR_USAGE` unless `n` is a non-negative safe integer. */
export function randomBytesPooled(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new AttestError('ERR_USAGE', 'a count of random bytes must be a non-negative integer', { found: n });
  if (n > BLOCK) return fill(new Uint8Array(n));
  if (offset + n > pool.length) {
    pool = fill(new Uint8Array(BLOCK));
    offset = 0;
  }
  const out = pool.slice(offset, offset + n);
  // What was handed out does not stay behind in the pool (an erased entry's salt, say).
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}

/** `bytes` filled from the CSPRNG, in draws of at most 65,536 bytes (`getRandomValues`' limit). */
function fill(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  for (let k = 0; k < bytes.length; k += 65_536) getRandomValues(bytes.subarray(k, k + 65_536));
  return bytes;
}

/** Bytes in a nonce: an attestation's or a receipt's `nonce` is 16 random bytes, base64url (docs/attestation.md). */
export const NONCE_BYTES = 16;

/**
 * The `nonce` member for the given bytes (base64url), or for fresh ones when none are given.
 * Throws `ERR_USAGE` for given bytes that are not {@link NONCE_BYTES} long (an envelope a
 * verifier would refuse, or a guessable one).
 */
export function nonceText(given?: Uint8Array): string {
  if (given !== undefined && given.length !== NONCE_BYTES) throw new AttestError('ERR_USAGE', `a nonce is ${NONCE_BYTES} random bytes`, { expected: NONCE_BYTES, found: given.length });
  return toBase64Url(given ?? randomBytesPooled(NONCE_BYTES));
}
