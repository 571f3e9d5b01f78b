/**
 * Caps on the connections a node:http server keeps open (the gateway, `serve --http`,
 * `log serve`, `witness serve`): all clients together, within the file descriptors the
 * process may open, and per client address, so one client holding connections (silent ones
 * live 10 s, a request every few seconds keeps one alive) cannot take every place.
 * @see docs/gateway.md "Safe by default"
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';

/** Most connections a server keeps open at once unless told otherwise ({@link capConnections}). */
export const DEFAULT_MAX_CONNECTIONS = 4096;

/** Most connections one client address (an IPv6 /64) keeps open at once unless told otherwise. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;

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
 * The client a connection's remote `address` counts for: an IPv4 address as it is (an
 * IPv4-mapped IPv6 one too), an IPv6 address by its /64 (a host commonly holds a whole one),
 * as `a:b:c:d::/64`; '' when unknown (a closed socket).
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  const v4 = /(?:^|:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (v4) return v4[1]!;
  const bare = address.split('%')[0]!.toLowerCase();
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Options of {@link capConnections}. */
export interface CapOptions {
  /** Most connections of all clients (absent: {@link DEFAULT_MAX_CONNECTIONS} within `budget`). */
  max?: number | undefined;
  /** Most connections of one client address ({@link addressKey}; absent: {@link DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}). */
  perAddress?: number | undefined;
  /** The server's name in notices ("gateway", "log serve"). */
  who: string;
  /** Where notices go (default: stderr). */
  notify?: (line: string) => void;
  /** The descriptors the connections may take (default {@link descriptorBudget}). */
  budget?: number;
}

/**
 * Keep at most `o.max` connections open at once (absent: {@link DEFAULT_MAX_CONNECTIONS},
 * but never more than the budget: a cap past the process's descriptors would never be
 * reached, and running out of them fails the log and the upstreams instead; the lower cap is
 * said once; a cap asked past the budget is kept, and said too), and at most `o.perAddress`
 * of one client address. A connection past either is closed as soon as it is accepted
 * (node:http's `maxConnections` for the first), so clients that open connections and hold
 * them (each costs a file descriptor and memory) cannot exhaust what the process needs, and
 * one client cannot take every place. A line on stderr (at most one every 10 s) names
 * `o.who` and the counts, so an operator sees the refusals. A client refused this way sees
 * its connection closed (reset), never a half-answered request.
 */
export function capConnections(server: Server, o: CapOptions): void {
  const notify = o.notify ?? ((l: string) => void process.stderr.write(l));
  const budget = o.budget ?? descriptorBudget();
  const max = o.max ?? Math.min(DEFAULT_MAX_CONNECTIONS, budget);
  const perAddress = o.perAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  if (o.max === undefined && max < DEFAULT_MAX_CONNECTIONS) notify(`mcp-attest: ${o.who}: keeps at most ${max} connections open, half the file descriptors this process may open (raise ulimit -n for more)\n`);
  if (o.max !== undefined && o.max > budget) notify(`mcp-attest: ${o.who}: warning: ${o.max} connections are more than half the file descriptors this process may open (${budget * 2}): it may run out of them before the cap is reached (raise ulimit -n)\n`);
  server.maxConnections = max;
  let last = -Infinity;
  const dropped = { all: 0, address: 0 };
  const refused = (why: 'all' | 'address'): void => {
    dropped[why]++;
    if (Date.now() - last < DROP_NOTICE_MS) return;
    last = Date.now();
    notify(`mcp-attest: ${o.who}: new connections closed at once: ${dropped.all} past the ${max} it keeps open, ${dropped.address} past the ${perAddress} of one client address\n`);
  };
  server.on('drop', () => refused('all'));
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const key = addressKey(socket.remoteAddress);
    const n = (open.get(key) ?? 0) + 1;
    if (n > perAddress) {
      refused('address');
      socket.destroy();
      return;
    }
    open.set(key, n);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  });
}
