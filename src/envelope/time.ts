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

/** Days in `month` (1-12) of proleptic Gregorian `year`. */
function daysIn(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** Days from 1970-01-01 to `year`-`month`-`day` (proleptic Gregorian; negative before 1970). */
function daysFromEpoch(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/**
 * Parse a strict RFC 3339 UTC timestamp to POSIX seconds. Every field must be in range for
 * its date (`2026-02-30T00:00:00Z`, `T24:00:00Z` and leap seconds `:60` are rejected).
 * Throws `ERR_TIME_INVALID`.
 * @see RFC 3339 §5.6
 */
export function parseTimestamp(text: unknown, path = ''): number {
  const m = typeof text === 'string' ? RFC3339_UTC.exec(text) : null;
  if (m === null) {
    throw new AttestError('ERR_TIME_INVALID', 'timestamp is not YYYY-MM-DDTHH:MM:SSZ', { path, found: text });
  }
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new AttestError('ERR_TIME_INVALID', 'timestamp out of range', { path, found: text });
  }
  return daysFromEpoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}
