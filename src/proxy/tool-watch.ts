/**
 * Tool definition pinning as both proxies apply it (docs/tool-pinning.md): every
 * `tools/list` result is observed against the pins of one server; a definition that
 * changed since it was pinned is reported on stderr and recorded in `pins.db`, and, by
 * policy, `warn` (passes), `hide` (removed from the list the client sees) or `refuse`
 * (listed, but calls to it are refused with `ERR_TOOL_CHANGED` by the gatekeeper).
 *
 * The pins of a server are kept under a pin key the proxy fixes at startup from its own
 * configuration ({@link pinKeyOf}), never under the fingerprint the upstream advertises: a
 * server that advertises a new fingerprint each session would otherwise get fresh pins each
 * session and escape rug-pull detection. The advertised fingerprint is pinned too, under the
 * same key ({@link ToolWatch.observeFingerprint}), and a change of it is reported.
 */
import { basename } from 'node:path';
import { isObject } from '../envelope/schema.js';
import { sha256Tagged } from '../bytes/digest.js';
import { canonicalize } from '../jcs/index.js';
import { ToolPins, hideTools, type FingerprintSighting } from '../pins/tool-pins.js';
import type { FleetPins } from '../store/pg-pins.js';
import type { ToolChangeAction } from '../gate/policy.js';
import type { RpcMessage } from './message.js';
import { fingerprintOf, publicHref } from './fingerprint.js';
import { report } from './stdio-relay.js';

/** What {@link pinKeyOf} derives a client proxy's pin key from: its configuration only. */
export interface PinKeySource {
  /** The upstream command line (`argv[0]` is reduced to its basename, as in `fingerprintOf`). */
  argv: string[];
  /** A Streamable HTTP upstream's URL, in place of `argv`. */
  url?: URL | undefined;
  /** `--name`, when configured. */
  name?: string | undefined;
  /** `--fingerprint` / `--server-fingerprint`, when configured: it is the pin key as is. */
  fingerprint?: string | undefined;
}

/**
 * The key a client proxy keeps its pins under, fixed by its own side: the configured
 * fingerprint when there is one; else, without a configured name, `fingerprintOf(argv)`
 * (`sha256:` over the JCS of `{"argv": [basename(argv[0]), ...]}`, the fingerprint the proxy
 * already derived for servers that advertise none, so their existing pins still apply);
 * else `sha256:` over the JCS of `{"argv": [...], "name": name}` (`{"url": href, "name": name}`
 * for an HTTP upstream). Never what the upstream
 * advertises.
 */
export function pinKeyOf(o: PinKeySource): string {
  if (o.fingerprint !== undefined && o.fingerprint !== '') return o.fingerprint;
  if (o.name === undefined || o.name === '') return fingerprintOf(o.argv, o.url);
  const from = o.url !== undefined ? { url: publicHref(o.url) } : { argv: [basename(o.argv[0] ?? ''), ...o.argv.slice(1)] };
  return sha256Tagged(canonicalize({ ...from, name: o.name }));
}

// C0/C1 controls, zero-width and bidirectional formatting characters, line/paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

/** A server-chosen string for a stderr line: JSON-quoted, cut to 200 characters, unsafe characters escaped. */
function quoted(s: string): string {
  const cut = s.length > 200 ? `${s.slice(0, 200)}…` : s;
  return JSON.stringify(cut).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Most changed definitions of one tool a process remembers ({@link ToolWatch}). */
const MAX_SEEN_CHANGES = 100;

/** The pins of one server, seen through one proxy. */
export class ToolWatch {
  private readonly pins: ToolPins;
  /** Tools listed while the fleet's pins could not be read. */
  private readonly unverified = new Set<string>();
  /**
   * Tools this process saw listed changed, by name: the digest of each definition that
   * differed from the pin, with the pin it differed from. The tool stays changed while that
   * pin stands, even when a later list, or a later page of the same one, shows the pinned
   * definition again (a client may hold the changed one); `tools accept` replaces the pin and
   * so acknowledges every change seen against it, as it marks them accepted in `pins.db`.
   * Past {@link MAX_SEEN_CHANGES} definitions of one tool, the newest are not remembered.
   */
  private readonly seenChanged = new Map<string, Map<string, string>>();

  /**
   * `path`: the pins file; `pinKey`: the key this server's pins (tool definitions and the
   * advertised fingerprint) are kept under, fixed by the proxy's configuration (the client
   * proxy: {@link pinKeyOf}; the gatekeeper: its configured server fingerprint), never a
   * value the upstream chooses; `now()`: POSIX seconds; `fleet`: on a fleet's log, the pins
   * every process of the fleet compares with (store/pg-pins.ts). Throws `ERR_STORE_IO`.
   */
  constructor(path: string, private readonly pinKey: string, private readonly now: () => number, private readonly fleet: FleetPins | null = null) {
    this.pins = new ToolPins(path);
  }

  /**
   * Observe a `tools/list` response (against the fleet's pins first, when there is a fleet);
   * resolves with the line to relay (changed tools removed under `hide`). Never rejects.
   */
  async onList(line: string, msg: RpcMessage, action: ToolChangeAction): Promise<string> {
    const tools = isObject(msg.result) && Array.isArray(msg.result['tools']) ? (msg.result['tools'] as unknown[]) : null;
    if (tools === null) return line;
    try {
      if (this.fleet !== null) await this.compareWithFleet(tools);
      const seen = this.pins.observe(this.pinKey, tools, this.now());
      for (const c of seen.changed) {
        const seen = this.seenChanged.get(c.name) ?? new Map<string, string>();
        if (seen.size < MAX_SEEN_CHANGES) seen.set(c.seenDigest, c.pinnedDigest);
        this.seenChanged.set(c.name, seen);
        report(new Error(`tool ${c.name} changed since it was pinned (${c.pinnedDigest} -> ${c.seenDigest}); policy: ${action}; see mcp-attest tools diff`));
      }
      const changed = new Set<string>();
      for (const t of tools) {
        const name = isObject(t) ? t['name'] : undefined;
        if (typeof name === 'string' && this.changed(name)) changed.add(name);
      }
      return action === 'hide' && changed.size > 0 ? hideTools(line, changed) : line;
    } catch (e) {
      report(e);
      return line;
    }
  }

  /**
   * Observe the server fingerprint the upstream advertised (`initialize` →
   * `capabilities.extensions["attestation/tool-call"].serverFingerprint`): the first one is
   * pinned under the pin key (`new`), the pinned one again is `same`, another one is
   * `changed`, reported on stderr and recorded in `pins.db` until accepted
   * (`mcp-attest tools accept --fingerprint`). Never throws: a store failure is reported and
   * counts as `changed`.
   */
  observeFingerprint(advertised: string): FingerprintSighting {
    try {
      const o = this.pins.observeFingerprint(this.pinKey, advertised, this.now());
      if (o.sighting === 'changed') {
        report(new Error(`upstream advertises server fingerprint ${quoted(o.seen)}, not the ${quoted(o.pinned)} pinned for server ${quoted(this.pinKey)}; see mcp-attest tools diff`));
      }
      return o.sighting;
    } catch (e) {
      report(e);
      return 'changed';
    }
  }

  /**
   * Take the fleet's pins of the listed tools. The fleet's pins unreadable: reported, and the
   * tools listed count as changed until a list is compared with them again (fail closed).
   */
  private async compareWithFleet(tools: unknown[]): Promise<void> {
    try {
      this.pins.adopt(this.pinKey, await this.fleet!.share(this.pinKey, tools, this.now()));
      this.unverified.clear();
    } catch (e) {
      report(e);
      for (const t of tools) if (isObject(t) && typeof t['name'] === 'string') this.unverified.add(t['name']);
    }
  }

  /**
   * True when the tool's last seen definition differs from its pin (or could not be compared
   * with the fleet's), or this process saw it listed changed from the pin it still has.
   */
  changed(name: string): boolean {
    if (this.unverified.has(name)) return true;
    try {
      if (this.pins.status(this.pinKey, name) === 'changed') return true;
      const seen = this.seenChanged.get(name);
      if (seen === undefined) return false;
      const pin = this.pins.sharedPin(this.pinKey, name)?.digest;
      // A change seen against a pin since replaced was acknowledged by the accept that replaced it.
      for (const [digest, against] of seen) if (against !== pin || digest === pin) seen.delete(digest);
      if (seen.size > 0) return true;
      this.seenChanged.delete(name);
      return false;
    } catch (e) {
      report(e);
      // Fail closed: a tool whose pin cannot be read counts as changed.
      return true;
    }
  }

  /** Close the pins file. */
  close(): void {
    this.pins.close();
  }
}
