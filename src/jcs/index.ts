/**
 * JSON for signatures: a strict I-JSON parser for untrusted input and RFC 8785 (JCS)
 * canonicalization for hashing and signing. Runtime-neutral (browser-safe).
 */
export type { JsonValue } from './types.js';
export { parseJson, parseJsonBytes, type ParseLimits } from './parse.js';
export { canonicalize, canonicalBytes, canonicalBytesOmitting, CanonicalMemo, MAX_CANONICAL_DEPTH } from './canonicalize.js';
