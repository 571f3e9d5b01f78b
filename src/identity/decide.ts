/**
 * The offline decision (docs/identity.md "The decision a verifier makes, offline"): was a
 * call made under a valid, unrevoked credential chain that allowed it? Pure of any store:
 * the chain and every revocation come with their identity-log indices, the call with the
 * identity-log size it was checked against, its time, key, server and tool, and when the
 * witness quorum cosigned a checkpoint covering it. Findings carry the codes of
 * docs/verification-codes.md. Runtime-neutral.
 */
import { showTime } from '../envelope/time.js';
import { error, notice, type Finding } from '../verify/findings.js';
import type { TrustPolicy } from '../verify/policy.js';
import { credentialDigest, signedBy, type Credential, type CredentialKey, type Revocation } from './credential.js';
import type { CredentialIssuer } from './issuers.js';
import type { CallerBinding } from '../gate/gate.js';

/** A credential and its index in the identity log. */
export interface LoggedCredential { credential: Credential; index: bigint }
/** A revocation, its index in the identity log, and when the witness quorum first cosigned an identity checkpoint covering it (POSIX seconds), when known. */
export interface LoggedRevocation { revocation: Revocation; index: bigint; witnessedAt?: number }

/** What is known of the call (times in POSIX seconds). */
export interface CallFacts {
  /** The identity log's size the call was checked against: what lies below it was known. */
  identitySize: bigint;
  /** The call's time (its attestation's `iat`). */
  time: number;
  /** The RFC 7638 thumbprint of the key the attestation is signed with. */
  keyId: string;
  /** The subject the attestation names (`issuerAsserted.sub`), when known: it must be the leaf credential's. */
  subject?: string;
  /** The server fingerprint and the tool name of the call. */
  server: string;
  tool: string;
  /** When the witness quorum first cosigned a checkpoint covering the call; null when it was not: then nothing bounds a back-dated call, and it fails. */
  witnessedAt: number | null;
  /** An agent's own record of the call, which no gatekeeper checked: `identitySize` is the whole identity log given. */
  ungated?: boolean;
}

/**
 * Why the caller's token does not go with the leaf credential of a call signed with key
 * `keyId`, or null (docs/identity.md "Interop"): a DPoP key that is not the attestation's key;
 * a credential bound to a DPoP key (`binding.jkt`) or a token (`binding.tokenDigest`) the caller
 * did not present. `caller` is what the gateway validated (absent: no token).
 */
export function bindingProblem(leaf: Credential, keyId: string, caller: CallerBinding | undefined): string | null {
  if (caller?.jkt !== undefined && caller.jkt !== keyId) return 'the DPoP key the caller proved is not the key the attestation is signed with';
  if (leaf.binding?.jkt !== undefined && caller?.jkt !== leaf.binding.jkt) return `credential ${leaf.id} is bound to DPoP key ${leaf.binding.jkt}, which the caller did not prove`;
  if (leaf.binding?.tokenDigest !== undefined && caller?.tokenDigest !== leaf.binding.tokenDigest) return `credential ${leaf.id} is bound to an access token the caller did not present`;
  return null;
}

/** What of a trust (or gate) policy the decision reads. */
export type DecisionPolicy = Pick<TrustPolicy, 'credentialIssuers' | 'acceptedAlgorithms' | 'clockSkewSeconds'>;

/** The decision: ok when no finding is an error. */
export interface CallDecision { ok: boolean; findings: Finding[] }

/** True when `pattern` (a name, or a prefix ending in `*`) allows `name` (a name, or itself a pattern). */
export function covers(pattern: string, name: string): boolean {
  return pattern === name || (pattern.endsWith('*') && name.startsWith(pattern.slice(0, -1)));
}

/** True when every entry of `child` is allowed by `parent` (absent: anything). A child without a list under a parent with one widens. */
/** The first of `child`'s entries `parent` does not cover (`'(any)'` when the child lists none: unlimited), or null when every one is. */
function outside(parent: string[] | undefined, child: string[] | undefined, exact: boolean): string | null {
  if (parent === undefined) return null;
  if (child === undefined) return '(any)';
  return child.find((c) => !parent.some((p) => (exact ? p === c : covers(p, c)))) ?? null;
}

/** Why `child` is wider than `parent` (the issuer's grant or the parent credential), or null. */
function widening(parent: { servers?: string[]; tools?: string[]; maxDepth: number }, child: Credential, lifetime: number, depthBelow: boolean): string | null {
  const server = outside(parent.servers, child.servers, true);
  if (server !== null) return `servers not within its parent's (${JSON.stringify(server.slice(0, 128))})`;
  const tool = outside(parent.tools, child.tools, false);
  if (tool !== null) return `tools not within its parent's (${JSON.stringify(tool.slice(0, 128))})`;
  if (depthBelow ? child.maxDepth >= parent.maxDepth : child.maxDepth > parent.maxDepth) return 'maxDepth not below its parent\'s';
  if (child.notAfter - child.notBefore > lifetime) return `a lifetime over ${lifetime} seconds`;
  return null;
}

/** Signatures and narrowing of the chain, root first, under `issuer`'s grant; findings appended (also used before a credential is appended to an identity log). */
export async function checkChain(chain: Credential[], issuer: CredentialIssuer, out: Finding[]): Promise<void> {
  const root = chain[0]!;
  if (root.parent !== undefined) out.push(error('ERR_CREDENTIAL_MALFORMED', `the chain starts at ${root.id}, which names a parent`));
  if (!await signedBy(root, issuer)) out.push(error('ERR_SIGNATURE_INVALID', `credential ${root.id}: not signed by issuer ${issuer.id}`));
  if (!root.subject.startsWith(issuer.subjectPrefix) || root.subject.length === issuer.subjectPrefix.length) out.push(error('ERR_CREDENTIAL_WIDENED', `credential ${root.id}: subject not a name under ${issuer.subjectPrefix}`));
  if (new Set(chain.map((c) => c.id)).size !== chain.length) out.push(error('ERR_CREDENTIAL_MALFORMED', 'the chain names one credential id twice'));
  const rootWide = widening(issuer, root, issuer.maxLifetimeSeconds, false);
  if (rootWide) out.push(error('ERR_CREDENTIAL_WIDENED', `credential ${root.id}: ${rootWide.replace('its parent\'s', `issuer ${issuer.id}'s grant`)}`));
  for (let k = 1; k < chain.length; k++) {
    const [p, c] = [chain[k - 1]!, chain[k]!];
    if (c.parent !== p.id || c.issuer !== root.issuer) out.push(error('ERR_CREDENTIAL_MALFORMED', `credential ${c.id} does not name ${p.id} as its parent under ${root.issuer}`));
    if (!await signedBy(c, p.key)) out.push(error('ERR_SIGNATURE_INVALID', `credential ${c.id}: not signed by its parent's key`));
    const why = !c.subject.startsWith(`${p.subject}/`) ? 'subject not under its parent\'s'
      : c.notBefore < p.notBefore || c.notAfter > p.notAfter ? 'window not within its parent\'s'
      : widening(p, c, issuer.maxLifetimeSeconds, true);
    if (why) out.push(error('ERR_CREDENTIAL_WIDENED', `credential ${c.id}: ${why}`));
  }
}

/**
 * What the revocations of one chain say, whatever the call: those that revoke a credential of
 * it (naming it by id and digest, signed by a key allowed to revoke it, logged at or after it),
 * earliest first, the one of them first witnessed, and a notice for each that is ignored.
 */
export interface ChainRevocations {
  applicable: LoggedRevocation[];
  firstWitnessed: LoggedRevocation | null;
  ignored: Finding[];
}

/** The {@link ChainRevocations} of `chain` under `issuer`, from the revocations naming its credentials (any order). */
async function chainRevocations(chain: LoggedCredential[], revocations: LoggedRevocation[], issuer: CredentialIssuer): Promise<ChainRevocations> {
  const digests = chain.map((l) => credentialDigest(l.credential));
  const out: ChainRevocations = { applicable: [], firstWitnessed: null, ignored: [] };
  for (const logged of revocations) {
    const { revocation: r, index, witnessedAt } = logged;
    const k = chain.findIndex((l, i) => l.credential.id === r.credential && digests[i] === r.credentialDigest);
    if (k === -1) continue;
    if (r.issuer !== issuer.id) {
      out.ignored.push(notice('NOTE_REVOCATION_UNTRUSTED', `a revocation of ${r.credential} at identity entry ${index} names issuer ${r.issuer}, not ${issuer.id}: ignored`, index));
      continue;
    }
    // The issuer, or any credential above the revoked one, may revoke it.
    const allowed: CredentialKey[] = [issuer, ...chain.slice(0, k).map((l) => l.credential.key)];
    const key = allowed.find((a) => a.keyId === r.signerKeyId);
    if (!key || !await signedBy(r, key)) {
      out.ignored.push(notice('NOTE_REVOCATION_UNTRUSTED', `a revocation of ${r.credential} at identity entry ${index} is not signed by a key allowed to revoke it: ignored`, index));
      continue;
    }
    if (index < chain[k]!.index) continue;
    out.applicable.push(logged);
    if (witnessedAt !== undefined && !(out.firstWitnessed !== null && out.firstWitnessed.witnessedAt! <= witnessedAt)) out.firstWitnessed = logged;
  }
  out.applicable.sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : 0));
  return out;
}

/**
 * The revocation in force at the call, as one finding: the earliest applicable one below the
 * size the call was checked against, else the one first witnessed, if before the call was
 * made (a gatekeeper checking against a stale size does not save the call). One finding
 * however many revocations are in force: a call is decided in constant time, whatever a
 * hostile identity log repeats.
 */
function checkRevocations(revs: ChainRevocations, call: CallFacts, skew: number, out: Finding[]): void {
  const earliest = revs.applicable[0];
  const w = revs.firstWitnessed;
  const known = earliest !== undefined && earliest.index < call.identitySize ? earliest : null;
  const found = known ?? (w !== null && w.witnessedAt! < call.time - skew ? w : null);
  if (found === null) return;
  const { revocation: r, index, witnessedAt } = found;
  const more = revs.applicable.length > 1 ? ` (${revs.applicable.length} revocations apply to the chain)` : '';
  out.push(error('ERR_CREDENTIAL_REVOKED', `credential ${r.credential} was revoked at identity entry ${index}, ${known ? (call.ungated ? 'in the identity log given (an agent\'s own record: a revocation counts whenever it was logged; a gatekeeper\'s log shows what was known when a call was checked)' : `below the size ${call.identitySize} the call was checked against`) : `witnessed at ${showTime(witnessedAt!)}, before the call (${showTime(call.time)})`}${r.reason ? `: ${r.reason}` : ''}${more}`, { index }));
}

/** The call against the chain: logged before, within every window, the leaf's key, within every scope, witnessed in time. */
function checkCall(chain: LoggedCredential[], issuer: CredentialIssuer, call: CallFacts, skew: number, out: Finding[]): void {
  const leaf = chain[chain.length - 1]!.credential;
  for (const { credential: c, index } of chain) {
    if (index >= call.identitySize) out.push(error('ERR_CREDENTIAL_UNLOGGED', `credential ${c.id} is at identity entry ${index}, not below the size ${call.identitySize} the call was checked against: logged after its use`, { index }));
    if (call.time < c.notBefore - skew) out.push(error('ERR_CREDENTIAL_NOT_YET_VALID', `credential ${c.id} is valid from ${showTime(c.notBefore)}; the call is at ${showTime(call.time)}`));
    if (call.time > c.notAfter + skew) out.push(error('ERR_CREDENTIAL_EXPIRED', `credential ${c.id} expired at ${showTime(c.notAfter)}; the call is at ${showTime(call.time)}`));
  }
  if (call.keyId !== leaf.key.keyId) out.push(error('ERR_CREDENTIAL_KEY', `the call is signed with key ${call.keyId}, not the key of credential ${leaf.id}`, { expected: leaf.key.keyId, found: call.keyId }));
  // The record names who called: the credential's subject, not one the agent chose.
  if (call.subject !== undefined && call.subject !== leaf.subject) out.push(error('ERR_CREDENTIAL_KEY', `the call names subject ${JSON.stringify(call.subject)}, not credential ${leaf.id}'s`, { expected: leaf.subject, found: call.subject }));
  for (const scope of [issuer, ...chain.map((l) => l.credential)]) {
    if ((scope.servers && !scope.servers.includes(call.server)) || (scope.tools && !scope.tools.some((t) => covers(t, call.tool)))) {
      out.push(error('ERR_CREDENTIAL_SCOPE', `${call.tool} at ${call.server} is outside ${'subject' in scope ? `credential ${scope.id}` : `issuer ${scope.id}'s grant`}`));
      break;
    }
  }
  const end = Math.min(...chain.map((l) => l.credential.notAfter));
  if (call.witnessedAt === null) out.push(error('ERR_CREDENTIAL_LATE', 'no witnessed checkpoint covers the call: nothing bounds a back-dated call'));
  // Under a quorum of 0 the call's own time stands in for its witnessing: ERR_CREDENTIAL_EXPIRED says it already.
  else if (call.witnessedAt > end + skew && call.witnessedAt !== call.time) out.push(error('ERR_CREDENTIAL_LATE', `the call was first witnessed at ${showTime(call.witnessedAt)}, after the credentials' window ended (${showTime(end)})`));
}

/**
 * Decide a call made under `chain` (root first, each with its identity-log index), given every
 * revocation in the identity log's prefix the verifier holds (see the module comment).
 * `memo`: for a caller deciding many calls against one identity log, what each chain's
 * revocations say, computed once per chain (by its leaf) and reused; the notices of ignored
 * revocations then come with the chain's first call only.
 */
export async function decideCall(chain: LoggedCredential[], revocations: LoggedRevocation[] | (() => LoggedRevocation[]), call: CallFacts, policy: DecisionPolicy, memo?: Map<LoggedCredential, ChainRevocations>): Promise<CallDecision> {
  const findings: Finding[] = [];
  if (!Number.isFinite(call.time)) {
    findings.push(error('ERR_TIME_INVALID', 'the call has no valid time'));
    return { ok: false, findings };
  }
  const root = chain[0]?.credential;
  const issuer = root && policy.credentialIssuers?.find((i) => i.id === root.issuer);
  if (!root || !issuer) {
    findings.push(error('ERR_CREDENTIAL_UNTRUSTED', root ? `credential issuer ${root.issuer} is not in the trust policy` : 'the call names no credential'));
    return { ok: false, findings };
  }
  // Bounded before any signature is checked: no chain deeper than the issuer allows.
  if (chain.length > issuer.maxDepth + 1) {
    findings.push(error('ERR_CREDENTIAL_WIDENED', `a chain of ${chain.length} credentials under issuer ${issuer.id}, which allows ${issuer.maxDepth} delegation(s)`));
    return { ok: false, findings };
  }
  for (const alg of new Set([issuer.alg, ...chain.map((l) => l.credential.key.alg)])) {
    if (!policy.acceptedAlgorithms.includes(alg)) findings.push(error('ERR_ALG_NOT_ALLOWED', `the credential chain uses ${alg}, which the trust policy does not accept`));
  }
  await checkChain(chain.map((l) => l.credential), issuer, findings);
  const leaf = chain[chain.length - 1]!;
  let revs = memo?.get(leaf);
  if (revs === undefined) {
    revs = await chainRevocations(chain, typeof revocations === 'function' ? revocations() : revocations, issuer);
    memo?.set(leaf, revs);
    for (const f of revs.ignored) findings.push(f);
  }
  checkRevocations(revs, call, policy.clockSkewSeconds, findings);
  checkCall(chain, issuer, call, policy.clockSkewSeconds, findings);
  return { ok: !findings.some((f) => f.severity === 'error'), findings };
}
