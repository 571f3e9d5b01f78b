/**
 * C2SP signed notes, signing side (kept apart so verifiers never import signing code).
 * @see https://c2sp.org/signed-note (v1.0.0)
 */
import { fromBase64Url, utf8 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { ed25519Sign } from '../keys/ed25519.js';
import { formatSignatureLine, parseNote } from './note.js';
import { keyId, SIG_TYPE_ED25519, formatVerifierKey } from './vkey.js';

/**
 * Produces signature bytes (without the key ID) for one key, identified by (name, keyId).
 * @see https://c2sp.org/signed-note
 */
export interface NoteSigner {
  name: string;
  keyId: number;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/**
 * An Ed25519 (type 0x01) {@link NoteSigner}: signs the note text with `privateKey`; the key
 * ID is SHA-256(name || 0x0A || 0x01 || publicKey)[:4]. `publicKey` is the raw 32-byte key
 * of `privateKey` (not checked against it). Throws `ERR_VKEY_MALFORMED` for an invalid
 * name or key length.
 * @see https://c2sp.org/signed-note ("Ed25519 signatures")
 */
export function ed25519NoteSigner(name: string, privateKey: CryptoKey, publicKey: Uint8Array): NoteSigner {
  formatVerifierKey(name, SIG_TYPE_ED25519, publicKey); // validates name and key length
  return {
    name,
    keyId: keyId(name, SIG_TYPE_ED25519, publicKey),
    sign: (message) => ed25519Sign(privateKey, message),
  };
}

/**
 * Import a 32-byte RFC 8032 Ed25519 seed (private key) through WebCrypto as PKCS#8
 * (`302e020100300506032b657004220420` || seed) and derive its raw public key.
 * Throws `ERR_VKEY_MALFORMED` when the seed is not 32 bytes or the platform rejects it.
 */
export async function importEd25519Seed(
  seed: Uint8Array,
): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  if (seed.length !== 32) throw new AttestError('ERR_VKEY_MALFORMED', 'seed must be 32 bytes');
  const pkcs8 = new Uint8Array(48);
  pkcs8.set([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
  pkcs8.set(seed, 16);
  try {
    const alg = { name: 'Ed25519' };
    const extractable = await crypto.subtle.importKey('pkcs8', pkcs8, alg, true, ['sign']);
    const jwk = await crypto.subtle.exportKey('jwk', extractable);
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']);
    return { privateKey, publicKey: fromBase64Url(jwk.x ?? '') };
  } catch (cause) {
    throw new AttestError('ERR_VKEY_MALFORMED', 'invalid Ed25519 seed', { cause });
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Sign `text` (non-empty, LF-terminated, valid note text) with every signer, in order:
 * returns `text || LF || signature lines`. The result is re-parsed, so it is always a
 * well-formed note. Throws `ERR_NOTE_MALFORMED` for bad text, no signers, or limits.
 * @see https://c2sp.org/signed-note ("Format")
 */
export async function signNote(text: string, signers: NoteSigner[]): Promise<string> {
  if (!text.endsWith('\n')) throw new AttestError('ERR_NOTE_MALFORMED', 'note text must end with LF');
  if (signers.length === 0) throw new AttestError('ERR_NOTE_MALFORMED', 'no signers');
  const message = utf8(text);
  let lines = '';
  for (const s of signers) lines += formatSignatureLine(s.name, s.keyId, await s.sign(message));
  const note = `${text}\n${lines}`;
  if (parseNote(note).text !== text) throw new AttestError('ERR_NOTE_MALFORMED', 'invalid note text');
  return note;
}
