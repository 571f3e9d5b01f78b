/**
 * Token scanner for the strict parser: whitespace, literals, numbers and strings exactly as
 * RFC 8259 §2-§7 spells them, plus the I-JSON (RFC 7493 §2) value checks on numbers and
 * strings. Internal to `src/jcs`; errors go through the parser's `fail`, which adds the path.
 */
import type { ErrorCode } from '../errors.js';

/** Raises a coded error at `offset` (UTF-16 code units into the text); never returns. */
export type Fail = (code: ErrorCode, message: string, offset: number) => never;

/** Float policy of {@link Scanner.number}. */
export type FloatPolicy = 'allow' | 'reject';

// RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const NUMBER_TAIL = /^[0-9.eE+-]$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
// RFC 8259 §7: the two-character escapes, by the code unit after the backslash (" \ / b f n r t).
const SHORT_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

/** A run of code units a string may hold as they are: no quote, backslash, control character or surrogate. */
const PLAIN_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;

const isHigh = (u: number): boolean => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number): boolean => u >= 0xdc00 && u <= 0xdfff;

/** A cursor over JSON text. `pos` is a UTF-16 code-unit offset. */
export class Scanner {
  pos = 0;
  /** Whether the last string scanned held an escape (its text may then differ from its JCS form). */
  escaped = false;

  constructor(
    readonly text: string,
    private readonly fail: Fail,
  ) {}

  /** The code unit at the cursor, or -1 at the end of the text. */
  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Skips RFC 8259 §2 whitespace: SP, HT, LF and CR only. Returns whether there was any. */
  skipWhitespace(): boolean {
    const t = this.text;
    const start = this.pos;
    let p = start;
    for (let c = t.charCodeAt(p); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; ) {
      c = t.charCodeAt(++p);
    }
    this.pos = p;
    return p !== start;
  }

  /** Consumes the code unit `unit` or fails with `ERR_JSON_SYNTAX` ("expected `what`"). */
  expect(unit: number, what: string): void {
    if (this.peek() !== unit) this.fail('ERR_JSON_SYNTAX', `expected ${what}`, this.pos);
    this.pos++;
  }

  /** Consumes `word` (`true`, `false`, `null`) if the text continues with it. */
  literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  /**
   * Scans a number token. Fails with `ERR_JSON_SYNTAX` on bad grammar, `ERR_JSON_FLOAT` on a
   * fraction or exponent under policy 'reject', and `ERR_JSON_NUMBER` on overflow to
   * ±Infinity, on negative zero (`-0`, `-0.0`, `-1e-400`), and on an integer token (no
   * fraction, no exponent) whose magnitude exceeds 2^53-1.
   */
  number(floats: FloatPolicy): number {
    const start = this.pos;
    NUMBER.lastIndex = start;
    const m = NUMBER.exec(this.text);
    if (m === null) return this.fail('ERR_JSON_SYNTAX', 'invalid number', start);
    this.pos = start + m[0].length;
    // "01", "-01", "1.", "1e", "1.5.5": report the grammar error before any value check.
    if (NUMBER_TAIL.test(this.text.charAt(this.pos))) this.fail('ERR_JSON_SYNTAX', 'invalid number', start);
    const isFloat = m[1] !== undefined || m[2] !== undefined;
    if (isFloat && floats === 'reject') this.fail('ERR_JSON_FLOAT', 'non-integer number not allowed', start);
    const value = Number(m[0]);
    if (!Number.isFinite(value)) this.fail('ERR_JSON_NUMBER', 'number overflows binary64', start);
    if (Object.is(value, -0)) this.fail('ERR_JSON_NUMBER', 'negative zero', start);
    if (!isFloat && !Number.isSafeInteger(value)) {
      this.fail('ERR_JSON_NUMBER', 'integer magnitude exceeds 2^53-1', start);
    }
    return value;
  }

  /**
   * Scans a string token starting at its opening quote and returns its unescaped value.
   * Fails with `ERR_JSON_SYNTAX` on an unescaped control character (U+0000-U+001F), a bad
   * escape or a missing closing quote, and with `ERR_JSON_LONE_SURROGATE` on a surrogate
   * that is not half of a pair, raw or escaped (a pair must be both raw or both escaped).
   */
  string(): string {
    const t = this.text;
    const start = this.pos;
    let p = start + 1;
    this.escaped = false;
    for (;;) {
      // The run of code units that need no look (the common case) is skipped natively.
      PLAIN_RUN.lastIndex = p;
      PLAIN_RUN.test(t);
      p = PLAIN_RUN.lastIndex;
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c === 0x5c) {
        this.escaped = true;
        p = this.escapeEnd(p);
      } else if (isHigh(c) && isLow(t.charCodeAt(p + 1))) {
        p += 2;
      } else if (c >= 0xd800) {
        this.fail('ERR_JSON_LONE_SURROGATE', 'lone surrogate in string', p);
      } else {
        this.fail('ERR_JSON_SYNTAX', p >= t.length ? 'unterminated string' : 'control character in string', p);
      }
    }
    this.pos = p + 1;
    // A token checked above is RFC 8259 §7 exactly, with no lone surrogate: the platform's
    // decoder gives its value as ours would, as one flat string.
    return this.escaped ? (JSON.parse(t.slice(start, p + 1)) as string) : t.slice(start + 1, p);
  }

  /**
   * Moves the cursor past one value's text without checking it, for a caller that parses
   * that span strictly afterwards: a string up to its closing quote (a quote with an even
   * run of backslashes before it), a container up to the bracket that brings the depth back
   * to zero (brackets in strings skipped, their kinds not matched), a scalar up to a comma,
   * a bracket or whitespace. For valid JSON the span is exactly the value; any other text
   * the strict parse of the span refuses. Linear: each backslash is looked at once more at
   * most. Fails with `ERR_JSON_SYNTAX` at the end of the text or when no value starts here.
   */
  skipValue(): void {
    const t = this.text;
    const start = this.pos;
    let p = start;
    let depth = 0;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        p = this.stringEnd(p);
        if (depth === 0) break;
      } else if (c === 0x5b || c === 0x7b) {
        depth++;
        p++;
      } else if (c === 0x5d || c === 0x7d) {
        if (depth === 0) break;
        p++;
        if (--depth === 0) break;
      } else if (Number.isNaN(c)) {
        this.fail('ERR_JSON_SYNTAX', 'unexpected end of input', p);
      } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d)) {
        break;
      } else {
        p++;
      }
    }
    if (p === start) this.fail('ERR_JSON_SYNTAX', 'unexpected character', p);
    this.pos = p;
  }

  /** The offset just past the closing quote of the string opening at `p`, unchecked. */
  private stringEnd(p: number): number {
    const t = this.text;
    for (let q = t.indexOf('"', p + 1); ; q = t.indexOf('"', q + 1)) {
      if (q < 0) return this.fail('ERR_JSON_SYNTAX', 'unterminated string', t.length);
      let b = q - 1;
      while (t.charCodeAt(b) === 0x5c) b--;
      if ((q - 1 - b) % 2 === 0) return q + 1;
    }
  }

  /** Checks the escape at `p` (a backslash); returns the offset just after it (a `\\u` surrogate pair is one escape). */
  private escapeEnd(p: number): number {
    const kind = this.text.charCodeAt(p + 1);
    if (SHORT_ESCAPES.has(kind)) return p + 2;
    if (kind !== 0x75) this.fail('ERR_JSON_SYNTAX', 'invalid escape', p);
    const unit = this.hex4(p + 2);
    if (!isHigh(unit) && !isLow(unit)) return p + 6;
    if (isHigh(unit) && this.text.startsWith('\\u', p + 6) && isLow(this.hex4(p + 8))) return p + 12;
    return this.fail('ERR_JSON_LONE_SURROGATE', 'lone surrogate escape', p);
  }

  /** Reads the four hex digits of a `\u` escape at `p`. */
  private hex4(p: number): number {
    const digits = this.text.slice(p, p + 4);
    if (!HEX4.test(digits)) this.fail('ERR_JSON_SYNTAX', 'invalid \\u escape', p);
    return parseInt(digits, 16);
  }
}
