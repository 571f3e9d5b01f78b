/**
 * Witness cosignatures, cosignature/v1 (signature type 0x04): a note signature line on a
 * checkpoint whose signature bytes are
 *
 *     u64be timestamp || Ed25519 signature[64]          (72 bytes)
 *
 * over the message "cosignature/v1\n" || "time " || decimal(timestamp) || "\n" || note text.
 * The timestamp is POSIX seconds, <= 2^63-1. The key ID is
 * SHA-256(name || 0x0A || 0x04 || 32-byte key)[:4]. The message does not bind the name.
 * @see https://c2sp.org/tlog-cosignature (v1.0.1, "Format", "Ed25519 signed message")
 */
import { concatBytes, utf8 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { ed25519Verify, importEd25519Public } from '../keys/ed25519.js';
import type { NoteVerifier } from './note.js';
import { MAX_I64, inRange } from './u64.js';
import { parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from './vkey.js';

/**
 * Length of a cosignature/v1 payload: 8-byte timestamp + 64-byte Ed25519.
 * @see https://c2sp.org/tlog-cosignature
 */
export const COSIGNATURE_V1_SIZE = 72;

/**
 * A decoded cosignature/v1 `timestamped_signature`.
 * @see https://c2sp.org/tlog-cosignature ("Format")
 */
export interface Cosignature {
  /** POSIX seconds, 0 <= timestamp <= 2^63-1. */
  timestamp: bigint;
  /** The 64-byte Ed25519 signature. */
  signature: Uint8Array;
}

function checkTimestamp(timestamp: bigint): void {
  if (!inRange(timestamp, MAX_I64)) {
    throw new AttestError('ERR_NOTE_MALFORMED', 'cosignature timestamp out of range', { found: timestamp });
  }
}

/**
 * The signed message for note text bytes `body` (see {@link cosignatureMessage}). Throws
 * `ERR_NOTE_MALFORMED` if the timestamp is outside 0..2^63-1.
 * @see https://c2sp.org/tlog-cosignature ("Ed25519 signed message")
 */
export function cosignedBytes(body: Uint8Array, timestamp: bigint): Uint8Array {
  checkTimestamp(timestamp);
  return concatBytes(utf8(`cosignature/v1\ntime ${timestamp.toString()}\n`), body);
}

/**
 * "cosignature/v1\n" || "time " || decimal(timestamp) || "\n" || checkpointText, UTF-8.
 * `checkpointText` is the note text including its final LF and any extension lines.
 * Throws `ERR_CHECKPOINT_MALFORMED` if it does not end in LF, `ERR_NOTE_MALFORMED` if the
 * timestamp is outside 0..2^63-1.
 * @see https://c2sp.org/tlog-cosignature ("Ed25519 signed message")
 */
export function cosignatureMessage(checkpointText: string, timestamp: bigint): Uint8Array {
  if (!checkpointText.endsWith('\n')) {
    throw new AttestError('ERR_CHECKPOINT_MALFORMED', 'checkpoint text must end with LF');
  }
  return cosignedBytes(utf8(checkpointText), timestamp);
}

/**
 * Decode the 72-byte payload u64be timestamp || signature[64] (the signature bytes of a
 * note line, after the key ID; e.g. an `openNote` verified entry). Throws
 * `ERR_NOTE_MALFORMED` for another length or a timestamp above 2^63-1.
 * @see https://c2sp.org/tlog-cosignature ("timestamped_signature")
 */
export function parseCosignature(payload: Uint8Array): Cosignature {
  if (payload.length !== COSIGNATURE_V1_SIZE) {
    throw new AttestError('ERR_NOTE_MALFORMED', 'cosignature must be 72 bytes', { found: payload.length });
  }
  const timestamp = new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, false);
  checkTimestamp(timestamp);
  return { timestamp, signature: payload.slice(8) };
}

/**
 * Encode a cosignature payload: u64be timestamp || 64-byte signature. Throws
 * `ERR_NOTE_MALFORMED` for a timestamp outside 0..2^63-1 or a signature not 64 bytes.
 * @see https://c2sp.org/tlog-cosignature ("timestamped_signature")
 */
export function formatCosignature(c: Cosignature): Uint8Array {
  checkTimestamp(c.timestamp);
  if (c.signature.length !== 64) throw new AttestError('ERR_NOTE_MALFORMED', 'signature must be 64 bytes');
  const out = new Uint8Array(COSIGNATURE_V1_SIZE);
  new DataView(out.buffer).setBigUint64(0, c.timestamp, false);
  out.set(c.signature, 8);
  return out;
}

/**
 * A {@link NoteVerifier} for a cosignature/v1 (type 0x04) witness vkey. `verify` decodes
 * the timestamp and checks Ed25519 over {@link cosignedBytes}; false for a malformed
 * payload. Use {@link parseCosignature} on the verified signature to read the timestamp.
 * Throws `ERR_VKEY_MALFORMED` for a bad vkey or another signature type.
 * @see https://c2sp.org/tlog-cosignature
 */
export function cosignatureVerifier(vkey: string): NoteVerifier {
  const key = parseVerifierKey(vkey);
  if (key.type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new AttestError('ERR_VKEY_MALFORMED', 'not a cosignature/v1 (0x04) vkey', { found: key.type });
  }
  let imported: Promise<CryptoKey | null> | undefined;
  return {
    name: key.name,
    keyId: key.keyId,
    async verify(message, payload) {
      let cosig: Cosignature;
      try {
        cosig = parseCosignature(payload);
      } catch {
        return false;
      }
      const publicKey = await (imported ??= importEd25519Public(key.publicKey));
      const signed = cosignedBytes(message, cosig.timestamp);
      return publicKey !== null && ed25519Verify(publicKey, signed, cosig.signature);
    },
  };
}
