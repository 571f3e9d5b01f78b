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

/** POSIX seconds of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z: the range of the 4-digit form. */
const FIRST_SECOND = -62167219200;
const END_SECOND = 253402300800;

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * Format POSIX seconds (floored) as `YYYY-MM-DDTHH:MM:SSZ`, for years 0000-9999 (by the
 * proleptic Gregorian calendar, as RFC 3339 §5.6 reads). Outside that range, or for a value
 * that is not a finite number, the platform's ISO form is returned, which
 * {@link parseTimestamp} refuses (or a RangeError for no time at all).
 */
export function formatTimestamp(epochSeconds: number): string {
  const t = Math.floor(epochSeconds);
  if (!(t >= FIRST_SECOND && t < END_SECOND)) return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const days = Math.floor(t / 86400);
  const secs = t - days * 86400;
  // Civil date from days since 1970-01-01 (eras of 400 years from 0000-03-01).
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hms = `${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}`;
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${hms}Z`;
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

/**
 * POSIX seconds as a finding shows a time: {@link formatTimestamp} for years 0000 to 9999, the
 * number itself otherwise (a hostile witness timestamp), `none` for null. Never throws.
 */
export function showTime(epochSeconds: number | null): string {
  if (epochSeconds === null) return 'none';
  return epochSeconds >= FIRST_SECOND && epochSeconds < END_SECOND ? formatTimestamp(epochSeconds) : String(epochSeconds);
}
