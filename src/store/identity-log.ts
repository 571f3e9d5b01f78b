/**
 * A data directory's identity log (docs/identity.md "The identity log"): `identity.db`, a
 * public transparency log of credentials and revocations, separate from the call log, with
 * its own origin (`<log origin>/identity`), its checkpoints signed by the data directory's
 * Ed25519 log key under that name. The gatekeeper reads it for every credential call
 * (refreshing its {@link IdentityIndex} by the entries appended since), `mcp-attest agent`
 * appends to it, `verify` checks it against its signed checkpoint.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AttestError } from '../errors.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { ed25519NoteSigner, signNote } from '../log/note-sign.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_ED25519 } from '../log/vkey.js';
import { CREDENTIAL_TYPE } from '../identity/credential.js';
import type { IdentitySource } from '../identity/gate-check.js';
import { decodeIdentityRecord, encodeIdentityRecord, IdentityIndex, type IdentityStatement } from '../identity/entries.js';
import { LogDb } from './log-db.js';
import { checkSqliteFiles } from './sqlite-guard.js';
import { loadLogKey, type Identity } from './identity.js';

/** The identity log's file in data directory `home`. */
export const identityLogPath = (home: string): string => join(home, 'identity.db');

/** Data directory `home`'s own identity log, as {@link IdentityLog.read} opens it (no symlink). */
export const homeIdentityLog = (home: string): { path: string; follow: boolean } => ({ path: identityLogPath(home), follow: false });

/** The identity log's origin for a call log's origin. */
export const identityOrigin = (logOrigin: string): string => `${logOrigin}/identity`;

/** The identity log's C2SP verifier key (same Ed25519 key as the call log, its own name). */
export function identityVerifierKey(identity: Identity): string {
  return formatVerifierKey(identityOrigin(identity.log.origin), SIG_TYPE_ED25519, parseVerifierKey(identity.log.vkey).publicKey);
}

/** The identity log of a data directory, opened for appending or reading. */
export class IdentityLog {
  readonly index = new IdentityIndex();

  private constructor(readonly db: LogDb, readonly path: string) {}

  /** Open (creating when `create`) `home`'s identity log; null when it does not exist and `create` is false. `ERR_STORE_CORRUPT` / `ERR_STORE_IO` as {@link LogDb}. */
  static open(home: string, create: boolean): IdentityLog | null {
    const path = identityLogPath(home);
    if (!create && !existsSync(path)) return null;
    return new IdentityLog(new LogDb(path, 'full', false, { entries: 'public' }), path);
  }

  /**
   * Open the identity log file `path` read-only, as untrusted input (`bundle --identity`: another
   * party's data directory): the file checked before SQLite opens it (`follow`: `path` may be a
   * symlink), its schema as `verify` checks it. Throws `ERR_INPUT_NOT_REGULAR`,
   * `ERR_INPUT_TOO_LARGE`, `ERR_STORE_IO`, `ERR_STORE_CORRUPT`.
   */
  static read(path: string, follow: boolean): IdentityLog {
    return new IdentityLog(new LogDb(checkSqliteFiles(path, { what: 'identity log', follow }), 'full', true), path);
  }

  /** Read the entries appended since the last refresh into {@link index}; returns the size. A malformed entry is `ERR_STORE_CORRUPT`. */
  refresh(): bigint {
    const size = this.db.size();
    for (let i = this.index.size; i < size; i++) {
      const bytes = this.db.record(i);
      if (i === 0n) {
        this.index.add(0n, null);
        continue;
      }
      if (bytes === null) throw new AttestError('ERR_STORE_CORRUPT', `identity entry ${i} is missing`, { index: i });
      try {
        this.index.add(i, decodeIdentityRecord(bytes, i));
      } catch (e) {
        throw new AttestError('ERR_STORE_CORRUPT', `identity log ${this.path}: ${(e as Error).message}`, { index: i, cause: e });
      }
    }
    return size;
  }

  /**
   * Append `statement` durably; returns its index. A credential whose id is already logged is
   * refused (`ERR_CREDENTIAL_MALFORMED`): an id names one credential for ever.
   */
  append(statement: IdentityStatement): bigint {
    this.refresh();
    if (statement.type === CREDENTIAL_TYPE && this.index.logged(statement.id)) {
      throw new AttestError('ERR_CREDENTIAL_MALFORMED', `credential id ${statement.id} is already in the identity log`);
    }
    const index = this.db.append((i) => encodeIdentityRecord(i, statement));
    this.refresh();
    return index;
  }

  /** Sign and store a checkpoint of the current size with `home`'s log key (none when one exists for it). */
  async checkpoint(home: string, identity: Identity): Promise<void> {
    const size = this.db.size();
    if (this.db.latestCheckpointSize() >= size) return;
    const origin = identityOrigin(identity.log.origin);
    const signer = ed25519NoteSigner(origin, await loadLogKey(home, identity), parseVerifierKey(identity.log.vkey).publicKey);
    const text = formatCheckpoint({ origin, size, rootHash: this.db.root(size), extensions: [] });
    this.db.addCheckpoint(size, await signNote(text, [signer]), Math.floor(Date.now() / 1000));
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}

/**
 * The identity source of a gatekeeper in `home` (src/identity/gate-check.ts): the directory's
 * identity log, opened on first use once it exists (`agent issue` may create it after the
 * gatekeeper starts), refreshed by each call. Kept open for the process's life.
 */
export function identitySource(home: string): IdentitySource {
  let log: IdentityLog | null = null;
  const empty = new IdentityIndex();
  return {
    refresh: () => (log ??= IdentityLog.open(home, false)) === null ? 0n : log.refresh(),
    get index() {
      return log?.index ?? empty;
    },
  };
}
