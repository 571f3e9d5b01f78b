/**
 * `mcp-attest log serve`: the log over HTTP in the C2SP tlog-tiles layout, read from the
 * SQLite log at request time.
 *
 * - `GET /checkpoint`: the latest checkpoint with the cosignatures collected so far,
 *   `text/plain; charset=utf-8`, `Cache-Control: no-cache` (it changes).
 * - `GET /tile/<L>/<N>[.p/<W>]`: hash tiles, `application/octet-stream`.
 * - `GET /tile/entries/<N>[.p/<W>]`: entry bundles, gzip-compressed when the client accepts it.
 * - `GET /verify`: the offline verify page (docs/verify-page.md), with its
 *   Content-Security-Policy also sent as a header; it fetches nothing, this log included.
 * Tiles and bundles are immutable (`Cache-Control: public, max-age=31536000, immutable`):
 * their bytes are fixed by the tree. Only what the latest checkpoint covers is served, so a
 * client never sees an entry no signed checkpoint commits to. The same paths and bytes as
 * `mcp-attest log export` writes, so a static copy behind any web server or CDN is
 * equivalent. HEAD is answered like GET without a body; other methods get 405.
 * @see https://c2sp.org/tlog-tiles
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { listen, type Listening } from '../http/listen.js';
import type { LogDb } from '../store/log-db.js';
import { tileBytes } from '../store/tiles.js';
import { formatEntryBundle, parseTilePath, type TileRef } from '../log/tiles.js';
import { verifyPage } from '../page/file.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** An answer; `constant`: a text the same for every request of this process (the page), compressed once. */
interface Answer { status: number; type: string; body: Uint8Array | string; cache?: string; gzip?: boolean; csp?: string; constant?: boolean }

const text = (status: number, body: string): Answer => ({ status, type: 'text/plain; charset=utf-8', body });

/** True when tile `ref` lies within a tree of `size` leaves: (N·256 + W)·256^L ≤ size. */
export function tileWithin(ref: TileRef, size: bigint): boolean {
  return (ref.index * 256n + BigInt(ref.width)) << BigInt(8 * ref.level) <= size;
}

function tile(db: LogDb, path: string, size: bigint): Answer {
  let ref: TileRef;
  try {
    ref = parseTilePath(path);
  } catch {
    return text(404, 'not a tile path\n');
  }
  if (!tileWithin(ref, size)) return text(404, 'beyond the latest checkpoint\n');
  if (ref.kind === 'hash') return { status: 200, type: 'application/octet-stream', body: tileBytes(db.read, ref.level, ref.index, ref.width), cache: IMMUTABLE };
  const entries: Uint8Array[] = [];
  for (let i = 0; i < ref.width; i++) entries.push(db.presentEntry(ref.index * 256n + BigInt(i)));
  return { status: 200, type: 'application/octet-stream', body: formatEntryBundle(entries), cache: IMMUTABLE, gzip: true };
}

/** Answer one request (pure of the socket): status, type, body and caching. */
export function answer(db: LogDb, method: string, url: string): Answer {
  if (method !== 'GET' && method !== 'HEAD') return text(405, 'method not allowed\n');
  const path = url.split('?')[0]!.replace(/^\/+/, '');
  const latest = db.latestCheckpoint();
  if (path === 'checkpoint') return latest ? { status: 200, type: 'text/plain; charset=utf-8', body: latest.cosigned, cache: 'no-cache' } : text(404, 'no checkpoint yet\n');
  if (path.startsWith('tile/')) return tile(db, path, latest?.size ?? 0n);
  if (path === 'verify' || path === 'verify.html') {
    const page = verifyPage();
    return { status: 200, type: 'text/html; charset=utf-8', body: page.html, cache: 'no-cache', gzip: true, csp: page.csp, constant: true };
  }
  return text(404, 'not found\n');
}

/** The page's text gzip'd, made once (it is the same for every request). */
const gzippedPages = new Map<string, Promise<Buffer>>();

/**
 * `body` gzip'd on libuv's thread pool, not on the event loop (an entry bundle takes
 * milliseconds to compress, and any client may ask); the page's text once per process.
 */
function gzipped(body: Buffer, page: string | null): Promise<Buffer> {
  const made = page === null ? undefined : gzippedPages.get(page);
  if (made !== undefined) return made;
  const p = promisify(gzip)(body);
  if (page !== null) gzippedPages.set(page, p);
  return p;
}

/** Whether an Accept-Encoding header accepts gzip (RFC 9110 §12.5.3): `gzip` or `x-gzip` listed with a nonzero q, or `*` with one and gzip not refused. */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const q = new Map<string, number>();
  for (const part of String(header ?? '').toLowerCase().split(',')) {
    const [coding, ...params] = part.split(';').map((x) => x.trim());
    if (!coding) continue;
    const weight = params.find((p) => p.startsWith('q='));
    const n = weight === undefined ? 1 : Number(weight.slice(2));
    q.set(coding, Number.isFinite(n) ? n : 0);
  }
  const gz = q.get('gzip') ?? q.get('x-gzip');
  return gz !== undefined ? gz > 0 : (q.get('*') ?? 0) > 0;
}

async function send(req: IncomingMessage, res: ServerResponse, a: Answer): Promise<void> {
  let body = typeof a.body === 'string' ? Buffer.from(a.body, 'utf8') : Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength);
  const headers: Record<string, string> = { 'content-type': a.type };
  if (a.cache) headers['cache-control'] = a.cache;
  // frame-ancestors works only as a header: nothing may frame the page (and draw over it).
  if (a.csp) Object.assign(headers, { 'content-security-policy': `${a.csp}; frame-ancestors 'none'`, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
  if (a.gzip) {
    headers['vary'] = 'Accept-Encoding';
    if (acceptsGzip(req.headers['accept-encoding'])) {
      body = await gzipped(body, a.constant === true && typeof a.body === 'string' ? a.body : null);
      headers['content-encoding'] = 'gzip';
    }
  }
  if (a.status === 405) headers['allow'] = 'GET, HEAD';
  headers['content-length'] = String(body.length);
  res.writeHead(a.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Serve `db` on `host:port` (port 0 picks a free one). Resolves once listening. A request
 * that fails inside is answered 500; the server keeps running.
 */
export function startLogServer(db: LogDb, o: { host: string; port: number }): Promise<Listening> {
  const server = createServer((req, res) => {
    let a: Answer;
    try {
      a = answer(db, req.method ?? 'GET', req.url ?? '/');
    } catch {
      a = text(500, 'internal error\n');
    }
    send(req, res, a).catch(() => res.destroy());
  });
  return listen(server, { ...o, who: 'log serve' });
}
