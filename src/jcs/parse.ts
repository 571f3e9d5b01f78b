/**
 * Strict I-JSON parser for hostile input: RFC 8259 grammar exactly, plus the RFC 7493
 * restrictions (unique member names, no lone surrogates, finite numbers, integers within
 * ±(2^53-1), no negative zero) and resource limits checked before they can bite.
 * Iterative, with an explicit stack: nesting depth never touches the call stack.
 * Runtime-neutral: no `Buffer`, no `node:*`.
 */
import { AttestError, type ErrorCode } from '../errors.js';
import { fromUtf8 } from '../bytes/index.js';
import { indexSegment, keySegment } from './path.js';
import { resolveLimits, tooLarge, utf8Length, type Limits, type ParseLimits } from './limits.js';
import { Scanner, type FloatPolicy } from './scan.js';
import type { JsonValue } from './types.js';
import { quote, type CanonicalMemo } from './canonicalize.js';

export type { ParseLimits } from './limits.js';

/**
 * What a memo needs of an open container: its first offset, whether its text is canonical so
 * far (no whitespace, members in order, every token in its JCS form), and the greatest
 * height of the containers it holds (0: none).
 */
interface Canon { readonly start: number; canonical: boolean; height: number }
interface ArrayFrame extends Canon { readonly kind: 'array'; readonly items: JsonValue[] }
interface ObjectFrame extends Canon { readonly kind: 'object'; readonly members: Record<string, JsonValue>; key: string | undefined }
type Frame = ArrayFrame | ObjectFrame;

/** An own data member, also for the name `__proto__` (an assignment would set the prototype). */
function setMember(o: Record<string, JsonValue>, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** Returned instead of a value when a non-empty container was opened. */
const OPENED = Symbol('opened');

/**
 * Where a parse runs in its text: from `start` to exactly `end` (a span another parse
 * deferred: no whitespace around it), with `prefix` the JSON path of the value there; and
 * `defer`: the elements of the array that is the top-level object's member `member` are not
 * parsed but skipped and counted in `count`, the `[start, end)` of each of the first `max`
 * pushed to `spans`.
 */
interface Placement {
  start?: number;
  end?: number;
  prefix?: string;
  defer?: { member: string; max: number; spans: number[]; count: number };
}

class Parser {
  private readonly stack: Frame[] = [];
  private readonly scan: Scanner;
  /** Arrays and objects still allowed ({@link ParseLimits.maxContainers}). */
  containersLeft: number;

  constructor(text: string, private readonly maxDepth: number, private readonly floats: FloatPolicy, private readonly memo?: CanonicalMemo, maxContainers = Infinity, private readonly at: Placement = {}) {
    this.containersLeft = maxContainers;
    this.scan = new Scanner(text, (code, message, offset) => this.fail(code, message, offset));
    this.scan.pos = at.start ?? 0;
  }

  /** Parses the whole text as one JSON value (RFC 8259 §2: ws value ws). */
  parse(): JsonValue {
    for (;;) {
      const scanned = this.value();
      if (scanned === OPENED) continue;
      // A value is complete: hand it to its container, closing containers as they end.
      let value: JsonValue = scanned;
      for (;;) {
        const top = this.stack[this.stack.length - 1];
        if (top === undefined) return this.end(value);
        const next: JsonValue | typeof OPENED =
          top.kind === 'array' ? this.afterElement(top, value) : this.afterMember(top, value);
        if (next === OPENED) break;
        value = next;
      }
    }
  }

  /** A scalar, an empty container, or OPENED after pushing a frame for a non-empty one. */
  private value(): JsonValue | typeof OPENED {
    const s = this.scan;
    if (s.skipWhitespace()) this.notCanonical();
    const c = s.peek();
    if (c === 0x5b && this.at.defer !== undefined && this.stack.length === 1 && (this.stack[0] as ObjectFrame).key === this.at.defer.member) return this.deferred(this.at.defer);
    if (c === 0x5b || c === 0x7b) return this.open(c === 0x5b);
    const start = s.pos;
    if (c === 0x22) {
      const text = s.string();
      if (s.escaped && this.memo !== undefined) this.tokenIs(quote(text), start);
      return text;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const n = s.number(this.floats);
      if (this.memo !== undefined) this.tokenIs(String(n), start);
      return n;
    }
    if (s.literal('true')) return true;
    if (s.literal('false')) return false;
    if (s.literal('null')) return null;
    return this.fail('ERR_JSON_SYNTAX', c < 0 ? 'unexpected end of input' : 'unexpected character');
  }

  /** Opens `[` or `{`; the depth and container limits are checked before anything is pushed. */
  private open(isArray: boolean): JsonValue | typeof OPENED {
    if (this.stack.length >= this.maxDepth) this.fail('ERR_JSON_TOO_DEEP', `nesting deeper than ${this.maxDepth}`);
    if (--this.containersLeft < 0) this.fail('ERR_JSON_TOO_LARGE', 'more arrays and objects than the limit');
    const s = this.scan;
    const start = s.pos++;
    const spaced = s.skipWhitespace();
    if (s.peek() === (isArray ? 0x5d : 0x7d)) {
      s.pos++;
      const empty = isArray ? [] : {};
      this.closed(empty, { start, canonical: !spaced, height: 0 });
      return empty;
    }
    if (isArray) {
      this.stack.push({ kind: 'array', items: [], start, canonical: !spaced, height: 0 });
    } else {
      const frame: ObjectFrame = { kind: 'object', members: {}, key: undefined, start, canonical: !spaced, height: 0 };
      this.stack.push(frame);
      this.memberName(frame);
    }
    return OPENED;
  }

  /**
   * The deferred array at the cursor: its elements skipped (Scanner.skipValue) and counted,
   * the spans of the first `max` recorded, its separators checked; an empty array stands in
   * for it. Counts as one container.
   */
  private deferred(d: NonNullable<Placement['defer']>): JsonValue {
    if (this.stack.length >= this.maxDepth) this.fail('ERR_JSON_TOO_DEEP', `nesting deeper than ${this.maxDepth}`);
    if (--this.containersLeft < 0) this.fail('ERR_JSON_TOO_LARGE', 'more arrays and objects than the limit');
    const s = this.scan;
    s.pos++;
    s.skipWhitespace();
    if (s.peek() === 0x5d) {
      s.pos++;
      return [];
    }
    for (;;) {
      const start = s.pos;
      s.skipValue();
      if (++d.count <= d.max) d.spans.push(start, s.pos);
      s.skipWhitespace();
      const c = s.peek();
      if (c !== 0x2c && c !== 0x5d) this.fail('ERR_JSON_SYNTAX', "expected ',' or ']'");
      s.pos++;
      if (c === 0x5d) return [];
      s.skipWhitespace();
    }
  }

  /** Reads `"name" :` into `frame.key`; member names are compared after unescaping. */
  private memberName(frame: ObjectFrame): void {
    const s = this.scan;
    const previous = frame.key;
    frame.key = undefined;
    if (s.skipWhitespace()) frame.canonical = false;
    if (s.peek() !== 0x22) this.fail('ERR_JSON_SYNTAX', 'expected member name');
    const start = s.pos;
    const key = (frame.key = s.string());
    if (Object.hasOwn(frame.members, key)) this.fail('ERR_JSON_DUPLICATE_KEY', 'duplicate member name');
    // RFC 8785 §3.2.3: in canonical text, names ascend by UTF-16 code units (JavaScript's `<`).
    if (previous !== undefined && !(previous < key)) frame.canonical = false;
    if (s.escaped && this.memo !== undefined) this.tokenIs(quote(key), start);
    if (s.skipWhitespace()) frame.canonical = false;
    s.expect(0x3a, "':'");
  }

  /** After an array element: `,` continues, `]` closes and yields the array. */
  private afterElement(frame: ArrayFrame, value: JsonValue): JsonValue | typeof OPENED {
    const more = this.separator(0x5d, ']');
    frame.items.push(value);
    return more ? OPENED : this.close(frame.items);
  }

  /** After a member value: `,` reads the next name, `}` closes and yields the object. */
  private afterMember(frame: ObjectFrame, value: JsonValue): JsonValue | typeof OPENED {
    const more = this.separator(0x7d, '}');
    setMember(frame.members, frame.key as string, value); // key set by memberName before every value
    if (!more) return this.close(frame.members);
    this.memberName(frame);
    return OPENED;
  }

  /** Consumes `,` (returns true) or the closing bracket `close` (returns false). */
  private separator(close: number, closeName: string): boolean {
    const s = this.scan;
    if (s.skipWhitespace()) this.notCanonical();
    const c = s.peek();
    if (c !== 0x2c && c !== close) this.fail('ERR_JSON_SYNTAX', `expected ',' or '${closeName}'`);
    s.pos++;
    return c === 0x2c;
  }

  private close(value: JsonValue): JsonValue {
    this.closed(value as object, this.stack.pop()!);
    return value;
  }

  /**
   * With a memo: the container `value` just closed (its text ends at the cursor) is kept
   * there when its text is canonical, and its height and canonicity pass to its parent.
   */
  private closed(value: object, c: Canon): void {
    if (this.memo === undefined) return;
    const height = c.height + 1;
    if (c.canonical) this.memo.texts.set(value, { text: this.scan.text.slice(c.start, this.scan.pos), height });
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) return;
    parent.height = Math.max(parent.height, height);
    if (!c.canonical) parent.canonical = false;
  }

  /** The container being read is not canonical (whitespace, or a token not as JCS writes it, inside it). */
  private notCanonical(): void {
    const top = this.stack[this.stack.length - 1];
    if (top !== undefined) top.canonical = false;
  }

  /** The token read from `start` to the cursor must be `canonical` for its container to be. */
  private tokenIs(canonical: string, start: number): void {
    if (this.scan.text.slice(start, this.scan.pos) !== canonical) this.notCanonical();
  }

  /** Only whitespace may follow the top-level value; nothing may follow a span's. */
  private end(value: JsonValue): JsonValue {
    if (this.at.end === undefined) this.scan.skipWhitespace();
    if (this.scan.pos !== (this.at.end ?? this.scan.text.length)) this.fail('ERR_JSON_SYNTAX', 'unexpected data after value');
    return value;
  }

  /** Throws `code` with the JSON path of the value being parsed. */
  private fail(code: ErrorCode, message: string, offset = this.scan.pos): never {
    const path = this.path();
    // The float wording is the one the SEP-2787 vectors pin (PR #2789 case 09).
    if (code === 'ERR_JSON_FLOAT') message = `IEEE-754 float at ${path || '.'} is prohibited. Use a scaled integer`;
    throw new AttestError(code, `${message} (offset ${offset})`, { path });
  }

  private path(): string {
    let path = this.at.prefix ?? '';
    for (const f of this.stack) {
      if (f.kind === 'array') path += indexSegment(f.items.length);
      else if (f.key !== undefined) path += keySegment(f.key);
    }
    return path;
  }
}

/** Strict UTF-8 decode; the bytes-layer error gains the root path. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch (e) {
    throw new AttestError('ERR_ENCODING_INVALID', 'invalid UTF-8', { path: '', cause: e });
  }
}

function parseText(text: string, limits: Limits, memo?: CanonicalMemo, at?: Placement): JsonValue {
  return parsed(text, limits, memo, at).value;
}

/** A parse's value, and the arrays and objects it could still have built under its limit. */
function parsed(text: string, limits: Limits, memo?: CanonicalMemo, at?: Placement): { value: JsonValue; containersLeft: number } {
  try {
    const p = new Parser(text, limits.maxDepth, limits.floats, memo, limits.maxContainers, at);
    return { value: p.parse(), containersLeft: p.containersLeft };
  } catch (e) {
    if (e instanceof AttestError) throw e;
    // Safety net: nothing but AttestError leaves the parser (e.g. an engine RangeError).
    throw new AttestError(e instanceof RangeError ? 'ERR_JSON_TOO_LARGE' : 'ERR_JSON_SYNTAX', 'unparseable JSON', { path: '', cause: e });
  }
}

/**
 * Parses JSON text strictly (RFC 8259 grammar, I-JSON RFC 7493 values) into plain values.
 * Objects are plain objects built with own data properties, so a `"__proto__"` member is an
 * ordinary member. Raises `AttestError` only, with `path` (`.a.b[2]`, `''` for the root):
 * - `ERR_JSON_TOO_LARGE`: more than `maxBytes` UTF-8 bytes (checked before parsing), or
 *   more than `maxContainers` arrays and objects (checked as each opens);
 * - `ERR_JSON_SYNTAX`: anything outside RFC 8259 (comments, trailing commas, leading zeros,
 *   `+1`, NaN, Infinity, unescaped U+0000-U+001F, whitespace other than SP/HT/LF/CR, a BOM);
 * - `ERR_JSON_DUPLICATE_KEY`: a member name repeated (after unescaping), RFC 7493 §2.3;
 * - `ERR_JSON_LONE_SURROGATE`: an unpaired surrogate, raw or `\u`-escaped, RFC 7493 §2.1;
 * - `ERR_JSON_NUMBER`: negative zero, overflow to ±Infinity, or an integer token beyond
 *   ±(2^53-1), RFC 7493 §2.2 (carry such values as strings);
 * - `ERR_JSON_FLOAT`: a fraction or exponent when `floats` is 'reject' (checked first);
 * - `ERR_JSON_TOO_DEEP`: nesting beyond `maxDepth`, checked before descending;
 * - `ERR_USAGE`: invalid `limits`.
 *
 * With `memo`, each container whose text is already canonical (RFC 8785: no whitespace,
 * members in order, every string and number as JCS writes it) is kept there with that text,
 * so canonicalizing the parsed value, or any part of it, reads it instead of writing it
 * again ({@link CanonicalMemo}; the value must not be changed while the memo is used).
 * @see RFC 8259 §2-§7, RFC 7493 §2; RFC 8785 §3.2
 */
export function parseJson(text: string, limits?: ParseLimits, memo?: CanonicalMemo): JsonValue {
  return parseText(checkedText(text, limits), resolveLimits(limits), memo);
}

/** `text`, once it is a string of at most `limits.maxBytes` UTF-8 bytes (`ERR_JSON_SYNTAX`, `ERR_JSON_TOO_LARGE`, `ERR_USAGE` otherwise). */
function checkedText(text: string, limits: ParseLimits | undefined): string {
  const { maxBytes } = resolveLimits(limits);
  if (typeof text !== 'string') throw new AttestError('ERR_JSON_SYNTAX', 'input is not a string', { path: '' });
  // A UTF-16 code unit is at most 3 UTF-8 bytes: a text that short needs no count.
  if (text.length * 3 > maxBytes && utf8Length(text, maxBytes) > maxBytes) throw tooLarge(maxBytes);
  return text;
}

/**
 * Parses UTF-8 encoded JSON bytes: size limit on the byte length first, then a strict UTF-8
 * decode (`ERR_ENCODING_INVALID` on malformed or overlong sequences and encoded surrogates),
 * then {@link parseJson}. A leading byte order mark (EF BB BF) is `ERR_JSON_SYNTAX`:
 * RFC 8259 §8.1 forbids sending one and only permits ignoring it; we do not.
 * `memo`: as {@link parseJson}.
 * @see RFC 8259 §8.1, RFC 7493 §2.1
 */
export function parseJsonBytes(bytes: Uint8Array, limits?: ParseLimits, memo?: CanonicalMemo): JsonValue {
  const resolved = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new AttestError('ERR_JSON_SYNTAX', 'input is not bytes', { path: '' });
  if (bytes.length > resolved.maxBytes) throw tooLarge(resolved.maxBytes);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new AttestError('ERR_JSON_SYNTAX', 'byte order mark', { path: '' });
  }
  return parseText(decodeUtf8(bytes), resolved, memo);
}

/** A top-level object parsed with one array member left unparsed: see {@link parseJsonDeferring}. */
export interface DeferredJson {
  /** The object, with an empty array in place of the deferred member. */
  value: JsonValue;
  /** How many elements the deferred array has. */
  count: number;
  /** Its first `maxItems` elements as `[start, end)` offsets (UTF-16 code units) into the text, flat: start0, end0, start1, ... */
  spans: number[];
  /** Arrays and objects the elements' parses may still build under `limits.maxContainers`. */
  containersLeft: number;
}

/**
 * {@link parseJson} of a text whose value is an object, except that the elements of the
 * array that is its member `member` are skipped, not parsed (counted, and the text span of
 * each of the first `maxItems` kept), so the caller can parse them one at a time with
 * {@link parseJsonSpan}: a large array is never held parsed whole. The text is valid I-JSON
 * exactly when this and every element's parse succeed, and their values are then the whole
 * parse's. Errors: those of {@link parseJson}, the very error it raises for any failure
 * here (the skipping does not match bracket kinds, so a bracket missing in an element would
 * otherwise be reported further on); an error inside an element, when that element is parsed.
 * @see RFC 8259 §2-§7, RFC 7493 §2
 */
export function parseJsonDeferring(text: string, member: string, maxItems: number, limits?: ParseLimits): DeferredJson {
  const defer = { member, max: maxItems, spans: [] as number[], count: 0 };
  try {
    const r = parsed(checkedText(text, limits), resolveLimits(limits), undefined, { defer });
    return { value: r.value, count: defer.count, spans: defer.spans, containersLeft: r.containersLeft };
  } catch (e) {
    // The failure as the whole parse finds it, which parses (and fails) under the same limits.
    parseJson(text, limits);
    throw e;
  }
}

/**
 * Parse the span `[start, end)` of `text` that {@link parseJsonDeferring} skipped: element
 * `path` (e.g. `.entries[3]`, the prefix of every error's path; offsets stay the whole
 * text's), nested in `depth` containers (its depth limit is what they leave of
 * `limits.maxDepth`), building at most `limits.maxContainers` arrays and objects. Returns
 * the value and the containers left. Errors: those of {@link parseJson}.
 */
export function parseJsonSpan(text: string, start: number, end: number, path: string, depth: number, limits: ParseLimits): { value: JsonValue; containersLeft: number } {
  const resolved = resolveLimits(limits);
  return parsed(text, { ...resolved, maxDepth: Math.max(0, resolved.maxDepth - depth) }, undefined, { start, end, prefix: path });
}
