/**
 * `mcp-attest proxy [options] [--] CMD [ARGS...]` (or `--url URL` for a Streamable HTTP
 * server, with `--header` and `--bearer-env`, docs/http.md): the relay in front of one MCP
 * server. `--role client` (default) attests and logs every call; `--role server --policy
 * FILE` is the gatekeeper that enforces attestations (docs/gate-policy.md). The `--` is
 * optional (some clients strip it): options end at the first positional argument. The data
 * directory is initialized on first use (ES256 issuer). `--session ID` (client role) links
 * every call to a receipt session of the data directory (docs/session.md); a session that
 * is not there, sealed, or another key's is a usage error at startup (exit 2, with its code).
 * The gatekeeper's modules (policy YAML, gate, tool pins) and the OAuth client (the MCP SDK)
 * are loaded only when the flags ask for them, so a client proxy starts on what it uses.
 */
import { CredentialFile } from '../proxy/credential-file.js';
import { renewCredential } from '../store/agent-credentials.js';
import type { Credential } from '../identity/credential.js';
import type { Command } from 'commander';
import { nowSeconds } from '../envelope/time.js';
import { homePaths, resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { Recorder } from '../proxy/recorder.js';
import { AttestingProxy, type AttachMode } from '../proxy/relay.js';
import { ResponseReceiptChecker, type ResponseReceiptMode } from '../proxy/response-receipt.js';
import type { Gatekeeper } from '../proxy/gatekeeper.js';
import type { loadGatePolicy } from '../gate/policy.js';
import { isAttestError } from '../errors.js';
import { checkSessionId } from '../store/sessions.js';
import { parseTrustPolicy } from '../verify/policy.js';
import { policyKeySource, readInput } from './keysource.js';
import { CliExit, EXIT_USAGE, err } from './output.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../proxy/message.js';
import type { HttpUpstreamOptions } from '../proxy/http-upstream.js';

interface ProxyFlags {
  home?: string; name?: string; sub?: string; serverFingerprint?: string;
  evidence: boolean; receiptMeta: boolean; durability: string; checkpointMs: string; profile: string; store?: string;
  role: string; policy?: string; attach: string; trust?: string; secret?: string; responseReceipts: string; toolChanges: string;
  session?: string; maxMessageBytes: string; credential?: string; renewHome?: string;
  url?: string; header: string[]; bearerEnv?: string; oauth?: boolean;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the relay sets itself, per request: not settable with `--header`. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'accept', 'host', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id', 'transfer-encoding', 'connection']);

/** `--url`, `--header`, `--bearer-env`: the Streamable HTTP upstream (docs/http.md); usage errors are exit 2. */
function httpUpstream(o: ProxyFlags, maxMessageBytes: number): HttpUpstreamOptions {
  let url: URL;
  try {
    url = new URL(o.url!);
  } catch {
    throw new CliExit(EXIT_USAGE, `--url ${JSON.stringify(o.url)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliExit(EXIT_USAGE, '--url must be http: or https:');
  if (url.username !== '' || url.password !== '') throw new CliExit(EXIT_USAGE, '--url must not carry credentials; use --header or --bearer-env');
  const headers: Record<string, string> = {};
  for (const h of o.header) {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim().toLowerCase() : '';
    const value = h.slice(colon + 1).trim();
    if (!TOKEN.test(name) || !/^[\x20-\x7e\t]*$/.test(value)) throw new CliExit(EXIT_USAGE, `--header ${JSON.stringify(h.slice(0, 64))}: expected 'Name: value' in visible ASCII`);
    if (OWN_HEADERS.has(name)) throw new CliExit(EXIT_USAGE, `--header ${name}: set by the relay itself`);
    headers[name] = value;
  }
  if (o.bearerEnv !== undefined) {
    const token = process.env[o.bearerEnv];
    if (token === undefined || !/^[\x21-\x7e]+$/.test(token)) throw new CliExit(EXIT_USAGE, `--bearer-env ${o.bearerEnv}: the variable is unset or not a token`);
    if (headers['authorization'] !== undefined) throw new CliExit(EXIT_USAGE, '--bearer-env and an Authorization --header exclude each other');
    headers['authorization'] = `Bearer ${token}`;
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback && Object.keys(headers).length > 0) err(`mcp-attest: warning: credentials sent to ${url.host} over plain http`);
  if (o.oauth === true && headers['authorization'] !== undefined) throw new CliExit(EXIT_USAGE, '--oauth and a static Authorization exclude each other');
  return { url, headers, maxMessageBytes };
}

/** `--oauth`: the SDK's OAuth client, its tokens in the data directory (docs/http.md "OAuth"). */
async function withOAuth(opts: HttpUpstreamOptions, o: ProxyFlags, home: string): Promise<HttpUpstreamOptions> {
  if (o.oauth !== true) return opts;
  const { UpstreamOAuth } = await import('../proxy/oauth-client.js');
  const oauth = new UpstreamOAuth(opts.url, home);
  return { ...opts, auth: () => oauth.headers(), unauthorized: (res) => oauth.unauthorized(res) };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new CliExit(EXIT_USAGE, `${flag} is ${allowed.join(', ')}`);
  return value as T;
}

async function openRecorder(o: ProxyFlags): Promise<{ home: string; recorder: Recorder }> {
  const durability = oneOf('--durability', o.durability, ['full', 'normal'] as const);
  const profile = oneOf('--profile', o.profile, ['vector', 'sep-text'] as const);
  if (!/^[1-9][0-9]{0,6}$/.test(o.checkpointMs)) throw new CliExit(EXIT_USAGE, '--checkpoint-ms takes a whole number of milliseconds (1 to 9999999)');
  const home = resolveHome(o.home);
  const { identity: id, created } = await ensureHome(home);
  if (created) err(`mcp-attest: initialized ${home} (issuer ${id.iss}, log ${id.log.origin})`);
  const recorder = await Recorder.open(home, {
    evidence: o.evidence, durability, checkpointMs: Number(o.checkpointMs), profile, ...(o.sub ? { sub: o.sub } : {}), ...(o.store ? { store: o.store } : {}),
  });
  return { home, recorder };
}

/** `--max-message-bytes`: a whole number of bytes, 1 KiB to 1 GiB (docs/wire.md). */
function maxMessageBytes(o: ProxyFlags): number {
  const n = /^[1-9][0-9]{0,9}$/.test(o.maxMessageBytes) ? Number(o.maxMessageBytes) : NaN;
  if (!(n >= 1024 && n <= 2 ** 30)) throw new CliExit(EXIT_USAGE, '--max-message-bytes takes a whole number of bytes, 1024 to 1073741824');
  return n;
}

async function clientProxy(argv: string[], o: ProxyFlags): Promise<AttestingProxy> {
  const maxBytes = maxMessageBytes(o);
  const attach = oneOf<AttachMode>('--attach', o.attach, ['auto', 'always', 'never']);
  const mode = oneOf<ResponseReceiptMode | 'ignore'>('--response-receipts', o.responseReceipts, ['ignore', 'warn', 'require']);
  const toolChanges = oneOf('--tool-changes', o.toolChanges, ['warn', 'hide', 'refuse'] as const);
  const trust = o.trust === undefined ? null : await policyKeySource(parseTrustPolicy(readInput(o.trust).toString('utf8')), o.secret);
  if (o.session !== undefined) usableSession(() => checkSessionId(o.session), o.session);
  const { home, recorder } = await openRecorder(o);
  try {
    if (o.session !== undefined) usableSession(() => recorder.openSession(o.session), o.session);
    if (o.credential !== undefined) useCredential(recorder, o.credential, o.renewHome);
    else if (o.renewHome !== undefined) throw new CliExit(EXIT_USAGE, '--renew-home is for --credential');
  } catch (e) {
    await recorder.close().catch(() => undefined);
    throw e;
  }
  const checker = mode === 'ignore' ? undefined : new ResponseReceiptChecker(trust?.keys ?? null, trust?.accepted ?? [], mode);
  return new AttestingProxy(recorder, {
    argv, maxMessageBytes: maxBytes, ...(o.url !== undefined ? { url: await withOAuth(httpUpstream(o, maxBytes), o, home) } : {}), receiptMeta: o.receiptMeta, attach, toolChanges, pinsPath: homePaths(home).pins,
    ...(checker ? { responseReceipts: checker } : {}), ...(o.session !== undefined ? { session: o.session } : {}),
    ...(o.name ? { name: o.name } : {}), ...(o.serverFingerprint ? { fingerprint: o.serverFingerprint } : {}),
  });
}

/**
 * `--credential FILE`: attest under the agent credential in FILE (read again when it changes);
 * with `--renew-home DIR` (the credential issuer's data directory, holding the identity log)
 * renewed by this proxy before it expires. A bad one is a usage error.
 */
function useCredential(recorder: Recorder, path: string, renewHome: string | undefined): void {
  let file: CredentialFile;
  const home = renewHome === undefined ? undefined : resolveHome(renewHome);
  const renew = home === undefined ? undefined : async (c: Credential) => (await renewCredential(home, c)).credential;
  try {
    file = new CredentialFile(path, recorder.identity.issuer.keyId, (m) => err(`mcp-attest: ${m}`), renew);
  } catch (e) {
    throw new CliExit(EXIT_USAGE, `--credential ${path}: ${isAttestError(e) ? `${e.code}: ` : ''}${(e as Error).message}`);
  }
  recorder.credential = () => file.credential();
  err(`mcp-attest: attesting under credential ${file.credential().id} (${file.credential().subject})`);
}

/** Run a session check for `--session`; a session error becomes a usage error (exit 2) naming its code. */
function usableSession(check: () => unknown, id: string): void {
  try {
    check();
  } catch (e) {
    if (!isAttestError(e) || !e.code.startsWith('ERR_SESSION_')) throw e;
    throw new CliExit(EXIT_USAGE, `--session ${JSON.stringify(id.slice(0, 64))}: ${e.code}: ${e.message}`);
  }
}

async function loadPolicy(path: string): ReturnType<typeof loadGatePolicy> {
  const { loadGatePolicy } = await import('../gate/policy.js');
  try {
    return await loadGatePolicy(path);
  } catch (e) {
    throw isAttestError(e, 'ERR_POLICY_INVALID') ? new CliExit(EXIT_USAGE, `bad policy ${path}: ${e.message}`) : e;
  }
}

async function serverProxy(argv: string[], o: ProxyFlags): Promise<Gatekeeper> {
  if (o.policy === undefined) throw new CliExit(EXIT_USAGE, '--role server needs --policy FILE');
  const policyPath = o.policy;
  const maxBytes = maxMessageBytes(o);
  const loaded = await loadPolicy(policyPath);
  const [{ Gate }, { Gatekeeper }, { ToolWatch }, { keyFingerprint }, { identitySource }] = await Promise.all([
    import('../gate/gate.js'), import('../proxy/gatekeeper.js'), import('../proxy/tool-watch.js'), import('../gate/wire.js'), import('../store/identity-log.js'),
  ]);
  const { home, recorder } = await openRecorder(o);
  const fingerprint = o.serverFingerprint ?? loaded.policy.serverFingerprint ?? keyFingerprint(recorder.identity.issuer.keyId);
  const paths = homePaths(home);
  const maxEntries = loaded.policy.nonceStore.maxEntries;
  // A fleet's gatekeepers share one replay store: a nonce accepted on one machine is a replay on all.
  const replay = recorder.replayStore(maxEntries, o.durability === 'normal' ? 'normal' : 'full');
  const tools = new ToolWatch(paths.pins, fingerprint, nowSeconds, recorder.fleetPins());
  const gate = new Gate({ policy: loaded.policy, keys: loaded.keys, serverFingerprint: fingerprint, replay, toolChanged: (n) => tools.changed(n), identity: identitySource(home) });
  err(`mcp-attest: gatekeeper: server fingerprint ${fingerprint}; ${loaded.issuers.length} trusted issuer(s); attestations ${loaded.policy.required ? 'required' : 'optional'}`);
  // Reload on SIGHUP: calls being decided finish under the old policy; a bad file keeps it.
  process.on('SIGHUP', () => {
    loadPolicy(policyPath).then((next) => {
      gate.reload(next.policy, next.keys);
      err(`mcp-attest: policy reloaded from ${policyPath} (${next.issuers.length} trusted issuer(s))`);
    }, (e: unknown) => err(`mcp-attest: policy not reloaded, keeping the previous one: ${(e as Error).message}`));
  });
  return new Gatekeeper(recorder, { argv, maxMessageBytes: maxBytes, ...(o.url !== undefined ? { url: await withOAuth(httpUpstream(o, maxBytes), o, home) } : {}), gate, serverFingerprint: fingerprint, tools, ...(o.name ? { name: o.name } : {}) });
}

async function runProxy(command: string | undefined, args: string[], o: ProxyFlags): Promise<void> {
  const role = oneOf('--role', o.role, ['client', 'server'] as const);
  if ((command === undefined) === (o.url === undefined)) throw new CliExit(EXIT_USAGE, 'give the upstream as a command or as --url, not both');
  if (o.url === undefined && (o.header.length > 0 || o.bearerEnv !== undefined || o.oauth === true)) throw new CliExit(EXIT_USAGE, '--header, --bearer-env and --oauth are for --url');
  if (o.url !== undefined) httpUpstream(o, DEFAULT_MAX_MESSAGE_BYTES);
  const argv = command === undefined ? [] : [command, ...args];
  if (role === 'client' && o.policy !== undefined) throw new CliExit(EXIT_USAGE, '--policy is for --role server');
  if (role === 'server' && o.session !== undefined) throw new CliExit(EXIT_USAGE, '--session is for --role client');
  const proxy = role === 'server' ? await serverProxy(argv, o) : await clientProxy(argv, o);
  const stop = (): void => void proxy.shutdown('shutdown', 0).then((c) => process.exit(c));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.on('error', () => undefined);
  const code = await proxy.done;
  process.exit(code);
}

/** Register `proxy`. */
export function registerProxyCommand(program: Command): void {
  program.command('proxy')
    .description('attest and log every tools/call to an stdio MCP server (--role client), or enforce attestations in front of one (--role server)')
    .argument('[command]', 'upstream server command (or --url)')
    .argument('[args...]', 'its arguments')
    .option('--role <role>', 'client: attest and log calls; server: gatekeeper enforcing --policy', 'client')
    .option('--policy <file>', 'gatekeeper policy, YAML or JSON (docs/gate-policy.md); reloaded on SIGHUP')
    .option('--url <url>', 'a Streamable HTTP upstream instead of a command (docs/http.md)')
    .option('--header <header>', "with --url: 'Name: value' sent on every request (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--bearer-env <var>', 'with --url: send Authorization: Bearer $VAR')
    .option('--oauth', 'with --url: OAuth 2.1 (discovery, dynamic registration, code + PKCE, resource); the authorization URL is printed on stderr, tokens kept in the data directory')
    .option('--home <dir>', 'data directory (created on first use)')
    .option('--name <name>', 'server name in the log (default: serverInfo.name)')
    .option('--sub <subject>', 'attestation subject (issuerAsserted.sub)')
    .option('--credential <file>', 'client: attest under this agent credential (iss: its id, sub: its subject; read again when the file changes; docs/identity.md)')
    .option('--renew-home <dir>', 'client, with --credential: renew it when two thirds of its lifetime have passed, in this credential issuer\'s data directory')
    .option('--server-fingerprint <fp>', 'client: pin the serverFingerprint attested (default: advertised by the upstream, else derived from the command line); server: this server\'s identity (default: from its key)')
    .option('--attach <mode>', 'client: put the attestation on the wire: auto (when the upstream advertises attestation/tool-call), always, never', 'auto')
    .option('--trust <file>', 'client: trust policy for the gatekeeper\'s response receipts')
    .option('--secret <file>', 'client: HS256 secret for HS256 issuers in --trust')
    .option('--response-receipts <mode>', 'client: a missing or bad response receipt: warn (pass), require (withhold the response), ignore', 'warn')
    .option('--session <id>', 'client: link every tools/call to this receipt session (ses_...); a call may name its own in params._meta["dev.mcp-attest/session"]')
    .option('--tool-changes <action>', 'client: a tool definition changed since pinned: warn, hide (from tools/list), refuse (calls to it)', 'warn')
    .option('--no-evidence', 'keep no argument/result payloads (commitments only)')
    .option('--no-receipt-meta', 'do not add the receipt reference to results')
    .option('--durability <mode>', 'full: fsync every append (default); normal: survive process crashes only', 'full')
    .option('--store <url>', 'a fleet\'s log on PostgreSQL (postgres://…; default $MCP_ATTEST_STORE): records go there, the fleet\'s integrator signs checkpoints (docs/fleet.md)')
    .option('--checkpoint-ms <ms>', 'checkpoint batch window', '1000')
    .option('--max-message-bytes <n>', 'largest message relayed in either direction; a longer line is refused, logged and never held (docs/wire.md)', String(DEFAULT_MAX_MESSAGE_BYTES))
    .option('--profile <shape>', 'attestation wire shape: vector (published vectors) or sep-text (SEP-2787 text)', 'vector')
    .passThroughOptions()
    .action(runProxy);
}
