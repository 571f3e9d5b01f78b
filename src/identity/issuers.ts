/**
 * Credential issuers in the trust policy (docs/identity.md "Credential issuers in the trust
 * policy"): `credentialIssuers`, each with an id, a public key, and what it may grant: a
 * subject prefix, servers, tools, the longest lifetime and the deepest delegation. The
 * policy, never a credential, says what an issuer may grant.
 */
import { checkObject, type ObjectSchema } from '../envelope/schema.js';
import { parseVerifierKey } from '../log/vkey.js';
import { equalBytes } from '../bytes/index.js';
import { checkKey, FINGERPRINT, MAX_SCOPE_ITEMS, type CredentialKey } from './credential.js';

/** The default and largest credential lifetime: 24 hours, in seconds. */
export const MAX_LIFETIME_SECONDS = 86_400;
/** The deepest delegation an issuer may allow. */
export const MAX_DEPTH = 8;

/** A credential issuer the policy trusts (times in seconds). */
export interface CredentialIssuer extends CredentialKey {
  id: string;
  subjectPrefix: string;
  servers?: string[];
  tools?: string[];
  maxLifetimeSeconds: number;
  maxDepth: number;
  /**
   * The C2SP verifier key of the one identity log this issuer's credentials and revocations are
   * appended to (its name is the log's origin). A verifier reads credentials only from a log
   * whose checkpoint this key signed; without it, calls under the issuer's credentials cannot be
   * decided offline (`ERR_CREDENTIAL_UNLOGGED`).
   */
  log?: string;
  /**
   * The C2SP verifier keys of the call logs whose decision records count as this issuer's
   * gatekeepers' (docs/identity.md "Which gatekeepers count"), beyond the issuer's own data
   * directory (a log signed by the key of `log`), which always counts. A decision recorded in
   * any other log is decided as an agent's own record: against the whole identity log given.
   */
  gatekeepers?: string[];
}

const ISSUER: ObjectSchema = {
  id: ['nonempty', true], alg: ['string', true], keyId: ['nonempty', true], publicKeyJwk: ['object', true], subjectPrefix: ['nonempty', true],
  servers: ['array', false], tools: ['array', false], maxLifetimeSeconds: ['count', false], maxDepth: ['count', false],
  log: ['nonempty', false], gatekeepers: ['array', false],
};

function isVerifierKey(v: unknown): boolean {
  try {
    return typeof v === 'string' && parseVerifierKey(v) !== null;
  } catch {
    return false;
  }
}

/**
 * Whether a decision recorded in a call log signed by any of `signers` (C2SP vkeys) counts as
 * a gatekeeper's of `issuer`: a signer is one of its `gatekeepers`, or its public key is the
 * one that signs the issuer's identity log (`log`: the issuer's own data directory).
 */
export function designatesGatekeeper(issuer: CredentialIssuer, signers: readonly string[]): boolean {
  const own = issuer.log === undefined ? null : parseVerifierKey(issuer.log);
  return signers.some((v) => {
    if (issuer.gatekeepers?.includes(v) === true) return true;
    if (own === null) return false;
    try {
      const k = parseVerifierKey(v);
      return k.type === own.type && equalBytes(k.publicKey, own.publicKey);
    } catch {
      return false;
    }
  });
}

/** Check `credentialIssuers` of a policy (problems appended, with JSON paths); returns them with defaults filled in. */
export function checkCredentialIssuers(v: unknown, problems: string[]): CredentialIssuer[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return [];
  const ids = new Set<string>();
  const prefixes: string[] = [];
  // An identity log is named by its origin: one name, one key. Two keys under one name would let
  // one issuer's log stand in for another's, without the other's revocations.
  const logKeys = new Map<string, string>();
  return v.flatMap((x, i) => {
    const path = `.credentialIssuers[${i}]`;
    const o = checkObject(x, ISSUER, path, problems);
    if (!o) return [];
    checkKey({ alg: o['alg'], keyId: o['keyId'], publicKeyJwk: o['publicKeyJwk'] }, path, problems);
    for (const list of ['servers', 'tools'] as const) {
      const l = o[list];
      if (l !== undefined && (!Array.isArray(l) || l.length > MAX_SCOPE_ITEMS || !l.every((s) => typeof s === 'string' && s !== '') || new Set(l).size !== l.length)) problems.push(`${path}.${list}: at most ${MAX_SCOPE_ITEMS} distinct non-empty strings`);
    }
    // A grant names servers as credentials do: one no credential can name grants nothing.
    if (Array.isArray(o['servers']) && !o['servers'].every((s) => typeof s === 'string' && FINGERPRINT.test(s))) problems.push(`${path}.servers: server fingerprints (sha256:<64 hex>)`);
    const life = (o['maxLifetimeSeconds'] ?? MAX_LIFETIME_SECONDS) as number;
    if (life < 1 || life > MAX_LIFETIME_SECONDS) problems.push(`${path}.maxLifetimeSeconds: 1 to ${MAX_LIFETIME_SECONDS}`);
    if (typeof o['log'] === 'string') {
      try {
        const name = parseVerifierKey(o['log']).name;
        if (logKeys.has(name) && logKeys.get(name) !== o['log']) problems.push(`${path}.log: another issuer's identity log has the name ${name} under another key`);
        logKeys.set(name, o['log']);
      } catch {
        problems.push(`${path}.log: a C2SP verifier key (name+hash+key)`);
      }
    }
    const gk = o['gatekeepers'];
    if (gk !== undefined && (!Array.isArray(gk) || gk.length > MAX_SCOPE_ITEMS || new Set(gk).size !== gk.length || !gk.every(isVerifierKey))) problems.push(`${path}.gatekeepers: at most ${MAX_SCOPE_ITEMS} distinct C2SP verifier keys of call logs`);
    const depth = (o['maxDepth'] ?? 0) as number;
    if (depth > MAX_DEPTH) problems.push(`${path}.maxDepth: at most ${MAX_DEPTH}`);
    if (ids.has(String(o['id']))) problems.push(`${path}: id ${String(o['id'])} listed twice`);
    ids.add(String(o['id']));
    // A prefix is a namespace: it ends a name segment, and no issuer's lies inside another's (a subject is never reassigned).
    const prefix = String(o['subjectPrefix']);
    if (!/[/:]$/.test(prefix)) problems.push(`${path}.subjectPrefix: must end in / or :`);
    for (const other of prefixes) if (prefix.startsWith(other) || other.startsWith(prefix)) problems.push(`${path}.subjectPrefix: overlaps another issuer's (${other})`);
    prefixes.push(prefix);
    return [{ ...(o as unknown as CredentialIssuer), maxLifetimeSeconds: life, maxDepth: depth }];
  });
}
