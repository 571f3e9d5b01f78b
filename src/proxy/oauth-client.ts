/**
 * OAuth 2.1 towards a Streamable HTTP upstream (`proxy --url --oauth`, docs/http.md "OAuth"),
 * through the official SDK's client auth code (`auth()`: protected-resource and
 * authorization-server discovery, dynamic client registration, authorization code with PKCE,
 * the RFC 8707 `resource`, refresh): this file only stores what it hands us and waits for the
 * user. Client registration, tokens and the PKCE verifier are kept in
 * `<home>/oauth/<sha256 of the URL>.json` (directory 0700, file 0600). When the upstream
 * answers 401 and no refresh helps, the authorization URL is printed on stderr and a one-shot
 * loopback listener (`http://127.0.0.1:<port>/callback`) waits for the browser's redirect;
 * the request that met the 401 waits with it (up to {@link AUTHORIZE_TIMEOUT_MS}), then is sent again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { isAttestError } from '../errors.js';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { auth, extractResourceMetadataUrl, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/** How long a request waits for the user to authorize in the browser, ms. */
export const AUTHORIZE_TIMEOUT_MS = 5 * 60_000;

interface Stored { client?: OAuthClientInformationMixed; tokens?: OAuthTokens; verifier?: string; state?: string; redirect?: string }

/** The SDK's client provider, persisted in one file of the data directory. */
class FileProvider implements OAuthClientProvider {
  redirect: URL | null = null;
  private warned = false;

  constructor(private readonly file: string, private readonly onAuthorize: (url: URL) => void) {}

  private read(): Stored {
    try {
      return JSON.parse(readRegularFile(this.file, MAX_CONFIG_FILE_BYTES, { what: 'OAuth client state', secret: true }).toString('utf8')) as Stored;
    } catch (e) {
      // Tokens others could read are not used: the client registers and authorizes again, and the new state is written 0600.
      if (isAttestError(e, 'ERR_KEY_EXPOSED') && !this.warned) process.stderr.write(`mcp-attest: ${(e as Error).message}: its tokens are not used\n`);
      this.warned ||= isAttestError(e, 'ERR_KEY_EXPOSED');
      return {};
    }
  }

  private write(patch: Partial<Stored>): void {
    const next = { ...this.read(), ...patch };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  get redirectUrl(): string | undefined {
    return this.redirect?.href;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcp-attest proxy', redirect_uris: this.redirect ? [this.redirect.href] : [], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    const state = randomBytes(16).toString('base64url');
    this.write({ state });
    return state;
  }

  expectedState(): string | undefined {
    return this.read().state;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    const s = this.read();
    // A registration made for another loopback port cannot take this redirect: register again.
    return s.client !== undefined && s.redirect === this.redirect?.href ? s.client : undefined;
  }

  saveClientInformation(client: OAuthClientInformationMixed): void {
    this.write({ client, redirect: this.redirect?.href });
  }

  /** The loopback port the stored client registration redirects to (0 when none). */
  registeredPort(): number {
    const r = this.read().redirect;
    return r === undefined ? 0 : Number(new URL(r).port);
  }

  tokens(): OAuthTokens | undefined {
    return this.read().tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.write({ tokens });
  }

  redirectToAuthorization(url: URL): void {
    this.onAuthorize(url);
  }

  saveCodeVerifier(verifier: string): void {
    this.write({ verifier });
  }

  codeVerifier(): string {
    const v = this.read().verifier;
    if (v === undefined) throw new Error('no PKCE verifier saved');
    return v;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier'): void {
    if (scope === 'all') this.write({ client: undefined, tokens: undefined, verifier: undefined });
    else if (scope === 'client') this.write({ client: undefined });
    else if (scope === 'tokens') this.write({ tokens: undefined });
    else this.write({ verifier: undefined });
  }
}

/** OAuth for one upstream URL: headers for each request, and what to do about a 401. */
export class UpstreamOAuth {
  private readonly provider: FileProvider;
  private pending: Promise<boolean> | null = null;

  constructor(private readonly url: URL, home: string) {
    const dir = join(home, 'oauth');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${createHash('sha256').update(url.href).digest('hex').slice(0, 32)}.json`);
    this.provider = new FileProvider(file, (u) => process.stderr.write(`mcp-attest: authorize access to ${url.host}: open ${u.href}\n`));
  }

  /** `Authorization` for the next request, when a token is held. */
  async headers(): Promise<Record<string, string>> {
    const t = await this.provider.tokens();
    return t?.access_token ? { authorization: `Bearer ${t.access_token}` } : {};
  }

  /** The upstream answered 401: refresh or authorize (one flow at a time); true when the request may be sent again. */
  unauthorized(res: Response): Promise<boolean> {
    this.pending ??= this.authorize(extractResourceMetadataUrl(res)).finally(() => (this.pending = null));
    return this.pending;
  }

  private async authorize(resourceMetadataUrl: URL | undefined): Promise<boolean> {
    const callback = await listenOnce(this.provider.registeredPort());
    this.provider.redirect = callback.url;
    try {
      const first = await auth(this.provider, { serverUrl: this.url, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}) });
      if (first === 'AUTHORIZED') return true;
      const { code, state } = await callback.result;
      if (state !== this.provider.expectedState()) throw new Error('the authorization answer carries another state');
      return (await auth(this.provider, { serverUrl: this.url, authorizationCode: code, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}) })) === 'AUTHORIZED';
    } catch (e) {
      process.stderr.write(`mcp-attest: authorization with ${this.url.host} failed: ${(e as Error).message}\n`);
      return false;
    } finally {
      callback.close();
    }
  }
}

/** A loopback listener for one authorization redirect (on `preferred` when it is free): its URL, and the code and state it brings. */
async function listenOnce(preferred: number): Promise<{ url: URL; result: Promise<{ code: string; state: string | null }>; close(): void }> {
  let server!: Server;
  const result = new Promise<{ code: string; state: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nobody authorized in time')), AUTHORIZE_TIMEOUT_MS);
    timer.unref();
    server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
      const code = q.get('code');
      if (!(req.url ?? '').startsWith('/callback') || code === null) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`authorization failed: ${q.get('error') ?? 'no code'}`);
        if (q.get('error') !== null) reject(new Error(`the authorization server said ${q.get('error')}`));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('mcp-attest: authorized; you may close this page.');
      clearTimeout(timer);
      resolve({ code, state: q.get('state') });
    });
  });
  result.catch(() => undefined);
  // The port the client was registered with, when free (else another, and a new registration).
  const bind = (port: number): Promise<boolean> => new Promise((r) => {
    server.once('error', () => r(false));
    server.listen(port, '127.0.0.1', () => r(true));
  });
  if (preferred === 0 || !(await bind(preferred))) await bind(0);
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}/callback`), result, close: () => server.close() };
}
