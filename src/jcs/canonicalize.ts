/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) over plain JavaScript values: members sorted
 * by UTF-16 code units, ECMAScript number serialization, minimal string escaping, no
 * whitespace. Only plain JSON is accepted; nothing is coerced, dropped or `toJSON`-ed.
 * Recursion is bounded by {@link MAX_CANONICAL_DEPTH}. Runtime-neutral.
 */
import { AttestError, type ErrorCode } from '../errors.js';
import { utf8 } from '../bytes/index.js';
import { hasLoneSurrogate, indexSegment, keySegment } from './path.js';

/** Deepest nesting of arrays and objects {@link canonicalize} accepts (`[]` is depth 1). */
export const MAX_CANONICAL_DEPTH = 1000;

// RFC 8785 §3.2.2.2: escape only '"', '\' and U+0000-U+001F; the five short forms, else \u00xx.
const MUST_ESCAPE = /[\u0000-\u001f"\\]/g;
const SHORT_ESCAPES = new Map<string, string>([
  ['"', '\\"'], ['\\', '\\\\'], ['\b', '\\b'], ['\t', '\\t'],
  ['\n', '\\n'], ['\f', '\\f'], ['\r', '\\r'],
]);

/**
 * A failure inside the canonicalizer: its code and message, and the path segments from the
 * failing value up to the root, added as it unwinds (so no path is kept while nothing fails).
 */
class Failure {
  readonly segments: string[] = [];
  constructor(readonly code: ErrorCode, readonly message: string) {}
}

function reject(message: string, code: ErrorCode = 'ERR_JSON_VALUE'): never {
  throw new Failure(code, message);
}

// Strings with nothing to escape and no surrogate at all (the common case) are quoted as they are.
const PLAIN = /^[^\u0000-\u001f"\\\ud800-\udfff]*$/;

/**
 * `"..."` per RFC 8785 §3.2.2.2 (lowercase hex; `/`, U+007F and non-ASCII stay raw). Internal
 * to `src/jcs` (the parser compares a string's text with it). Throws (a canonicalizer
 * failure, not an AttestError) on a lone surrogate, which the parser has already refused.
 */
export function quote(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  if (hasLoneSurrogate(text)) reject('lone surrogate in string', 'ERR_JSON_LONE_SURROGATE');
  return `"${text.replace(MUST_ESCAPE, escapeUnit)}"`;
}

// Member names repeat from value to value: each is quoted once (at most this many kept, each short).
const QUOTED_NAMES = new Map<string, string>();
const MAX_QUOTED_NAMES = 4096;
const MAX_KEPT_NAME = 64;

/** {@link quote} of a member name, remembered. */
function quoteName(name: string): string {
  let q = QUOTED_NAMES.get(name);
  if (q === undefined) {
    q = quote(name);
    if (name.length <= MAX_KEPT_NAME && QUOTED_NAMES.size < MAX_QUOTED_NAMES) QUOTED_NAMES.set(name, q);
  }
  return q;
}

/** Members an object may have for {@link sortNames} to sort them by insertion. */
const INSERTION_SORT_MAX = 32;

/**
 * Sort member names by their UTF-16 code units (RFC 8785 §3.2.3), in place: as the default
 * sort does (`<` on strings compares code units), by insertion for a few (~90 ns against
 * ~240 for 7 names).
 */
function sortNames(names: string[]): void {
  if (names.length > INSERTION_SORT_MAX) {
    names.sort(); // default sort compares UTF-16 code units, exactly what §3.2.3 asks
    return;
  }
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    for (; j >= 0 && names[j]! > name; j--) names[j + 1] = names[j]!;
    names[j + 1] = name;
  }
}

function escapeUnit(unit: string): string {
  return SHORT_ESCAPES.get(unit) ?? `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * RFC 8785 §3.2.2.3: ECMAScript Number::toString (ECMA-262 §6.1.6.1.20), the shortest
 * round-tripping form; -0 prints as "0". NaN and ±Infinity are not JSON.
 */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) reject(`${value} is not a JSON number`);
  return String(value);
}

/** Add `segment` to a failure unwinding through it; anything else passes unchanged. */
function under(e: unknown, segment: string): never {
  if (e instanceof Failure) e.segments.push(segment);
  throw e;
}

/**
 * Canonical texts already written, reused when the same object is met again: for a caller
 * that canonicalizes one value several times over (a signing input, then the signed
 * envelope's digest, then the log record holding it). Valid only while no object it has seen
 * changes: make one per value built, and drop it with the value. A text found in the memo is
 * used as it is, with none of the checks (plain data, accessors, cycles) run again: a value
 * changed after it was written would be hashed, signed or recorded as it was before.
 */
export class CanonicalMemo {
  /** The text of each container written, and its height (1 for one holding no container). */
  readonly texts = new WeakMap<object, { text: string; height: number }>();
  /**
   * The UTF-8 bytes of JCS(value) and their SHA-256 (32 bytes), of each container hashed
   * whole (envelope/commitment.ts `canonicalDigest`): what a commitment hashed, the evidence
   * store keeps and names, without encoding or hashing it again.
   */
  readonly hashed = new WeakMap<object, { bytes: Uint8Array; digest: Uint8Array }>();
}

class Canonicalizer {
  private readonly ancestors = new Set<object>();
  /** The deepest container level reached so far (for the heights the memo keeps). */
  private deepest = 0;

  constructor(private readonly memo: CanonicalMemo | undefined) {}

  /** The value of an own, enumerable data property; holes, getters and hidden members are not JSON. */
  private own(container: object, key: string | number): unknown {
    const d = Object.getOwnPropertyDescriptor(container, key);
    if (d === undefined) reject('sparse array (missing element)');
    if (!('value' in d) || !d.enumerable) reject('accessor or non-enumerable property');
    return d.value;
  }

  value(value: unknown, depth: number): string {
    switch (typeof value) {
      case 'string': return quote(value);
      case 'number': return formatNumber(value);
      case 'boolean': return value ? 'true' : 'false';
      case 'object': return value === null ? 'null' : this.container(value, depth + 1);
      default: return reject(`${typeof value} is not a JSON value`);
    }
  }

  private container(value: object, depth: number): string {
    if (depth > MAX_CANONICAL_DEPTH) reject(`nesting deeper than ${MAX_CANONICAL_DEPTH}`, 'ERR_JSON_TOO_DEEP');
    if (this.ancestors.has(value)) reject('cyclic structure');
    const known = this.memo?.texts.get(value);
    // Too deep here: written again, so the failure names the container past the limit.
    if (known !== undefined && depth + known.height - 1 <= MAX_CANONICAL_DEPTH) {
      this.deepest = Math.max(this.deepest, depth + known.height - 1);
      return known.text;
    }
    const outer = this.deepest;
    this.deepest = depth;
    this.ancestors.add(value);
    const text = Array.isArray(value) ? this.array(value, depth) : this.object(value, depth);
    this.ancestors.delete(value);
    this.memo?.texts.set(value, { text, height: this.deepest - depth + 1 });
    this.deepest = Math.max(outer, this.deepest);
    return text;
  }

  private array(value: unknown[], depth: number): string {
    if (Object.getPrototypeOf(value) !== Array.prototype) reject('not a plain array');
    // Joined once, not concatenated element by element: a long array's text is then one flat
    // string, not a tree of as many partial ones (2,000,000 elements: ~0.5 s less, and the memory).
    const parts = new Array<string>(value.length);
    for (let i = 0; i < value.length; i++) {
      try {
        parts[i] = this.value(this.own(value, i), depth);
      } catch (e) {
        under(e, indexSegment(i));
      }
    }
    // Own keys are the indices plus 'length'; anything more is not JSON.
    if (Reflect.ownKeys(value).length !== value.length + 1) reject('array with extra properties');
    return `[${parts.join(',')}]`;
  }

  /**
   * The text of a fresh plain object holding `members` (name, value pairs with distinct
   * names, in any order) at depth 1: what {@link object} writes for such an object, without
   * building it.
   */
  members(members: Array<[string, unknown]>): string {
    members.sort(byName);
    let text = '{';
    for (let i = 0; i < members.length; i++) {
      const [name, member] = members[i]!;
      try {
        text += `${i === 0 ? '' : ','}${quoteName(name)}:${this.value(member, 1)}`;
      } catch (e) {
        under(e, keySegment(name));
      }
    }
    return text + '}';
  }

  // RFC 8785 §3.2.3: members sorted by their names as arrays of UTF-16 code units.
  private object(value: object, depth: number): string {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) reject('not a plain object');
    // Every own string key (non-enumerable ones too: refused below, by name), then the symbols:
    // Reflect.ownKeys split in two, each cheaper than it (~100 ns against ~230 for 7 members).
    const names = Object.getOwnPropertyNames(value);
    if (Object.getOwnPropertySymbols(value).length > 0) reject('symbol-keyed property');
    sortNames(names);
    let text = '{';
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      try {
        text += `${i === 0 ? '' : ','}${quoteName(name)}:${this.value(this.own(value, name), depth)}`;
      } catch (e) {
        under(e, keySegment(name));
      }
    }
    return text + '}';
  }
}

/**
 * Canonical JSON text of `value` per RFC 8785 (JCS), as a JavaScript string with no BOM,
 * no whitespace and no trailing newline. Accepts only plain JSON: `null`, booleans, finite
 * numbers, well-formed strings, dense plain arrays, and plain or null-prototype objects
 * whose members are own enumerable data properties with string names. Never calls toJSON.
 * Raises `AttestError` with `path` (`.a.b[2]`, `''` for the root):
 * - `ERR_JSON_VALUE`: NaN/±Infinity, undefined, functions, symbols, bigints, Dates, Maps,
 *   class instances, sparse arrays, accessors, symbol keys, cycles;
 * - `ERR_JSON_LONE_SURROGATE`: an unpaired surrogate in a string or a member name;
 * - `ERR_JSON_TOO_DEEP`: nesting deeper than {@link MAX_CANONICAL_DEPTH}.
 * With `memo`, the text of a container met before under it is reused, and the texts written
 * are kept there ({@link CanonicalMemo}).
 * @see RFC 8785 §3.2 (§3.2.2.2 strings, §3.2.2.3 numbers, §3.2.3 sorting)
 */
export function canonicalize(value: unknown, memo?: CanonicalMemo): string {
  try {
    return new Canonicalizer(memo).value(value, 0);
  } catch (e) {
    if (e instanceof Failure) throw new AttestError(e.code, e.message, { path: e.segments.reverse().join('') });
    // Safety net: a Proxy trap or an engine limit must not leak a raw error.
    throw new AttestError('ERR_JSON_VALUE', 'value cannot be canonicalized', { path: '', cause: e });
  }
}

/** Orders members by name in UTF-16 code units (as the default sort orders strings: RFC 8785 §3.2.3). */
const byName = (a: [string, unknown], b: [string, unknown]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * UTF-8 bytes of JCS of the object holding `record`'s own enumerable string-keyed members as
 * `Object.entries` reads them, except those named in `omit`: {@link canonicalBytes} of a
 * null-prototype copy of those members (a member named `__proto__` is an ordinary member),
 * without making the copy. Same errors, and paths, as {@link canonicalBytes} of that copy.
 */
export function canonicalBytesOmitting(record: object, omit: readonly string[], memo?: CanonicalMemo): Uint8Array {
  const members = Object.entries(record).filter(([k]) => !omit.includes(k));
  let text: string;
  try {
    text = new Canonicalizer(memo).members(members);
  } catch (e) {
    if (e instanceof Failure) throw new AttestError(e.code, e.message, { path: e.segments.reverse().join('') });
    throw new AttestError('ERR_JSON_VALUE', 'value cannot be canonicalized', { path: '', cause: e });
  }
  return utf8(text);
}

/**
 * UTF-8 bytes of {@link canonicalize}`(value)`: the octets that get hashed or signed.
 * Same errors as {@link canonicalize}.
 * @see RFC 8785 §3.2.4 (UTF-8 generation)
 */
export function canonicalBytes(value: unknown, memo?: CanonicalMemo): Uint8Array {
  return utf8(canonicalize(value, memo));
}
