/**
 * Newline-delimited framing of stdio MCP (both wire versions; MCP notes §2) over raw bytes,
 * with a cap: a line is the bytes up to each LF (0x0A), the LF excluded, nothing else
 * removed (a CR, a NUL, invalid UTF-8 all stay for the message reader to refuse). A line
 * longer than the cap is never held: its bytes are hashed and scanned for a top-level `id`
 * as they stream past, then reported as one {@link Oversize} frame, so memory stays bounded
 * by the cap whatever a peer sends. See docs/wire.md.
 */
import type { CallerBinding } from '../gate/gate.js';
import { createHash, type Hash } from 'node:crypto';
import { MAX_ID_LENGTH } from './message.js';

/** A line longer than the cap, discarded as it arrived. */
export interface Oversize {
  /** Its length in bytes (LF excluded). */
  size: number;
  /** `sha256:<hex>` of its bytes: what the refusal record commits to. */
  digest: string;
  /**
   * The JSON-RPC id its top-level `id` member seemed to hold (a lenient scan of unchecked
   * bytes: only for addressing the error and closing the request it answers), null when
   * there was none, several, or one that is not a string or a number.
   */
  id: string | number | null;
  /** A top-level `method` member was seen: it is a request or notification, answering nothing. */
  request: boolean;
}

/**
 * One frame: a complete line (or message), a line over the cap, or, from an HTTP upstream
 * only, the end of a request's response stream without an answer to it (`lost`: its id). A
 * line the gateway received carries the access token of the request it came in (`caller`):
 * the gate decides that message with that token, never another request's.
 */
export type Frame = { line: Buffer; caller?: CallerBinding } | { oversize: Oversize } | { lost: string | number };

/** Splits a byte stream into {@link Frame}s of at most `maxBytes` bytes per line. */
export class FrameReader {
  private parts: Buffer[] = [];
  private held = 0;
  /** Set while a line over the cap streams past. */
  private skip: { hash: Hash; size: number; sniff: IdSniffer } | null = null;

  /** `maxBytes`: the largest line kept, in bytes (LF excluded). */
  constructor(private readonly maxBytes: number) {}

  /** Feed a chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf >= 0; lf = chunk.indexOf(0x0a, start)) {
      this.take(chunk.subarray(start, lf));
      frames.push(this.end());
      start = lf + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
    return frames;
  }

  /**
   * Add bytes to the current message without looking for LFs (a message that arrives
   * whole by other means: an HTTP body, an SSE event's data); {@link finish} ends it.
   */
  append(chunk: Buffer): void {
    this.take(chunk);
  }

  /** End the message built by {@link append}: the frame it makes (an empty line when nothing was added). */
  finish(): Frame {
    return this.end();
  }

  /** Nothing has been added since the last frame. */
  get empty(): boolean {
    return this.held === 0 && this.skip === null;
  }

  /** The unterminated tail at end of stream, if any (a line without its LF). */
  flush(): Frame | null {
    return this.held > 0 || this.skip !== null ? this.end() : null;
  }

  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.skip === null && this.held + bytes.length <= this.maxBytes) {
      this.parts.push(bytes);
      this.held += bytes.length;
      return;
    }
    if (this.skip === null) {
      // Over the cap: from here on, hash and scan instead of holding.
      this.skip = { hash: createHash('sha256'), size: 0, sniff: new IdSniffer() };
      for (const p of this.parts) this.skipped(p);
      this.parts = [];
      this.held = 0;
    }
    this.skipped(bytes);
  }

  private skipped(bytes: Buffer): void {
    const s = this.skip!;
    s.hash.update(bytes);
    s.size += bytes.length;
    s.sniff.feed(bytes);
  }

  private end(): Frame {
    const s = this.skip;
    if (s !== null) {
      this.skip = null;
      return { oversize: { size: s.size, digest: `sha256:${s.hash.digest('hex')}`, id: s.sniff.id(), request: s.sniff.sawMethod } };
    }
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    return { line };
  }
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const MAX_TOKEN = 128;

/**
 * Finds the values of the top-level `"id"` members of a JSON object streaming past, in
 * bounded memory (a key or value longer than {@link MAX_TOKEN} bytes is not kept, nor any
 * value once two differ: the id is then ambiguous, however many more a peer sends).
 */
export class IdSniffer {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectKey = false;
  private key: number[] | null = null;
  private lastKey: string | null = null;
  private value: number[] | null = null;
  private readonly found = new Set<string>();
  /** A top-level `"method"` member name was seen. */
  sawMethod = false;

  /** Scan more bytes. */
  feed(bytes: Uint8Array): void {
    for (const b of bytes) this.step(b);
  }

  /** The single id found (string or number), else null. */
  id(): string | number | null {
    this.endValue();
    if (this.found.size !== 1) return null;
    try {
      const v: unknown = JSON.parse([...this.found][0]!);
      return (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v)) ? v : null;
    } catch {
      return null;
    }
  }

  private step(b: number): void {
    if (this.value !== null) {
      if (!this.inString && this.depth === 1 && (b === COMMA || b === 0x7d)) this.endValue();
      else if (this.value.length < MAX_TOKEN) this.value.push(b);
      else this.keep('!'); // too long to be an id: ambiguous
    }
    if (this.inString) return this.stringByte(b);
    if (b === QUOTE) {
      this.inString = true;
      if (this.depth === 1 && this.expectKey) this.key = [];
      this.expectKey = false;
    } else if (b === 0x7b || b === 0x5b) {
      this.depth++;
      this.expectKey = this.depth === 1 && b === 0x7b;
    } else if (b === 0x7d || b === 0x5d) {
      this.depth--;
    } else if (this.depth === 1 && b === COMMA) {
      this.expectKey = true;
    } else if (this.depth === 1 && b === COLON && this.lastKey !== null) {
      if (this.lastKey === 'id') this.value = [];
      if (this.lastKey === 'method') this.sawMethod = true;
      this.lastKey = null;
    }
  }

  private stringByte(b: number): void {
    if (this.escaped) this.escaped = false;
    else if (b === BACKSLASH) this.escaped = true;
    else if (b === QUOTE) {
      this.inString = false;
      if (this.key !== null) this.lastKey = Buffer.from(this.key).toString('utf8');
      this.key = null;
      return;
    }
    if (this.key !== null && this.key.length < MAX_TOKEN) this.key.push(b);
  }

  private endValue(): void {
    if (this.value === null) return;
    this.keep(Buffer.from(this.value).toString('utf8').trim());
    this.value = null;
  }

  /** Keep a value found; two distinct ones already make the id ambiguous, and no more are kept. */
  private keep(value: string): void {
    if (this.found.size < 2) this.found.add(value);
  }
}
