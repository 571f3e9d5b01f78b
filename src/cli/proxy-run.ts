/**
 * The running `mcp-attest proxy` (flags read and checked, the upstream started: cmd-proxy.ts):
 * the data directory opened, then the client proxy or the gatekeeper built over it and run
 * until either side goes away. The data directory is initialized on first use (ES256
 * issuer). `--session ID` (client role) links every call to a receipt session of the data
 * directory (docs/session.md); a session that is not there, sealed, or another key's is a
 * usage error at startup (exit 2, with its code). The gatekeeper's modules (policy YAML,
 * gate, tool pins) and the OAuth client (the MCP SDK) are loaded only when the flags ask for
 * them, so a client proxy starts on what it uses.
 */
import { existsSync } from 'node:fs';
import { CredentialFile } from '../proxy/credential-file.js';
import { renewCredential } from '../store/agent-credentials.js';
import type { Credential } from '../identity/credential.js';
import { nowSeconds, showTime } from '../envelope/time.js';
import { homePaths, resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { isFleetStore } from '../store/log-store.js';
import { Recorder } from '../proxy/recorder.js';
import { AttestingProxy } from '../proxy/relay.js';
import { ResponseReceiptChecker } from '../proxy/response-receipt.js';
import type { Gatekeeper } from '../proxy/gatekeeper.js';
import type { loadGatePolicy } from '../gate/policy.js';
import { isAttestError } from '../errors.js';
import { checkSessionId } from '../store/sessions.js';
import { parseTrustPolicy } from '../verify/policy.js';
import { policyKeySource, readKeyFile } from './keysource.js';
import { CliExit, EXIT_USAGE, err } from './output.js';
import type { HttpUpstreamOptions } from '../proxy/http-upstream.js';
import type { EarlyUpstream } from '../proxy/early-upstream.js';
import type { ProxyFlags, ProxySettings } from './cmd-proxy.js';

/** `--oauth`: the SDK's OAuth client, its tokens in the data directory (docs/http.md "OAuth"). */
async function withOAuth(opts: HttpUpstreamOptions, o: ProxyFlags, home: string): Promise<HttpUpstreamOptions> {
  if (o.oauth !== true) return opts;
  const { UpstreamOAuth } = await import('../proxy/oauth-client.js');
  const oauth = new UpstreamOAuth(opts.url, home);
  return { ...opts, auth: () => oauth.headers(), unauthorized: (res) => oauth.unauthorized(res) };
}

async function openRecorder(o: ProxyFlags, settings: ProxySettings): Promise<{ home: string; recorder: Recorder }> {
  const home = resolveHome(o.home);
  const { identity: id, created } = await ensureHome(home);
  // A fleet proxy's calls go to the fleet's log, under its owner's origin: this directory's own log origin is never used.
  if (created) err(`mcp-attest: initialized ${home} (issuer ${id.iss}, ${isFleetStore(o.store ?? process.env['MCP_ATTEST_STORE'] ?? '') ? 'calls recorded to the fleet\'s log' : `log ${id.log.origin}`})`);
  const recorder = await Recorder.open(home, {
    evidence: o.evidence, durability: settings.durability, checkpointMs: settings.checkpointMs, profile: settings.profile, ...(o.sub ? { sub: o.sub } : {}), ...(o.store ? { store: o.store } : {}),
  });
  // An agent machine holding the owner's password reads every agent's private records.
  if (await recorder.readsOpenings().catch(() => false)) err('mcp-attest: warning: this proxy records to the fleet\'s log as a role that reads every private record (its owner\'s): give it the writer\'s URL (docs/fleet.md "Roles")');
  return { home, recorder };
}

async function clientProxy(settings: ProxySettings, o: ProxyFlags, upstream: EarlyUpstream | undefined): Promise<AttestingProxy> {
  const { argv, maxBytes, attach, toolChanges, responseReceipts: mode } = settings;
  const trust = o.trust === undefined ? null : await policyKeySource(parseTrustPolicy(readKeyFile(o.trust, '--trust').toString('utf8')), o.secret);
  if (o.session !== undefined) usableSession(() => checkSessionId(o.session), o.session);
  const { home, recorder } = await openRecorder(o, settings);
  return orClose(recorder, async () => {
    if (o.session !== undefined) usableSession(() => recorder.openSession(o.session), o.session);
    if (o.credential !== undefined) useCredential(recorder, o.credential, o.renewHome);
    const checker = mode === 'ignore' ? undefined : new ResponseReceiptChecker(trust?.keys ?? null, trust?.accepted ?? [], mode);
    return new AttestingProxy(recorder, {
      argv, maxMessageBytes: maxBytes, ...(settings.http !== null ? { url: await withOAuth(settings.http, o, home) } : {}), ...(upstream ? { upstream } : {}),
      receiptMeta: o.receiptMeta, attach, toolChanges, pinsPath: homePaths(home).pins,
      ...(checker ? { responseReceipts: checker } : {}), ...(o.session !== undefined ? { session: o.session } : {}),
      ...(o.name ? { name: o.name } : {}), ...(o.serverFingerprint ? { fingerprint: o.serverFingerprint } : {}),
    });
  });
}

/** Build the relay over an open `recorder`; on a failure the recorder is closed (what it appended stays) and the error rethrown. */
async function orClose<T>(recorder: Recorder, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (e) {
    await recorder.close().catch(() => undefined);
    throw e;
  }
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
  recorder.credential = (tool) => file.forCall(tool);
  const c = file.credential();
  err(`mcp-attest: attesting under credential ${c.id} (${c.subject}), valid until ${showTime(c.notAfter)}`);
  file.checkWindow(c);
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
    throw isAttestError(e, 'ERR_POLICY_INVALID') ? new CliExit(EXIT_USAGE, `bad policy ${path} (ERR_POLICY_INVALID): ${e.message}`) : e;
  }
}

async function serverProxy(settings: ProxySettings, o: ProxyFlags, upstream: EarlyUpstream | undefined): Promise<Gatekeeper> {
  const policyPath = o.policy!;
  const loaded = await loadPolicy(policyPath);
  const { home, recorder } = await openRecorder(o, settings);
  return orClose(recorder, () => gatekeeper(settings, o, upstream, { home, recorder, loaded, policyPath }));
}

/** The gatekeeper of {@link serverProxy} over its open recorder and loaded policy. */
async function gatekeeper(settings: ProxySettings, o: ProxyFlags, upstream: EarlyUpstream | undefined, c: { home: string; recorder: Recorder; loaded: Awaited<ReturnType<typeof loadGatePolicy>>; policyPath: string }): Promise<Gatekeeper> {
  const { home, recorder, loaded, policyPath } = c;
  const [{ Gate }, { Gatekeeper }, { ToolWatch }, { keyFingerprint }, { identitySource, identityLogPath }] = await Promise.all([
    import('../gate/gate.js'), import('../proxy/gatekeeper.js'), import('../proxy/tool-watch.js'), import('../gate/wire.js'), import('../store/identity-log.js'),
  ]);
  const fingerprint = o.serverFingerprint ?? loaded.policy.serverFingerprint ?? keyFingerprint(recorder.identity.issuer.keyId);
  const paths = homePaths(home);
  const maxEntries = loaded.policy.nonceStore.maxEntries;
  // A fleet's gatekeepers share one replay store: a nonce accepted on one machine is a replay on all.
  const replay = recorder.replayStore(maxEntries, settings.durability);
  const tools = new ToolWatch(paths.pins, fingerprint, nowSeconds, recorder.fleetPins());
  const gate = new Gate({ policy: loaded.policy, keys: loaded.keys, serverFingerprint: fingerprint, replay, toolChanged: (n) => tools.changed(n), identity: identitySource(home) });
  const grants = loaded.policy.credentialIssuers.length;
  err(`mcp-attest: gatekeeper: server fingerprint ${fingerprint}; ${loaded.issuers.length} trusted issuer(s)${grants > 0 ? `, ${grants} credential issuer(s)` : ''}; attestations ${loaded.policy.required ? 'required' : 'optional'}`);
  // Calls under credentials are decided against this directory's identity log (docs/identity.md): without one, each is refused.
  if (grants > 0 && !existsSync(identityLogPath(home))) err(`mcp-attest: warning: the policy trusts credential issuers, and ${home} holds no identity log: every call under a credential is refused (run the gatekeeper with --home set to the issuer's data directory)`);
  // Reload on SIGHUP: calls being decided finish under the old policy; a bad file keeps it.
  process.on('SIGHUP', () => {
    loadPolicy(policyPath).then((next) => {
      gate.reload(next.policy, next.keys);
      err(`mcp-attest: policy reloaded from ${policyPath} (${next.issuers.length} trusted issuer(s))`);
    }, (e: unknown) => err(`mcp-attest: policy not reloaded, keeping the previous one: ${(e as Error).message}`));
  });
  return new Gatekeeper(recorder, {
    argv: settings.argv, maxMessageBytes: settings.maxBytes, ...(settings.http !== null ? { url: await withOAuth(settings.http, o, home) } : {}), ...(upstream ? { upstream } : {}),
    gate, serverFingerprint: fingerprint, tools, ...(o.name ? { name: o.name } : {}),
  });
}

/**
 * Build the proxy of `settings` over `upstream` (the command started already; undefined for
 * `--url`) and run it until it ends, then exit with its code (proxy/stdio-relay.ts `done`).
 * `handOff(stop)`: from then on SIGTERM and SIGINT call `stop` (the caller listens for them
 * from the start; it passes the exit status for a signal that came during start-up). Throws
 * `CliExit` for what the flags name but the data directory or a file refuses, and whatever
 * opening them throws (the recorder closed again); the caller stops the upstream then.
 */
export async function runProxy(settings: ProxySettings, o: ProxyFlags, upstream: EarlyUpstream | undefined, handOff: (stop: (status?: number) => void) => void): Promise<void> {
  const proxy = settings.role === 'server' ? await serverProxy(settings, o, upstream) : await clientProxy(settings, o, upstream);
  handOff((status = 0) => void proxy.shutdown('shutdown', status).then((c) => process.exit(c)));
  process.stdout.on('error', () => undefined);
  const code = await proxy.done;
  process.exit(code);
}
