/**
 * Starting and stopping the node:http servers of `log serve` and `witness serve` the same
 * way: header and request timeouts (a slow or silent client cannot hold a socket forever), a
 * cap on open connections (the gateway and `serve --http` use it too), keep-alive,
 * listen, the base URL actually bound, and a close that lets requests in flight finish for a
 * grace period before cutting their connections.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { capConnections } from './caps.js';

/** Time (ms) `close()` lets requests in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 5_000;

/** A listening server: its base URL (`http://host:port`, IPv6 in brackets) and a way to stop it. */
export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Time (ms) a connection may stay open before its first request starts. */
export const FIRST_REQUEST_MS = 10_000;

/**
 * Close a connection that sends no request within {@link FIRST_REQUEST_MS} of opening: Node's
 * `headersTimeout` runs from a request's first byte, so a socket that never sends one was
 * held for ever (an unauthenticated client could use up the server's file descriptors).
 * Once a request starts, the request, keep-alive and response timeouts apply as before.
 */
export function closeSilentConnections(server: Server): void {
  server.on('connection', (socket) => socket.setTimeout(FIRST_REQUEST_MS));
  server.on('request', (req) => req.socket.setTimeout(0));
}

/**
 * Apply the timeouts (`requestTimeoutMs`, default 30 s: the whole request must arrive in it;
 * {@link closeSilentConnections}) and the caps on open connections (http/caps.ts:
 * `maxConnections`, default 4,096 within the descriptors, and per client address; `who`
 * names the server in its notices) and listen on `host:port` (port 0 picks a free one). Resolves once listening;
 * rejects with the listen error (e.g. `EADDRINUSE`).
 */
export async function listen(server: Server, o: { host: string; port: number; requestTimeoutMs?: number; maxConnections?: number; who?: string }): Promise<Listening> {
  closeSilentConnections(server);
  capConnections(server, { max: o.maxConnections, who: o.who ?? 'server' });
  server.headersTimeout = 10_000;
  server.requestTimeout = o.requestTimeoutMs ?? 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    }),
  };
}
