/**
 * The receipt-session MCP server over Streamable HTTP (`mcp-attest serve --http`,
 * docs/session.md "Over HTTP"): the official SDK's Streamable HTTP server transport, one per
 * session (2025-11-25 sessions), behind the gateway's checks in the same order
 * (src/gateway/guard.ts): `Host` and `Origin`, the caller's token (or OAuth access token),
 * the principal's rate and in-flight limits, `Content-Type`, the body cap, one strict
 * JSON-RPC message, header/body agreement. An MCP session belongs to the principal that
 * opened it (another principal's session id is answered as unknown, 404), and so does a
 * receipt session: one started over HTTP is usable by its principal alone, and one started
 * any other way by none (store/session-owners.ts; another's id is `ERR_SESSION_UNKNOWN`, as one that does
 * not exist).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { LoadedConfig } from '../gateway/config.js';
import { Limiter, authorize, checkHostOrigin, corsHeaders, defaultHosts, headerMismatch, readBody, PREFLIGHT_HEADERS, type Refusal } from '../gateway/guard.js';
import { OAuthResource } from '../gateway/oauth.js';
import type { ReplayStore } from '../gate/gate.js';
import { DEFAULT_MAX_DEPTH, readMessage, type RpcId } from '../proxy/message.js';
import type { SessionHome } from '../store/session-export.js';
import { createSessionServer } from './session-server.js';
import { SessionOwners } from '../store/session-owners.js';
import { closeSilentConnections } from '../http/listen.js';
import { capConnections } from '../http/caps.js';

/** The endpoint's name in URLs and OAuth metadata: the server is served at `/mcp`. */
const ENDPOINT = 'sessions';

interface Live { transport: StreamableHTTPServerTransport; principal: string; close(): Promise<void>; lastUsed: number }

/** The session server on HTTP. */
export class SessionHttpServer {
  private readonly server: Server;
  private readonly live = new Map<string, Live>();
  private readonly limiter: Limiter;
  private readonly oauth: OAuthResource | null;
  /** Where DPoP proof ids are recorded (gateway/dpop.ts), with an OAuth configuration. */
  private readonly proofs: (ReplayStore & { close(): void }) | null;
  private hosts = new Set<string>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly owners: SessionOwners;

  constructor(private readonly loaded: LoadedConfig, private readonly sessions: SessionHome, private readonly onCheckpointError: (e: unknown) => void) {
    const { limits } = loaded.config;
    this.limiter = new Limiter(limits);
    // Proof ids outlive a restart, not a power loss (their window is 70 s): no fsync.
    this.proofs = loaded.config.oauth === undefined ? null : sessions.recorder.replayStore(1_000_000, 'normal');
    this.oauth = this.proofs === null ? null : new OAuthResource(loaded.config.oauth!, this.proofs);
    this.owners = new SessionOwners(sessions.recorder.db.db);
    this.server = createServer({ maxHeaderSize: limits.maxHeaderBytes, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        process.stderr.write(`mcp-attest: serve: ${(e as Error).message}\n`);
        if (!res.headersSent) this.refuse(res, { status: 500, code: 'ERR_UPSTREAM', message: 'internal error' });
        else res.destroy();
      });
    });
    closeSilentConnections(this.server);
    capConnections(this.server, { max: limits.maxConnections, perAddress: limits.maxConnectionsPerAddress, who: 'serve' });
  }

  /** Bind (`listen`: `HOST:PORT`); the bound address. */
  async start(listen: string): Promise<AddressInfo> {
    const [, host, port] = /^\[?(.*?)\]?:([0-9]+)$/.exec(listen)!;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(Number(port), host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.hosts = new Set((this.loaded.config.allowedHosts ?? defaultHosts(host!, addr.port) ?? []).map((h) => h.toLowerCase()));
    const idle = this.loaded.config.limits.sessionIdleSeconds * 1000;
    this.sweeper = setInterval(() => {
      for (const [sid, l] of this.live) if (l.lastUsed < Date.now() - idle) void l.close().then(() => this.live.delete(sid));
    }, Math.min(idle, 10_000)).unref();
    return addr;
  }

  private refuse(res: ServerResponse, r: Refusal, cors: Record<string, string> = {}, id: RpcId | null = null, jsonrpcCode = -32600): void {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), status: r.status, code: r.code })}\n`);
    // As the gateway: an unauthenticated or forbidden client's connection is closed with the answer.
    res.writeHead(r.status, { ...cors, ...r.headers, 'content-type': 'application/json', ...(r.status === 401 || r.status === 403 ? { connection: 'close' } : {}) })
      .end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: jsonrpcCode, message: r.message, data: { code: r.code } } }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const blocked = checkHostOrigin(req, this.hosts, new Set(this.loaded.config.allowedOrigins));
    if (blocked !== null) return this.refuse(res, blocked);
    const cors = corsHeaders(req, new Set(this.loaded.config.allowedOrigins));
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...cors, ...PREFLIGHT_HEADERS }).end();
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === `/.well-known/oauth-protected-resource/${ENDPOINT}/mcp` && this.oauth !== null) {
      return void res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(this.oauth.metadata(ENDPOINT)));
    }
    if (path !== '/mcp') return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'the MCP endpoint is /mcp' }, cors);
    const authorized = await authorize(req, res, this.loaded.tokens, this.oauth, ENDPOINT, this.limiter);
    if ('refused' in authorized) return this.refuse(res, authorized.refused, cors);
    const { caller } = authorized;
    const principal = caller.principal;
    const sid = req.headers['mcp-session-id'];
    const live = typeof sid === 'string' ? this.live.get(sid) : undefined;
    if (sid !== undefined && (live === undefined || live.principal !== principal)) return this.refuse(res, { status: 404, code: 'ERR_GATEWAY_SESSION', message: 'no such session' }, cors);
    if (req.method !== 'POST') {
      if (live === undefined) return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_SESSION', message: 'Mcp-Session-Id required' }, cors);
      live.lastUsed = Date.now();
      return live.transport.handleRequest(req, res);
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return this.refuse(res, { status: 415, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'Content-Type must be application/json' }, cors);
    const body = await readBody(req, this.loaded.config.limits.maxBodyBytes);
    if (!Buffer.isBuffer(body)) return this.refuse(res, body, cors);
    const read = readMessage(body, { maxBytes: this.loaded.config.limits.maxBodyBytes, maxDepth: DEFAULT_MAX_DEPTH });
    if (!read.ok) return this.refuse(res, { status: 400, code: read.code, message: read.message }, cors);
    const mismatch = headerMismatch(req, read.msg);
    if (mismatch !== null) return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_HEADER_MISMATCH', message: `Header mismatch: ${mismatch}` }, cors, read.msg.id ?? null, -32020);
    if (live !== undefined) {
      live.lastUsed = Date.now();
      return live.transport.handleRequest(req, res, read.msg);
    }
    if (read.msg.method !== 'initialize') return this.refuse(res, { status: 400, code: 'ERR_GATEWAY_SESSION', message: 'Mcp-Session-Id required (send initialize first)' }, cors, read.msg.id ?? null);
    const { maxSessions, maxSessionsPerPrincipal } = this.loaded.config.limits;
    if (this.live.size >= maxSessions) return this.refuse(res, { status: 503, code: 'ERR_GATEWAY_BUSY', message: 'too many sessions', headers: { 'retry-after': '1' } }, cors);
    // As the gateway: one principal cannot take every session.
    let own = 0;
    for (const l of this.live.values()) if (l.principal === principal) own++;
    if (own >= maxSessionsPerPrincipal) return this.refuse(res, { status: 429, code: 'ERR_GATEWAY_BUSY', message: `${maxSessionsPerPrincipal} sessions already open`, headers: { 'retry-after': '1' } }, cors);
    await (await this.open(principal)).transport.handleRequest(req, res, read.msg);
  }

  private async open(principal: string): Promise<Live> {
    const { server, flush } = createSessionServer(this.sessions, { onCheckpointError: this.onCheckpointError, access: this.owners.of(principal) });
    let entry: Live;
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(24).toString('base64url'),
      onsessioninitialized: (sid) => { this.live.set(sid, entry); },
    });
    transport.onclose = () => { if (transport.sessionId !== undefined) this.live.delete(transport.sessionId); };
    entry = { transport, principal, lastUsed: Date.now(), close: async () => { flush(); await server.close().catch(() => undefined); } };
    await server.connect(transport);
    return entry;
  }

  /** Stop accepting, close every session, stop the server. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.server.close();
    await Promise.all([...this.live.values()].map((l) => l.close()));
    this.server.closeAllConnections();
    this.proofs?.close();
  }
}
