/**
 * The gateway's checks before any work (docs/gateway.md "Safe by default"): `Host` and
 * `Origin` (DNS rebinding), CORS for allowlisted origins only, caller tokens, per-principal
 * rate and concurrency limits, the request body read under its cap, and the 2026-07-28
 * header/body agreement (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokenDigest } from './config.js';
import type { CallerBinding } from '../gate/gate.js';
import type { OAuthResource } from './oauth.js';
import type { RpcMessage } from '../proxy/message.js';
import { PROTOCOL_VERSION_META } from '../proxy/http-upstream.js';

/** A refusal: HTTP status, stable code, message. */
export interface Refusal { status: number; code: string; message: string; headers?: Record<string, string> }

/** The `Host` values a gateway bound to `host:port` accepts by default: the loopback names with the port, when bound to loopback. */
export function defaultHosts(host: string, port: number): string[] | null {
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'];
  if (!loopback.includes(host)) return null;
  return ['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`);
}

/** Check `Host` and `Origin`; null when both pass. */
export function checkHostOrigin(req: IncomingMessage, hosts: ReadonlySet<string>, origins: ReadonlySet<string>): Refusal | null {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!hosts.has(host)) return { status: 403, code: 'ERR_GATEWAY_HOST', message: 'Host not allowed' };
  const origin = req.headers.origin;
  if (origin !== undefined && !origins.has(origin)) return { status: 403, code: 'ERR_GATEWAY_ORIGIN', message: 'Origin not allowed' };
  return null;
}

/** CORS headers for an allowlisted `Origin` (exact origin, never `*`), else none. */
export function corsHeaders(req: IncomingMessage, origins: ReadonlySet<string>): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined || !origins.has(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'Mcp-Session-Id, WWW-Authenticate',
    vary: 'Origin',
  };
}

/** Answers to a CORS preflight from an allowlisted origin. */
export const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID',
  'access-control-max-age': '600',
};

/** An authenticated caller: its principal, and with OAuth what its access token binds (docs/identity.md "Interop"). */
export interface Caller {
  principal: string;
  binding?: CallerBinding;
  /**
   * What is left to do once the request is within the principal's limits: record its DPoP
   * proof's id (RFC 9449 §11.1); null, or the 401 refusal (a replayed proof, a full or
   * unreachable replay store).
   */
  admit?: () => Promise<Refusal | null>;
}

/**
 * The caller of the request's token: a configured caller's bearer token (looked up by
 * digest, so no comparison of the token's bytes can leak it by timing), else, with OAuth, the
 * access token's (`Bearer`, or `DPoP` with its proof, RFC 9449); or a 401 refusal (with the
 * RFC 9728 challenge under OAuth).
 */
async function authenticate(req: IncomingMessage, tokens: ReadonlyMap<string, string>, oauth: OAuthResource | null, endpoint: string): Promise<Caller | Refusal> {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^(Bearer|DPoP) ([\x21-\x7e]{1,8192})$/i.exec(h);
  const dpop = m !== null && m[1]!.toLowerCase() === 'dpop';
  const principal = m === null || dpop ? undefined : tokens.get(tokenDigest(m[2]!));
  if (principal !== undefined) return { principal };
  if (oauth !== null && m !== null && m[2]!.split('.').length === 3) return oauth.principal(m[2]!, endpoint, dpop ? { proof: req.headers['dpop'], method: req.method ?? '' } : undefined);
  const error = h === undefined ? undefined : 'invalid_token';
  return {
    status: 401, code: 'ERR_GATEWAY_UNAUTHENTICATED', message: h === undefined ? 'a bearer token is required' : 'the bearer token is not valid',
    headers: { 'www-authenticate': oauth !== null ? oauth.challenge(endpoint, error) : error === undefined ? 'Bearer' : `Bearer error="${error}"` },
  };
}

/**
 * Authenticate a request ({@link authenticate}) and take a slot of its principal's limits
 * ({@link Limiter.take}), then admit it (record its DPoP proof's id: {@link Caller.admit});
 * one function, so no endpoint can take a caller without admitting it. The slot is released
 * when `res` closes (the caller may keep it longer: remove that listener). The caller and the
 * release of its slot, or the refusal (401, 429) with the principal when one was known.
 */
export async function authorize(req: IncomingMessage, res: ServerResponse, tokens: ReadonlyMap<string, string>, oauth: OAuthResource | null, endpoint: string, limiter: Limiter): Promise<{ caller: Caller; release: () => void } | { refused: Refusal; principal?: string }> {
  const caller = await authenticate(req, tokens, oauth, endpoint);
  if ('status' in caller) return { refused: caller };
  const principal = caller.principal;
  const release = limiter.take(principal);
  if (typeof release !== 'function') return { refused: release, principal };
  // Released when the caller hangs up, from now on (a caller gone while its proof is recorded must not keep the slot); idempotent.
  res.on('close', release);
  if (res.closed) release();
  const refused = caller.admit === undefined ? null : await caller.admit();
  if (refused !== null) {
    release();
    limiter.refund(principal); // a replayed proof is not the principal's request: it spends none of its rate
    return { refused, principal };
  }
  return { caller, release };
}

/** Per-principal token buckets and in-flight counts. */
export class Limiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly inflight = new Map<string, number>();

  constructor(private limits: { requestsPerSecond: number; burst: number; maxConcurrentPerPrincipal: number }) {}

  /** New limits (a reload): buckets keep their state. */
  update(limits: { requestsPerSecond: number; burst: number; maxConcurrentPerPrincipal: number }): void {
    this.limits = limits;
  }

  /** Give back the rate token of a request {@link take} counted that was not the principal's (a replayed DPoP proof). */
  refund(principal: string): void {
    const b = this.buckets.get(principal);
    if (b !== undefined) b.tokens = Math.min(this.limits.burst, b.tokens + 1);
  }

  /** Take a request slot for `principal`: a release function, or a 429 refusal. */
  take(principal: string, now = Date.now()): (() => void) | Refusal {
    const { requestsPerSecond: rate, burst, maxConcurrentPerPrincipal: max } = this.limits;
    const b = this.buckets.get(principal) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(principal, b);
    if (b.tokens < 1) {
      const wait = Math.ceil((1 - b.tokens) / rate);
      return { status: 429, code: 'ERR_GATEWAY_RATE_LIMITED', message: 'over the request rate', headers: { 'retry-after': String(Math.max(1, wait)) } };
    }
    const n = this.inflight.get(principal) ?? 0;
    if (n >= max) return { status: 429, code: 'ERR_GATEWAY_BUSY', message: `${max} requests already in flight`, headers: { 'retry-after': '1' } };
    b.tokens -= 1;
    this.inflight.set(principal, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inflight.get(principal) ?? 1) - 1;
      if (left <= 0) this.inflight.delete(principal);
      else this.inflight.set(principal, left);
    };
  }
}

/** Read a request body of at most `max` bytes: the bytes, or a 413 refusal (the rest is never read). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | Refusal> {
  const tooLarge: Refusal = { status: 413, code: 'ERR_GATEWAY_TOO_LARGE', message: `the body is over ${max} bytes` };
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(/^[0-9]{1,15}$/.test(declared) && Number(declared) <= max)) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        return resolve(tooLarge);
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts, size)));
    req.on('error', () => resolve({ status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', message: 'the request body broke off' }));
  });
}

/** Decode a mirrored header value (plain, or the `=?base64?…?=` form). */
function decoded(v: string): string | null {
  const m = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(v);
  if (m === null) return v;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  return Buffer.from(text, 'utf8').toString('base64') === m[1] ? text : null;
}

/**
 * The 2026-07-28 header/body agreement (Streamable HTTP "Server Validation"): for a message
 * carrying the modern `_meta` version, `MCP-Protocol-Version` must equal it, `Mcp-Method`
 * the method, and `Mcp-Name` the `params.name` (`tools/call`, `prompts/get`) or `params.uri`
 * (`resources/read`); each header that is present is checked in either era. The message
 * explains the first disagreement; null when they agree.
 */
export function headerMismatch(req: IncomingMessage, msg: RpcMessage): string | null {
  const meta = msg.params?.['_meta'];
  const version = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>)[PROTOCOL_VERSION_META] : undefined;
  const modern = typeof version === 'string';
  const h = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? '\0' : v;
  };
  const pv = h('mcp-protocol-version');
  if (modern && pv !== version) return `MCP-Protocol-Version ${pv === undefined ? 'is missing' : 'does not match the body'}`;
  const method = h('mcp-method');
  if ((modern || method !== undefined) && (method === undefined || decoded(method) !== msg.method)) return `Mcp-Method ${method === undefined ? 'is missing' : 'does not match the body'}`;
  const field = msg.method === 'resources/read' ? 'uri' : msg.method === 'tools/call' || msg.method === 'prompts/get' ? 'name' : null;
  const name = h('mcp-name');
  if (field === null) return name === undefined ? null : 'Mcp-Name is not expected for this method';
  const want = msg.params?.[field];
  if ((modern || name !== undefined) && (name === undefined || decoded(name) !== want)) return `Mcp-Name ${name === undefined ? 'is missing' : 'does not match the body'}`;
  return null;
}
