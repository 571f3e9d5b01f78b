/**
 * The agent credential a client-side proxy attests under (`proxy --credential FILE`,
 * docs/identity.md "Enforcement"): each attestation's `iss` is the credential's id and its
 * `sub` the credential's subject, signed with the data directory's issuer key, which must be
 * the credential's key. The file is read again whenever it changes (same size and mtime:
 * not re-read), so renewing it (`mcp-attest agent renew … --out FILE`, an atomic rename)
 * takes effect at the next call without a restart or a dropped call. A new file that is not
 * a credential for this key is reported and the one in use is kept.
 *
 * With a renewer (`proxy --renew-home DIR`), the proxy renews the credential itself once two
 * thirds of its lifetime have passed, in the background: calls go on under the current one
 * until the renewed file is written (atomically) and read at the next call, and says so. A
 * renewal that failed for a reason that will not pass (`ERR_CREDENTIAL_*`: revoked, its key
 * revoked, not the logged one) is reported once and not tried again for that credential; any
 * other failure is reported and tried again 5 s later, then 10, 20… up to every 5 minutes,
 * until the credential expires.
 */
import { statSync } from 'node:fs';
import { AttestError, isAttestError } from '../errors.js';
import { parseCredential, type Credential } from '../identity/credential.js';
import { covers } from '../identity/decide.js';
import { showTime } from '../envelope/time.js';
import { printable } from '../bytes/index.js';
import { readRegularFile } from '../store/read-regular.js';
import { writeSynced } from '../store/synced.js';

/** Most warnings of each kind kept in mind (a client naming endless tools is not remembered past it). */
const MAX_WARNED = 1000;

/** A credential file followed across renewals. */
export class CredentialFile {
  private current: Credential;
  private stamp: string;

  private renewing = false;
  private nextTry = 0;
  /** Renewals failed in a row (the wait before the next doubles with each). */
  private failures = 0;
  /** The credential whose renewal failed for good: not tried again. */
  private gaveUp: string | null = null;
  /** The credential whose renewals are failing (its back-off is `failures`, `nextTry`). */
  private failingFor: string | null = null;
  /** A successor issued (and logged) whose file was not written yet: written, not issued again. */
  private unwritten: { base: string; next: Credential } | null = null;
  /** What was warned about, each said once: credentials' windows, and (credential, tool) pairs. */
  private readonly warned = { window: new Set<string>(), tool: new Set<string>() };

  /**
   * Read `path` now: throws `ERR_CREDENTIAL_MALFORMED`, `ERR_CREDENTIAL_KEY` (not a credential
   * for `keyId`), or the file's read error. `renew` (optional) makes the successor of a credential.
   */
  constructor(readonly path: string, private readonly keyId: string, private readonly warn: (message: string) => void = () => undefined, private readonly renew?: (c: Credential) => Promise<Credential>) {
    this.stamp = this.stampNow();
    this.current = this.read();
  }

  private stampNow(): string {
    const s = statSync(this.path, { bigint: true });
    return `${s.size}:${s.mtimeNs}:${s.ino}`;
  }

  private read(): Credential {
    const c = parseCredential(new Uint8Array(readRegularFile(this.path, 64 * 1024, { follow: true, what: 'credential' })));
    if (c.key.keyId !== this.keyId) throw new AttestError('ERR_CREDENTIAL_KEY', `${this.path}: credential ${c.id} names key ${c.key.keyId}, not this data directory's ${this.keyId}`);
    return c;
  }

  /** The credential to attest under now: the file's, re-read when it changed since (and renewed in the background when due). */
  credential(now = Math.floor(Date.now() / 1000)): Credential {
    this.reload();
    const c = this.current;
    // Another credential in the file (renewed by hand): the back-off was the old one's.
    if (this.failingFor !== null && this.failingFor !== c.id) [this.failingFor, this.failures, this.nextTry] = [null, 0, 0];
    if (this.renew !== undefined && !this.renewing && c.id !== this.gaveUp && now >= this.nextTry && now >= c.notBefore + Math.floor((2 * (c.notAfter - c.notBefore)) / 3)) {
      this.renewing = true;
      this.renewed(c, now).then(async (next) => {
        await writeSynced(this.path, JSON.stringify(next, null, 2) + '\n', 0o644);
        [this.unwritten, this.failingFor, this.failures] = [null, null, 0];
        this.warn(`credential ${c.id} renewed: ${next.id}, valid until ${showTime(next.notAfter)}`);
      }).catch((e: unknown) => this.failed(c, now, e)).finally(() => (this.renewing = false));
    }
    return c;
  }

  /** The successor of `c`: the one issued already when only writing it failed (each renewal is logged for good), else a new one. */
  private async renewed(c: Credential, now: number): Promise<Credential> {
    if (this.unwritten?.base === c.id && this.unwritten.next.notAfter > now) return this.unwritten.next;
    const next = await this.renew!(c);
    this.unwritten = { base: c.id, next };
    return next;
  }

  /** A renewal of `c` at `now` failed with `e`: given up (a reason that will not pass) or tried again later. */
  private failed(c: Credential, now: number, e: unknown): void {
    this.failingFor = c.id;
    if (isAttestError(e) && e.code.startsWith('ERR_CREDENTIAL_')) {
      this.gaveUp = c.id;
      return this.warn(`credential ${c.id} not renewed, and not tried again: ${e.code}: ${e.message}`);
    }
    const wait = Math.min(300, 5 * 2 ** this.failures++);
    this.nextTry = now + wait;
    this.warn(`credential ${c.id} not renewed, trying again in ${wait} s: ${(e as Error).message}`);
  }

  /**
   * The credential for a call of `tool` at `now`: {@link credential}, with a warning when its
   * tools do not cover `tool` (once per credential and tool, for the first {@link MAX_WARNED})
   * or its window does not hold `now` (once per credential): the gatekeeper will refuse it.
   */
  forCall(tool: string, now = Math.floor(Date.now() / 1000)): Credential {
    const c = this.credential(now);
    this.checkWindow(c, now);
    // The name as shown: a client's tool name may be megabytes long, and is kept here.
    const shown = tool.slice(0, 200);
    const key = `${c.id}\n${shown}`;
    if (c.tools !== undefined && !c.tools.some((p) => covers(p, tool)) && !this.warned.tool.has(key) && this.warned.tool.size < MAX_WARNED) {
      this.warned.tool.add(key);
      this.warn(`warning: tool ${printable(JSON.stringify(shown))} is outside the tools of credential ${c.id} (${c.tools.join(', ')}): the gatekeeper will refuse it`);
    }
    return c;
  }

  /** Warn, once per credential, when `c`'s window does not hold `now`: the gatekeeper will refuse every call. */
  checkWindow(c: Credential, now = Math.floor(Date.now() / 1000)): void {
    const why = now > c.notAfter ? `expired at ${showTime(c.notAfter)}` : now < c.notBefore ? `is not valid before ${showTime(c.notBefore)}` : null;
    if (why === null || this.warned.window.has(c.id) || this.warned.window.size >= MAX_WARNED) return;
    this.warned.window.add(c.id);
    this.warn(`warning: credential ${c.id} ${why}: the gatekeeper will refuse every call under it${this.renew === undefined ? ' (mcp-attest agent renew, or --renew-home)' : ''}`);
  }

  private reload(): void {
    try {
      const stamp = this.stampNow();
      if (stamp === this.stamp) return;
      // Tried once per change of the file: a bad file is reported once, not at every call.
      this.stamp = stamp;
      this.current = this.read();
    } catch (e) {
      this.warn(`credential file ${this.path} not reloaded, keeping ${this.current.id}: ${(e as Error).message}`);
    }
  }
}
