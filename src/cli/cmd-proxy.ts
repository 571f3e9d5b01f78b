/**
 * `mcp-attest proxy [options] [--] CMD [ARGS...]` (or `--url URL` for a Streamable HTTP
 * server, with `--header` and `--bearer-env`, docs/http.md): the relay in front of one MCP
 * server. `--role client` (default) attests and logs every call; `--role server --policy
 * FILE` is the gatekeeper that enforces attestations (docs/gate-policy.md). The `--` is
 * optional (some clients strip it): options end at the first positional argument.
 *
 * Here the flags are read and checked (a flag's usage error is exit 2 before anything
 * starts), then the upstream command is started (proxy/early-upstream.ts) and only then are
 * the relay's modules loaded and the data directory opened (proxy-run.ts): the upstream's own
 * start-up runs meanwhile instead of after. When the proxy cannot start after all (what needs
 * a file or the data directory: the directory itself, `--session`, `--credential`, `--trust`,
 * `--policy`, `--store`), the upstream is stopped (stdin ended, SIGTERM, SIGKILL after 2 s)
 * before the error is reported; nothing was written to it.
 */
import type { Command } from 'commander';
import { CliExit, EXIT_USAGE, err } from './output.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../proxy/message.js';
import { EarlyUpstream } from '../proxy/early-upstream.js';
import { SESSION_ID } from '../receipt/session-id.js';
import type { HttpUpstreamOptions } from '../proxy/http-upstream.js';
import type { AttachMode } from '../proxy/relay.js';
import type { ResponseReceiptMode } from '../proxy/response-receipt.js';
import type { Durability } from '../store/log-db.js';
import type { AttestationShape } from '../attestation/schema.js';
import type { ToolChangeAction } from '../gate/policy.js';

/** The flags of `proxy` as commander gives them. */
export interface ProxyFlags {
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

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new CliExit(EXIT_USAGE, `${flag} is ${allowed.join(', ')}`);
  return value as T;
}

/** `--max-message-bytes`: a whole number of bytes, 1 KiB to 1 GiB (docs/wire.md). */
function maxMessageBytes(o: ProxyFlags): number {
  const n = /^[1-9][0-9]{0,9}$/.test(o.maxMessageBytes) ? Number(o.maxMessageBytes) : NaN;
  if (!(n >= 1024 && n <= 2 ** 30)) throw new CliExit(EXIT_USAGE, '--max-message-bytes takes a whole number of bytes, 1024 to 1073741824');
  return n;
}

/** What the flags say, checked: everything a usage error could be found in before the proxy starts. */
export interface ProxySettings {
  role: 'client' | 'server';
  /** The upstream command line (empty with `--url`). */
  argv: string[];
  /** `--url` and its headers, or null for a command. */
  http: HttpUpstreamOptions | null;
  maxBytes: number;
  durability: Durability;
  profile: AttestationShape;
  checkpointMs: number;
  attach: AttachMode;
  responseReceipts: ResponseReceiptMode | 'ignore';
  toolChanges: ToolChangeAction;
}

/** The {@link ProxySettings} of a command line; throws `CliExit` (exit 2) for a usage error. */
export function proxySettings(command: string | undefined, args: string[], o: ProxyFlags): ProxySettings {
  const role = oneOf('--role', o.role, ['client', 'server'] as const);
  if (command === undefined && o.url === undefined) throw new CliExit(EXIT_USAGE, 'give the upstream: its command after -- (mcp-attest proxy -- npx -y SERVER), or --url URL');
  if (command !== undefined && o.url !== undefined) throw new CliExit(EXIT_USAGE, 'give the upstream as a command or as --url, not both');
  if (o.url === undefined && (o.header.length > 0 || o.bearerEnv !== undefined || o.oauth === true)) throw new CliExit(EXIT_USAGE, '--header, --bearer-env and --oauth are for --url');
  if (role === 'client' && o.policy !== undefined) throw new CliExit(EXIT_USAGE, '--policy is for --role server');
  if (role === 'server' && o.session !== undefined) throw new CliExit(EXIT_USAGE, '--session is for --role client');
  // Its syntax here, before the upstream is spawned; whether the data directory has it, once the recorder is open.
  if (o.session !== undefined && !SESSION_ID.test(o.session)) throw new CliExit(EXIT_USAGE, `--session ${JSON.stringify(o.session.slice(0, 64))}: ERR_SESSION_UNKNOWN: not a session id (ses_ and 22 base64url characters)`);
  if (role === 'server' && o.policy === undefined) throw new CliExit(EXIT_USAGE, '--role server needs --policy FILE');
  if (o.renewHome !== undefined && o.credential === undefined) throw new CliExit(EXIT_USAGE, '--renew-home is for --credential');
  const maxBytes = maxMessageBytes(o);
  if (!/^[1-9][0-9]{0,6}$/.test(o.checkpointMs)) throw new CliExit(EXIT_USAGE, '--checkpoint-ms takes a whole number of milliseconds (1 to 9999999)');
  return {
    role, argv: command === undefined ? [] : [command, ...args], http: o.url === undefined ? null : httpUpstream(o, maxBytes), maxBytes,
    durability: oneOf<Durability>('--durability', o.durability, ['full', 'normal']), profile: oneOf<AttestationShape>('--profile', o.profile, ['vector', 'sep-text']),
    checkpointMs: Number(o.checkpointMs), attach: oneOf<AttachMode>('--attach', o.attach, ['auto', 'always', 'never']),
    responseReceipts: oneOf<ResponseReceiptMode | 'ignore'>('--response-receipts', o.responseReceipts, ['ignore', 'warn', 'require']),
    toolChanges: oneOf<ToolChangeAction>('--tool-changes', o.toolChanges, ['warn', 'hide', 'refuse']),
  };
}

async function runProxy(command: string | undefined, args: string[], o: ProxyFlags): Promise<void> {
  const settings = proxySettings(command, args, o);
  // Set right below, after the signal listener: a signal that comes during the spawn (libuv
  // holds it across the fork) then finds the listener, not Node's default.
  let upstream: EarlyUpstream | undefined;
  // One listener for the whole run, never swapped (a signal that came while its handle was
  // replaced would be lost). Until the relay takes SIGTERM and SIGINT over, a signal stops the
  // upstream too (SIGKILL after STOP_GRACE_MS, or at a second signal), then ends the proxy with
  // 128 + the signal's number, the status a shell reports for a process the signal ended
  // (raising it again once the listener is gone can deadlock libuv's handler where the signal
  // was inherited ignored). A relay built meanwhile takes the stop over: it shuts down at once,
  // so what it recorded gets its receipts and checkpoint before the proxy exits.
  const statusOf = (signal: NodeJS.Signals): number => 128 + (signal === 'SIGINT' ? 2 : 15);
  const exitBy = (signal: NodeJS.Signals): never => process.exit(statusOf(signal));
  const killNow = (signal: NodeJS.Signals): void => {
    upstream?.kill('SIGKILL');
    exitBy(signal);
  };
  let signalled: NodeJS.Signals | null = null;
  let handedOff = false;
  let onSignal = (signal: NodeJS.Signals): void => {
    signalled = signal;
    onSignal = killNow;
    void (upstream?.stop() ?? Promise.resolve()).then(() => handedOff || exitBy(signal));
  };
  function listener(signal: NodeJS.Signals): void {
    onSignal(signal);
  }
  process.on('SIGTERM', listener).on('SIGINT', listener);
  upstream = settings.http === null ? new EarlyUpstream(settings.argv) : undefined;
  // The relay's stop; a second signal also kills the upstream at once.
  const handOff = (stop: (status?: number) => void): void => {
    handedOff = true;
    onSignal = () => {
      onSignal = () => upstream?.kill('SIGKILL');
      stop(signalled === null ? undefined : statusOf(signalled));
    };
    if (signalled !== null) onSignal(signalled);
  };
  try {
    await (await import('./proxy-run.js')).runProxy(settings, o, upstream, handOff);
  } catch (e) {
    // A signal while the upstream is being stopped ends it at once, and the proxy.
    onSignal = killNow;
    await upstream?.stop();
    process.off('SIGTERM', listener).off('SIGINT', listener);
    throw e;
  }
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
