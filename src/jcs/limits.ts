/**
 * Resource limits of the strict parser, resolved and checked before any parsing work.
 * Internal to `src/jcs` except for the {@link ParseLimits} type.
 */
import { AttestError } from '../errors.js';
import type { FloatPolicy } from './scan.js';

/** Resource limits and number policy for {@link parseJson} and {@link parseJsonBytes}. */
export interface ParseLimits {
  /** Maximum size of the input in UTF-8 bytes. Default 1 MiB (1,048,576). */
  maxBytes?: number;
  /** Maximum nesting depth of arrays and objects (`[]` is depth 1). Default 64. */
  maxDepth?: number;
  /**
   * 'reject' refuses any number token with a fraction or exponent part (`1.0`, `1.5`,
   * `1e3`) with `ERR_JSON_FLOAT`. Default 'allow'.
   */
  floats?: FloatPolicy;
  /**
   * Maximum number of arrays and objects (empty ones too, at any depth), checked as each
   * opens: `ERR_JSON_TOO_LARGE`. Each costs ~60 bytes of heap however short its text, so
   * a text within a large `maxBytes` can hold more than a process has: 256 MiB of `{},` is
   * ~89 million objects, ~5 GB. A caller with a large limit bounds them. Default: no limit.
   */
  maxContainers?: number;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;

/** {@link ParseLimits} with defaults applied. */
export interface Limits { maxBytes: number; maxDepth: number; floats: FloatPolicy; maxContainers: number }

/** Applies defaults; `ERR_USAGE` on a negative or non-integer limit or an unknown policy. */
export function resolveLimits(limits: ParseLimits = {}): Limits {
  const { maxBytes = DEFAULT_MAX_BYTES, maxDepth = DEFAULT_MAX_DEPTH, floats = 'allow', maxContainers = Infinity } = limits;
  const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!isCount(maxBytes) || !isCount(maxDepth) || !(maxContainers === Infinity || isCount(maxContainers)) || (floats !== 'allow' && floats !== 'reject')) {
    throw new AttestError('ERR_USAGE', 'invalid parse limits', { found: limits, path: '' });
  }
  return { maxBytes, maxDepth, floats, maxContainers };
}

/** UTF-8 length of `text`, counting stops once it exceeds `cap` (lone surrogates count 3). */
export function utf8Length(text: string, cap: number): number {
  if (text.length > cap) return text.length; // every code unit is at least one byte
  let n = 0;
  for (let i = 0; i < text.length && n <= cap; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if ((c & 0xfc00) !== 0xd800 || (text.charCodeAt(i + 1) & 0xfc00) !== 0xdc00) n += 3;
    else {
      n += 4; // a surrogate pair: one 4-byte sequence
      i++;
    }
  }
  return n;
}

/** The `ERR_JSON_TOO_LARGE` error for a `maxBytes` limit. */
export function tooLarge(maxBytes: number): AttestError {
  return new AttestError('ERR_JSON_TOO_LARGE', `input exceeds ${maxBytes} bytes`, { expected: maxBytes, path: '' });
}

