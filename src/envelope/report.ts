/**
 * Verdict building blocks shared by every verifier: a check per dimension, with a stable
 * code when it fails. A verdict is `ok` only when no check failed and at least one passed.
 */
import { isAttestError, type ErrorCode } from '../errors.js';

/** Outcome of one check: passed, failed, or not evaluated (no input for it). */
export type CheckStatus = 'pass' | 'fail' | 'skip';

/** One verified dimension (signature, ttl, args_commitment, ...). */
export interface Check {
  dimension: string;
  status: CheckStatus;
  /** Stable error code when `status` is `fail`. */
  code?: ErrorCode;
  /** A short human explanation (not API). */
  message?: string;
  expected?: unknown;
  found?: unknown;
}

/** A pass. */
export function pass(dimension: string, message?: string): Check {
  return message === undefined ? { dimension, status: 'pass' } : { dimension, status: 'pass', message };
}

/** A skip, with the reason the dimension was not evaluated. */
export function skip(dimension: string, message: string): Check {
  return { dimension, status: 'skip', message };
}

/** A failure with a code and optional expected/found values. */
export function fail(dimension: string, code: ErrorCode, message: string, detail: { expected?: unknown; found?: unknown } = {}): Check {
  const c: Check = { dimension, status: 'fail', code, message };
  if (detail.expected !== undefined) c.expected = detail.expected;
  if (detail.found !== undefined) c.found = detail.found;
  return c;
}

/** Turn a thrown error into a failed check (coded errors keep their code and data). */
export function failFrom(dimension: string, e: unknown, fallback: ErrorCode): Check {
  if (isAttestError(e)) return fail(dimension, e.code, e.message, { expected: e.expected, found: e.found ?? e.path });
  return fail(dimension, fallback, 'unexpected error');
}

/** True when no check failed and at least one passed. */
export function allPassed(checks: readonly Check[]): boolean {
  return checks.some((c) => c.status === 'pass') && !checks.some((c) => c.status === 'fail');
}
