/**
 * The JSON data model shared by the strict parser and the RFC 8785 canonicalizer.
 */

/**
 * A JSON value (RFC 8259 §3) restricted to I-JSON (RFC 7493): numbers are finite IEEE-754
 * binary64, strings are well-formed UTF-16 (no lone surrogates), member names are unique.
 * Objects produced by {@link parseJson} are plain objects whose members are all own data
 * properties, including a member named `"__proto__"`.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
