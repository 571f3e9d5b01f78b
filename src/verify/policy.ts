/**
 * The trust policy: the only source of trust a verifier has (never keys embedded in what it
 * verifies). JSON, closed schema, produced by `mcp-attest trust export` (docs/trust-policy.md):
 *
 * ```
 * {"version":1,
 *  "issuers":[{"iss":"issuer://…","alg":"ES256","keyId":"<RFC 7638 thumbprint>","publicKeyJwk":{…}}],
 *  "logs":[{"origin":"mcp-attest.local/…","vkey":"<C2SP vkey>"}],
 *  "witnesses":[{"name":"witness.example/w1","vkey":"<C2SP cosignature/v1 vkey>"}], "quorum":1,
 *  "parties":[{"id":"approver:alice","roles":["approver"],"alg":"EdDSA","keyId":"<RFC 7638 thumbprint>","publicKeyJwk":{…}}],
 *  "acceptedAlgorithms":["ES256","EdDSA","RS256","HS256"], "clockSkewSeconds":30,
 *  "credentialIssuers":[{"id":"idp:acme","alg":"ES256","keyId":"…","publicKeyJwk":{…},"subjectPrefix":"agent:acme/", …}]}
 * ```
 * HS256 issuers have no public key: their secret is supplied to the verifier separately.
 * `quorum` is how many distinct listed witnesses must have cosigned the checkpoint a
 * verification rests on (k of n; 0 = the log's signature alone). `parties` are the approvers
 * and counterparties of receipt sessions (docs/session.md): a party's approval or
 * confirmation counts only when signed by a key listed here for that role; `keyId` must be
 * the key's RFC 7638 thumbprint, and a party key is never HS256 (a shared secret proves
 * nothing to a third party).
 */
import { AttestError } from '../errors.js';
import { canonicalize, parseJson } from '../jcs/index.js';
import { ALG_NAMES, isAlgName, type AlgName } from '../keys/algorithms.js';
import { importPublicJwk, jwkThumbprint, type PublicJwk } from '../keys/material.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import type { KeyResolver } from '../envelope/signature.js';
import { toHex } from '../bytes/index.js';
import { parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, type VerifierKey } from '../log/vkey.js';
import { checkCredentialIssuers, type CredentialIssuer } from '../identity/issuers.js';
import { CREDENTIAL_ID } from '../identity/credential.js';

/** A trusted issuer key. */
export interface TrustedIssuer {
  iss: string;
  alg: AlgName;
  keyId: string;
  publicKeyJwk?: PublicJwk;
}

/** Roles a party can hold in receipt sessions. */
export const PARTY_ROLES = ['approver', 'counterparty'] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

/** A trusted approver or counterparty key. */
export interface TrustedParty {
  id: string;
  roles: PartyRole[];
  alg: Exclude<AlgName, 'HS256'>;
  keyId: string;
  publicKeyJwk: PublicJwk;
}

/** The parsed trust policy. */
export interface TrustPolicy {
  version: 1;
  issuers: TrustedIssuer[];
  logs: Array<{ origin: string; vkey: string }>;
  witnesses: Array<{ name: string; vkey: string }>;
  quorum: number;
  /** Approvers and counterparties of receipt sessions (empty when none). */
  parties: TrustedParty[];
  acceptedAlgorithms: AlgName[];
  clockSkewSeconds: number;
  /** Issuers of agent credentials (docs/identity.md); absent when none. */
  credentialIssuers?: CredentialIssuer[];
}

const TOP: ObjectSchema = {
  version: ['integer', true], issuers: ['array', true], logs: ['array', true], witnesses: ['array', false],
  quorum: ['integer', false], parties: ['array', false], acceptedAlgorithms: ['array', false], clockSkewSeconds: ['integer', false],
  credentialIssuers: ['array', false],
};
const ISSUER: ObjectSchema = { iss: ['nonempty', true], alg: ['string', true], keyId: ['nonempty', true], publicKeyJwk: ['object', false] };
const LOG: ObjectSchema = { origin: ['nonempty', true], vkey: ['nonempty', true] };
const WITNESS: ObjectSchema = { name: ['nonempty', true], vkey: ['nonempty', true] };
const PARTY: ObjectSchema = { id: ['nonempty', true], roles: ['array', true], alg: ['string', true], keyId: ['nonempty', true], publicKeyJwk: ['object', true] };

/** Parties: known roles, a public-key algorithm, `keyId` the thumbprint of the key, no (id, keyId) twice. */
function checkParties(top: Record<string, unknown>, problems: string[]): void {
  const seen = new Set<string>();
  (Array.isArray(top['parties']) ? top['parties'] : []).forEach((x, i) => {
    const o = checkObject(x, PARTY, `.parties[${i}]`, problems);
    if (!o) return;
    const roles = o['roles'];
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => (PARTY_ROLES as readonly unknown[]).includes(r))) problems.push(`.parties[${i}].roles: one or more of ${PARTY_ROLES.join(', ')}`);
    if (!isAlgName(o['alg']) || o['alg'] === 'HS256') problems.push(`.parties[${i}].alg: a public-key algorithm`);
    try {
      if (isObject(o['publicKeyJwk']) && jwkThumbprint(o['publicKeyJwk'] as unknown as PublicJwk) !== o['keyId']) problems.push(`.parties[${i}].keyId: not the thumbprint of publicKeyJwk`);
    } catch {
      problems.push(`.parties[${i}].publicKeyJwk: not a public key`);
    }
    const id = `${String(o['id'])}\n${String(o['keyId'])}`;
    if (seen.has(id)) problems.push(`.parties[${i}]: listed twice`);
    seen.add(id);
  });
}

/**
 * Witnesses: each `vkey` a cosignature/v1 (0x04) verifier key whose name is `name`; no name
 * or public key listed twice (two vkeys wrapping one key would let one witness count twice);
 * `quorum` between 0 and the number of witnesses, and given whenever witnesses are listed.
 */
function checkWitnesses(top: Record<string, unknown>, problems: string[]): void {
  const list = Array.isArray(top['witnesses']) ? top['witnesses'] : [];
  const names = new Set<string>();
  const keys = new Set<string>();
  list.forEach((x, i) => {
    const o = checkObject(x, WITNESS, `.witnesses[${i}]`, problems);
    if (!o) return;
    let key: VerifierKey;
    try {
      key = parseVerifierKey(o['vkey'] as string);
    } catch {
      problems.push(`.witnesses[${i}].vkey: not a C2SP verifier key`);
      return;
    }
    if (key.type !== SIG_TYPE_COSIGNATURE_V1) problems.push(`.witnesses[${i}].vkey: not a cosignature/v1 (type 0x04) key`);
    if (key.name !== o['name']) problems.push(`.witnesses[${i}].name: must be the vkey's name ${key.name}`);
    if (names.has(key.name)) problems.push(`.witnesses[${i}]: witness ${key.name} listed twice`);
    const pk = toHex(key.publicKey);
    if (keys.has(pk)) problems.push(`.witnesses[${i}]: public key listed twice`);
    names.add(key.name);
    keys.add(pk);
  });
  const q = top['quorum'];
  if (typeof q === 'number' && (q < 0 || q > list.length)) problems.push(`.quorum: must be between 0 and the number of witnesses (${list.length})`);
  // Witnesses listed and no quorum would be quorum 0: a checkpoint no witness cosigned would pass.
  if (list.length > 0 && q === undefined) problems.push(`.quorum: required when witnesses are listed: how many of them must cosign (trust export writes a majority, ${Math.floor(list.length / 2) + 1} here; 0 trusts the log's key alone)`);
}

/**
 * No call log may have the origin of a credential issuer's identity log: the two would be one
 * log to whatever keeps checkpoints by origin (a verifier's `--state`), and a call log's
 * checkpoint remembered as the identity log's would fail the real one as a rollback.
 */
function checkLogOrigins(top: Record<string, unknown>, issuers: CredentialIssuer[], problems: string[]): void {
  const identity = new Set(issuers.flatMap((i) => {
    try {
      return i.log === undefined ? [] : [parseVerifierKey(i.log).name];
    } catch {
      return [];
    }
  }));
  (Array.isArray(top['logs']) ? top['logs'] : []).forEach((l, i) => {
    if (isObject(l) && identity.has(l['origin'] as string)) problems.push(`.logs[${i}].origin: ${String(l['origin'])} is a credential issuer's identity log, not a call log`);
  });
}

/**
 * What an issuer's key is, to tell two definitions of one (iss, alg, keyId) apart: a public
 * key's RFC 7638 thumbprint (extra JWK members such as `kid` or `use`, copied from a JWKS, do
 * not make another key), an HS256 issuer's `secretFile` as given (a caller resolves it first),
 * else the JCS of the whole entry; null for an entry none of these can read.
 */
function keyOf(i: { alg: unknown; publicKeyJwk?: unknown; secretFile?: unknown }): string | null {
  try {
    if (i.alg !== 'HS256' && isObject(i.publicKeyJwk)) return `jwk ${jwkThumbprint(i.publicKeyJwk as unknown as PublicJwk)}`;
    if (i.alg === 'HS256' && typeof i.secretFile === 'string') return `file ${i.secretFile}`;
    return `jcs ${canonicalize(i as never)}`;
  } catch {
    return null;
  }
}

/**
 * The issuers of `list` that another before it names by the same (iss, alg, keyId) with a
 * different key ({@link keyOf}), as `[index, first index]` pairs. A key resolver finds an
 * issuer by that triple, so two keys would leave the one that checks a signature to the
 * order of a list: a policy naming both is refused instead (`ERR_POLICY_INVALID` by the
 * callers), and {@link policyKeyResolver} answers such a triple with no key. The same key
 * twice is one issuer.
 */
export function conflictingIssuers(list: ReadonlyArray<{ iss: unknown; alg: unknown; keyId: unknown }>): Array<[number, number]> {
  const seen = new Map<string, { at: number; key: string | null }>();
  const found: Array<[number, number]> = [];
  list.forEach((i, at) => {
    const id = JSON.stringify([i.iss, i.alg, i.keyId]);
    const key = keyOf(i);
    const had = seen.get(id);
    if (had === undefined) seen.set(id, { at, key });
    else if (had.key === null || key === null || had.key !== key) found.push([at, had.at]);
  });
  return found;
}

/** `.issuers[i].iss` problems: an agent credential's id (`cred_…`) is reserved, its key the identity log's to give (docs/identity.md). */
export function reservedIssuers(list: unknown[], problems: string[]): void {
  list.forEach((x, i) => {
    if (isObject(x) && typeof x['iss'] === 'string' && CREDENTIAL_ID.test(x['iss'])) problems.push(`.issuers[${i}].iss: ${x['iss']} names an agent credential: its key comes from the identity log, not a policy`);
  });
}

/** Parse and validate a trust policy. Throws `ERR_POLICY_INVALID` listing every problem. */
export function parseTrustPolicy(text: string): TrustPolicy {
  let v: unknown;
  try {
    v = parseJson(text, { maxBytes: 1 << 20, maxDepth: 16 });
  } catch (cause) {
    throw new AttestError('ERR_POLICY_INVALID', 'trust policy is not valid JSON', { cause });
  }
  const problems: string[] = [];
  const top = checkObject(v, TOP, '', problems);
  let credentialIssuers: CredentialIssuer[] = [];
  if (top) {
    credentialIssuers = checkCredentialIssuers(top['credentialIssuers'], problems);
    if (top['version'] !== 1) problems.push('.version: must be 1');
    (Array.isArray(top['issuers']) ? top['issuers'] : []).forEach((x, i) => {
      const o = checkObject(x, ISSUER, `.issuers[${i}]`, problems);
      if (o && !isAlgName(o['alg'])) problems.push(`.issuers[${i}].alg: unsupported`);
      if (o && o['alg'] !== 'HS256' && !isObject(o['publicKeyJwk'])) problems.push(`.issuers[${i}].publicKeyJwk: missing`);
    });
    if (Array.isArray(top['issuers']) && top['issuers'].every(isObject)) {
      for (const [i, first] of conflictingIssuers(top['issuers'] as unknown as TrustedIssuer[])) problems.push(`.issuers[${i}]: the issuer and key id of .issuers[${first}] with another key`);
      reservedIssuers(top['issuers'] as unknown[], problems);
    }
    (Array.isArray(top['logs']) ? top['logs'] : []).forEach((x, i) => checkObject(x, LOG, `.logs[${i}]`, problems));
    checkLogOrigins(top, credentialIssuers, problems);
    (Array.isArray(top['witnesses']) ? top['witnesses'] : []).forEach((x, i) => checkObject(x, WITNESS, `.witnesses[${i}]`, problems));
    for (const a of Array.isArray(top['acceptedAlgorithms']) ? top['acceptedAlgorithms'] : []) if (!isAlgName(a)) problems.push(`.acceptedAlgorithms: unsupported ${String(a)}`);
    checkWitnesses(top, problems);
    checkParties(top, problems);
  }
  if (problems.length > 0) throw new AttestError('ERR_POLICY_INVALID', problems.join('; '), { found: problems });
  const p = top as Record<string, unknown>;
  return {
    version: 1,
    issuers: p['issuers'] as TrustedIssuer[],
    logs: p['logs'] as TrustPolicy['logs'],
    witnesses: (p['witnesses'] ?? []) as TrustPolicy['witnesses'],
    quorum: (p['quorum'] ?? 0) as number,
    parties: (p['parties'] ?? []) as TrustedParty[],
    acceptedAlgorithms: (p['acceptedAlgorithms'] ?? ['ES256', 'EdDSA', 'RS256', 'HS256']) as AlgName[],
    clockSkewSeconds: (p['clockSkewSeconds'] ?? 30) as number,
    ...(credentialIssuers.length > 0 ? { credentialIssuers } : {}),
  };
}

/** The key of an HS256 secret in a {@link policyKeyResolver} secrets map: issuer and key id. */
export function secretId(iss: string, keyId: string): string {
  return `${iss}\n${keyId}`;
}

/** The {@link policyKeyResolver} secrets map giving `key` (an imported HS256 secret) to every HS256 issuer of `policy`; empty for null. */
export function hs256Secrets(policy: TrustPolicy, key: CryptoKey | null): Map<string, CryptoKey> {
  return new Map(key ? policy.issuers.filter((i) => i.alg === 'HS256').map((i) => [secretId(i.iss, i.keyId), key]) : []);
}

/**
 * A key resolver over the policy's issuers: a key is returned only for an exact
 * (iss, alg, keyId) match. `secrets` supplies HS256 keys by {@link secretId} (iss and keyId:
 * two HS256 issuers may both use key id `v1`; they are not in the policy). The policy's keys
 * are imported once each, when first asked for; a query matching none is answered null and
 * kept nowhere (a hostile log's entries may each name an issuer of their own). A triple the
 * list gives two keys ({@link conflictingIssuers}) is answered null too: never the first.
 */
export function policyKeyResolver(policy: TrustPolicy, secrets: ReadonlyMap<string, CryptoKey> = new Map()): KeyResolver {
  // By (iss, alg, keyId) as a JSON array: no two triples share a key, whatever their members hold.
  const id = (iss: string, alg: string, keyId: string): string => JSON.stringify([iss, alg, keyId]);
  // A triple given two keys (a list no parser checked: a policy with credential keys added) has
  // none; copies of one key (members a JWKS adds) are tried in turn until one imports.
  const issuers = new Map<string, TrustedIssuer[] | null>();
  for (const i of policy.issuers) {
    const k = id(i.iss, i.alg, i.keyId);
    const had = issuers.get(k);
    if (had === undefined) issuers.set(k, [i]);
    else if (had !== null) issuers.set(k, conflictingIssuers([had[0]!, i]).length > 0 ? null : [...had, i]);
  }
  const imported = new Map<string, Promise<CryptoKey | null>>();
  const none = Promise.resolve(null);
  const firstImport = async (copies: TrustedIssuer[]): Promise<CryptoKey | null> => {
    for (const c of copies) {
      const key = await importPublicJwk(c.alg, c.publicKeyJwk!).catch(() => null);
      if (key !== null) return key;
    }
    return null;
  };
  return (q) => {
    const k = id(q.iss, q.alg, q.keyId);
    const copies = issuers.get(k);
    if (copies === undefined || copies === null) return none;
    let hit = imported.get(k);
    if (!hit) {
      const issuer = copies[0]!;
      hit = issuer.alg === 'HS256' ? Promise.resolve(secrets.get(secretId(issuer.iss, issuer.keyId)) ?? null) : firstImport(copies);
      imported.set(k, hit);
    }
    return hit;
  };
}

/**
 * Union of trust policies: every issuer, log, witness and party of each (duplicates once; a
 * party's roles are united), the
 * largest quorum, the accepted algorithms all of them accept, the smallest clock skew. Throws `ERR_POLICY_INVALID` when
 * the same issuer id and key id name different keys, or the union is not a valid policy.
 */
export function mergeTrustPolicies(policies: TrustPolicy[]): TrustPolicy {
  const issuers = new Map<string, TrustedIssuer>();
  const copies: TrustedIssuer[] = [];
  const kept = new Set<string>();
  for (const i of policies.flatMap((p) => p.issuers)) {
    const id = JSON.stringify([i.iss, i.alg, i.keyId]);
    const had = issuers.get(id);
    // The same key (by thumbprint) is one issuer; another key is a conflict. Copies that differ
    // in other members are all kept (a key resolver takes the first that imports), the same twice once.
    if (had && conflictingIssuers([had, i]).length > 0) throw new AttestError('ERR_POLICY_INVALID', `issuer ${i.iss} key ${i.keyId} differs between the policies`);
    if (!had) issuers.set(id, i);
    const text = canonicalize(i as never);
    if (!kept.has(text)) {
      kept.add(text);
      copies.push(i);
    }
  }
  const logs = new Map(policies.flatMap((p) => p.logs).map((l) => [`${l.origin}\n${l.vkey}`, l]));
  const witnesses = new Map(policies.flatMap((p) => p.witnesses).map((w) => [w.vkey, w]));
  const parties = new Map<string, TrustPolicy['parties'][number]>();
  for (const party of policies.flatMap((p) => p.parties)) {
    const id = `${party.id}\n${party.keyId}`;
    const had = parties.get(id);
    parties.set(id, had ? { ...had, roles: [...new Set([...had.roles, ...party.roles])].sort() } : party);
  }
  const merged: TrustPolicy = {
    version: 1, issuers: copies, logs: [...logs.values()], witnesses: [...witnesses.values()],
    quorum: Math.max(0, ...policies.map((p) => p.quorum)), parties: [...parties.values()],
    acceptedAlgorithms: ALG_NAMES.filter((a) => policies.every((p) => p.acceptedAlgorithms.includes(a))),
    clockSkewSeconds: Math.min(...policies.map((p) => p.clockSkewSeconds)),
  };
  const grants = new Map<string, CredentialIssuer>();
  for (const c of policies.flatMap((p) => p.credentialIssuers ?? [])) {
    const had = grants.get(c.id);
    // One issuer, one grant: two policies granting an issuer different things is a conflict, never the last one winning.
    if (had && canonicalize(had as never) !== canonicalize(c as never)) throw new AttestError('ERR_POLICY_INVALID', `credential issuer ${c.id} differs between the policies`);
    grants.set(c.id, c);
  }
  const credentialIssuers = [...grants.values()];
  if (credentialIssuers.length > 0) merged.credentialIssuers = credentialIssuers;
  // The union must itself be a valid policy (e.g. one witness key under two names is not).
  return parseTrustPolicy(JSON.stringify(merged));
}
