/**
 * C2SP signed-note verifier keys ("vkeys") and key IDs:
 *
 *     <name> "+" <8 lowercase hex key ID> "+" base64(signature type byte || public key)
 *
 * e.g. `example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k`.
 * Names are non-empty with no Unicode spaces, no `+` and no control characters; standard
 * base64 may contain `+`, so a vkey splits on its first two `+` only.
 * @see https://c2sp.org/signed-note (v1.0.0, "Signatures", "Signature types")
 */
import { concatBytes, fromBase64, toBase64, utf8 } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import { AttestError } from '../errors.js';
import { isStrictEd25519Public } from '../keys/ed25519.js';

/** Signature type 0x01: Ed25519 over the note text (c2sp.org/signed-note). */
export const SIG_TYPE_ED25519 = 0x01;
/** Signature type 0x04: timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;
/**
 * Signature type 0x06: ML-DSA-44 subtree cosignature (tlog-cosignature v1.1.0-rc.1); parse
 * only.
 */
export const SIG_TYPE_SUBTREE_V1 = 0x06;

/** Public-key length per supported signature type; other types are rejected. */
const KEY_SIZES: ReadonlyMap<number, number> = new Map([
  [SIG_TYPE_ED25519, 32],
  [SIG_TYPE_COSIGNATURE_V1, 32],
  [SIG_TYPE_SUBTREE_V1, 1312],
]);

/**
 * A parsed verifier key. `keyId` is a uint32; `publicKey` excludes the type byte.
 * @see https://c2sp.org/signed-note
 */
export interface VerifierKey {
  name: string;
  keyId: number;
  type: number;
  publicKey: Uint8Array;
}

// Unicode White_Space, '+', ASCII controls, or a lone surrogate (not encodable as UTF-8).
const BAD_NAME =
  /[\p{White_Space}+\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

/**
 * True when `name` is a valid key name: non-empty, no Unicode space (White_Space), no `+`,
 * no ASCII control character, well-formed UTF-16.
 * @see https://c2sp.org/signed-note ("Key names MUST be non-empty ...")
 */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !BAD_NAME.test(name);
}

/**
 * Key ID = SHA-256(name || 0x0A || type || publicKey)[:4] read as a big-endian uint32.
 * Recommended by signed-note and required by tlog-cosignature. Does not validate inputs.
 * @see https://c2sp.org/signed-note ("key ID = SHA-256(key name || 0x0A || ...)[:4]")
 */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false);
}

/** Key ID as 8 lowercase hex digits, as in vkeys. @see https://c2sp.org/signed-note */
export function formatKeyId(id: number): string {
  return (id >>> 0).toString(16).padStart(8, '0');
}

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_VKEY_MALFORMED', message, cause === undefined ? {} : { cause });
}

function checkKey(name: string, type: number, publicKey: Uint8Array): void {
  if (!isValidKeyName(name)) throw malformed('invalid key name');
  const size = KEY_SIZES.get(type);
  if (size === undefined) throw malformed('unsupported signature type');
  if (publicKey.length !== size) throw malformed('wrong public key length');
  if (size === 32 && !isStrictEd25519Public(publicKey)) throw malformed('Ed25519 public key is of small order or not canonically encoded');
}

/**
 * Parse a vkey strictly: first two `+` split it, the ID is exactly 8 lowercase hex digits,
 * the base64 is canonical standard base64 with padding, the type is 0x01, 0x04 (32-byte
 * Ed25519 keys, canonical and not of small order) or 0x06 (1312-byte ML-DSA-44 keys), and the ID equals {@link keyId}.
 * Throws `ERR_VKEY_MALFORMED`.
 * @see https://c2sp.org/signed-note
 */
export function parseVerifierKey(vkey: string): VerifierKey {
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) throw malformed('vkey needs <name>+<id>+<key>');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw malformed('key ID must be 8 lowercase hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(vkey.slice(second + 1));
  } catch (cause) {
    throw malformed('invalid base64 key', cause);
  }
  const type = raw[0] ?? -1;
  const publicKey = raw.slice(1);
  checkKey(name, type, publicKey);
  const id = parseInt(idHex, 16);
  if (keyId(name, type, publicKey) !== id) throw malformed('key ID does not match key');
  return { name, keyId: id, type, publicKey };
}

/**
 * Format a vkey `<name>+<keyId hex>+base64(type || publicKey)` with the recommended key ID.
 * Throws `ERR_VKEY_MALFORMED` for an invalid name, unsupported type or wrong key length.
 * @see https://c2sp.org/signed-note
 */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  checkKey(name, type, publicKey);
  const id = formatKeyId(keyId(name, type, publicKey));
  return `${name}+${id}+${toBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}
