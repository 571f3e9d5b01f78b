/**
 * The gatekeeper's side of agent credentials (docs/identity.md "Enforcement"): an attestation
 * whose `issuerAsserted.iss` is a credential id (`cred_…`) names the credential it is made
 * under. Its key is the credential's `key`, found in the identity log the gatekeeper reads
 * (never in the attestation), and the call is decided by {@link decideCall} against the log
 * as it stands: the chain logged, no revocation of any link logged, within every window and
 * scope. What it was decided against (the chain's ids and indices, the identity log's size)
 * is recorded with the decision, so a verifier makes the same decision offline.
 */
import { parseTimestamp } from '../envelope/time.js';
import type { KeyResolver } from '../envelope/signature.js';
import type { ErrorCode } from '../errors.js';
import type { Attestation } from '../attestation/schema.js';
import { CREDENTIAL_ID, credentialCryptoKey } from './credential.js';
import type { CallerBinding } from '../gate/gate.js';
import { bindingProblem, decideCall, type DecisionPolicy } from './decide.js';
import type { IdentityIndex } from './entries.js';

/** Where the gatekeeper reads the identity log: refreshed before each use. */
export interface IdentitySource {
  /** Read what was appended since the last call; returns the size now known. */
  refresh(): bigint;
  readonly index: IdentityIndex;
}

/** What a credential call was decided against, as recorded with the decision (decimal strings: indices never lose precision). */
export interface CredentialFacts {
  /** The chain, root first: each credential's id and identity-log index. */
  chain: Array<{ id: string; index: string }>;
  /** The identity log's size the call was checked against. */
  identitySize: string;
}

/** True when `iss` names a credential (and credentials are in use: the policy lists credential issuers). */
export function namesCredential(iss: unknown, policy: DecisionPolicy): iss is string {
  return typeof iss === 'string' && CREDENTIAL_ID.test(iss) && (policy.credentialIssuers?.length ?? 0) > 0;
}

/**
 * `keys` refusing every credential id: a credential's key signs the calls made under it, and
 * nothing else (no receipt, no session statement) may borrow it, unchecked by the identity
 * decision, as if its id were an issuer's.
 */
export function withoutCredentialKeys(keys: KeyResolver, policy: DecisionPolicy): KeyResolver {
  return (q) => (namesCredential(q.iss, policy) ? Promise.resolve(null) : keys(q));
}

/**
 * A key resolver resolving a credential id to its logged credential's key (of the algorithm
 * asked for), and anything else through `base`. Never throws; null when not logged exactly once.
 */
export function credentialKeys(source: IdentitySource | null, policy: DecisionPolicy, base: KeyResolver): KeyResolver {
  return async (q) => {
    if (!namesCredential(q.iss, policy)) return base(q);
    if (source === null) return null;
    source.refresh();
    const c = source.index.credential(q.iss)?.credential;
    return c !== undefined && c.key.alg === q.alg ? credentialCryptoKey(c.key).catch(() => null) : null;
  };
}

/** The outcome of {@link checkCredentialCall}: allowed with the facts to record, or the refusal's code. */
export type CredentialCheck = { ok: true; facts: CredentialFacts } | { ok: false; code: ErrorCode; message: string; facts: CredentialFacts | null };

/**
 * Decide a verified attestation made under a credential (its `iss`) for `tool` at `server`,
 * at `now` (POSIX seconds), against the identity log as it stands. The call is being made
 * now, so `now` stands for its witnessing time; its time is the attestation's `iat`.
 * Codes: `ERR_CREDENTIAL_UNLOGGED` (not logged, or logged twice), those of {@link decideCall},
 * and `ERR_CREDENTIAL_KEY` when the caller's token does not go with the credential
 * ({@link bindingProblem}).
 */
export async function checkCredentialCall(a: Attestation, source: IdentitySource | null, policy: DecisionPolicy, call: { server: string; tool: string; now: number; caller?: CallerBinding | undefined }): Promise<CredentialCheck> {
  const { server, tool, now } = call;
  const id = a.issuerAsserted.iss;
  if (source === null) return { ok: false, code: 'ERR_CREDENTIAL_UNLOGGED', message: `credential ${id}: this gatekeeper has no identity log`, facts: null };
  const size = source.refresh();
  const chain = source.index.chain(id);
  if (typeof chain === 'string') return { ok: false, code: 'ERR_CREDENTIAL_UNLOGGED', message: `credential ${id}: its chain is ${chain === 'ambiguous' ? 'logged under a repeated id' : chain === 'cycle' ? 'too long' : 'not in the identity log'}`, facts: null };
  const facts: CredentialFacts = { chain: chain.map((l) => ({ id: l.credential.id, index: l.index.toString() })), identitySize: size.toString() };
  const d = await decideCall(chain, source.index.revocationsOf(chain.map((l) => l.credential.id)), {
    identitySize: size, time: parseTimestamp(a.issuerAsserted.iat), keyId: a.issuerAsserted.secretVersion, subject: a.issuerAsserted.sub, server, tool, witnessedAt: now,
  }, policy);
  const first = d.findings.find((f) => f.severity === 'error');
  if (first !== undefined) return { ok: false, code: first.code as ErrorCode, message: first.message, facts };
  const unbound = bindingProblem(chain[chain.length - 1]!.credential, a.issuerAsserted.secretVersion, call.caller);
  return unbound === null ? { ok: true, facts } : { ok: false, code: 'ERR_CREDENTIAL_KEY', message: unbound, facts };
}
