/**
 * The HTTP face of a {@link Witness} (node:http, keep-alive):
 *
 * - `POST <prefix>/add-checkpoint`: the body (at most {@link MAX_ADD_CHECKPOINT_BYTES}
 *   bytes, else 413; within the read timeout, else 408; strict UTF-8, else 400) goes to
 *   `Witness.addCheckpoint`, whose status, content type and body are sent back. Another
 *   method on that path: 405.
 * - `GET <prefix>/<lowercase hex SHA-256(origin)>/checkpoint`: the latest checkpoint the
 *   witness cosigned for that origin, with a fresh cosignature (200 `text/plain;
 *   charset=utf-8`), or 404. Another method on that path: 405.
 * - Anything else: 404. An exception in a handler: 500 with a short text (never a crash).
 *
 * Bodies being read share one budget ({@link DEFAULT_MAX_BUFFERED_BYTES}, `maxBufferedBytes`),
 * and each peer (an IPv4 address, an IPv6 /64) an eighth of it (`maxBufferedBytesPerPeer`):
 * a body that would take the bytes buffered by all requests, or by its peer's, past either
 * is answered 503 with `Retry-After: 1` and its connection closed, so stalled senders cannot
 * hold more memory than that until their read timeout, nor one host lock the others out. A
 * body's bytes count until its answer is sent.
 *
 * After answering a request whose body was not read (413, 404, 405, 503), the server discards at
 * most {@link LINGER_BYTES} more bytes for at most {@link LINGER_MS}, so that the client can
 * read the answer before the connection is reset, then closes the connection.
 * @see https://c2sp.org/tlog-witness ("add-checkpoint"; main: monitoring endpoint)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fromUtf8 } from '../bytes/index.js';
import { listen } from '../http/listen.js';
import { AttestError } from '../errors.js';
import { MAX_ADD_CHECKPOINT_BYTES } from './protocol.js';
import { TEXT_CONTENT_TYPE, type Witness } from './witness.js';

/** Most bytes discarded after an early answer before the connection is closed: 8 MiB. */
export const LINGER_BYTES = 8 << 20;
/** Longest time (ms) spent discarding after an early answer before the connection is closed. */
export const LINGER_MS = 5_000;
/** Default time (ms) a client has to send a whole add-checkpoint body. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;
/** Default bytes of request bodies buffered at once, all requests together: 64 MiB (64 bodies of the largest size); a peer's, an eighth of it. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 << 20;

/** Options of {@link startWitnessServer}. */
export interface WitnessServerOptions {
  /** Address to listen on (`127.0.0.1`, `::1`, `0.0.0.0`...). */
  host: string;
  /** TCP port; 0 picks a free one (see the returned `url`). */
  port: number;
  /** Submission and monitoring prefix: empty (default) or `/path` without a trailing slash. */
  prefix?: string;
  /** Time (ms) to receive a whole request body (default 30 s); then 408. */
  readTimeoutMs?: number;
  /** Bytes of request bodies buffered at once, all requests together (default {@link DEFAULT_MAX_BUFFERED_BYTES}); past it, 503. */
  maxBufferedBytes?: number;
  /** The same, for the requests of one peer (an IPv4 address, an IPv6 /64); default an eighth of `maxBufferedBytes`. */
  maxBufferedBytesPerPeer?: number;
  /** Called with every exception answered with 500. */
  onError?: (e: unknown) => void;
}

/** A running witness server. */
export interface WitnessServer {
  /** Base URL `http://<host>:<port><prefix>` with the actual port (IPv6 hosts in brackets). */
  url: string;
  /** Stop accepting, let requests in flight finish (up to 5 s), close every connection. */
  close(): Promise<void>;
}

type BodyResult = Uint8Array | 'too-large' | 'timeout' | 'aborted' | 'busy';

/** The bytes of request bodies buffered by the requests of one server: in all, and by peer. */
class Budget {
  private used = 0;
  private readonly byPeer = new Map<string, number>();

  constructor(private readonly max: number, private readonly perPeer: number) {}

  /** Take `n` bytes for `peer`: false, nothing taken, when either cap has no room for them. */
  take(peer: string, n: number): boolean {
    const mine = this.byPeer.get(peer) ?? 0;
    if (this.used + n > this.max || mine + n > this.perPeer) return false;
    this.used += n;
    this.byPeer.set(peer, mine + n);
    return true;
  }

  /** Give back `n` bytes `peer` took. */
  give(peer: string, n: number): void {
    this.used -= n;
    const left = (this.byPeer.get(peer) ?? 0) - n;
    if (left > 0) this.byPeer.set(peer, left);
    else this.byPeer.delete(peer);
  }
}

/**
 * The budget key of a remote address: an IPv4 address (a v4-mapped one too), or the /64 of
 * an IPv6 address (a host commonly holds a whole /64), e.g. `2001:db8:0:1::/64`.
 */
export function peerOf(address: string | undefined): string {
  if (address === undefined) return '';
  if (address.includes('.')) return address.slice(address.lastIndexOf(':') + 1);
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Read a request body of at most `limit` bytes within `timeoutMs`; stops buffering at the
 * cap, or when `budget` has no room for a chunk ('busy'). The bytes a body took stay counted
 * in `budget` until `release()`; a body not returned is released at once.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number, budget: Budget): Promise<{ body: BodyResult; release(): void }> {
  let total = 0;
  const peer = peerOf(req.socket.remoteAddress);
  const release = (): void => {
    budget.give(peer, total);
    total = 0;
  };
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ body: 'too-large', release });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const finish = (r: BodyResult): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('close', onClose);
      if (!(r instanceof Uint8Array)) release();
      resolve({ body: r, release });
    };
    const onData = (c: Buffer): void => {
      if (total + c.length > limit) return finish('too-large');
      if (!budget.take(peer, c.length)) return finish('busy');
      total += c.length;
      chunks.push(c);
    };
    const onEnd = (): void => finish(new Uint8Array(Buffer.concat(chunks, total)));
    const onClose = (): void => finish(req.complete ? new Uint8Array(Buffer.concat(chunks, total)) : 'aborted');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    req.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

/**
 * Discard what is left of a request body, bounded by {@link LINGER_BYTES} and
 * {@link LINGER_MS}; past either bound (body still incomplete) the connection is closed.
 */
function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  let discarded = 0;
  const cut = (): void => {
    if (!req.complete) req.socket.destroy();
  };
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  req.on('data', (c: Buffer) => {
    discarded += c.length;
    if (discarded > LINGER_BYTES) cut();
  });
  req.on('end', done).on('close', done);
  req.resume();
}

interface SendOptions { contentType?: string; close?: boolean; headers?: Record<string, string> }

function send(res: ServerResponse, status: number, body: string, o: SendOptions = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': o.contentType ?? TEXT_CONTENT_TYPE,
    'Content-Length': String(bytes.length),
    'Cache-Control': 'no-store',
    ...(o.close ? { Connection: 'close' } : {}),
    ...o.headers,
  });
  res.end(bytes);
}

async function addCheckpoint(witness: Witness, req: IncomingMessage, res: ServerResponse, timeoutMs: number, budget: Budget): Promise<void> {
  const { body, release } = await readBody(req, MAX_ADD_CHECKPOINT_BYTES, timeoutMs, budget);
  try {
    if (body === 'aborted') return;
    if (body === 'timeout') return send(res, 408, 'request body not received in time\n', { close: true });
    if (body === 'too-large' || body === 'busy') {
      if (body === 'busy') send(res, 503, 'witness busy: too many request bodies in flight\n', { close: true, headers: { 'Retry-After': '1' } });
      else send(res, 413, `request body larger than ${MAX_ADD_CHECKPOINT_BYTES} bytes\n`);
      return discardRest(req);
    }
    let text: string;
    try {
      text = fromUtf8(body);
    } catch {
      return send(res, 400, 'request body is not valid UTF-8\n');
    }
    const answer = await witness.addCheckpoint(text);
    send(res, answer.status, answer.body, { contentType: answer.contentType });
  } finally {
    release();
  }
}

async function monitor(witness: Witness, hash: string, res: ServerResponse): Promise<void> {
  const note = await witness.latestCheckpoint(hash);
  if (note === null) return send(res, 404, 'no checkpoint cosigned for this origin\n');
  send(res, 200, note);
}

function route(witness: Witness, o: WitnessServerOptions, prefix: string) {
  const timeoutMs = o.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  const max = o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const budget = new Budget(max, o.maxBufferedBytesPerPeer ?? Math.floor(max / 8));
  const checkpointPath = /^\/([0-9a-f]{64})\/checkpoint$/;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '';
    const path = url.split('?', 1)[0]!;
    const rest = path.startsWith(prefix) ? path.slice(prefix.length) : null;
    if (rest === '/add-checkpoint') {
      if (req.method === 'POST') return addCheckpoint(witness, req, res, timeoutMs, budget);
      send(res, 405, 'use POST\n', { headers: { Allow: 'POST' } });
      return discardRest(req);
    }
    const m = rest === null ? null : checkpointPath.exec(rest);
    if (m !== null && (req.method === 'GET' || req.method === 'HEAD')) return monitor(witness, m[1]!, res);
    send(res, m !== null ? 405 : 404, m !== null ? 'use GET\n' : 'not found\n', m !== null ? { headers: { Allow: 'GET, HEAD' } } : {});
    discardRest(req);
  };
}

/**
 * Serve `witness` over HTTP on `o.host`:`o.port` (routes above). Resolves once listening;
 * rejects with the listen error (e.g. `EADDRINUSE`). Throws `ERR_USAGE` for a prefix that
 * is neither empty nor `/path` without a trailing slash.
 * @see https://c2sp.org/tlog-witness
 */
export async function startWitnessServer(witness: Witness, o: WitnessServerOptions): Promise<WitnessServer> {
  const prefix = o.prefix ?? '';
  if (prefix !== '' && !/^\/[^?#]*[^/?#]$/.test(prefix)) throw new AttestError('ERR_USAGE', 'prefix must be empty or /path without a trailing slash');
  const handle = route(witness, o, prefix);
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.onError?.(e);
      if (!res.headersSent) send(res, 500, 'internal error\n', { close: true });
      else res.destroy();
    });
  });
  const bound = await listen(server, { host: o.host, port: o.port, requestTimeoutMs: (o.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS) + 10_000, who: 'witness serve' });
  return { url: `${bound.url}${prefix}`, close: bound.close };
}
