/**
 * C2SP signed notes, verification side:
 *
 *     <text: one or more lines, each ending in LF>
 *     LF                                                  (the LAST blank line)
 *     "— " <key name> " " base64(u32be keyID || signature) LF   (one or more)
 *
 * The dash is U+2014 EM DASH. The signed message is the text including its final LF. The
 * whole note must be valid UTF-8 with no ASCII control character other than LF. Limits:
 * {@link MAX_NOTE_SIZE} bytes and {@link MAX_SIGNATURES} signature lines (as Go x/mod).
 * @see https://c2sp.org/signed-note (v1.0.0)
 */
import { fromBase64, toBase64, concatBytes, utf8, fromUtf8 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { ed25519Verify, importEd25519Public } from '../keys/ed25519.js';
import { isValidKeyName, parseVerifierKey, SIG_TYPE_ED25519 } from './vkey.js';

/**
 * Largest accepted note, in UTF-8 bytes: 1 MiB.
 * @see https://c2sp.org/signed-note ("SHOULD apply a maximum limit")
 */
export const MAX_NOTE_SIZE = 1 << 20;
/** Most signature lines accepted in one note: 100 (C2SP requires at least 16). */
export const MAX_SIGNATURES = 100;

/**
 * One signature line: key name, uint32 key ID, signature bytes (after the key ID).
 * @see https://c2sp.org/signed-note ("Signatures")
 */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Uint8Array;
}

/** A parsed, unverified note. `text` ends with LF. @see https://c2sp.org/signed-note ("Format") */
export interface Note {
  text: string;
  signatures: NoteSignature[];
}

/**
 * Verifies signatures of one key, identified by (name, keyId). A primitive: never throws.
 * @see https://c2sp.org/signed-note
 */
export interface NoteVerifier {
  name: string;
  keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/**
 * Result of {@link openNote}: the verified text, who verified it, how many lines were ignored.
 * @see https://c2sp.org/signed-note
 */
export interface OpenedNote {
  text: string;
  /** One entry per distinct verified (name, keyId), with its signature bytes. */
  verified: NoteSignature[];
  /** Signature lines from keys not in the verifier list. */
  ignored: number;
}

const DASH = '\u2014 ';
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_NOTE_MALFORMED', message, cause === undefined ? {} : { cause });
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(DASH)) throw malformed('expected a signature line');
  const space = line.indexOf(' ', DASH.length);
  const name = line.slice(DASH.length, space < 0 ? line.length : space);
  if (space < 0 || !isValidKeyName(name)) throw malformed('invalid signature line');
  let raw: Uint8Array;
  try {
    raw = fromBase64(line.slice(space + 1));
  } catch (cause) {
    throw malformed('invalid signature base64', cause);
  }
  if (raw.length < 5) throw malformed('signature too short');
  const keyId = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, false);
  return { name, keyId, signature: raw.slice(4) };
}

/** Parse a note already known to be well-formed UTF-16 within the size limit. */
function parseChecked(note: string): Note {
  if (CONTROL.test(note)) throw malformed('control character in note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before signatures');
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('signatures must end with LF');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed('too many signatures');
  return { text: note.slice(0, split + 1), signatures: lines.map(parseSignatureLine) };
}

/**
 * Parse a signed note from its UTF-8 bytes without verifying it. Rejects invalid UTF-8,
 * notes over {@link MAX_NOTE_SIZE} and every malformed case of {@link parseNote}.
 * Throws `ERR_NOTE_MALFORMED`.
 * @see https://c2sp.org/signed-note ("Format")
 */
export function parseNoteBytes(bytes: Uint8Array): Note {
  if (bytes.length > MAX_NOTE_SIZE) throw malformed('note too large');
  let note: string;
  try {
    note = fromUtf8(bytes);
  } catch (cause) {
    throw malformed('note is not valid UTF-8', cause);
  }
  return parseChecked(note);
}

/**
 * Parse a signed note without verifying it: the text is everything up to and including the
 * LF before the last blank line; then one or more `— <name> <base64>` lines, each LF
 * terminated, names valid per {@link isValidKeyName}, base64 canonical and >= 5 bytes.
 * Rejects lone surrogates (not encodable as UTF-8), control characters other than LF,
 * more than {@link MAX_SIGNATURES} lines and more than {@link MAX_NOTE_SIZE} UTF-8 bytes.
 * Throws `ERR_NOTE_MALFORMED`.
 * @see https://c2sp.org/signed-note ("Format")
 */
export function parseNote(text: string): Note {
  if (text.length > MAX_NOTE_SIZE) throw malformed('note too large');
  if (LONE_SURROGATE.test(text)) throw malformed('note is not valid UTF-8');
  if (utf8(text).length > MAX_NOTE_SIZE) throw malformed('note too large');
  return parseChecked(text);
}

/**
 * Format one signature line `— <name> base64(u32be keyId || signature)` + LF.
 * Throws `ERR_NOTE_MALFORMED` for an invalid key name or a key ID outside uint32.
 * @see https://c2sp.org/signed-note ("Signatures")
 */
export function formatSignatureLine(name: string, keyId: number, signature: Uint8Array): string {
  if (!isValidKeyName(name)) throw malformed('invalid key name');
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) throw malformed('invalid key ID');
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, keyId, false);
  return `${DASH}${name} ${toBase64(concatBytes(id, signature))}\n`;
}

/**
 * Parse and verify a signed note (string or UTF-8 bytes) against known keys. A signature
 * whose (name, keyId) matches no verifier is ignored, even if one of the two matches; every
 * matching verifier MUST accept its signature, else the whole note is rejected with
 * `ERR_NOTE_SIGNATURE_INVALID`; with no verified signature, `ERR_NOTE_UNVERIFIED`.
 * Malformed notes throw `ERR_NOTE_MALFORMED`. Stricter than Go x/mod, which skips repeated
 * signatures of a key unverified: here each one must verify (it is listed once; a line
 * repeated byte for byte is verified once).
 * @see https://c2sp.org/signed-note ("Signatures": MUST ignore unknown, MUST verify known)
 */
export async function openNote(
  note: string | Uint8Array,
  verifiers: NoteVerifier[],
): Promise<OpenedNote> {
  const parsed = typeof note === 'string' ? parseNote(note) : parseNoteBytes(note);
  const message = utf8(parsed.text);
  const verified: NoteSignature[] = [];
  /** Signatures verified already, as name, key ID and bytes: a line repeated verbatim is verified once (a repeat costs a hostile sender nothing, its check a verification). */
  const checked = new Set<string>();
  let ignored = 0;
  for (const sig of parsed.signatures) {
    const known = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (known.length === 0) {
      ignored++;
      continue;
    }
    const line = `${sig.name} ${sig.keyId} ${toBase64(sig.signature)}`;
    if (checked.has(line)) continue;
    checked.add(line);
    for (const v of known) {
      if (!(await v.verify(message, sig.signature))) {
        throw new AttestError('ERR_NOTE_SIGNATURE_INVALID', 'signature verification failed', {
          found: sig.name,
        });
      }
    }
    if (!verified.some((s) => s.name === sig.name && s.keyId === sig.keyId)) verified.push(sig);
  }
  if (verified.length === 0) {
    throw new AttestError('ERR_NOTE_UNVERIFIED', 'no signature from a known key');
  }
  return { text: parsed.text, verified, ignored };
}

/**
 * A {@link NoteVerifier} for an Ed25519 (type 0x01) vkey: Ed25519 (RFC 8032) over the note
 * text; signatures must be 64 bytes. Throws `ERR_VKEY_MALFORMED` for a bad vkey or another
 * signature type.
 * @see https://c2sp.org/signed-note ("Ed25519 signatures")
 */
export function ed25519NoteVerifier(vkey: string): NoteVerifier {
  const key = parseVerifierKey(vkey);
  if (key.type !== SIG_TYPE_ED25519) {
    throw new AttestError('ERR_VKEY_MALFORMED', 'not an Ed25519 (0x01) vkey', { found: key.type });
  }
  let imported: Promise<CryptoKey | null> | undefined;
  return {
    name: key.name,
    keyId: key.keyId,
    async verify(message, signature) {
      const publicKey = await (imported ??= importEd25519Public(key.publicKey));
      return publicKey !== null && ed25519Verify(publicKey, message, signature);
    },
  };
}
