/**
 * Issuing, renewing and revoking agent credentials in a data directory that is a credential
 * issuer and keeps the identity log (docs/identity.md): `mcp-attest agent` and a client
 * proxy renewing its own credential (`proxy --credential FILE --renew-home DIR`) both go
 * through here. Each statement is signed, parsed back strictly, appended durably to the
 * identity log, whose new checkpoint is then signed and sent to the configured witnesses.
 */
import { AttestError, type ErrorCode } from '../errors.js';
import { toBase64Url } from '../bytes/index.js';
import { CREDENTIAL_TYPE, REVOCATION_TYPE, credentialDigest, parseCredential, parseRevocation, signedBy, signIdentity, type Credential, type CredentialKey, type Revocation } from '../identity/credential.js';
import type { IdentityStatement } from '../identity/entries.js';
import { MAX_LIFETIME_SECONDS, type CredentialIssuer } from '../identity/issuers.js';
import { checkChain } from '../identity/decide.js';
import { error, type Finding } from '../verify/findings.js';
import { issuerSign, loadCredentialIssuer } from './credential-issuer.js';
import { IdentityLog } from './identity-log.js';
import { loadIdentity, loadIssuerSigner } from './identity.js';
import { loadWitnesses } from './witnesses.js';
import { witnessLatest, type WitnessResult } from './witnessing.js';

/** What a new credential says, beyond what the issuer fills in (times in seconds). */
export interface CredentialSpec {
  subject: string;
  key: CredentialKey;
  /** Lifetime in seconds (default: the issuer's longest; for a sub-agent, no longer than its parent lives). */
  ttl?: number;
  /** Server fingerprints allowed (default: its parent's, or for a root credential the issuer's grant: none, anything). */
  servers?: string[];
  /** Tool patterns allowed (default as `servers`). */
  tools?: string[];
  maxDepth?: number;
  binding?: Credential['binding'];
  /** The parent credential, for a sub-agent's (signed then by the parent's key: `signerHome`). */
  parent?: Credential;
  /** Issue it even though a revoked credential named the same key (a revocation often means the key leaked). */
  allowRevokedKey?: boolean;
}

/** The public key of data directory `dir`'s issuer (the agent's key), as a credential names it. Throws `ERR_USAGE` for an HS256 issuer. */
export function agentKeyOf(dir: string): CredentialKey {
  const id = loadIdentity(dir);
  if (id.issuer.alg === 'HS256' || id.issuer.publicKeyJwk === null) throw new AttestError('ERR_USAGE', `${dir}: an HS256 issuer has no public key to bind a credential to`);
  return { alg: id.issuer.alg, keyId: id.issuer.keyId, publicKeyJwk: id.issuer.publicKeyJwk };
}

/**
 * Sign `unsigned` with `home`'s credential issuer key, or with the issuer key of `signerHome`
 * (which must be `parent`'s key when a parent is given). Throws `ERR_USAGE`.
 */
async function sign<T extends object>(home: string, unsigned: T, parent: Credential | null, signerHome: string | undefined): Promise<T & { signature: string }> {
  if (signerHome === undefined) {
    if (parent !== null) throw new AttestError('ERR_USAGE', `a sub-agent's credential is signed by its parent's key (${parent.id}): give the data directory holding it`);
    if (loadCredentialIssuer(home) === null) throw new AttestError('ERR_USAGE', `${home} is not a credential issuer: run "mcp-attest agent issuer init"`);
    return issuerSign(home, unsigned);
  }
  const signer = loadIssuerSigner(signerHome, loadIdentity(signerHome));
  if (parent !== null && signer.keyId !== parent.key.keyId) throw new AttestError('ERR_USAGE', `${signerHome}: its key is not the key of credential ${parent.id}`);
  return signIdentity(signer.alg, signer.sign, unsigned as never) as Promise<T & { signature: string }>;
}

/** {@link checkChain}'s findings on `chain` under `issuer`'s grant. */
async function chainFindings(chain: Credential[], issuer: CredentialIssuer): Promise<Finding[]> {
  const found: Finding[] = [];
  await checkChain(chain, issuer, found);
  return found;
}

/** Null when `found` is empty; else throws the first finding's code with every message (`ERR_CREDENTIAL_WIDENED`...). */
function widened(found: Finding[]): null {
  // The credential named is the one refused: its id never enters the log.
  if (found.length > 0) throw new AttestError(found[0]!.code as ErrorCode, `refused, not logged: ${found.map((f) => f.message).join('; ')}`);
  return null;
}

/**
 * Why `statement` may not go into `log` (of `home`), or null: a credential not signed by this
 * directory's issuer (a root one) or by its logged parent's key (a sub-agent's), or under a
 * revoked parent; a revocation of a credential not logged here, or signed by a key not allowed
 * to revoke it. A root credential outside this issuer's grant, or a sub-agent's that widens
 * its chain under it, throws the verifier's code (`ERR_CREDENTIAL_WIDENED`, …). Nothing
 * unverifiable is appended.
 */
async function appendProblem(home: string, log: IdentityLog, statement: IdentityStatement): Promise<string | null> {
  log.refresh();
  const issuer = loadCredentialIssuer(home);
  if (statement.type === CREDENTIAL_TYPE) {
    if (statement.parent === undefined) {
      if (issuer === null || statement.issuer !== issuer.id || !await signedBy(statement, issuer)) return `credential ${statement.id} is not signed by this directory's credential issuer`;
      // Within the issuer's own grant (subject prefix, servers, tools, lifetime, depth), as a verifier will check it.
      return widened(await chainFindings([statement], issuer));
    }
    const chain = log.index.chain(statement.parent);
    if (typeof chain === 'string') return `the parent credential ${statement.parent} is ${chain} in this identity log`;
    const parent = chain[chain.length - 1]!.credential;
    if (statement.issuer !== chain[0]!.credential.issuer) return `credential ${statement.id} names issuer ${statement.issuer}, not its chain's (${chain[0]!.credential.issuer})`;
    if (revokedIn(log, chain.map((l) => l.credential)) !== null) return `the parent chain of ${statement.id} is revoked`;
    if (!await signedBy(statement, parent.key)) return `credential ${statement.id} is not signed by its parent's key`;
    // Narrowing, depth and lifetime as a verifier will check them, under this issuer's own grant.
    if (issuer === null || issuer.id !== statement.issuer) return null;
    const found = await chainFindings([...chain.map((l) => l.credential), statement], issuer);
    if (chain.length + 1 > issuer.maxDepth + 1) found.push(error('ERR_CREDENTIAL_WIDENED', `a chain of ${chain.length + 1} credentials under issuer ${issuer.id}, which allows ${issuer.maxDepth} delegation(s)`));
    return widened(found);
  }
  const chain = log.index.chain(statement.credential);
  if (typeof chain === 'string') return `credential ${statement.credential} is ${chain} in this identity log`;
  const k = chain.length - 1;
  // What verifiers match a revocation by: the logged credential's id, digest and issuer.
  const target = chain[k]!.credential;
  if (statement.credentialDigest !== credentialDigest(target) || statement.issuer !== target.issuer) return `the revocation names ${statement.credential} with another digest or issuer than the logged credential's: it would revoke nothing`;
  const allowed = [...(issuer !== null && issuer.id === statement.issuer ? [issuer] : []), ...chain.slice(0, k).map((l) => l.credential.key)];
  const key = allowed.find((a) => a.keyId === statement.signerKeyId);
  return key !== undefined && await signedBy(statement, key) ? null : `the revocation of ${statement.credential} is not signed by a key allowed to revoke it`;
}

/** The first credential of `chain` a revocation in `log` names (by id and digest), or null. */
function revokedIn(log: IdentityLog, chain: Credential[]): Credential | null {
  const revoked = new Set(log.index.revocationsOf(chain.map((c) => c.id)).map((r) => `${r.revocation.credential}\n${r.revocation.credentialDigest}`));
  return chain.find((c) => revoked.has(`${c.id}\n${credentialDigest(c)}`)) ?? null;
}

/**
 * Append `statement` to `home`'s identity log (checked first: `ERR_CREDENTIAL_UNTRUSTED` for
 * one this log cannot vouch for), sign its checkpoint, send it to the witnesses; its index
 * and the witnesses' answers.
 */
export async function appendIdentity(home: string, statement: IdentityStatement): Promise<{ index: bigint; witnesses: WitnessResult[] }> {
  const log = IdentityLog.open(home, true)!;
  try {
    const problem = await appendProblem(home, log, statement);
    if (problem !== null) throw new AttestError('ERR_CREDENTIAL_UNTRUSTED', problem);
    const index = log.append(statement);
    await log.checkpoint(home, loadIdentity(home));
    const witnesses = loadWitnesses(home);
    return { index, witnesses: witnesses.length === 0 ? [] : await witnessLatest(log.db, witnesses, { timeoutMs: 10_000 }) };
  } finally {
    log.close();
  }
}

/**
 * Issue a credential in `home` (a credential issuer, or with `signerHome` the parent's key
 * for a sub-agent) valid from now, and log it. Throws `ERR_USAGE`, `ERR_CREDENTIAL_MALFORMED`,
 * the store's codes.
 */
export async function issueCredential(home: string, spec: CredentialSpec, signerHome?: string): Promise<{ credential: Credential; index: bigint; witnesses: WitnessResult[] }> {
  const issuer = loadCredentialIssuer(home);
  const parent = spec.parent ?? null;
  if (parent === null && issuer === null) throw new AttestError('ERR_USAGE', `${home} is not a credential issuer: run "mcp-attest agent issuer init"`);
  if (parent === null && signerHome !== undefined) throw new AttestError('ERR_USAGE', 'a root credential is signed by the issuer\'s key: another signer is for a sub-agent\'s (give its parent)');
  const now = Math.floor(Date.now() / 1000);
  // By default the longest the grant allows, and for a sub-agent no longer than its parent lives.
  const longest = issuer?.maxLifetimeSeconds ?? MAX_LIFETIME_SECONDS;
  const ttl = spec.ttl ?? (parent === null ? longest : Math.min(longest, parent.notAfter - now));
  if (parent !== null && spec.ttl === undefined && ttl < 1) throw new AttestError('ERR_CREDENTIAL_EXPIRED', `the parent credential ${parent.id} has expired: renew it first`);
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_LIFETIME_SECONDS) throw new AttestError('ERR_USAGE', `a lifetime is 1 to ${MAX_LIFETIME_SECONDS} seconds`);
  if (spec.allowRevokedKey !== true) {
    const revokedKey = revokedKeyUse(home, spec.key.keyId);
    if (revokedKey !== null) throw new AttestError('ERR_CREDENTIAL_REVOKED', `key ${spec.key.keyId} was named by credential ${revokedKey}, since revoked: a revoked key is not given a new credential unless asked to (--allow-revoked-key)`);
  }
  // Servers and tools not given are those it is given within: its parent's, or for a root the issuer's grant.
  const within = parent ?? issuer;
  const [servers, tools] = [spec.servers ?? within?.servers, spec.tools ?? within?.tools];
  const unsigned: Omit<Credential, 'signature'> = {
    type: CREDENTIAL_TYPE, id: `cred_${toBase64Url(crypto.getRandomValues(new Uint8Array(16)))}`, issuer: parent?.issuer ?? issuer!.id,
    ...(parent ? { parent: parent.id } : {}), subject: spec.subject, key: spec.key, notBefore: now, notAfter: now + ttl,
    ...(servers ? { servers } : {}), ...(tools ? { tools } : {}), maxDepth: spec.maxDepth ?? 0,
    ...(spec.binding ? { binding: spec.binding } : {}),
  };
  const credential = parseCredential(JSON.stringify(await sign(home, unsigned, parent, signerHome)));
  return { credential, ...await appendIdentity(home, credential) };
}

/** `fn` over `home`'s identity log read up to date (null when it has none), closed after. */
function withLog<T>(home: string, fn: (log: IdentityLog | null) => T): T {
  const log = IdentityLog.open(home, false);
  try {
    log?.refresh();
    return fn(log);
  } finally {
    log?.close();
  }
}

/** The id of a revoked credential of `home`'s identity log that names key `keyId`, or null. */
function revokedKeyUse(home: string, keyId: string): string | null {
  return withLog(home, (log) => log?.index.credentials().find((l) => l.credential.key.keyId === keyId && revokedIn(log, [l.credential]) !== null)?.credential.id ?? null);
}

/**
 * The logged chain ending at `given`, which must be logged exactly as given (a file edited
 * since names another digest: it would revoke or renew nothing logged). Throws
 * `ERR_CREDENTIAL_UNLOGGED`.
 */
function loggedChain(home: string, log: IdentityLog | null, given: Credential): Credential[] {
  const logged = log?.index.credential(given.id)?.credential;
  const chain = log?.index.chain(given.id);
  if (logged === undefined || typeof chain !== 'object' || credentialDigest(logged) !== credentialDigest(given)) {
    throw new AttestError('ERR_CREDENTIAL_UNLOGGED', `credential ${given.id} is not in ${home}'s identity log as given (edited, or issued elsewhere)`);
  }
  return chain.map((l) => l.credential);
}

/**
 * Check that `base` may be renewed from `home`'s identity log: logged there as given
 * ({@link loggedChain}), and neither it nor any credential above it revoked. Throws
 * `ERR_CREDENTIAL_UNLOGGED`, `ERR_CREDENTIAL_REVOKED`.
 */
function checkRenewable(home: string, base: Credential): void {
  withLog(home, (log) => {
    const revoked = revokedIn(log!, loggedChain(home, log, base));
    if (revoked !== null) throw new AttestError('ERR_CREDENTIAL_REVOKED', `credential ${revoked.id}${revoked.id === base.id ? '' : `, above ${base.id},`} is revoked: it is not renewed`);
  });
}

/**
 * A new credential like `base` (same subject, key, scope, depth, binding, parent; the same
 * lifetime unless `ttl`, a sub-agent's cut to end with its parent), a new id and window from now. `base` must be logged in `home`'s
 * identity log as given and unrevoked ({@link checkRenewable}); `parent` is needed for a sub-agent's.
 */
export async function renewCredential(home: string, base: Credential, o: { ttl?: number; parent?: Credential; signerHome?: string } = {}): ReturnType<typeof issueCredential> {
  if (base.parent !== undefined && o.parent?.id !== base.parent) throw new AttestError('ERR_USAGE', `credential ${base.id} is a sub-agent's: give its parent credential (${base.parent}) and the data directory holding its key`);
  checkRenewable(home, base);
  // A sub-agent's ends no later than its parent, as when it was issued (its old lifetime may reach past it now).
  const left = o.parent === undefined ? Infinity : o.parent.notAfter - Math.floor(Date.now() / 1000);
  if (o.ttl === undefined && left < 1) throw new AttestError('ERR_CREDENTIAL_EXPIRED', `the parent credential ${o.parent!.id} has expired: renew it first`);
  return issueCredential(home, {
    subject: base.subject, key: base.key, ttl: o.ttl ?? Math.min(base.notAfter - base.notBefore, left), maxDepth: base.maxDepth,
    ...(base.servers ? { servers: base.servers } : {}), ...(base.tools ? { tools: base.tools } : {}), ...(base.binding ? { binding: base.binding } : {}), ...(o.parent ? { parent: o.parent } : {}),
  }, o.signerHome);
}

/**
 * Revoke `given` (which must be the credential logged under its id) in `home`'s identity log, signed by `home`'s credential issuer key or by
 * `signerHome`'s issuer key (a parent credential's). Returns the revocation, its index and
 * `sameKey`: the ids of the other logged credentials naming the same key, unrevoked and not
 * expired (renewals, or issued again), which stay valid. Throws `ERR_USAGE`,
 * `ERR_CREDENTIAL_UNLOGGED`, `ERR_CREDENTIAL_REVOKED` (revoked already: a second revocation
 * adds nothing).
 */
export async function revokeCredential(home: string, given: Credential, reason?: string, signerHome?: string): Promise<{ revocation: Revocation; index: bigint; sameKey: string[] }> {
  const now = Math.floor(Date.now() / 1000);
  const { credential, sameKey } = withLog(home, (log) => {
    const c = loggedChain(home, log, given).at(-1)!;
    if (revokedIn(log!, [c]) !== null) throw new AttestError('ERR_CREDENTIAL_REVOKED', `credential ${c.id} is revoked already`);
    // A revocation often means the key leaked: the other live credentials naming it stay valid.
    const live = (o: Credential): boolean => {
      const chain = log!.index.chain(o.id);
      return typeof chain !== 'string' && revokedIn(log!, chain.map((l) => l.credential)) === null;
    };
    const others = log!.index.credentials().map((l) => l.credential).filter((o) => o.id !== c.id && o.key.keyId === c.key.keyId && o.notAfter >= now && live(o));
    return { credential: c, sameKey: others.map((o) => o.id) };
  });
  const signerKeyId = signerHome !== undefined ? loadIdentity(signerHome).issuer.keyId : loadCredentialIssuer(home)?.keyId;
  if (signerKeyId === undefined) throw new AttestError('ERR_USAGE', `${home} is not a credential issuer: give the data directory of a parent credential's key`);
  const unsigned = { type: REVOCATION_TYPE, credential: credential.id, credentialDigest: credentialDigest(credential), issuer: credential.issuer, signerKeyId, ...(reason ? { reason } : {}) };
  const revocation = parseRevocation(JSON.stringify(await sign(home, unsigned, null, signerHome)));
  return { revocation, index: (await appendIdentity(home, revocation)).index, sameKey };
}
