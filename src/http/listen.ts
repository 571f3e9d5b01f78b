/**
 * Starting and stopping the node:http servers of `log serve` and `witness serve` the same
 * way: header and request timeouts (a slow or silent client cannot hold a socket forever), a
 * cap on open connections (the gateway and `serve --http` use it too), keep-alive,
 * listen, the base URL actually bound, and a close that lets requests in flight finish for a
 * grace period before cutting their connections.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** Most connections a server keeps open at once unless told otherwise ({@link capConnections}). */
export const DEFAULT_MAX_CONNECTIONS = 4096;

/** Least time (ms) between two of {@link capConnections}'s notices. */
const DROP_NOTICE_MS = 10_000;

/**
 * Half the file descriptors this process may open: its soft `RLIMIT_NOFILE` as `limits` (the
 * text of Linux's /proc/self/limits, read when not given) says, at least 16; Infinity where
 * that cannot be read or is unlimited. The other half stays for the logs, upstreams and
 * database a server needs besides its connections.
 */
export function descriptorBudget(limits: string | null = readLimits()): number {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits ?? '');
  if (m === null || m[1] === 'unlimited') return Infinity;
  return Math.max(16, Math.floor(Number(m[1]) / 2));
}

function readLimits(): string | null {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

/**
 * Keep at most `asked` connections open at once (absent: {@link DEFAULT_MAX_CONNECTIONS}, but
 * never more than `budget`, default {@link descriptorBudget}: a cap past the process's
 * descriptors would never be reached, and running out of them fails the log and the upstreams
 * instead; the lower cap is said once on stderr; a cap `asked` past the budget is kept, and
 * said too): one past it is closed as soon as it is accepted (node:http's `maxConnections`), so
 * clients that open connections and hold them (each costs a file descriptor and memory)
 * cannot exhaust what the process needs for its logs, upstreams and database. A line on
 * stderr (at most one every 10 s) names `who` and the count, so an operator sees the
 * refusals. A client refused this way sees its connection closed (reset), never a
 * half-answered request.
 */
export function capConnections(server: Server, asked: number | undefined, who: string, notify: (line: string) => void = (l) => void process.stderr.write(l), budget = descriptorBudget()): void {
  const max = asked ?? Math.min(DEFAULT_MAX_CONNECTIONS, budget);
  if (asked === undefined && max < DEFAULT_MAX_CONNECTIONS) notify(`mcp-attest: ${who}: keeps at most ${max} connections open, half the file descriptors this process may open (raise ulimit -n for more)\n`);
  if (asked !== undefined && asked > budget) notify(`mcp-attest: ${who}: warning: ${asked} connections are more than half the file descriptors this process may open (${budget * 2}): it may run out of them before the cap is reached (raise ulimit -n)\n`);
  server.maxConnections = max;
  let last = -Infinity;
  let dropped = 0;
  server.on('drop', () => {
    dropped++;
    if (Date.now() - last < DROP_NOTICE_MS) return;
    last = Date.now();
    notify(`mcp-attest: ${who}: ${max} connections are open, the most it keeps: new ones are closed at once (${dropped} so far)\n`);
  });
}

/**
 * Apply the timeouts (`requestTimeoutMs`, default 30 s: the whole request must arrive in it;
 * {@link closeSilentConnections}) and the cap on open connections ({@link capConnections}:
 * `maxConnections`, default {@link DEFAULT_MAX_CONNECTIONS} within the descriptors; `who`
 * names the server in its notices) and listen on `host:port` (port 0 picks a free one). Resolves once listening;
 * rejects with the listen error (e.g. `EADDRINUSE`).
 */
export async function listen(server: Server, o: { host: string; port: number; requestTimeoutMs?: number; maxConnections?: number; who?: string }): Promise<Listening> {
  closeSilentConnections(server);
  capConnections(server, o.maxConnections, o.who ?? 'server');
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
