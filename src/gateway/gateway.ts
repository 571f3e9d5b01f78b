/**
 * `mcp-attest gateway`: one HTTP server in front of several MCP upstreams (docs/gateway.md).
 * Each upstream is mounted at `/<name>/mcp` and speaks MCP Streamable HTTP to its callers in
 * both eras: 2025-11-25 sessions (`initialize` opens one, `Mcp-Session-Id` names it, GET
 * opens its server-message stream, DELETE ends it) and 2026-07-28 requests (no session; one
 * relay per request to an HTTP upstream, one per principal to a command). Every request is
 * checked before any work ({@link ./guard.ts}), read strictly as one JSON-RPC message, and
 * handed to the conversation's relay, which attests, gates, logs and receipts it exactly as
 * the stdio proxies do. `/healthz` and `/metrics` are served beside.
 */
import { AttestError, isAttestError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homePaths } from '../store/home.js';
import type { ReplayStore } from '../gate/gate.js';
import { recordIssuer } from '../store/identity.js';
import type { Recorder } from '../proxy/recorder.js';
import { DEFAULT_MAX_DEPTH, readMessage, type RpcId, type RpcMessage } from '../proxy/message.js';
import { PROTOCOL_VERSION_META } from '../proxy/http-upstream.js';
import type { LoadedConfig } from './config.js';
import { Conversation, EventStream } from './conversation.js';
import { Limiter, PREFLIGHT_HEADERS, authorize, checkHostOrigin, corsHeaders, defaultHosts, headerMismatch, readBody, type Caller, type Refusal } from './guard.js';
import { loadPrincipalIssuers, type PrincipalIssuer } from './issuers.js';
import { GatewayMetrics } from './metrics.js';
import { OAuthResource } from './oauth.js';
import { UpstreamRuntime } from './upstreams.js';
import { MAX_TOOL_NAME } from './tools-filter.js';
import { closeSilentConnections } from '../http/listen.js';
import { capConnections } from '../http/caps.js';

/** JSON-RPC error code of the 2026-07-28 HeaderMismatch error. */
export const HEADER_MISMATCH = -32020;

/** A live conversation: its upstream, its key, and the DPoP key it was opened with (a conversation is never shared across DPoP keys). */
interface Live { conv: Conversation; upstream: UpstreamRuntime; key: string; jkt: string | undefined }

/** What one HTTP request was, for the access log. */
interface Access { principal?: string; upstream?: string; rpc?: string; tool?: string; code?: string }

function isModern(msg: RpcMessage): boolean {
  const meta = msg.params?.['_meta'];
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta) && typeof (meta as Record<string, unknown>)[PROTOCOL_VERSION_META] === 'string';
}

/** The running gateway. */
export class Gateway {
  private readonly server: Server;
  private readonly upstreams = new Map<string, UpstreamRuntime>();
  /** Live conversations by key: a session id, `<upstream>\0<principal>` (shared), or a per-request key. */
  private readonly live = new Map<string, Live>();
  /** Live conversations per principal. */
  private readonly perPrincipal = new Map<string, number>();
  private readonly limiter: Limiter;
  private hosts = new Set<string>();
  private origins: Set<string>;
  readonly metrics: GatewayMetrics;
  private replay: (ReplayStore & { close(): void }) | null = null;
  /** Where DPoP proof ids are recorded (gateway/dpop.ts); opened with the first OAuth configuration. */
  private proofs: (ReplayStore & { close(): void }) | null = null;
  private oauth: OAuthResource | null;
  private sweeper: NodeJS.Timeout | null = null;
  private closing: Promise<number> | null = null;
  private seq = 0;
  /** Principals with their own issuer keys. */
  private issuers = new Map<string, PrincipalIssuer>();

  constructor(private loaded: LoadedConfig, private readonly recorder: Recorder, private readonly home: string) {
    const { config } = loaded;
    this.limiter = new Limiter(config.limits);
    this.origins = new Set(config.allowedOrigins);
    this.oauth = config.oauth === undefined ? null : new OAuthResource(config.oauth, this.proofStore());
    this.metrics = new GatewayMetrics(() => this.live.size, recorder.store);
    for (const u of config.upstreams) this.upstreams.set(u.name, new UpstreamRuntime(u, recorder, homePaths(home).pins, config.limits.maxMessageBytes));
    if ([...this.upstreams.values()].some((u) => u.gated)) this.replay = recorder.replayStore(1_000_000, config.durability);
    this.server = createServer({ maxHeaderSize: config.limits.maxHeaderBytes, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        process.stderr.write(`mcp-attest: gateway: ${(e as Error).message}\n`);
        if (!res.headersSent) this.refuse(res, { status: 500, code: 'ERR_UPSTREAM', message: 'internal error' }, {});
        else res.destroy();
      });
    });
    closeSilentConnections(this.server);
    capConnections(this.server, { max: config.limits.maxConnections, perAddress: config.limits.maxConnectionsPerAddress, who: 'gateway' });
  }

  /** Load principals' issuer keys and gate policies, bind, and start the idle sweep; the bound address. Throws `ERR_CONFIG_INVALID` (a key, two gated upstreams with one server fingerprint), `ERR_POLICY_INVALID`, or the listen error. */
  async start(): Promise<AddressInfo> {
    this.issuers = await this.loadIssuers(this.loaded);
    for (const u of this.upstreams.values()) {
      try {
        await u.loadGate(this.replay!);
      } catch (e) {
        // A policy file that cannot be read is the configuration's problem, named by its upstream (not the listen's).
        if (isAttestError(e, 'ERR_STORE_IO')) throw new AttestError('ERR_CONFIG_INVALID', `upstreams.${u.cfg.name}.policy: ${(e as Error).message}`, { cause: e });
        throw e;
      }
    }
    // An attestation names the one server it is for: two gated upstreams answering to one fingerprint would take each other's.
    const gated = [...this.upstreams.values()].filter((u) => u.gated);
    const shared = gated.find((u, i) => gated.findIndex((v) => v.serverFingerprint === u.serverFingerprint) !== i);
    if (shared !== undefined) throw new AttestError('ERR_CONFIG_INVALID', `upstreams: ${shared.cfg.name} answers to the serverFingerprint of another gated upstream (${shared.serverFingerprint}), so an attestation for one would be accepted by the other: give each its own in its gate policy`);
    const [, host, port] = /^\[?(.*?)\]?:([0-9]+)$/.exec(this.loaded.config.listen)!;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(Number(port), host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    const hosts = this.loaded.config.allowedHosts ?? defaultHosts(host!, addr.port) ?? [];
    this.hosts = new Set(hosts.map((h) => h.toLowerCase()));
    const idle = this.loaded.config.limits.sessionIdleSeconds * 1000;
    this.sweeper = setInterval(() => this.sweep(idle), Math.min(idle, 10_000)).unref();
    return addr;
  }

  /**
   * Apply a new configuration (SIGHUP): callers, limits, origins, hosts, tool lists and gate
   * policies; the upstream set stays. Returns the settings it changes that apply only at a
   * restart (config paths, e.g. `upstreams.ev.url`): they are not applied. Throws before
   * anything changed when it cannot be applied (another set of upstreams, a bad key or policy).
   */
  async reload(next: LoadedConfig): Promise<string[]> {
    const names = next.config.upstreams.map((u) => u.name).sort().join(',');
    if (names !== [...this.upstreams.keys()].sort().join(',')) throw new Error('the set of upstreams changed: restart the gateway to apply it');
    // Everything that can fail is read first; then all of it is swapped in at once.
    const oauth = next.config.oauth === undefined ? null : new OAuthResource(next.config.oauth, this.proofStore());
    const issuers = await this.loadIssuers(next);
    const prepared = [];
    for (const u of next.config.upstreams) prepared.push(await this.upstreams.get(u.name)!.prepareReload(u));
    for (const p of prepared) p.commit();
    const was = this.loaded.config;
    this.loaded = next;
    this.oauth = oauth;
    this.issuers = issuers;
    this.limiter.update(next.config.limits);
    this.origins = new Set(next.config.allowedOrigins);
    if (next.config.allowedHosts !== undefined) this.hosts = new Set(next.config.allowedHosts.map((h) => h.toLowerCase()));
    return [...restartOnly(was, next.config), ...prepared.flatMap((p) => p.later)];
  }

  /**
   * The replay store of DPoP proof ids, opened once: `nonces.db` without fsync (a proof id
   * must outlive a restart, not a power loss: its window is 70 s), or a fleet's shared one.
   */
  private proofStore(): ReplayStore {
    return (this.proofs ??= this.recorder.replayStore(1_000_000, 'normal'));
  }

  /** The principals' issuer keys of `loaded`, their public halves recorded in the data directory (for `trust export`). */
  private async loadIssuers(loaded: LoadedConfig): Promise<Map<string, PrincipalIssuer>> {
    const issuers = await loadPrincipalIssuers(loaded.config.issuers);
    for (const i of issuers.values()) recordIssuer(this.home, i.trusted);
    return issuers;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const access: Access = {};
    res.on('close', () => this.logAccess(req, res, access, started));
    const hostOrigin = checkHostOrigin(req, this.hosts, this.origins);
    if (hostOrigin !== null) return this.refuse(res, hostOrigin, access);
    const cors = corsHeaders(req, this.origins);
    if (req.method === 'OPTIONS') {
      res.writeHead(req.headers.origin !== undefined ? 204 : 405, { ...cors, ...(req.headers.origin !== undefined ? PREFLIGHT_HEADERS : { allow: 'GET, POST, DELETE' }) }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz' && req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json', ...cors }).end('{"status":"ok"}');
    if (path === '/metrics' && req.method === 'GET') {
      const text = await this.metrics.registry.metrics();
      return void res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
    }
    const prm = /^\/\.well-known\/oauth-protected-resource\/([A-Za-z0-9][A-Za-z0-9._-]{0,62})\/mcp$/.exec(path);
    if (prm !== null && req.method === 'GET' && this.oauth !== null && this.upstreams.has(prm[1]!)) {
      return void res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(this.oauth.metadata(prm[1]!)));
    }
    const m = /^\/([A-Za-z0-9][A-Za-z0-9._-]{0,62})\/mcp$/.exec(path);
    const upstream = m === null ? undefined : this.upstreams.get(m[1]!);
    if (upstream === undefined) return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'no MCP endpoint here' }, access, cors);
    access.upstream = upstream.cfg.name;
    if (this.closing !== null) return this.refuse(res, { status: 503, code: 'ERR_GATEWAY_BUSY', message: 'shutting down' }, access, cors);
    const authorized = await authorize(req, res, this.loaded.tokens, this.oauth, upstream.cfg.name, this.limiter);
    if ('refused' in authorized) {
      if (authorized.principal !== undefined) access.principal = authorized.principal;
      return this.refuse(res, authorized.refused, access, cors);
    }
    const { caller, release } = authorized;
    access.principal = caller.principal;
    if (req.method === 'POST') return this.post(req, res, upstream, caller, cors, access, release);
    const sid = req.headers['mcp-session-id'];
    const live = typeof sid === 'string' ? this.session(sid, upstream, caller) : null;
    if (req.method !== 'GET' && req.method !== 'DELETE') return this.refuse(res, { status: 405, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'POST, GET or DELETE', headers: { allow: 'GET, POST, DELETE' } }, access, cors);
    if (sid === undefined) return this.refuse(res, { status: 405, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'GET and DELETE need an Mcp-Session-Id (2026-07-28 has neither)', headers: { allow: 'POST' } }, access, cors);
    if (live === null) return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_SESSION', message: 'no such session' }, access, cors);
    if (req.method === 'DELETE') {
      live.conv.close();
      return void res.writeHead(200, cors).end();
    }
    const stream = new EventStream(res, cors, () => undefined);
    if (!live.conv.listen(stream)) {
      stream.end();
      return;
    }
    res.off('close', release);
    release(); // a long-lived listening stream holds no request slot
  }

  /**
   * The live session `sid` of `caller` on `upstream`, or null (unknown, another's, another
   * upstream's, or one opened with another DPoP key: all look alike).
   */
  private session(sid: string, upstream: UpstreamRuntime, caller: Caller): Live | null {
    const live = this.live.get(`s:${sid}`);
    return live !== undefined && live.upstream === upstream && live.conv.principal === caller.principal && live.jkt === caller.binding?.jkt && !live.conv.closing ? live : null;
  }

  private async post(req: IncomingMessage, res: ServerResponse, upstream: UpstreamRuntime, caller: Caller, cors: Record<string, string>, access: Access, release: () => void): Promise<void> {
    const principal = caller.principal;
    const limits = this.loaded.config.limits;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return this.refuse(res, { status: 415, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'Content-Type must be application/json' }, access, cors);
    const accept = req.headers.accept ?? '';
    if (!/text\/event-stream|\*\/\*/.test(accept)) return this.refuse(res, { status: 406, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'Accept must include text/event-stream' }, access, cors);
    const body = await readBody(req, limits.maxBodyBytes);
    if (!Buffer.isBuffer(body)) return this.refuse(res, body, access, cors, null, () => req.destroy());
    const read = readMessage(body, { maxBytes: limits.maxBodyBytes, maxDepth: DEFAULT_MAX_DEPTH });
    if (!read.ok) return this.refuse(res, { status: 400, code: read.code, message: read.message }, access, cors, null);
    const { msg, kind } = read;
    access.rpc = msg.method?.slice(0, 128);
    const mismatch = headerMismatch(req, msg);
    if (mismatch !== null) return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_HEADER_MISMATCH', message: `Header mismatch: ${mismatch}` }, access, cors, msg.id ?? null, undefined, HEADER_MISMATCH);
    const sid = req.headers['mcp-session-id'];
    if (kind !== 'request') return this.postNotification(res, upstream, caller, msg, body, typeof sid === 'string' ? sid : undefined, cors, access);
    if (msg.method === 'tools/call' && String(msg.params?.['name']).length > MAX_TOOL_NAME) {
      return this.refuse(res, { status: 200, code: 'ERR_GATEWAY_TOOL_DENIED', message: 'tool name too long' }, access, cors, msg.id!, undefined, -32601);
    }
    const id = msg.id!;
    if (msg.method === 'tools/call') {
      access.tool = String(msg.params?.['name']).slice(0, 128);
      if (!upstream.allowed(String(msg.params?.['name']))) return this.refuse(res, { status: 200, code: 'ERR_GATEWAY_TOOL_DENIED', message: `tool ${access.tool} is not available through this gateway` }, access, cors, id, undefined, -32601);
    }
    let live: Live | null;
    const headers = { ...cors };
    if (msg.method === 'initialize') {
      if (sid !== undefined) return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'initialize inside a session' }, access, cors, id);
      const busy = this.full(principal, upstream);
      if (busy !== null) return this.refuse(res, busy, access, cors, id);
      const newSid = randomBytes(24).toString('base64url');
      live = this.open(`s:${newSid}`, upstream, caller);
      headers['mcp-session-id'] = newSid;
    } else if (typeof sid === 'string') {
      live = this.session(sid, upstream, caller);
      if (live === null) return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_SESSION', message: 'no such session' }, access, cors, id);
    } else if (isModern(msg)) {
      const got = this.modern(upstream, caller);
      if (!('conv' in got)) return this.refuse(res, got, access, cors, id);
      live = got;
    } else {
      return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_SESSION', message: 'Mcp-Session-Id required (send initialize first)' }, access, cors, id);
    }
    if (live.conv.has(id)) return this.refuse(res, { status: 400, code: 'ERR_WIRE_ID_IN_USE', message: 'a request with this id is already pending' }, access, cors, id, undefined, -32600);
    if (msg.method === 'tools/call') this.callTimer(res, upstream.cfg.name);
    const modern = isModern(msg);
    const conv = live.conv;
    const stream = new EventStream(res, headers, () => { if (modern) conv.cancel(id); });
    // The request holds its slot until it is settled, not until its caller hangs up (a
    // 2025-11-25 call goes on when its stream closes): the in-flight cap counts real work.
    res.off('close', release);
    void stream.settled.then(release);
    conv.request(msg, body, stream, caller.binding);
    if (live.key.startsWith('r:')) res.on('close', () => conv.close());
  }

  /**
   * The conversation of a 2026-07-28 request: its own (an HTTP upstream), or its principal's
   * shared one, per DPoP key too (a call is gated with its own caller's key); or the refusal
   * when a new one is over the caps.
   */
  private modern(upstream: UpstreamRuntime, caller: Caller): Live | Refusal {
    const key = `p:${upstream.cfg.name}\0${caller.principal}\0${caller.binding?.jkt ?? ''}`;
    const shared = upstream.perRequest ? undefined : this.live.get(key);
    if (shared !== undefined && !shared.conv.closing) return shared;
    return this.full(caller.principal, upstream) ?? this.open(upstream.perRequest ? `r:${++this.seq}` : key, upstream, caller);
  }

  private async postNotification(res: ServerResponse, upstream: UpstreamRuntime, caller: Caller, msg: RpcMessage, body: Buffer, sid: string | undefined, cors: Record<string, string>, access: Access): Promise<void> {
    const principal = caller.principal;
    if (sid !== undefined) {
      const live = this.session(sid, upstream, caller);
      if (live === null) return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_SESSION', message: 'no such session' }, access, cors);
      // A caller that outpaces its upstream waits here (bounded), then is told to slow down.
      if (!live.conv.notify(body) && !(await live.conv.drained(10_000))) return this.refuse(res, { status: 503, code: 'ERR_GATEWAY_BUSY', message: 'the upstream is not keeping up', headers: { 'retry-after': '1' } }, access, cors);
    } else if (msg.method === 'notifications/cancelled') {
      // A 2026-07-28 caller may also say it in words: to whichever of its relays holds that
      // request, with its own DPoP key (a principal's conversations are kept apart per key).
      const target = msg.params?.['requestId'] as RpcId;
      for (const l of this.live.values()) if (l.upstream === upstream && l.conv.principal === principal && l.jkt === caller.binding?.jkt && !l.key.startsWith('s:') && l.conv.has(target)) l.conv.notify(body);
    }
    res.writeHead(202, cors).end();
  }

  /** A refusal when the gateway, `principal`, or a command `upstream`'s processes (all, or `principal`'s share) hold their cap of conversations; else null. */
  private full(principal: string, upstream: UpstreamRuntime): Refusal | null {
    const { maxSessions, maxSessionsPerPrincipal } = this.loaded.config.limits;
    if (this.live.size >= maxSessions) return { status: 503, code: 'ERR_GATEWAY_BUSY', message: 'too many sessions', headers: { 'retry-after': '1' } };
    const busy = upstream.busy(principal);
    if (busy !== null) return { ...busy, code: 'ERR_GATEWAY_BUSY', headers: { 'retry-after': '1' } };
    if ((this.perPrincipal.get(principal) ?? 0) >= maxSessionsPerPrincipal) return { status: 429, code: 'ERR_GATEWAY_BUSY', message: `${maxSessionsPerPrincipal} sessions already open`, headers: { 'retry-after': '1' } };
    return null;
  }

  private open(key: string, upstream: UpstreamRuntime, caller: Caller): Live {
    const principal = caller.principal;
    const conv = new Conversation(principal, {
      toolAllowed: (n) => upstream.allowed(n),
      dropped: () => this.metrics.dropped.inc(),
      ended: () => {
        if (this.live.get(key)?.conv === conv) this.live.delete(key);
        upstream.count(principal, -1);
        const n = (this.perPrincipal.get(principal) ?? 1) - 1;
        if (n <= 0) this.perPrincipal.delete(principal);
        else this.perPrincipal.set(principal, n);
      },
    });
    this.perPrincipal.set(principal, (this.perPrincipal.get(principal) ?? 0) + 1);
    upstream.count(principal, 1);
    const live: Live = { conv, upstream, key, jkt: caller.binding?.jkt };
    conv.attach(upstream.relay(principal, conv.input, conv.output, this.issuers.get(principal)?.signer));
    this.live.set(key, live);
    return live;
  }

  private callTimer(res: ServerResponse, upstream: string): void {
    this.metrics.calls.inc({ upstream });
    const end = this.metrics.latency.startTimer({ upstream });
    res.on('close', () => end());
  }

  private sweep(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    // Idle: nothing asked lately, and no caller still reading for an answer.
    for (const l of this.live.values()) if (l.conv.lastUsed < cutoff && l.conv.watched === 0) l.conv.close();
  }

  /** Answer with a refusal: JSON-RPC error body (`jsonrpcCode`, default -32600) with `data.code`, counted and logged. */
  private refuse(res: ServerResponse, r: Refusal, access: Access, cors: Record<string, string> = {}, id: RpcId | null = null, then?: () => void, jsonrpcCode = -32600): void {
    access.code = r.code;
    this.metrics.refusals.inc({ code: r.code });
    const body = JSON.stringify({ jsonrpc: '2.0', id, error: { code: jsonrpcCode, message: r.message, data: { code: r.code } } });
    // An unauthenticated or forbidden client's connection is closed with the answer: kept alive, a bad token sent every few seconds would hold a place under limits.maxConnections.
    const close = then !== undefined || r.status === 401 || r.status === 403;
    res.writeHead(r.status, { ...cors, ...r.headers, 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) }).end(body, then);
  }

  private logAccess(req: IncomingMessage, res: ServerResponse, a: Access, started: bigint): void {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.metrics.requests.inc({ upstream: a.upstream ?? '', status: String(res.statusCode) });
    const line = { time: new Date().toISOString(), method: req.method, path: (req.url ?? '').split('?')[0]!.slice(0, 256), status: res.statusCode, ms: Math.round(ms * 1000) / 1000, ...a };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  }

  /**
   * Stop: refuse new requests, give calls in flight `drainSeconds` to finish, then end every
   * conversation (what is still pending is receipted `shutdown`), write the final checkpoint
   * and close the stores. Idempotent; resolves with the exit code (3 when a store failed).
   */
  shutdown(): Promise<number> {
    this.closing ??= (async () => {
      this.server.close();
      this.server.closeIdleConnections();
      if (this.sweeper) clearInterval(this.sweeper);
      const deadline = Date.now() + this.loaded.config.limits.drainSeconds * 1000;
      while (Date.now() < deadline && [...this.live.values()].some((l) => l.conv.inFlight > 0)) await new Promise((r) => setTimeout(r, 50));
      const lives = [...this.live.values()];
      await Promise.all(lives.map((l) => l.conv.relay.shutdown('shutdown', 0)));
      let code = 0;
      await this.recorder.close().catch((e: unknown) => { process.stderr.write(`mcp-attest: ${(e as Error).message}\n`); code = 3; });
      for (const u of this.upstreams.values()) u.close();
      this.replay?.close();
      this.proofs?.close();
      this.server.closeAllConnections();
      return code;
    })();
    return this.closing;
  }
}

/** The settings `next` changes from `was` that a running gateway takes only at start (config paths); its upstreams are the same set. */
function restartOnly(was: LoadedConfig['config'], next: LoadedConfig['config']): string[] {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const out = (['listen', 'home', 'durability', 'checkpointMs'] as const).filter((k) => !same(was[k], next[k])).map(String);
  for (const k of ['maxMessageBytes', 'maxHeaderBytes', 'maxConnections', 'maxConnectionsPerAddress', 'sessionIdleSeconds'] as const) if (was.limits[k] !== next.limits[k]) out.push(`limits.${k}`);
  for (const u of next.upstreams) {
    const old = was.upstreams.find((x) => x.name === u.name);
    for (const k of ['command', 'env', 'url', 'headers', 'bearerEnv', 'role', 'attach'] as const) if (old !== undefined && !same(old[k], u[k])) out.push(`upstreams.${u.name}.${k}`);
  }
  return out;
}
