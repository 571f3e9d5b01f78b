/**
 * An upstream of the gateway, ready to relay to (docs/gateway.md): its transport (a command,
 * or a Streamable HTTP URL), its roles, its tool allow/deny list, its pins, and its gate. Each
 * conversation gets its own relay from {@link UpstreamRuntime.relay}: the client-side proxy
 * (`attest`: attestations and receipts signed for the caller's principal), the gatekeeper
 * (`gate`), or both chained in the process (the attesting relay's upstream is a gatekeeper
 * relay whose upstream is the server), all appending to the gateway's one log.
 */
import { identitySource } from '../store/identity-log.js';
import { EventEmitter } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { nowSeconds } from '../envelope/time.js';
import { Gate } from '../gate/gate.js';
import { loadGatePolicy } from '../gate/policy.js';
import { upstreamFingerprint } from '../gate/wire.js';
import { Gatekeeper } from '../proxy/gatekeeper.js';
import type { HttpUpstreamOptions } from '../proxy/http-upstream.js';
import type { Recorder } from '../proxy/recorder.js';
import { fingerprintOf } from '../proxy/fingerprint.js';
import { AttestingProxy } from '../proxy/relay.js';
import type { RelayIo, StdioRelay, UpstreamProcess } from '../proxy/stdio-relay.js';
import { ToolWatch, pinKeyOf } from '../proxy/tool-watch.js';
import type { ReplayStore } from '../gate/gate.js';
import { DEFAULT_MAX_PROCESSES, type UpstreamConfig } from './config.js';
import type { Signer } from '../envelope/sign.js';
import { toolFilter } from './tools-filter.js';

/** A relay in the same process standing as another relay's upstream process. */
class RelayUpstream extends EventEmitter implements UpstreamProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  exitCode: number | null = null;
  private readonly inner: StdioRelay;

  constructor(make: (input: Readable, output: Writable) => StdioRelay) {
    super();
    this.inner = make(this.stdin, this.stdout);
    void this.inner.done.then((code) => {
      this.exitCode = code;
      this.stdout.end();
      this.emit('exit', code);
    });
  }

  /** Shut the inner relay down; SIGKILL also kills its own upstream at once (as it would a process). */
  kill(signal?: NodeJS.Signals): boolean {
    if (signal === 'SIGKILL') this.inner.killUpstream();
    void this.inner.shutdown('shutdown', 0);
    return true;
  }
}

/** One configured upstream, with what its relays share. */
export class UpstreamRuntime {
  readonly attest: boolean;
  readonly gated: boolean;
  /** The tool allow/deny decision. */
  allowed: (name: string) => boolean;
  private readonly argv: string[];
  private readonly http: HttpUpstreamOptions | undefined;
  private readonly pins: ToolWatch | null;
  private gate: Gate | null = null;
  private gatePins: ToolWatch | null = null;
  private fingerprint = '';
  /** Its live conversations (for a command upstream, each one process). */
  private live = 0;
  /** Its live conversations by principal. */
  private readonly held = new Map<string, number>();
  /** A command upstream's caps of live processes ({@link processCaps}); null for a URL upstream. */
  private caps: { all: number; each: number } | null;

  /** The server fingerprint attestations to this upstream must name (gate role, once {@link loadGate} ran; '' otherwise). */
  get serverFingerprint(): string {
    return this.fingerprint;
  }

  constructor(readonly cfg: UpstreamConfig, private readonly recorder: Recorder, private readonly pinsPath: string, private readonly maxMessageBytes: number) {
    const roles = Array.isArray(cfg.role) ? cfg.role : [cfg.role];
    this.attest = roles.includes('attest');
    this.gated = roles.includes('gate');
    this.allowed = toolFilter(cfg.tools);
    this.argv = cfg.command ?? [];
    this.caps = processCaps(cfg);
    const url = cfg.url === undefined ? undefined : new URL(cfg.url);
    const headers: Record<string, string> = Object.fromEntries(Object.entries(cfg.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    if (cfg.bearerEnv !== undefined) headers['authorization'] = `Bearer ${process.env[cfg.bearerEnv] ?? ''}`;
    this.http = url === undefined ? undefined : { url, headers, maxMessageBytes };
    this.pins = this.attest ? new ToolWatch(pinsPath, pinKeyOf({ argv: this.argv, url, name: cfg.name }), nowSeconds, recorder.fleetPins()) : null;
  }

  /** Load the gate policy (gate role). Throws `ERR_POLICY_INVALID` for a bad policy. */
  async loadGate(replay: ReplayStore): Promise<void> {
    if (!this.gated) return;
    const loaded = await loadGatePolicy(this.cfg.policy!);
    this.fingerprint = loaded.policy.serverFingerprint ?? upstreamFingerprint(this.recorder.identity.issuer.keyId, this.cfg.name);
    const pins = new ToolWatch(this.pinsPath, this.fingerprint, nowSeconds, this.recorder.fleetPins());
    this.gatePins = pins;
    this.gate = new Gate({ policy: loaded.policy, keys: loaded.keys, serverFingerprint: this.fingerprint, replay, toolChanged: (n) => pins.changed(n), identity: identitySource(this.recorder.home) });
  }

  /**
   * Read a new gate policy and tool list (SIGHUP) without applying them: the function
   * returned applies both (calls being decided finish under the old policy). Throws
   * `ERR_POLICY_INVALID` before anything changed. `later`: what the new policy changes that
   * applies only at a restart (the server fingerprint).
   */
  async prepareReload(cfg: UpstreamConfig): Promise<{ commit: () => void; later: string[] }> {
    const allowed = toolFilter(cfg.tools);
    const next = this.gate === null || cfg.policy === undefined ? null : await loadGatePolicy(cfg.policy);
    // The fingerprint is fixed at start: a policy naming another one applies at a restart.
    const fixed = next?.policy.serverFingerprint;
    const later = fixed !== undefined && fixed !== null && fixed !== this.fingerprint ? [`upstreams.${cfg.name}.policy (serverFingerprint)`] : [];
    return {
      later,
      commit: () => {
        this.allowed = allowed;
        this.caps = processCaps(cfg);
        if (next !== null) this.gate!.reload(next.policy, next.keys);
      },
    };
  }

  /**
   * Why `principal` may not start a conversation now: this command upstream runs its cap of
   * processes (503), or `principal` holds its share of them (429: one principal cannot take
   * every process from the others); null when it may.
   */
  busy(principal: string): { status: 429 | 503; message: string } | null {
    if (this.caps === null) return null;
    const { all, each } = this.caps;
    if (this.live >= all) return { status: 503, message: `upstream ${this.cfg.name} already runs ${all} process${all === 1 ? '' : 'es'}, its cap` };
    if ((this.held.get(principal) ?? 0) >= each) return { status: 429, message: `${principal} already holds ${each} process${each === 1 ? '' : 'es'} of upstream ${this.cfg.name}, its share` };
    return null;
  }

  /** Count a conversation of `principal` opened (`+1`) or ended (`-1`). */
  count(principal: string, delta: 1 | -1): void {
    this.live += delta;
    const n = (this.held.get(principal) ?? 0) + delta;
    if (n <= 0) this.held.delete(principal);
    else this.held.set(principal, n);
  }

  /** A 2026-07-28 request gets a relay of its own (HTTP upstream) rather than sharing its principal's (command upstream). */
  get perRequest(): boolean {
    return this.http !== undefined;
  }

  /** A new relay for one conversation of `principal` (signing with `issuer`, its own key, if it has one), its client side on `input`/`output`. */
  relay(principal: string, input: Readable, output: Writable, issuer?: Signer): StdioRelay {
    const transport: Pick<RelayIo, 'argv' | 'url' | 'env' | 'stderrLabel'> = { argv: this.argv, stderrLabel: this.cfg.name, ...(this.http ? { url: this.http } : {}), ...(this.cfg.env ? { env: this.cfg.env } : {}) };
    const common = { shared: true, maxMessageBytes: this.maxMessageBytes, name: this.cfg.name };
    const gatekeeper = (io: Partial<RelayIo>): Gatekeeper => new Gatekeeper(this.recorder, {
      ...transport, ...common, ...io, gate: this.gate!, serverFingerprint: this.fingerprint, ...(this.gatePins ? { tools: this.gatePins } : {}),
    });
    if (!this.attest) return gatekeeper({ input, output });
    const upstream = this.gated ? new RelayUpstream((i, o) => gatekeeper({ input: i, output: o })) : undefined;
    return new AttestingProxy(this.recorder, {
      ...transport, ...common, input, output, sub: principal, principal, ...(issuer ? { issuer } : {}), attach: this.gated ? 'always' : this.cfg.attach,
      ...(upstream ? { upstream, argv: [], fingerprint: this.fingerprint } : { fingerprint: fingerprintOf(this.argv, this.http?.url) }),
      ...(this.pins ? { tools: this.pins } : {}),
    });
  }

  /** Close the pins files. */
  close(): void {
    this.pins?.close();
    this.gatePins?.close();
  }
}

/** A command upstream's caps of live processes, all principals' and one's (`maxProcesses`, `maxProcessesPerPrincipal`); null for a URL upstream. */
function processCaps(cfg: UpstreamConfig): { all: number; each: number } | null {
  if (cfg.command === undefined) return null;
  const all = cfg.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  return { all, each: cfg.maxProcessesPerPrincipal ?? Math.max(1, Math.ceil(all / 4)) };
}
