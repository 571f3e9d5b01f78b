/**
 * Random bytes for the nonces and salts of the hot path (one attested call takes four), drawn
 * from node:crypto's CSPRNG a block at a time: one `randomFillSync` of 4 KiB serves 256
 * nonces of 16 bytes, and each call costs a copy instead of a trip into OpenSSL. Every byte is
 * handed out once and zeroed in the pool; each worker thread has its own pool. The bytes not
 * yet handed out (at most 4 KiB) sit in the heap until used, as in any CSPRNG's buffer.
 */
import { randomFillSync } from 'node:crypto';

const BLOCK = 4096;
let pool = new Uint8Array(0);
let offset = 0;

/** `n` fresh random bytes (a copy the caller owns). */
export function randomBytesPooled(n: number): Uint8Array {
  if (n > BLOCK) return randomFillSync(new Uint8Array(n));
  if (offset + n > pool.length) {
    pool = randomFillSync(new Uint8Array(BLOCK));
    offset = 0;
  }
  const out = pool.slice(offset, offset + n);
  // What was handed out does not stay behind in the pool (an erased entry's salt, say).
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
