/**
 * The processes of section 8 [gateway] besides the bench itself: server-everything serving
 * Streamable HTTP, the raw HTTP relay, and `mcp-attest gateway` (its config written in a
 * fresh data directory, its stderr access log read, its `/metrics` asked, its anomalies
 * reported when it is stopped).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Durability } from '../src/store/log-db.js';
import type { BenchSetup } from './gatekeeper.js';
import { Spawned, freePort } from './spawned.js';

/** The bench caller's bearer token (principal `bench`). */
const TOKEN = 'bench-gateway-token-0123456789abcdef';

/** The `authorization` header carrying the bench caller's token. */
export const AUTH_HEADERS: Readonly<Record<string, string>> = { authorization: `Bearer ${TOKEN}` };

/**
 * The raw HTTP relay (CommonJS, run with `node -e`): forwards every request to `TARGET` over
 * a keep-alive agent and pipes the answer back, hop-by-hop headers dropped, nothing parsed.
 * A caller that hangs up (an SSE GET stream) takes its upstream request with it.
 */
const RAW_HTTP_RELAY = `
const http = require('node:http');
const target = new URL(process.env.TARGET);
const agent = new http.Agent({ keepAlive: true });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);
const strip = (h) => Object.fromEntries(Object.entries(h).filter(([k]) => !HOP.has(k)));
const server = http.createServer((req, res) => {
  const up = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: { ...strip(req.headers), host: target.host }, agent }, (ur) => {
    res.writeHead(ur.statusCode, strip(ur.headers));
    res.flushHeaders();
    ur.pipe(res);
  });
  up.on('error', () => res.destroy());
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stderr.write('raw http relay listening on ' + server.address().port + '\\n'));
`;

/** A process serving MCP over Streamable HTTP at `url`. */
export interface Served {
  url: string;
  spawned: Spawned;
}

/** server-everything serving Streamable HTTP on a free port (a few tries: the port may be taken meanwhile). */
export async function startHttpServer(server: string): Promise<Served> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const spawned = new Spawned('server-everything (streamableHttp)', [server, 'streamableHttp'], { ...process.env, PORT: String(port) }, false);
    try {
      await spawned.ready(/listening on port/);
      return { url: `http://127.0.0.1:${port}/mcp`, spawned };
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

/** The raw HTTP relay in front of `target`, on a free port. */
export async function startRawRelay(target: string): Promise<Served> {
  const spawned = new Spawned('raw HTTP relay', ['-e', RAW_HTTP_RELAY], { ...process.env, TARGET: target }, false);
  const m = await spawned.ready(/raw http relay listening on ([0-9]+)/);
  return { url: `http://127.0.0.1:${m[1]!}/mcp`, spawned };
}

/** What one gateway's stderr said: access-log error statuses, time per call, and its other lines. */
export class GatewayLog {
  readonly statuses = new Map<string, number>();
  readonly notes: string[] = [];
  notesCount = 0;
  private callMs = new Map<string, number[]>();

  /** One stderr line. */
  take(l: string): void {
    if (l.trim() === '') return;
    if (l.startsWith('{')) {
      try {
        const a = JSON.parse(l) as { status?: number; ms?: number; rpc?: string; upstream?: string; method?: string; code?: string };
        if (a.status !== undefined && a.status >= 400) {
          const key = `${a.method ?? '?'} ${a.rpc ?? ''} ${a.status} ${a.code ?? ''}`.replace(/ +/g, ' ');
          this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
        }
        if (a.rpc === 'tools/call' && typeof a.ms === 'number') {
          const list = this.callMs.get(a.upstream ?? '') ?? [];
          list.push(a.ms);
          this.callMs.set(a.upstream ?? '', list);
        }
        return;
      } catch {
        // not an access-log line after all: a note
      }
    }
    if (!l.startsWith('mcp-attest')) return; // written by an upstream process on the stderr it inherits, not by the gateway
    this.notesCount++;
    if (this.notes.length < 8) this.notes.push(l.slice(0, 300));
  }

  /** The `tools/call` times logged for `upstream` since the last take, and forget them. */
  takeCallMs(upstream: string): number[] {
    const list = this.callMs.get(upstream) ?? [];
    this.callMs.set(upstream, []);
    return list;
  }

  /** Forget the call times logged so far. */
  resetCallMs(): void {
    this.callMs = new Map();
  }
}

/** A running gateway. */
export interface GatewayProc {
  label: string;
  /** `http://127.0.0.1:PORT` */
  base: string;
  spawned: Spawned;
  log: GatewayLog;
}

/** Write the config of a gateway in `dir` (both upstreams, limits out of the way); its path. */
function writeGatewayConfig(s: BenchSetup, dir: string, durability: Durability, remote: string): string {
  const config = {
    version: 1, listen: '127.0.0.1:0', home: join(dir, 'home'), durability, checkpointMs: 1000,
    callers: [{ principal: 'bench', token: { env: 'BENCH_TOKEN' } }],
    limits: { requestsPerSecond: 100_000, burst: 100_000, maxConcurrentPerPrincipal: 100_000, maxSessions: 100_000, maxSessionsPerPrincipal: 100_000, drainSeconds: 5 },
    upstreams: [{ name: 'stdio', command: [process.execPath, s.server] }, { name: 'remote', url: remote }],
  };
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  return file;
}

/** Start `mcp-attest gateway` (in its own process group) with both upstreams, in a fresh data directory. */
export async function startGateway(s: BenchSetup, label: string, durability: Durability, remote: string): Promise<GatewayProc> {
  const dir = join(s.dir, `gateway-${label}`);
  mkdirSync(dir, { recursive: true });
  const file = writeGatewayConfig(s, dir, durability, remote);
  const log = new GatewayLog();
  const spawned = new Spawned(`gateway ${label}`, [s.cli, 'gateway', '--config', file], { ...process.env, BENCH_TOKEN: TOKEN }, true, (l) => log.take(l));
  const m = await spawned.ready(/gateway listening on (http:\/\/127\.0\.0\.1:[0-9]+)/);
  log.notes.length = 0; // the start-up lines (initialized ..., listening ...) are no anomaly
  log.notesCount = 0;
  return { label, base: m[1]!, spawned, log };
}

/** Stop a gateway (SIGTERM: drain, final checkpoint) and report what it logged that was not plain success. */
export async function stopGateway(g: GatewayProc, problems: string[]): Promise<void> {
  const { code, forced } = await g.spawned.stop('SIGTERM', 20_000);
  problems.push(...forced);
  if (code !== 0) problems.push(`gateway ${g.label} exited ${String(code)} on SIGTERM`);
  for (const [key, n] of g.log.statuses) problems.push(`gateway ${g.label}: ${n} request(s) answered ${key}`);
  if (g.log.notesCount > 0) problems.push(`gateway ${g.label}: ${g.log.notesCount} diagnostic line(s) on stderr besides the access log, e.g. ${g.log.notes.map((n) => JSON.stringify(n)).join('; ')}`);
}

/** A number from the gateway's `/metrics` (NaN when absent). */
export async function metric(g: GatewayProc, name: string): Promise<number> {
  const res = await fetch(`${g.base}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}
