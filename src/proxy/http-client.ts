/**
 * The HTTP client of {@link HttpUpstream}: `node:http`/`node:https` requests over keep-alive
 * agents, their bodies read as the `Buffer` chunks Node gives (no web-stream layer in
 * between). Redirects are never followed (the caller sees the 3xx). An aborted signal
 * destroys the request and its response stream.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** A response as the upstream relay reads it. */
export interface UpstreamResponse {
  status: number;
  ok: boolean;
  /** A header's value (lower-case name; several values joined with `, `), or null. */
  header(name: string): string | null;
  /** The body, chunk by chunk. */
  body: AsyncIterable<Buffer>;
  /** Stop reading the body and release the connection. */
  cancel(): void;
  /** The same status and headers as a fetch `Response` without a body (for the SDK's OAuth helpers). */
  asFetchResponse(): Response;
}

/**
 * How long a kept-alive connection may sit idle before this side closes it, ms. Servers close
 * idle connections on their own timer (Node's default: 5 s), and a request sent on a
 * connection the server is closing fails with ECONNRESET: a POSTed call then ends unanswered.
 * Node's agent shortens this to a server's `Keep-Alive: timeout=N` hint less one second, but
 * only when a timeout is set at all; 4 s stays under the common 5 s even without a hint.
 * (A request in flight is not affected: the timer only emits an event nobody acts on.)
 */
export const IDLE_SOCKET_MS = 4000;

/**
 * No cap on connections per upstream: a legacy session's GET stream holds one for the
 * session's life, so a cap of N would queue every request of the (N+1)th session forever
 * (the bench's 1,000 idle sessions hung at 256). The gateway's own limits (sessions, POSTs in
 * flight) bound them instead.
 */
const agentOptions = { keepAlive: true, maxSockets: Infinity, timeout: IDLE_SOCKET_MS };
const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };

/** Send one request; resolves once the response head has arrived. Rejects on a network error or abort. */
export function send(url: URL, o: { method: string; headers: Record<string, string>; body?: string | undefined; signal: AbortSignal }): Promise<UpstreamResponse> {
  const tls = url.protocol === 'https:';
  const make = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers = o.body === undefined ? o.headers : { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) };
    const req = make(url, { method: o.method, headers, agent: tls ? agents.https : agents.http, signal: o.signal }, (res) => resolve(wrap(res)));
    req.on('error', reject);
    req.end(o.body);
  });
}

function wrap(res: IncomingMessage): UpstreamResponse {
  const status = res.statusCode ?? 0;
  const header = (name: string): string | null => {
    const v = res.headers[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  };
  return {
    status, ok: status >= 200 && status < 300, header, body: res,
    cancel: () => void res.destroy(),
    asFetchResponse: () => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
      return new Response(null, { status: status >= 200 && status <= 599 ? status : 500, headers: h });
    },
  };
}
