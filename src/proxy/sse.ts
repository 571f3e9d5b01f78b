/**
 * A streaming reader of `text/event-stream` (the HTML Living Standard's server-sent events
 * parsing, §9.2.6), for SSE responses of MCP Streamable HTTP (docs/http.md). It never holds
 * an event's data: data bytes are handed to the sink as they arrive (the LF that joins two
 * data lines included), so the caller's capped {@link FrameReader} decides what is kept and
 * memory stays bounded whatever the peer sends. The other fields (`event`, `id`, `retry`)
 * are kept up to {@link MAX_FIELD_VALUE} bytes; a longer value is dropped. Lines end at CRLF,
 * LF or CR; a UTF-8 BOM opening the stream is skipped. Written here rather than taken from a
 * library because the libraries buffer whole events before any limit applies.
 */

/** Longest `event`/`id`/`retry` value kept, bytes. */
export const MAX_FIELD_VALUE = 1024;
const MAX_FIELD_NAME = 16;
const LF = 0x0a, CR = 0x0d, COLON = 0x3a, SPACE = 0x20;
const JOIN = Buffer.from('\n');

/** What an {@link SseReader} reports. */
export interface SseSink {
  /** Bytes of the current event's data, in order. */
  data(bytes: Buffer): void;
  /**
   * A blank line ended an event: its type (`message` when none was given), the last event
   * id seen on the stream (or null), and whether it had any data line (the standard
   * dispatches nothing without one: the caller discards what it gathered).
   */
  dispatch(event: { type: string; id: string | null; hadData: boolean }): void;
  /** A `retry` field: the reconnection time the server asks for, ms. */
  retry?(ms: number): void;
}

type State = 'start' | 'field' | 'value' | 'data' | 'skip';

/** Parses an event stream chunk by chunk into an {@link SseSink}. */
export class SseReader {
  private state: State = 'start';
  private afterCr = false;
  private first = true;
  private name: number[] = [];
  private value: number[] = [];
  private overflow = false;
  private skipSpace = false;
  private dataLines = 0;
  private type: string | null = null;
  private lastId: string | null = null;

  constructor(private readonly sink: SseSink) {}

  /** Feed the next chunk of the stream. */
  push(chunk: Buffer): void {
    let i = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    while (i < chunk.length) {
      const b = chunk[i]!;
      if (this.afterCr) {
        this.afterCr = false;
        if (b === LF) { i++; continue; }
      }
      if (this.state === 'data' || this.state === 'skip') {
        i = this.run(chunk, i);
        continue;
      }
      if (b === CR || b === LF) {
        this.endLine();
        this.afterCr = b === CR;
      } else this.byte(b);
      i++;
    }
  }

  /** Data bytes (or a comment) up to the end of the line: passed on (or dropped) without copying. */
  private run(chunk: Buffer, i: number): number {
    let eol = i;
    while (eol < chunk.length && chunk[eol] !== LF && chunk[eol] !== CR) eol++;
    let start = i;
    if (this.skipSpace && start < eol) {
      this.skipSpace = false;
      if (chunk[start] === SPACE) start++;
    }
    if (this.state === 'data' && start < eol) this.sink.data(chunk.subarray(start, eol));
    if (eol < chunk.length) {
      this.afterCr = chunk[eol] === CR;
      this.endLine();
      return eol + 1;
    }
    return eol;
  }

  private byte(b: number): void {
    if (this.state === 'start') {
      if (b === COLON) { this.state = 'skip'; return; }
      this.state = 'field';
    }
    if (this.state === 'field') {
      if (b !== COLON) {
        if (this.name.length < MAX_FIELD_NAME) this.name.push(b);
        else this.overflow = true;
        return;
      }
      this.skipSpace = true;
      if (this.fieldName() === 'data') return this.startData();
      this.state = 'value';
      return;
    }
    // 'value'
    if (this.skipSpace) {
      this.skipSpace = false;
      if (b === SPACE) return;
    }
    if (this.value.length < MAX_FIELD_VALUE) this.value.push(b);
    else this.overflow = true;
  }

  private fieldName(): string | null {
    return this.overflow ? null : Buffer.from(this.name).toString('latin1');
  }

  private startData(): void {
    if (this.dataLines > 0) this.sink.data(JOIN);
    this.dataLines++;
    this.state = 'data';
  }

  private endLine(): void {
    const state = this.state;
    this.state = 'start';
    if (state === 'start') return this.dispatch();
    if (state === 'field') {
      // A line without a colon: the whole line is the field name, the value is empty.
      if (this.fieldName() === 'data') this.startData();
      else this.field();
      this.state = 'start';
    } else if (state === 'value') this.field();
    this.name = [];
    this.value = [];
    this.overflow = false;
    this.skipSpace = false;
  }

  private field(): void {
    if (this.overflow) return;
    const name = this.fieldName();
    const value = Buffer.from(this.value).toString('utf8');
    if (name === 'event') this.type = value;
    else if (name === 'id' && !value.includes('\0')) this.lastId = value;
    else if (name === 'retry' && /^[0-9]{1,9}$/.test(value)) this.sink.retry?.(Number(value));
  }

  private dispatch(): void {
    const hadData = this.dataLines > 0;
    const type = this.type === null || this.type === '' ? 'message' : this.type;
    this.dataLines = 0;
    this.type = null;
    this.sink.dispatch({ type, id: this.lastId, hadData });
  }
}
