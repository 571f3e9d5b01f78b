/**
 * Newline-delimited JSON-RPC framing for stdio MCP (both wire versions): split a byte
 * stream into lines, keeping every byte of each line as received (a trailing CR stays).
 */

/** Splits chunks into complete lines (without the LF); keeps the unfinished remainder. */
export class LineSplitter {
  // Pieces of the unfinished line: a long message arriving in many chunks is joined once.
  private rest: string[] = [];

  /** Feed a chunk; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', start)) {
      this.rest.push(chunk.slice(start, i));
      lines.push(this.rest.join(''));
      this.rest = [];
      start = i + 1;
    }
    if (start < chunk.length) this.rest.push(chunk.slice(start));
    return lines;
  }

  /** The unterminated tail, if any (on end of stream). */
  flush(): string | null {
    const r = this.rest.join('');
    this.rest = [];
    return r.length > 0 ? r : null;
  }
}

/** A parsed JSON-RPC message, loosely typed (only what the relay reads). */
export interface RpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: unknown;
}

/** Parse a line as a JSON-RPC object; null when it is not one (it is then relayed raw). */
export function parseMessage(line: string): RpcMessage | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as RpcMessage) : null;
  } catch {
    return null;
  }
}

/** Key of a JSON-RPC id in one direction's pending map. */
export function idKey(id: unknown): string {
  return JSON.stringify(id);
}
