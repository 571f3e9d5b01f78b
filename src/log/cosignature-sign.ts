/**
 * cosignature/v1 witness signing (kept apart from verification).
 * @see https://c2sp.org/tlog-cosignature (v1.0.1)
 */
import { AttestError } from '../errors.js';
import { ed25519Sign } from '../keys/ed25519.js';
import { cosignedBytes, formatCosignature } from './cosignature.js';
import type { NoteSigner } from './note-sign.js';
import { formatVerifierKey, keyId, SIG_TYPE_COSIGNATURE_V1 } from './vkey.js';

/**
 * Current POSIX time in whole seconds (UTC), the cosignature/v1 timestamp unit.
 * @see https://c2sp.org/tlog-cosignature
 */
export function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/**
 * A cosignature/v1 (type 0x04) {@link NoteSigner}: for note text T it returns
 * u64be(t) || Ed25519(privateKey, "cosignature/v1\ntime <t>\n" || T), with t = `clock()`
 * (POSIX seconds, default now). The key ID is SHA-256(name || 0x0A || 0x04 || publicKey)[:4];
 * `publicKey` is the raw 32-byte key of `privateKey`. One Ed25519 key MUST NOT serve two
 * cosigner identities. Throws `ERR_VKEY_MALFORMED` for a bad name or key length; `sign`
 * rejects with `ERR_NOTE_MALFORMED` if the clock is outside 0..2^63-1.
 * @see https://c2sp.org/tlog-cosignature
 */
export function cosignatureSigner(
  name: string,
  privateKey: CryptoKey,
  publicKey: Uint8Array,
  clock: () => bigint = nowSeconds,
): NoteSigner {
  formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, publicKey); // validates name and key
  return {
    name,
    keyId: keyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey),
    async sign(message) {
      const timestamp = clock();
      if (typeof timestamp !== 'bigint') {
        throw new AttestError('ERR_NOTE_MALFORMED', 'clock must return a bigint');
      }
      const signature = await ed25519Sign(privateKey, cosignedBytes(message, timestamp));
      return formatCosignature({ timestamp, signature });
    },
  };
}
