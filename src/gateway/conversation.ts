/**
 * One conversation between an HTTP caller and an upstream, behind one relay (docs/gateway.md):
 * a legacy session (`Mcp-Session-Id`), a 2026-07-28 request (HTTP upstream: one relay per
 * request), or a principal's 2026-07-28 traffic to a stdio upstream (one relay per principal).
 * The relay reads what the caller sent as frames and writes what it relays as lines; this
 * routes each line to the caller's open HTTP response it belongs to: a response to the stream
 * of the POST that asked (then that stream ends), a progress notification to the stream of the
 * request that gave its `progressToken`, anything else to the session's GET stream when one is
 * open, else to the only open request stream, else to the latest one (a stdio upstream does
 * not say which request a message relates to). A line with nowhere to go is dropped and counted.
 */
import type { CallerBinding } from '../gate/gate.js';
import { PassThrough, Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { idKey, type RpcId, type RpcMessage } from '../proxy/message.js';
import type { StdioRelay } from '../proxy/stdio-relay.js';
import type { Frame } from '../proxy/frames.js';
import { filterTools } from './tools-filter.js';

/** How often an open SSE stream with nothing to say sends a comment, ms. */
export const KEEP_ALIVE_MS = 15_000;

/** An open HTTP response carrying SSE events to the caller (an SSE comment every {@link KEEP_ALIVE_MS} while idle). */
export class EventStream {
  private ended = false;
  /** Set when the caller closed it before it ended. */
  gone = false;
  private settleDone!: () => void;
  /** Resolves when the request is settled: answered (or refused), forgotten by a cancellation, or its conversation ended. */
  readonly settled = new Promise<void>((r) => (this.settleDone = r));

  private readonly keepAlive: NodeJS.Timeout;

  constructor(readonly res: ServerResponse, headers: Record<string, string>, readonly onGone: () => void) {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    // An SSE comment now and then: clients and intermediaries drop streams idle too long.
    this.keepAlive = setInterval(() => { if (!this.ended && res.writableLength === 0) res.write(': keep-alive\n\n'); }, KEEP_ALIVE_MS).unref();
    res.on('close', () => {
      clearInterval(this.keepAlive);
      if (this.ended) return;
      this.gone = true;
      this.ended = true;
      onGone();
    });
  }

  /** Send one message as an SSE `message` event; false when the caller's buffer is full (wait for `drain`). */
  send(line: string): boolean {
    if (this.ended) return true;
    return this.res.write(`event: message\ndata: ${line}\n\n`);
  }

  /** End the stream (after its last event). */
  end(): void {
    clearInterval(this.keepAlive);
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }

  /** The request is settled: end the stream if still open, and resolve {@link settled}. */
  settle(): void {
    this.end();
    this.settleDone();
  }

  get open(): boolean {
    return !this.ended;
  }
}

/** What a conversation needs from its gateway. */
export interface ConversationHooks {
  /** Tool names the caller may see and call (the upstream's allow/deny list). */
  toolAllowed(name: string): boolean;
  /** A line the relay wrote that had nowhere to go. */
  dropped(): void;
  /** The relay has ended. */
  ended(): void;
}

/** A relay and the HTTP streams its caller has open. */
export class Conversation {
  /** Frames for the relay's client side. */
  readonly input = new PassThrough({ objectMode: true, highWaterMark: 16 });
  /** Lines the relay writes to its client. */
  readonly output: Writable;
  relay!: StdioRelay;
  lastUsed = Date.now();
  private readonly waiting = new Map<string, { id: RpcId; stream: EventStream; method: string; token: string | null }>();
  /** The caller's side was closed: no new request is taken. */
  closing = false;
  private readonly tokens = new Map<string, EventStream>();
  private listener: EventStream | null = null;
  private closed = false;

  constructor(readonly principal: string, private readonly hooks: ConversationHooks) {
    this.output = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => this.route(chunk.toString('utf8').trimEnd(), cb),
      final: (cb) => cb(),
    });
  }

  /** Start with its relay: its end ends the conversation. */
  attach(relay: StdioRelay): void {
    this.relay = relay;
    void relay.done.then(() => {
      this.closed = true;
      // Whoever still waits is told, not left with an empty response (the log says why: the receipts).
      for (const w of this.waiting.values()) {
        w.stream.send(JSON.stringify({ jsonrpc: '2.0', id: w.id, error: { code: -32005, message: 'mcp-attest: the conversation with the upstream ended before an answer', data: { code: 'ERR_UPSTREAM' } } }));
        w.stream.settle();
      }
      this.waiting.clear();
      this.listener?.end();
      this.hooks.ended();
    });
  }

  /** A request the caller POSTed (already checked by the gateway) with its access token's binding (`caller`): its answer goes to `stream`. */
  request(msg: RpcMessage, body: Buffer, stream: EventStream, caller?: CallerBinding): void {
    this.lastUsed = Date.now();
    const meta = msg.params?.['_meta'];
    const raw = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>)['progressToken'] : undefined;
    const token = typeof raw === 'string' || typeof raw === 'number' ? idKey(raw) : null;
    this.waiting.set(idKey(msg.id), { id: msg.id!, stream, method: msg.method!, token });
    if (token !== null) this.tokens.set(token, stream);
    this.feed(caller ? { line: body, caller } : { line: body });
  }

  /** A notification or response the caller POSTed; false when the relay is behind (see {@link drained}). */
  notify(body: Buffer): boolean {
    this.lastUsed = Date.now();
    return this.feed({ line: body });
  }

  /** Resolves true once the relay has taken what was fed, false after `ms` or if the conversation ended. */
  drained(ms: number): Promise<boolean> {
    if (!this.input.writableNeedDrain) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.input.off('drain', onDrain).off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.input.on('drain', onDrain).on('close', onClose);
    });
  }

  /** The caller went away from request `id`'s stream: a 2026-07-28 caller cancels that way, so the relay is told. */
  cancel(id: RpcId): void {
    this.forget(idKey(id));
    this.feed({ line: Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'the caller closed the response stream' } })) });
  }

  /** The caller's GET stream for server-initiated messages (legacy sessions); false when one is open already. */
  listen(stream: EventStream): boolean {
    if (this.listener?.open === true) return false;
    this.listener = stream;
    return true;
  }

  /** The request `id` is pending here. */
  has(id: RpcId): boolean {
    return this.waiting.has(idKey(id));
  }

  /** Requests waiting for an answer. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Requests waiting for an answer whose caller still reads their stream. */
  get watched(): number {
    let n = 0;
    for (const w of this.waiting.values()) if (w.stream.open) n++;
    return n;
  }

  /** End the caller's side: the relay finishes (calls still pending are receipted) and stops its upstream. */
  close(): void {
    this.closing = true;
    if (!this.input.writableEnded) this.input.end();
  }

  private feed(f: Frame): boolean {
    if (this.closed || this.input.writableEnded) return true;
    return this.input.write(f);
  }

  private forget(key: string): void {
    const w = this.waiting.get(key);
    if (w === undefined) return;
    this.waiting.delete(key);
    if (w.token !== null && this.tokens.get(w.token) === w.stream) this.tokens.delete(w.token);
    w.stream.settle();
  }

  private route(line: string, cb: (e?: Error | null) => void): void {
    if (line === '') return cb(); // the relay's flush at shutdown
    const msg = JSON.parse(line) as RpcMessage; // the relay's own serialization
    let target: EventStream | null = null;
    let last = false;
    if (msg.method === undefined) {
      const key = idKey(msg.id);
      const w = this.waiting.get(key);
      if (w !== undefined) {
        this.waiting.delete(key);
        if (w.token !== null && this.tokens.get(w.token) === w.stream) this.tokens.delete(w.token);
        target = w.stream;
        last = true;
        if (w.method === 'tools/list') line = filterTools(line, msg, (n) => this.hooks.toolAllowed(n));
      }
    } else {
      const token = msg.method === 'notifications/progress' ? msg.params?.['progressToken'] : undefined;
      target = (typeof token === 'string' || typeof token === 'number' ? this.tokens.get(idKey(token)) : undefined) ?? this.fallback();
    }
    if (target === null || !target.open) {
      if (last) target?.settle();
      this.hooks.dropped();
      return cb();
    }
    const ok = target.send(line);
    if (last) target.settle();
    if (ok) return cb();
    const done = (): void => {
      target.res.off('drain', done).off('close', done);
      cb();
    };
    target.res.on('drain', done).on('close', done);
  }

  private fallback(): EventStream | null {
    if (this.listener?.open === true) return this.listener;
    let latest: EventStream | null = null;
    for (const w of this.waiting.values()) if (w.stream.open) latest = w.stream;
    return latest;
  }
}
