/**
 * A Streamable HTTP MCP server seen by the relay as an upstream process (docs/http.md): the
 * relay writes each message it checked to `stdin` (one line of its own serialization) and
 * reads the upstream's messages from `stdout` as {@link Frame}s, capped and unchecked, for
 * its strict reader, exactly as from a child's stdout. Both wire eras:
 * - 2025-11-25 (legacy): the `Mcp-Session-Id` the server gives in answer to `initialize` is
 *   sent on every later request, with the negotiated `MCP-Protocol-Version`; once the client's
 *   `notifications/initialized` is accepted, the GET stream is opened (and re-opened with
 *   `Last-Event-ID` when it drops) for server-initiated messages; DELETE ends the session.
 * - 2026-07-28 (a request carrying `_meta["io.modelcontextprotocol/protocolVersion"]`):
 *   one POST per message with `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` mirrored
 *   from the body; a client's `notifications/cancelled` closes that request's response
 *   stream, the transport's cancellation signal.
 * Each message of an SSE response is passed on as it arrives. A request whose response (JSON
 * or SSE) ends without an answer to it yields a `lost` frame (the relay closes the request:
 * a call is receipted unanswered); an HTTP error without a JSON-RPC answer yields a JSON-RPC
 * error (code {@link UPSTREAM_HTTP_ERROR}, `data.code` `ERR_UPSTREAM_HTTP`, `data.status`).
 * Redirects are not followed. Authentication: the static headers given (a bearer token
 * among them), or a provider of them asked before each request.
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { FrameReader, type Frame } from './frames.js';
import { idKey, lenientRef, readMessage, type RpcId, type RpcMessage } from './message.js';
import { SseReader } from './sse.js';
import { send, type UpstreamResponse } from './http-client.js';

/** JSON-RPC error code (implementation-defined range) standing for an HTTP error from the upstream. */
export const UPSTREAM_HTTP_ERROR = -32004;
/** Most POSTs in flight to one upstream before the relay is held back. */
export const MAX_IN_FLIGHT = 1100;
/** How long a notification or response POST may take before it is abandoned, ms. */
export const NOTIFY_TIMEOUT_MS = 30_000;
/** `_meta` key of a 2026-07-28 request's protocol version. */
export const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/** How to reach one Streamable HTTP upstream. */
export interface HttpUpstreamOptions {
  url: URL;
  /** Sent on every request (names lower-case), e.g. `authorization`. */
  headers?: Record<string, string>;
  /** Extra headers asked for before each request (an OAuth access token). */
  auth?: () => Promise<Record<string, string>>;
  /** The upstream answered 401: true when the request may be sent again (OAuth authorized or refreshed). */
  unauthorized?: (res: Response) => Promise<boolean>;
  /** The relay's message cap, bytes: a longer message becomes an oversize frame. */
  maxMessageBytes: number;
}

/** A value safe as an HTTP header value as is (visible ASCII and inner spaces). */
const PLAIN_HEADER = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const SESSION_ID = /^[\x21-\x7e]{1,1024}$/;

/** A header value: as is when plain, else the MCP base64 form (`=?base64?...?=`, 2026-07-28 "Value Encoding"). */
export function headerValue(v: string): string {
  if (PLAIN_HEADER.test(v) && !(v.startsWith('=?base64?') && v.endsWith('?='))) return v;
  return `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

function note(message: string): void {
  process.stderr.write(`mcp-attest: upstream: ${message}\n`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The 2026-07-28 protocol version a message carries, if any. */
function modernVersion(msg: RpcMessage): string | null {
  const meta = isObj(msg.params) ? msg.params['_meta'] : undefined;
  const v = isObj(meta) ? meta[PROTOCOL_VERSION_META] : undefined;
  return typeof v === 'string' && PLAIN_HEADER.test(v) ? v : null;
}

/** The frame answers the request `id` (a lenient look, for bookkeeping only: the relay reads it strictly). */
function answers(f: Frame, id: RpcId): boolean {
  if ('lost' in f) return false;
  const ref = 'oversize' in f ? f.oversize : lenientRef(f.line);
  return !ref.request && ref.id !== null && idKey(ref.id) === idKey(id);
}

/** One Streamable HTTP upstream, shaped like the child process the relay would otherwise spawn. */
export class HttpUpstream extends EventEmitter {
  /** The upstream's messages, as frames (object mode). */
  readonly stdout = new PassThrough({ objectMode: true, highWaterMark: 16 });
  /** The relay's messages, one serialized line per write. */
  readonly stdin: Writable;
  /** Null until the upstream is closed, then 0. */
  exitCode: number | null = null;
  private sessionId: string | null = null;
  private version: string | null = null;
  private readonly inflight = new Set<AbortController>();
  /** Requests in flight by id (the latest POST of each id): set answered by an answer on any stream. */
  private readonly open = new Map<string, { answered: boolean }>();
  /** 2026-07-28 requests by id: closing the stream cancels them. */
  private readonly modern = new Map<string, AbortController>();
  private listening: AbortController | null = null;
  private ending = false;
  private killed = false;
  /** The relay's last write, held while {@link MAX_IN_FLIGHT} POSTs are in flight. */
  private waiting: (() => void) | null = null;

  constructor(private readonly o: HttpUpstreamOptions) {
    super();
    this.stdin = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => {
        this.send(chunk.toString('utf8'));
        // Past the cap of POSTs in flight, the relay is held back (its lane waits on this stream).
        if (this.inflight.size < MAX_IN_FLIGHT) return cb();
        this.waiting = () => {
          this.waiting = null;
          cb();
        };
      },
      final: (cb) => {
        this.ending = true;
        this.idle();
        cb();
      },
    });
  }

  /** Stop: abort every request, end the session (legacy), then report `exit` with 0. Idempotent. */
  kill(): boolean {
    if (this.killed) return false;
    this.killed = true;
    this.waiting?.();
    for (const ac of this.inflight) ac.abort();
    this.listening?.abort();
    const done = (): void => {
      this.exitCode = 0;
      this.stdout.end();
      this.emit('exit', 0, null);
    };
    if (this.sessionId === null) queueMicrotask(done);
    else void this.fetch('DELETE', {}, undefined, AbortSignal.timeout(2000)).then((r) => r.cancel(), () => undefined).finally(done);
    return true;
  }

  private idle(): void {
    if (this.ending && this.inflight.size === 0) this.kill();
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { ...this.o.headers, ...extra };
    if (this.sessionId !== null) h['mcp-session-id'] = this.sessionId;
    if (this.version !== null && h['mcp-protocol-version'] === undefined) h['mcp-protocol-version'] = this.version;
    return h;
  }

  private async fetch(method: string, extra: Record<string, string>, body: string | undefined, signal: AbortSignal, retry = true): Promise<UpstreamResponse> {
    const auth = this.o.auth ? await this.o.auth() : {};
    const res = await send(this.o.url, { method, headers: { ...this.headers(extra), ...auth }, body, signal });
    if (res.status !== 401 || !retry || this.o.unauthorized === undefined) return res;
    res.cancel();
    return (await this.o.unauthorized(res.asFetchResponse())) ? this.fetch(method, extra, body, signal, false) : res;
  }

  /** One message from the relay. */
  private send(line: string): void {
    if (this.killed) return;
    const msg = JSON.parse(line) as RpcMessage;
    const modern = modernVersion(msg);
    if (msg.method === 'notifications/cancelled' && isObj(msg.params)) {
      const ac = this.modern.get(idKey(msg.params['requestId'] as RpcId));
      // 2026-07-28 over HTTP: closing the request's stream is the cancellation.
      if (ac !== undefined) return void ac.abort();
    }
    const extra: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (modern !== null) {
      extra['mcp-protocol-version'] = modern;
      extra['mcp-method'] = headerValue(msg.method ?? '');
      const p = msg.params;
      const name = msg.method === 'resources/read' ? p?.['uri'] : msg.method === 'tools/call' || msg.method === 'prompts/get' ? p?.['name'] : undefined;
      if (typeof name === 'string') extra['mcp-name'] = headerValue(name);
    }
    const ac = new AbortController();
    this.inflight.add(ac);
    const isRequest = msg.method !== undefined && msg.id !== undefined;
    const key = idKey(msg.id);
    const entry = { answered: false };
    if (isRequest) this.open.set(key, entry);
    if (isRequest && modern !== null) this.modern.set(key, ac);
    void this.post(msg, line.trimEnd(), extra, ac, isRequest ? entry : null).catch((e: unknown) => note((e as Error).message)).finally(() => {
      this.inflight.delete(ac);
      if (isRequest && this.modern.get(key) === ac) this.modern.delete(key);
      if (isRequest && this.open.get(key) === entry) this.open.delete(key);
      if (this.inflight.size < MAX_IN_FLIGHT) this.waiting?.();
      this.idle();
    });
  }

  /** POST one message; `entry` (for a request) turns answered when its answer is seen on any stream. */
  private async post(msg: RpcMessage, body: string, extra: Record<string, string>, ac: AbortController, entry: { answered: boolean } | null): Promise<void> {
    let res: UpstreamResponse;
    // A notification or response gets its 202 in bounded time; a request's stream may last.
    const signal = entry === null ? AbortSignal.any([ac.signal, AbortSignal.timeout(NOTIFY_TIMEOUT_MS)]) : ac.signal;
    try {
      res = await this.fetch('POST', extra, body, signal);
    } catch (e) {
      if (!this.killed) note(`POST failed: ${(e as Error).message}`);
      if (entry !== null && !entry.answered) await this.push({ lost: msg.id! });
      return;
    }
    if (msg.method === 'initialize') {
      const sid = res.header('mcp-session-id');
      if (sid !== null && SESSION_ID.test(sid)) this.sessionId = sid;
    }
    if (entry === null) {
      res.cancel();
      if (!res.ok) note(`${msg.method ?? 'a response'} refused with HTTP ${res.status}`);
      else if (msg.method === 'notifications/initialized' && this.listening === null) void this.listen();
      return;
    }
    const answered = await this.readBody(res, msg, ac.signal);
    if (answered || entry.answered || this.killed) return;
    if (res.ok) return this.push({ lost: msg.id! });
    await this.push(this.httpError(msg.id!, res.status));
  }

  /** Pass on the messages of a response body; true when one answered `msg`. */
  private async readBody(res: UpstreamResponse, msg: RpcMessage | null, signal: AbortSignal): Promise<boolean> {
    const type = (res.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const sse = type === 'text/event-stream';
    if ((!sse && type !== 'application/json') || res.status === 202 || (res.status >= 300 && res.status < 400)) {
      res.cancel();
      return false;
    }
    const frames = new FrameReader(this.o.maxMessageBytes);
    const ready: Frame[] = [];
    const reader = sse ? new SseReader({
      data: (b) => frames.append(b),
      dispatch: (ev) => {
        const f = frames.finish();
        if (ev.hadData && ev.type === 'message') ready.push(f);
        if (ev.id !== null && msg === null) this.lastEventId = ev.id;
      },
    }) : null;
    let answered = false;
    const flush = async (): Promise<void> => {
      for (const f of ready.splice(0)) {
        const answer = msg !== null && msg.id !== undefined && msg.id !== null && answers(f, msg.id);
        if (answer) {
          answered = true;
          if (msg.method === 'initialize') this.negotiated(f);
        }
        // An error status's body counts only as the answer it gives (an id-less error stands for nothing pending).
        if (answer || res.ok) await this.push(f);
      }
    };
    try {
      for await (const b of res.body) {
        if (signal.aborted) break;
        if (reader !== null) reader.push(b);
        else frames.append(b);
        await flush();
      }
      if (reader === null && !frames.empty) ready.push(frames.finish());
      await flush();
    } catch (e) {
      if (!signal.aborted && !this.killed) note(`response stream broke: ${(e as Error).message}`);
    }
    return answered;
  }

  /** Last SSE event id seen on the GET stream (for `Last-Event-ID`). */
  private lastEventId: string | null = null;

  /** The legacy GET stream: server-initiated messages; re-opened (with `Last-Event-ID`) when it drops, up to 5 times in a row. */
  private async listen(): Promise<void> {
    for (let failures = 0; !this.killed && failures < 5;) {
      const ac = new AbortController();
      this.listening = ac;
      const extra: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastEventId !== null) extra['last-event-id'] = this.lastEventId;
      let res: UpstreamResponse;
      try {
        res = await this.fetch('GET', extra, undefined, ac.signal);
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 1000).unref());
        continue;
      }
      const type = (res.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!res.ok || type !== 'text/event-stream') {
        res.cancel();
        return; // no stream offered (405 and the like): nothing to listen to
      }
      failures = 0;
      await this.readBody(res, null, ac.signal);
      if (!this.killed) {
        failures++;
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }

  /** Learn the negotiated protocol version from the `initialize` answer (read strictly; an unreadable one is the relay's to refuse). */
  private negotiated(f: Frame): void {
    if (!('line' in f)) return;
    const r = readMessage(f.line, { maxBytes: this.o.maxMessageBytes, maxDepth: 128 });
    const v = r.ok && isObj(r.msg.result) ? r.msg.result['protocolVersion'] : undefined;
    if (typeof v === 'string' && PLAIN_HEADER.test(v) && v.length <= 64) this.version = v;
  }

  private httpError(id: RpcId, status: number): Frame {
    const text = JSON.stringify({ jsonrpc: '2.0', id, error: { code: UPSTREAM_HTTP_ERROR, message: `mcp-attest: the upstream answered HTTP ${status}`, data: { code: 'ERR_UPSTREAM_HTTP', status } } });
    return { line: Buffer.from(text) };
  }

  /** Hand a frame to the relay, waiting while it is behind (one listener pair per wait, removed after). */
  private async push(f: Frame): Promise<void> {
    if (this.killed || this.stdout.destroyed || this.stdout.writableEnded) return;
    this.noteAnswer(f);
    if (this.stdout.write(f)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stdout.off('drain', done).off('close', done);
        resolve();
      };
      this.stdout.on('drain', done).on('close', done);
    });
  }

  /** A frame answering a request in flight, on whatever stream it came: that request is answered (no `lost` for it). */
  private noteAnswer(f: Frame): void {
    if ('lost' in f || this.open.size === 0) return;
    const ref = 'oversize' in f ? f.oversize : lenientRef(f.line);
    if (ref.request || ref.id === null) return;
    const entry = this.open.get(idKey(ref.id));
    if (entry !== undefined) entry.answered = true;
  }
}
