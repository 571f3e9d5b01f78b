/**
 * The gateway's configuration file (docs/gateway.md; JSON Schema in
 * docs/gateway.schema.json, generated from {@link GatewayConfigSchema}): YAML or JSON, closed
 * objects, every problem listed with its path. File names in it are relative to the file.
 *
 * ```yaml
 * version: 1
 * listen: 127.0.0.1:3030
 * callers:
 *   - {principal: alice, token: {env: ALICE_TOKEN}}
 *   - {principal: ci-bot, token: {sha256: "9f86d0…"}}
 * upstreams:
 *   - {name: files, command: [npx, -y, "@modelcontextprotocol/server-filesystem", /srv], role: attest}
 *   - {name: crm, url: "https://crm.example/mcp", bearerEnv: CRM_TOKEN, role: [attest, gate], policy: crm-gate.yaml,
 *      tools: {deny: ["delete_*"]}}
 * ```
 */
import { createHash } from 'node:crypto';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { dirname, resolve } from 'node:path';
import { parseStrictYaml } from '../gate/yaml.js';
import { z } from 'zod';
import { AttestError, isAttestError } from '../errors.js';
import { defaultHosts } from './guard.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRINCIPAL = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

/** Where a caller's token comes from: an environment variable, a file (first line), or only its SHA-256 (hex). */
const Secret = z.union([
  z.strictObject({ env: z.string().regex(ENV_NAME) }),
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
]);

const Caller = z.strictObject({
  /** The principal: the attestation's `sub` for this caller's calls. */
  principal: z.string().regex(PRINCIPAL, 'printable ASCII, 1 to 256 characters, no leading or trailing space')
    .refine((p) => !p.startsWith('oauth:'), 'the oauth: prefix is for OAuth principals'),
  token: Secret,
});

/** A principal's own issuer key: its calls' attestations and receipts are signed with it, not the data directory's. */
const PrincipalIssuer = z.strictObject({
  /** A caller's principal, or an OAuth one (`oauth:<claim>`). */
  principal: z.string().regex(PRINCIPAL, 'printable ASCII, 1 to 256 characters, no leading or trailing space'),
  /** Its private key: a PKCS#8 PEM file (P-256 for ES256, Ed25519, or RSA for RS256), relative to the configuration file. */
  key: z.string().min(1),
  /** Its issuer id (`issuerAsserted.iss`; default `issuer://<RFC 7638 thumbprint of the key>`). */
  iss: z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]{1,1024}$/, 'a URI without spaces').optional(),
});

const Role = z.enum(['attest', 'gate']);
const Pattern = z.string().min(1).max(256);

/** The default cap of a command upstream's live processes. */
export const DEFAULT_MAX_PROCESSES = 64;

const Upstream = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63, mounted at /<name>/mcp'),
  command: z.array(z.string().min(1)).min(1).optional(),
  env: z.record(z.string().regex(ENV_NAME), z.string()).optional(),
  url: z.url({ protocol: /^https?$/ }).optional(),
  headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), z.string().regex(/^[\x20-\x7e\t]*$/)).optional(),
  bearerEnv: z.string().regex(ENV_NAME).optional(),
  role: z.union([Role, z.array(Role).min(1).max(2)]).default('attest'),
  policy: z.string().min(1).optional(),
  attach: z.enum(['auto', 'always', 'never']).default('auto'),
  tools: z.strictObject({ allow: z.array(Pattern).optional(), deny: z.array(Pattern).optional() }).optional(),
  /** A command upstream's most live processes (one per conversation), all principals (default 64); 503 over it. */
  maxProcesses: z.int().min(1).max(100_000).optional(),
  /** A command upstream's most live processes of one principal (default a quarter of `maxProcesses`, at least 1); 429 over it. */
  maxProcessesPerPrincipal: z.int().min(1).max(100_000).optional(),
}).superRefine((u, ctx) => {
  if ((u.command === undefined) === (u.url === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of command and url' });
  const roles = Array.isArray(u.role) ? u.role : [u.role];
  if (roles.includes('gate') && u.policy === undefined) ctx.addIssue({ code: 'custom', path: ['policy'], message: 'the gate role needs a policy file' });
  if (u.url === undefined && (u.headers !== undefined || u.bearerEnv !== undefined)) ctx.addIssue({ code: 'custom', message: 'headers and bearerEnv are for url upstreams' });
  if (u.url !== undefined && u.env !== undefined) ctx.addIssue({ code: 'custom', path: ['env'], message: 'env is for command upstreams' });
  if (u.url !== undefined && u.maxProcesses !== undefined) ctx.addIssue({ code: 'custom', path: ['maxProcesses'], message: 'maxProcesses is for command upstreams' });
  if (u.url !== undefined && u.maxProcessesPerPrincipal !== undefined) ctx.addIssue({ code: 'custom', path: ['maxProcessesPerPrincipal'], message: 'maxProcessesPerPrincipal is for command upstreams' });
  if (u.maxProcessesPerPrincipal !== undefined && u.maxProcessesPerPrincipal > (u.maxProcesses ?? DEFAULT_MAX_PROCESSES)) ctx.addIssue({ code: 'custom', path: ['maxProcessesPerPrincipal'], message: 'at most maxProcesses' });
});

const Limits = z.strictObject({
  /** Largest request body, bytes. */
  maxBodyBytes: z.int().min(1024).max(2 ** 30).default(4 * 1024 * 1024),
  /** Largest message relayed from an upstream, bytes. */
  maxMessageBytes: z.int().min(1024).max(2 ** 30).default(4 * 1024 * 1024),
  /** Most connections open at once (all clients); one past it is closed as soon as it is accepted. Default 4,096, or half the process's file descriptors when that is fewer. */
  maxConnections: z.int().min(1).max(1_000_000).optional(),
  /** Most connections of one client address (an IPv6 /64) at once. Default 256; behind a reverse proxy every client has its address: raise it there. */
  maxConnectionsPerAddress: z.int().min(1).max(1_000_000).optional(),
  /** Largest request head (request line and headers), bytes. */
  maxHeaderBytes: z.int().min(1024).max(1024 * 1024).default(16 * 1024),
  /** Requests one principal may have in flight at once. */
  maxConcurrentPerPrincipal: z.int().min(1).max(100_000).default(64),
  /** Sustained requests per second per principal (token bucket), and the burst allowed. */
  requestsPerSecond: z.number().positive().max(1e6).default(200),
  burst: z.int().min(1).max(1e6).default(400),
  /** A session with no request for this long is closed, seconds. */
  sessionIdleSeconds: z.int().min(1).max(7 * 86_400).default(900),
  /** Most live sessions (all principals). */
  maxSessions: z.int().min(1).max(1_000_000).default(1000),
  /** Most live sessions of one principal (each may hold an upstream process). */
  maxSessionsPerPrincipal: z.int().min(1).max(1_000_000).default(100),
  /** On shutdown, how long in-flight calls may finish before they are receipted unanswered, seconds. */
  drainSeconds: z.int().min(0).max(3600).default(10),
});

const OAuth = z.strictObject({
  /** The authorization server: the `iss` every access token must carry, named in the RFC 9728 metadata. */
  issuer: z.url(),
  /** Its JWKS, fetched and cached; or a local JWKS file. */
  jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  jwksFile: z.string().min(1).optional(),
  /** The gateway's public base URL: an endpoint's resource is `<resource>/<name>/mcp`. */
  resource: z.url({ protocol: /^https?$/ }),
  /** The `aud` required (default: the endpoint's resource URL, RFC 8707). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The claim naming the principal. */
  principalClaim: z.string().min(1).default('sub'),
  /** Scopes every token must grant (space-separated `scope` claim). */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default([]),
  algorithms: z.array(z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])).min(1).default(['RS256', 'ES256', 'EdDSA']),
  /** DPoP (RFC 9449): `accept` DPoP-bound tokens beside bearer ones, or `require` them. */
  dpop: z.enum(['accept', 'require']).default('accept'),
}).superRefine((o, ctx) => {
  if ((o.jwksUrl === undefined) === (o.jwksFile === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of jwksUrl and jwksFile' });
});

/** The configuration file's schema (zod; `z.toJSONSchema` of it is docs/gateway.schema.json). */
export const GatewayConfigSchema = z.strictObject({
  version: z.literal(1),
  /** `HOST:PORT` to bind (default loopback only). */
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/).default('127.0.0.1:3030'),
  /** Data directory (default: as for every command). */
  home: z.string().min(1).optional(),
  /** `Host` values accepted (default: the loopback names with the bound port; required when not bound to loopback). */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** `Origin` values accepted, and answered with CORS headers (exact match; never `*`). A request without `Origin` is not a browser's and passes. */
  allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin: scheme://host[:port], no path')).default([]),
  callers: z.array(Caller).default([]),
  /** Principals with issuer keys of their own (default: every call is signed with the data directory's issuer key). */
  issuers: z.array(PrincipalIssuer).max(100_000).default([]),
  /** OAuth 2.1 resource-server mode: JWT access tokens from this authorization server (beside the static callers). */
  oauth: OAuth.optional(),
  upstreams: z.array(Upstream).min(1),
  limits: Limits.default(Limits.parse({})),
  durability: z.enum(['full', 'normal']).default('full'),
  checkpointMs: z.int().min(1).max(9_999_999).default(1000),
});

/**
 * The configuration of `mcp-attest serve --http` (docs/session.md "Over HTTP"): the
 * gateway's, without upstreams (the server is the session server itself) and without
 * `home` checks beyond the gateway's.
 */
export const ServeHttpConfigSchema = GatewayConfigSchema.omit({ upstreams: true, issuers: true });

/** The JSON Schema (draft 2020-12) of the configuration file as written (defaults optional): the text of docs/gateway.schema.json. */
export function gatewayJsonSchema(): string {
  const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input', target: 'draft-2020-12' });
  const { $schema, ...rest } = schema;
  return `${JSON.stringify({ $schema, $id: 'urn:mcp-attest:gateway:1', title: 'mcp-attest gateway configuration', ...rest }, null, 2)}\n`;
}

/** A parsed configuration (defaults filled in). */
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
/** One upstream of a {@link GatewayConfig}. */
export type UpstreamConfig = GatewayConfig['upstreams'][number];

/** A configuration with its secrets resolved and its paths made absolute. */
export interface LoadedConfig {
  config: GatewayConfig;
  /** The file's directory: relative paths in it are resolved against it. */
  dir: string;
  /** SHA-256 (hex) of each caller token → principal. */
  tokens: Map<string, string>;
}

/** SHA-256 hex of a token's UTF-8 bytes (how tokens are looked up). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function invalid(problems: string[]): AttestError {
  return new AttestError('ERR_CONFIG_INVALID', problems.join('; '));
}

/**
 * Parse configuration text (YAML or JSON) read from a file in `dir`. Throws
 * `ERR_CONFIG_INVALID` listing every problem (`path: message`), including a token variable
 * that is unset, an unreadable token file, two callers with one token, and two upstreams
 * with one name.
 */
export function parseGatewayConfig(text: string, dir: string, env: NodeJS.ProcessEnv = process.env, schema: z.ZodType<unknown> = GatewayConfigSchema): LoadedConfig {
  let raw: unknown;
  try {
    raw = parseStrictYaml(text, 0);
  } catch (e) {
    throw invalid([`not YAML or JSON: ${(e as Error).message.split('\n')[0]}`]);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw invalid(r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`));
  const config = r.data as GatewayConfig;
  config.upstreams ??= [];
  const problems: string[] = [];
  const tokens = new Map<string, string>();
  config.callers.forEach((c, i) => {
    const digest = callerDigest(c.token, dir, env, (m) => problems.push(`callers.${i}.token: ${m}`));
    if (digest === null) return;
    if (tokens.has(digest)) problems.push(`callers.${i}.token: the same token as another caller`);
    tokens.set(digest, c.principal);
  });
  config.issuers ??= [];
  const keyed = new Set<string>();
  for (const [i, k] of config.issuers.entries()) {
    if (keyed.has(k.principal)) problems.push(`issuers.${i}.principal: ${k.principal} has a key already`);
    keyed.add(k.principal);
    k.key = resolve(dir, k.key);
  }
  const names = new Set<string>();
  for (const [i, u] of config.upstreams.entries()) {
    if (names.has(u.name)) problems.push(`upstreams.${i}.name: ${u.name} is used twice`);
    names.add(u.name);
    if (u.bearerEnv !== undefined && env[u.bearerEnv] === undefined) problems.push(`upstreams.${i}.bearerEnv: ${u.bearerEnv} is unset`);
    if (u.policy !== undefined) u.policy = resolve(dir, u.policy);
  }
  const unhosted = hostsProblem(config.listen, config.allowedHosts);
  if (unhosted !== null) problems.push(unhosted);
  if (config.home !== undefined) config.home = resolve(dir, config.home);
  if (config.oauth?.jwksFile !== undefined) config.oauth.jwksFile = resolve(dir, config.oauth.jwksFile);
  if (config.callers.length === 0 && config.oauth === undefined) problems.push('callers: no callers and no oauth: nobody could use the gateway');
  if (problems.length > 0) throw invalid(problems);
  return { config, dir, tokens };
}

/**
 * Why `allowedHosts` must be given for `listen` (`HOST:PORT`), or null: bound beyond loopback,
 * no Host is allowed by default, and every request would be refused (403) by a server up for nothing.
 */
export function hostsProblem(listen: string, allowedHosts: string[] | undefined): string | null {
  const host = /^\[?(.*?)\]?:[0-9]+$/.exec(listen)?.[1] ?? '';
  return allowedHosts === undefined && defaultHosts(host, 0) === null ? `allowedHosts: required when listening on ${host} (not loopback): the Host names clients reach it by, e.g. [mcp.example.com:443]` : null;
}

function callerDigest(s: z.infer<typeof Secret>, dir: string, env: NodeJS.ProcessEnv, problem: (m: string) => void): string | null {
  let token: string | undefined;
  if ('sha256' in s) return s.sha256;
  if ('env' in s) {
    token = env[s.env];
    if (token === undefined) problem(`${s.env} is unset`);
  } else {
    try {
      token = readRegularFile(resolve(dir, s.file), MAX_CONFIG_FILE_BYTES, { follow: true, what: 'token file', secret: true }).toString('utf8').split(/\r?\n/)[0];
    } catch (e) {
      // A token others may read is the file's problem, not the configuration's: its own code (exit 3).
      if (isAttestError(e, 'ERR_KEY_EXPOSED')) throw e;
      problem(`cannot read ${s.file}: ${(e as Error).message}`);
    }
  }
  if (token === undefined) return null;
  if (!/^[\x21-\x7e]{16,4096}$/.test(token)) {
    problem('a token is 16 to 4096 visible ASCII characters');
    return null;
  }
  return tokenDigest(token);
}

/**
 * Read and parse a configuration file (`schema`: the gateway's, or {@link ServeHttpConfigSchema}).
 * Throws `ERR_CONFIG_INVALID` (also for a file that is no regular file, or too large), and
 * `ERR_STORE_IO` when it cannot be read (missing, unreadable: exit 3, as for every input file).
 */
export function loadGatewayConfig(path: string, env: NodeJS.ProcessEnv = process.env, schema: z.ZodType<unknown> = GatewayConfigSchema): LoadedConfig {
  let text: string;
  try {
    text = readRegularFile(path, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'configuration' }).toString('utf8');
  } catch (e) {
    if (isAttestError(e, 'ERR_STORE_IO')) throw e;
    throw invalid([(e as Error).message]);
  }
  return parseGatewayConfig(text, dirname(resolve(path)), env, schema);
}
