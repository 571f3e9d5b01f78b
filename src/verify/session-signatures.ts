/**
 * The signatures of a receipt session's statements (docs/session.md, "Verification"): the
 * agent's on each statement it signs, under a key of the trust policy, and each approval's
 * or confirmation's, bound to an action or the seal and signed by a party of that role in
 * the trust policy, never with the agent's key. A statement's verdict may come with it,
 * checked beforehand under the same policy and keys (verify/entry-facts.ts, in worker
 * threads), or is checked here. Used by verify/session.ts.
 */
import { verifyHexSignature, signingInput, type KeyResolver } from '../envelope/signature.js';
import type { CanonicalMemo } from '../jcs/index.js';
import { importPublicJwk, jwkThumbprint } from '../keys/material.js';
import type { PartyStatement, StartStatement, Statement } from '../receipt/session.js';
import { error, notice, type Finding } from './findings.js';
import type { PartyRole, TrustPolicy } from './policy.js';
import type { KnownEntry, PartyResult, SignatureVerdict } from './session.js';

/** `index` for a finding: a logged statement's, none for an attachment. */
export const idx = (i: bigint | null): bigint | undefined => i ?? undefined;

/**
 * The verdict on `s`'s signature under the key its own signer names, as {@link checkSession}
 * checks it once the signer and algorithm pass: on the agent's path (a start, action or seal,
 * or a declared approval or confirmation) the key `keys` resolves for the signer's id,
 * algorithm and key id; on a party's path (any other approval or confirmation) the trust
 * policy's party of that id, algorithm, key id and role. Low-S ES256 only. `memo`: texts of the
 * statement kept by the strict parser (src/jcs/parse.ts), which can only save work.
 */
export async function signatureVerdict(s: Statement, policy: TrustPolicy, keys: KeyResolver, memo?: CanonicalMemo): Promise<SignatureVerdict> {
  const key = (s.kind === 'approval' || s.kind === 'confirmation') && !s.declared ? await partyKey(policy, s) : await keys({ iss: s.signer.id, alg: s.signer.alg, keyId: s.signer.keyId });
  if (!key) return 'no-key';
  return (await verifyHexSignature(s.signer.alg, key, signingInput(s as unknown as Record<string, unknown>, memo), s.signature, { requireLowS: true })) ? 'valid' : 'invalid';
}

/**
 * Verify one agent-signed statement: the session's signer, an accepted public-key algorithm
 * (never HS256: `ERR_ALG_NOT_ALLOWED`), a trusted key, a good signature (its verdict as
 * given, else checked here). Findings go to `out`.
 */
export async function checkAgentSignature(e: KnownEntry, agent: StartStatement['signer'], policy: TrustPolicy, keys: KeyResolver, out: Finding[]): Promise<boolean> {
  const s = e.statement;
  if (s.signer.id !== agent.id || s.signer.keyId !== agent.keyId || s.signer.alg !== agent.alg) {
    out.push(error('ERR_SESSION_SIGNER', `${s.kind} statement signed by another key than the session's agent`, { index: idx(e.index), expected: agent, found: s.signer }));
    return false;
  }
  if (!policy.acceptedAlgorithms.includes(s.signer.alg)) {
    out.push(error('ERR_ALG_NOT_ALLOWED', `${s.kind} statement: algorithm ${s.signer.alg} is not accepted by the trust policy`, { index: idx(e.index) }));
    return false;
  }
  // A shared secret proves nothing to anyone who holds it: the session store never signs with one (docs/session.md).
  if (s.signer.alg === 'HS256') {
    out.push(error('ERR_ALG_NOT_ALLOWED', `${s.kind} statement: signed with an HS256 secret, which every verifier holding it could forge; receipt sessions need a public-key agent key`, { index: idx(e.index) }));
    return false;
  }
  const verdict = e.signed ?? (await signatureVerdict(s, policy, keys));
  if (verdict === 'no-key') {
    out.push(error('ERR_KEY_UNAVAILABLE', `${s.kind} statement: the trust policy has no key ${s.signer.keyId} for ${s.signer.id}`, { index: idx(e.index) }));
    return false;
  }
  if (verdict === 'invalid') {
    out.push(error('ERR_SIGNATURE_INVALID', `${s.kind} statement: the agent's signature does not verify`, { index: idx(e.index) }));
    return false;
  }
  return true;
}

const ROLE: Record<PartyStatement['kind'], PartyRole> = { approval: 'approver', confirmation: 'counterparty' };

/** Each party entry's key as imported, with the algorithm and JWK (JSON) it was imported from: an entry changed since is imported again. */
const imported = new WeakMap<object, { alg: string; jwk: string; key: Promise<CryptoKey | null> }>();

/** Resolve a party key from the trust policy: same id, algorithm, key id, and the role. */
function partyKey(policy: TrustPolicy, s: PartyStatement): Promise<CryptoKey | null> {
  const p = policy.parties.find((x) => x.id === s.signer.id && x.alg === s.signer.alg && x.keyId === s.signer.keyId && x.roles.includes(ROLE[s.kind]));
  if (!p) return Promise.resolve(null);
  const jwk = JSON.stringify(p.publicKeyJwk);
  let made = imported.get(p);
  if (made === undefined || made.alg !== p.alg || made.jwk !== jwk) imported.set(p, (made = { alg: p.alg, jwk, key: importPublicJwk(p.alg, p.publicKeyJwk).catch(() => null) }));
  return made.key;
}

/** What an approval or confirmation is checked against: the session's agent, its actions' digests by number, its seal's digest. */
export interface PartyContext {
  agent: StartStatement['signer'];
  actions: { get(seq: number): string | undefined };
  sealDigest: string | null;
  policy: TrustPolicy;
  keys: KeyResolver;
}

/**
 * The RFC 7638 thumbprint of the agent's key as the trust policy lists it (null for HS256 or
 * unlisted): a party key id is that thumbprint, so equal means the same key, whatever key id
 * the issuer entry uses.
 */
function agentThumbprint(ctx: PartyContext): string | null {
  const i = ctx.policy.issuers.find((x) => x.iss === ctx.agent.id && x.alg === ctx.agent.alg && x.keyId === ctx.agent.keyId);
  try {
    return i?.publicKeyJwk ? jwkThumbprint(i.publicKeyJwk) : null;
  } catch {
    return null;
  }
}

/** One approval or confirmation: target, then signer and signature. Findings go to `out`. */
export async function checkParty(e: KnownEntry & { statement: PartyStatement }, ctx: PartyContext, out: Finding[]): Promise<PartyResult> {
  const s = e.statement;
  const t = s.target;
  const r: PartyResult = { kind: s.kind, party: s.party, target: 'seq' in t ? t.seq : 'seal', decision: s.decision, status: 'failed', index: e.index === null ? null : String(e.index) };
  const failWith = (code: Finding['code'], message: string, detail: { expected?: unknown; found?: unknown } = {}): PartyResult => {
    out.push(error(code, `${s.kind} by ${s.party}: ${message}`, { index: idx(e.index), ...detail }));
    return { ...r, code };
  };
  const bound = 'seq' in t ? ctx.actions.get(t.seq) : ctx.sealDigest;
  const claimed = 'seq' in t ? t.actionDigest : t.sealDigest;
  if (bound !== claimed) return failWith('ERR_APPROVAL_TARGET', `bound to a digest that is not ${'seq' in t ? `action ${t.seq}` : 'the seal'} of this session`, { expected: bound ?? null, found: claimed });
  if (s.declared) {
    const ok = await checkAgentSignature(e, ctx.agent, ctx.policy, ctx.keys, out);
    return ok ? { ...r, status: 'declared' } : { ...r, code: out[out.length - 1]!.code };
  }
  if (s.signer.keyId === ctx.agent.keyId || s.signer.keyId === agentThumbprint(ctx)) return failWith('ERR_APPROVER_IS_AGENT', 'signed with the agent\'s own key');
  // Once logged, a statement no party of this policy signed proves nothing, and the log keeps it
  // for good: it is not counted, and said so, rather than failing every later verification
  // (a verifier trusting other parties, a garbled statement the agent logged). An attachment
  // not logged still fails: it can be left out of the receipt.
  const unproven = e.index === null ? failWith : (code: Finding['code'], message: string): PartyResult => {
    out.push(notice('NOTE_PARTY_IGNORED', `${s.kind} by ${s.party} logged at entry ${e.index} proves nothing under this trust policy (${code}: ${message}): not counted`, idx(e.index)));
    return { ...r, status: 'ignored', code };
  };
  if (s.signer.id !== s.party) return unproven('ERR_PARTY_UNTRUSTED', 'the signer is not the party it names');
  if (!ctx.policy.acceptedAlgorithms.includes(s.signer.alg)) return unproven('ERR_ALG_NOT_ALLOWED', `algorithm ${s.signer.alg} is not accepted by the trust policy`);
  const verdict = e.signed ?? (await signatureVerdict(s, ctx.policy, ctx.keys));
  if (verdict === 'no-key') return unproven('ERR_PARTY_UNTRUSTED', `the trust policy lists no ${ROLE[s.kind]} ${s.signer.id} with key ${s.signer.keyId}`);
  if (verdict === 'invalid') return unproven('ERR_SIGNATURE_INVALID', 'the signature does not verify');
  return { ...r, status: 'verified' };
}

