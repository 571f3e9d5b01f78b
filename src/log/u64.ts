/**
 * Internal helpers for the uint64 quantities of the log formats (tree sizes, indices,
 * timestamps): strict ASCII decimal parsing and range checks, all on `bigint`.
 * Not re-exported from the package.
 */

/** 2^64 - 1, the largest tree size or index. */
export const MAX_U64 = (1n << 64n) - 1n;

/** 2^63 - 1, the largest cosignature timestamp (C2SP tlog-cosignature). */
export const MAX_I64 = (1n << 63n) - 1n;

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * Parse an ASCII decimal with no sign and no leading zeros (`0|[1-9][0-9]*`) into a bigint
 * no greater than `max`. Returns null when the text is not of that form or out of range.
 */
export function parseDecimal(text: string, max: bigint = MAX_U64): bigint | null {
  if (text.length > 20 || !DECIMAL.test(text)) return null;
  const value = BigInt(text);
  return value <= max ? value : null;
}

/** True when `value` is a bigint in [0, max]. */
export function inRange(value: bigint, max: bigint = MAX_U64): boolean {
  return typeof value === 'bigint' && value >= 0n && value <= max;
}

/** Number of bits needed to represent `n` (0 for 0). Requires n >= 0. */
export function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Number of set bits of `n`. Requires n >= 0. */
export function popCount(n: bigint): number {
  let count = 0;
  for (let v = n; v > 0n; v >>= 1n) count += Number(v & 1n);
  return count;
}
