/**
 * Timestamps in envelopes: one strict RFC 3339 form, UTC, seconds precision,
 * `YYYY-MM-DDTHH:MM:SSZ` (e.g. `2026-05-26T12:00:00Z`). Anything else (offsets, fractions,
 * lowercase `t`/`z`, out-of-range fields, leap seconds) is rejected with `ERR_TIME_INVALID`.
 * Times inside mcp-attest are POSIX seconds (numbers, UTC).
 */
import { AttestError } from '../errors.js';

/** The system clock in whole POSIX seconds (the default clock of the proxies and the gate; verifiers take `now` as an input). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** Format POSIX seconds as `YYYY-MM-DDTHH:MM:SSZ`. Requires an integer in years 0000-9999. */
export function formatTimestamp(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Parse a strict RFC 3339 UTC timestamp to POSIX seconds. Re-formats and compares, so
 * `2026-02-30T00:00:00Z` is rejected. Throws `ERR_TIME_INVALID`.
 * @see RFC 3339 §5.6
 */
export function parseTimestamp(text: unknown, path = ''): number {
  if (typeof text !== 'string' || !RFC3339_UTC.test(text)) {
    throw new AttestError('ERR_TIME_INVALID', 'timestamp is not YYYY-MM-DDTHH:MM:SSZ', { path, found: text });
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || formatTimestamp(ms / 1000) !== text) {
    throw new AttestError('ERR_TIME_INVALID', 'timestamp out of range', { path, found: text });
  }
  return ms / 1000;
}
