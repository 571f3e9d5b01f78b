/**
 * `verify` of a data directory whose calls were made under agent credentials: its identity
 * log (`identity.db` beside `log.db`, opened read-only as untrusted input) verified against
 * the trust policy's credential issuers (src/identity/verify-identity.ts), and the policy
 * those credentials' keys are added to, so the calls' own signatures resolve.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { LogDb } from '../store/log-db.js';
import { checkSqliteFiles } from '../store/sqlite-guard.js';
import { openIdentityLog, withCredentialKeys, type IdentityView } from '../identity/verify-identity.js';
import { error, type Finding } from '../verify/findings.js';
import { isAttestError } from '../errors.js';
import type { TrustPolicy } from '../verify/policy.js';

/**
 * The identity view of data directory `home` under `policy` (null when the policy lists no
 * credential issuer, or the directory has no identity log), and the policy with the logged
 * credentials' keys added. Findings of the identity log are pushed.
 */
export async function identityOf(home: string, policy: TrustPolicy, findings: Finding[]): Promise<{ view: IdentityView | null; policy: TrustPolicy }> {
  const path = join(realpathSync(home), 'identity.db');
  if ((policy.credentialIssuers ?? []).length === 0 || !existsSync(path)) return { view: null, policy };
  let db: LogDb;
  try {
    db = new LogDb(checkSqliteFiles(path, { what: 'identity log' }), 'full', true);
  } catch (e) {
    // Unreadable: no call can rest on it (reported only if a call needs it).
    findings.push(error(isAttestError(e) ? e.code : 'ERR_STORE_CORRUPT', `identity log ${path}: ${(e as Error).message}`));
    return { view: null, policy };
  }
  try {
    // The stored entries from index 0, up to the first one missing (a gap, or an index a
    // hostile file put far beyond the rest: its tree ends there, short of its checkpoints).
    const entries = function* (): Generator<Uint8Array> {
      let next = 0n;
      for (const row of db.storedRows()) {
        if (row.idx !== next) return void findings.push(error('ERR_STORE_CORRUPT', `identity log ${path}: entry ${next} is missing`));
        next++;
        yield row.data;
      }
    };
    const view = await openIdentityLog(entries(), db.checkpoints().map((c) => c.note), policy, findings);
    return { view, policy: withCredentialKeys(policy, view) };
  } finally {
    db.close();
  }
}
