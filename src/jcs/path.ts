/**
 * JSON paths for error reports (`.a.b[2]`, `["not an identifier"]`) and the lone-surrogate
 * test shared by the parser and the canonicalizer. Internal to `src/jcs`.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Path segment for the member named `key`: `.key` when it is identifier-like, otherwise
 * `["..."]` with the name JSON-quoted (lone surrogates appear as `\udxxx` escapes).
 */
export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Path segment for the array element at `index`: `[index]`. */
export function indexSegment(index: number): string {
  return `[${index}]`;
}

// In a `u` regex a valid surrogate pair is one code point (not Cs); only lone halves match.
const LONE_SURROGATE = /\p{Cs}/u;

/** True when `text` contains a UTF-16 surrogate that is not part of a valid pair. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}
