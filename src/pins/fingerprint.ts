/**
 * The advertised server fingerprint as tool pinning keeps it (docs/tool-pinning.md): the
 * types of {@link ToolPins.observeFingerprint} and its records, its limits, and the form
 * in which a hostile value is recorded.
 */
import { sha256Tagged } from '../bytes/digest.js';
import { hasLoneSurrogate } from '../jcs/path.js';
import type { PinStatus, ToolPins } from './tool-pins.js';

/** Most unaccepted advertised-fingerprint changes recorded for one server (pin key). */
export const MAX_OPEN_FINGERPRINT_CHANGES = 100;
/**
 * Longest advertised server fingerprint recorded verbatim, in UTF-8 bytes. A longer one, or
 * one with a lone surrogate (which SQLite cannot store as is), is recorded as
 * {@link HASHED_FINGERPRINT_PREFIX} + `sha256:<hex>` of its JSON string literal.
 */
export const MAX_FINGERPRINT_BYTES = 1024;
/** Prefix of the recorded form of an advertised fingerprint that cannot be stored verbatim (see {@link recordedFingerprint}). */
export const HASHED_FINGERPRINT_PREFIX = 'hashed:';

/**
 * Outcome of one advertised-fingerprint sighting: `new` (first one seen for this server:
 * pinned), `same` (equal to the pin), `changed` (differs from the pin).
 */
export type FingerprintSighting = 'new' | 'same' | 'changed';

/** Result of {@link ToolPins.observeFingerprint}: the sighting and both fingerprints as recorded. */
export interface FingerprintObservation {
  sighting: FingerprintSighting;
  /** The pinned fingerprint (after this sighting: for `new`, the one just seen). */
  pinned: string;
  /** The advertised fingerprint as recorded ({@link recordedFingerprint}). */
  seen: string;
}

/** The pinned advertised fingerprint of one server (see {@link ToolPins.fingerprints}). Times are POSIX seconds. */
export interface FingerprintPinRecord {
  /** The pin key. */
  server: string;
  /** `pinned`: the last advertised fingerprint is the pin; `changed`: it differs. */
  status: Exclude<PinStatus, 'unknown'>;
  /** The pinned fingerprint. */
  fingerprint: string;
  /** The last advertised one. */
  lastFingerprint: string;
  pinnedAt: number;
  lastSeen: number;
}

/** A recorded change of the advertised fingerprint. Times are POSIX seconds. */
export interface FingerprintChangeRecord {
  /** The pin key. */
  server: string;
  /** The fingerprint pinned when the change was first seen. */
  pinned: string;
  /** The differing fingerprint advertised. */
  seen: string;
  firstSeen: number;
  accepted: boolean;
}

/**
 * How an advertised server fingerprint is recorded: as is, unless it is longer than
 * {@link MAX_FINGERPRINT_BYTES} (UTF-8) or holds a lone surrogate; then
 * {@link HASHED_FINGERPRINT_PREFIX} + `sha256:<hex>` over the UTF-8 of its JSON string
 * literal (`JSON.stringify`, which escapes lone surrogates), so distinct values stay distinct.
 */
export function recordedFingerprint(advertised: string): string {
  const fits = advertised.length <= MAX_FINGERPRINT_BYTES && Buffer.byteLength(advertised, 'utf8') <= MAX_FINGERPRINT_BYTES;
  if (fits && !hasLoneSurrogate(advertised)) return advertised;
  return HASHED_FINGERPRINT_PREFIX + sha256Tagged(JSON.stringify(advertised));
}
