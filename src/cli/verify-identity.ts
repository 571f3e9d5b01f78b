/**
 * `verify` of a log whose calls were made under agent credentials: the identity log they are
 * decided against (`identity.db` beside `log.db`, or the one `--identity` names; opened
 * read-only as untrusted input) verified against the trust policy's credential issuers
 * (src/identity/verify-identity.ts), and the policy those credentials' keys are added to, so
 * the calls' own signatures resolve.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityLog } from '../store/identity-log.js';
import { readHead } from '../store/read-regular.js';
import { openIdentityLog, withCredentialKeys, type IdentityView } from '../identity/verify-identity.js';
import type { KnownCheckpoint } from '../verify/split-view.js';
import { error, type Finding } from '../verify/findings.js';
import { isAttestError } from '../errors.js';
import { CliExit, EXIT_IO, EXIT_USAGE } from './output.js';
import type { TrustPolicy } from '../verify/policy.js';

/**
 * Where the identity log of `verify --identity PATH` is: `PATH/identity.db` for a data
 * directory (the issuer's, or a gatekeeper's), else PATH itself (an `identity.db`, which may
 * be a symlink). `CliExit` 3 when there is nothing there.
 */
export function identityPath(path: string): { path: string; follow: boolean } {
  let dir: boolean;
  try {
    dir = statSync(path).isDirectory();
  } catch (e) {
    throw new CliExit(EXIT_IO, `--identity ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (!dir) {
    const head = readHead(path, 16);
    if (head !== null && head.toString('latin1') !== 'SQLite format 3\0') throw new CliExit(EXIT_USAGE, `--identity ${path}: not an identity log (no SQLite header): give the credential issuer's data directory, or its identity.db`);
    return { path, follow: true };
  }
  const db = join(realpathSync(path), 'identity.db');
  if (!existsSync(db)) throw new CliExit(EXIT_IO, `--identity ${path}: no identity log (identity.db) in this directory`);
  return { path: db, follow: false };
}

/**
 * The identity view under `policy` of the identity log at `at` (from {@link identityPath}, or
 * `identity.db` in the data directory verified: null when there is none), and the policy with
 * the logged credentials' keys added; the view is null when the policy lists no credential
 * issuer. Findings of the identity log are pushed. `CliExit` 2 when `given` (the log was
 * named with `--identity`) and the policy lists no credential issuer: nothing could be
 * decided against it. `known`: checkpoints accepted earlier (`--state`), which the identity log
 * must not have rolled back from.
 */
export async function identityOf(at: { path: string; follow: boolean } | null, policy: TrustPolicy, findings: Finding[], given = false, known: KnownCheckpoint[] = []): Promise<{ view: IdentityView | null; policy: TrustPolicy }> {
  if ((policy.credentialIssuers ?? []).length === 0) {
    if (given) throw new CliExit(EXIT_USAGE, '--identity: the trust policy lists no credential issuer, so nothing could be decided against it (give --trust with the issuer\'s "mcp-attest trust export" merged in; without --trust, --identity names the issuer\'s data directory)');
    return { view: null, policy };
  }
  if (at === null || !existsSync(at.path)) return { view: null, policy };
  const path = at.path;
  let log: IdentityLog;
  try {
    log = IdentityLog.read(path, at.follow);
  } catch (e) {
    // Unreadable: no call can rest on it (reported only if a call needs it).
    const m = (e as Error).message;
    findings.push(error(isAttestError(e) ? e.code : 'ERR_STORE_CORRUPT', m.includes(path) ? m : `identity log ${path}: ${m}`));
    return { view: null, policy };
  }
  try {
    // The stored entries from index 0, up to the first one missing (a gap, or an index a
    // hostile file put far beyond the rest: its tree ends there, short of its checkpoints).
    const entries = function* (): Generator<Uint8Array> {
      let next = 0n;
      for (const row of log.db.storedRows()) {
        if (row.idx !== next) return void findings.push(error('ERR_STORE_CORRUPT', `identity log ${path}: entry ${next} is missing`));
        next++;
        yield row.data;
      }
    };
    const view = await openIdentityLog(entries(), log.db.checkpoints().map((c) => c.note), policy, findings, known);
    return { view, policy: withCredentialKeys(policy, view) };
  } finally {
    log.close();
  }
}
