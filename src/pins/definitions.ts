/**
 * What tool pinning compares (tool-pins.ts): the limits on hostile `tools/list` input, the
 * public records of pins and changes, the digest of a tool definition, and reading one
 * `tools` entry without running anything it carries.
 */
import { AttestError } from '../errors.js';
import { canonicalize, type JsonValue } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';

/** Most entries of one `tools` array that are looked at; the rest count as malformed. */
export const MAX_TOOLS_PER_LIST = 10_000;
/** Largest canonical (RFC 8785) JSON of one tool definition, in UTF-8 bytes: 256 KiB. */
export const MAX_DEFINITION_BYTES = 256 * 1024;
/** Most names pinned for one server; a new name beyond it is not pinned (counts as malformed). */
export const MAX_PINS_PER_SERVER = 10_000;
/** Most unaccepted changes recorded for one (server, tool). */
export const MAX_OPEN_CHANGES_PER_TOOL = 100;
/**
 * The last seen digest of a pinned tool whose last sighting could not be read (a malformed
 * entry, or one past {@link MAX_TOOLS_PER_LIST}, under a pinned name): its status is
 * `changed` (fail closed) until its pinned definition is seen again; it cannot be accepted.
 */
export const UNREADABLE = 'unreadable';

/** A sighting whose definition differs from the pin. Digests are `sha256:<64 hex>`. */
export interface PinChange { name: string; pinnedDigest: string; seenDigest: string }

/**
 * Outcome of one {@link ToolPins.observe}. Names appear in list order (`removed` sorted);
 * a name listed twice is looked at twice.
 */
export interface PinObservation {
  /** Names pinned by this list (first sighting). */
  added: string[];
  /** Sightings that differ from the pin (reported every time, recorded once). */
  changed: PinChange[];
  /** Names listed with their pinned definition again after a differing one. */
  reverted: string[];
  /** Pinned names absent from this list (their pins are kept). */
  removed: string[];
  /** Sightings equal to the pin that are not `reverted`. */
  unchanged: number;
  /** Entries skipped: not an object with a non-empty string `name`, not JCS-encodable, or past a limit. */
  malformed: number;
}

/** `pinned`: the last seen definition is the pin; `changed`: it differs or could not be read; `unknown`: never pinned. */
export type PinStatus = 'pinned' | 'changed' | 'unknown';

/** A recorded change. Times are POSIX seconds; `pinned` and `seen` are the definitions. */
export interface PinChangeRecord {
  server: string;
  name: string;
  pinnedDigest: string;
  seenDigest: string;
  pinned: JsonValue;
  seen: JsonValue;
  firstSeen: number;
  accepted: boolean;
}

/** One pin (see {@link ToolPins.pins}). Times are POSIX seconds. */
export interface PinRecord {
  server: string;
  name: string;
  status: Exclude<PinStatus, 'unknown'>;
  /** The pinned digest. */
  digest: string;
  /** Digest of the last sighting ({@link UNREADABLE} when it could not be read). */
  lastDigest: string;
  pinnedAt: number;
  lastSeen: number;
}

/**
 * `'sha256:' + 64 lowercase hex` of SHA-256 over the RFC 8785 canonical JSON of `def`,
 * the whole tool object as received in `tools/list`. Key order and whitespace do not
 * matter; any change of any member (description, schemas, annotations, `_meta`) does.
 * Raises the JCS errors for values that are not plain JSON (`ERR_JSON_VALUE`,
 * `ERR_JSON_LONE_SURROGATE`, `ERR_JSON_TOO_DEEP`).
 * @see RFC 8785 §3.2, FIPS 180-4
 */
export function toolDigest(def: unknown): string {
  return sha256Tagged(canonicalize(def));
}

/** One readable `tools` entry: its name, canonical JSON and digest. */
export interface Seen { name: string; json: string; digest: string }

/** A fleet's pin of one tool (store/pg-pins.ts): its name, `sha256:<hex>` digest, canonical JSON, and when it was pinned (POSIX seconds). */
export interface SharedPin { name: string; digest: string; definition: string; pinnedAt: number }

/** Canonical JSON, digest and name of one `tools` entry, or null when it is malformed. */
export function readEntry(entry: unknown): Seen | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
  let json: string;
  try {
    json = canonicalize(entry); // rejects accessors and proxies' oddities before `name` is read
  } catch {
    return null;
  }
  if (json.length > MAX_DEFINITION_BYTES || Buffer.byteLength(json, 'utf8') > MAX_DEFINITION_BYTES) return null;
  const name = (entry as Record<string, unknown>)['name'];
  return typeof name === 'string' && name !== '' ? { name, json, digest: sha256Tagged(json) } : null;
}

/** The `name` of a malformed entry when it is an own string data property, else null (never runs a getter). */
export function nameOf(entry: unknown): string | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
  try {
    const d = Object.getOwnPropertyDescriptor(entry, 'name');
    return d !== undefined && 'value' in d && typeof d.value === 'string' && d.value !== '' ? d.value : null;
  } catch {
    return null; // a proxy's trap
  }
}

/** A stored definition parsed; `ERR_STORE_CORRUPT` when it is not JSON. */
export function parseStored(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new AttestError('ERR_STORE_CORRUPT', 'a stored tool definition is not JSON', { cause });
  }
}

/** Pin times must be integer POSIX seconds (`ERR_USAGE`). */
export function checkTime(now: number): void {
  if (!Number.isSafeInteger(now)) throw new AttestError('ERR_USAGE', 'pin times are integer POSIX seconds', { found: now });
}
