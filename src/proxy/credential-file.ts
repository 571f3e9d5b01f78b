/**
 * The agent credential a client-side proxy attests under (`proxy --credential FILE`,
 * docs/identity.md "Enforcement"): each attestation's `iss` is the credential's id and its
 * `sub` the credential's subject, signed with the data directory's issuer key, which must be
 * the credential's key. The file is read again whenever it changes (same size and mtime:
 * not re-read), so renewing it (`mcp-attest agent renew … --out FILE`, an atomic rename)
 * takes effect at the next call without a restart or a dropped call. A new file that is not
 * a credential for this key is reported and the one in use is kept.
 */
import { statSync } from 'node:fs';
import { AttestError } from '../errors.js';
import { parseCredential, type Credential } from '../identity/credential.js';
import { readRegularFile } from '../store/read-regular.js';

/** A credential file followed across renewals. */
export class CredentialFile {
  private current: Credential;
  private stamp: string;

  /** Read `path` now: throws `ERR_CREDENTIAL_MALFORMED`, `ERR_CREDENTIAL_KEY` (not a credential for `keyId`), or the file's read error. */
  constructor(readonly path: string, private readonly keyId: string, private readonly warn: (message: string) => void = () => undefined) {
    this.stamp = this.stampNow();
    this.current = this.read();
  }

  private stampNow(): string {
    const s = statSync(this.path, { bigint: true });
    return `${s.size}:${s.mtimeNs}:${s.ino}`;
  }

  private read(): Credential {
    const c = parseCredential(new Uint8Array(readRegularFile(this.path, 64 * 1024, { what: 'credential' })));
    if (c.key.keyId !== this.keyId) throw new AttestError('ERR_CREDENTIAL_KEY', `${this.path}: credential ${c.id} names key ${c.key.keyId}, not this data directory's ${this.keyId}`);
    return c;
  }

  /** The credential to attest under now: the file's, re-read when it changed since. */
  credential(): Credential {
    try {
      const stamp = this.stampNow();
      if (stamp === this.stamp) return this.current;
      // Tried once per change of the file: a bad file is reported once, not at every call.
      this.stamp = stamp;
      this.current = this.read();
    } catch (e) {
      this.warn(`credential file ${this.path} not reloaded, keeping ${this.current.id}: ${(e as Error).message}`);
    }
    return this.current;
  }
}
