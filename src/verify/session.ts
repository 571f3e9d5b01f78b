/**
 * Verification of one receipt session from its statements (docs/session.md, "Verification"):
 * the agent's signature on every statement it signs, under a key of the trust policy; the
 * action chain from the genesis derived from the session id; the seal against the actions
 * presented (count, ordered digest, start, first and last log index, policy digest); the
 * captured calls the actions name; the policy binding; and each approval and confirmation
 * (bound to an action digest or the seal, signed by a party of that role in the trust
 * policy, never with the agent's key). Fail closed: anything missing, added, reordered,
 * altered or badly signed is an error finding of its dimension. Pure: no I/O, no clock.
 */
import { verifyHexSignature, signingInput, type KeyResolver } from '../envelope/signature.js';
import type { CanonicalMemo } from '../jcs/index.js';
import { importPublicJwk, jwkThumbprint } from '../keys/material.js';
import type { AlgName } from '../keys/algorithms.js';
import {
  actionsDigest, sessionGenesis, statementDigest,
  type ActionStatement, type PartyStatement, type SealStatement, type StartStatement, type Statement,
} from '../receipt/session.js';
import { error, notice, type Finding } from './findings.js';
import type { PartyRole, TrustPolicy } from './policy.js';

/**
 * The verdict on a statement's signature under the key its own signer names
 * ({@link signatureVerdict}): `valid`, `invalid`, or `no-key` (the trust policy gives none).
 */
export type SignatureVerdict = 'valid' | 'invalid' | 'no-key';

/**
 * A session statement with the log index of its entry (null: an attachment not yet logged);
 * when its JCS text was at hand, its `statementDigest` (`digest`); and, when it was checked
 * beforehand under the same trust policy and key resolver (a log's entry facts, in worker
 * threads: verify/entry-facts.ts), its {@link SignatureVerdict} (`signed`).
 */
export interface SessionEntry { index: bigint | null; statement: Statement; digest?: string; signed?: SignatureVerdict }

/** The statement's digest (receipt/session.ts `statementDigest`), computed unless given. */
function digestOf(e: SessionEntry): string {
  return e.digest ?? statementDigest(e.statement);
}

/**
 * What an action's captured call resolves to in the same receipt, by log index: the record's
 * kind and envelope digest, the tool (attestations) and the attestation index it answers (receipts).
 */
export type CallLookup = (index: string) => { kind: 'attestation' | 'receipt'; digest: string; tool: string | null; answers: string | null } | null;

/** The outcome of one dimension: `pass`, `fail`, or `none` (nothing to check) / `unchecked` (no input to check it against). */
export type DimensionStatus = 'pass' | 'fail' | 'none' | 'unchecked';

/** One approval or confirmation as verified. */
export interface PartyResult {
  kind: 'approval' | 'confirmation';
  party: string;
  /** The action number it is bound to, or `seal`. */
  target: number | 'seal';
  decision: string;
  /** `verified`: signed by a trusted party key; `declared`: the agent's own record; `failed`: see `code`. */
  status: 'verified' | 'declared' | 'failed';
  /** Log index of its entry, or null for an attachment not (yet) logged. */
  index: string | null;
  code?: string;
}

/** The verdict on one session's statements. */
export interface SessionResult {
  sessionId: string;
  task: string | null;
  delegator: string | null;
  policyDigest: string | null;
  agent: { id: string; alg: AlgName; keyId: string } | null;
  actions: Array<{ seq: number; index: string; name: string; digest: string; evidence: string | null; call: string | null }>;
  seal: { index: string; digest: string } | null;
  agentSignature: DimensionStatus;
  sealCompleteness: DimensionStatus;
  policyBinding: DimensionStatus;
  parties: PartyResult[];
  findings: { agentSignature: Finding[]; seal: Finding[]; policy: Finding[]; parties: Finding[] };
}

/** Options of {@link checkSession}. */
export interface SessionCheckOptions {
  /** Digest of the policy document the verifier was given (`sha256:<hex>` of its bytes). */
  policyDocDigest?: string;
  /** Resolves the records of captured calls (absent: calls are not checked). */
  calls?: CallLookup;
  /**
   * `receipt` (default): the session is presented as complete. `log`: a session inside a whole
   * log; an open session is a `NOTE_SESSION_OPEN` notice, a party the policy does not list a
   * `NOTE_PARTY_UNCHECKED` notice, and the policy binding is not checked.
   */
  context?: 'receipt' | 'log';
}

/** In a whole log, an open session or an unknown party is a notice: the log is still intact. */
function relaxForLog(f: Finding[]): Finding[] {
  return f.map((x) => (x.code === 'ERR_SESSION_UNSEALED' ? notice('NOTE_SESSION_OPEN', x.message)
    : x.code === 'ERR_PARTY_UNTRUSTED' ? { ...notice('NOTE_PARTY_UNCHECKED', x.message), ...(x.index !== undefined ? { index: x.index } : {}) } : x));
}

const idx = (i: bigint | null): bigint | undefined => i ?? undefined;

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

/** Verify one agent-signed statement: the session's signer, an accepted algorithm, a trusted key, a good signature. */
async function checkAgentSignature(e: SessionEntry, agent: StartStatement['signer'], policy: TrustPolicy, keys: KeyResolver, out: Finding[]): Promise<boolean> {
  const s = e.statement;
  if (s.signer.id !== agent.id || s.signer.keyId !== agent.keyId || s.signer.alg !== agent.alg) {
    out.push(error('ERR_SESSION_SIGNER', `${s.kind} statement signed by another key than the session's agent`, { index: idx(e.index), expected: agent, found: s.signer }));
    return false;
  }
  if (!policy.acceptedAlgorithms.includes(s.signer.alg)) {
    out.push(error('ERR_ALG_NOT_ALLOWED', `${s.kind} statement: algorithm ${s.signer.alg} is not accepted by the trust policy`, { index: idx(e.index) }));
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

/** The action chain: seq 1..n in log order, each `prev` the digest of the one before (genesis first). */
function checkChain(sessionId: string, actions: Array<{ e: SessionEntry; s: ActionStatement; digest: string }>, out: Finding[]): void {
  let prev = sessionGenesis(sessionId);
  actions.forEach(({ e, s, digest }, i) => {
    if (s.seq !== i + 1) out.push(error('ERR_SESSION_CHAIN_BROKEN', `action ${s.seq} is at position ${i + 1}: an action is missing, added or reordered`, { index: idx(e.index), expected: i + 1, found: s.seq }));
    else if (s.prev !== prev) out.push(error('ERR_SESSION_CHAIN_BROKEN', `action ${s.seq} does not link to ${i === 0 ? 'the genesis' : `action ${i}`}`, { index: idx(e.index), expected: prev, found: s.prev }));
    prev = digest;
  });
}

/** The seal against what is presented: actions, start, indexes, policy, and the parties logged before it. */
function checkSeal(start: SessionEntry & { statement: StartStatement }, seal: SessionEntry & { statement: SealStatement }, actions: Array<{ e: SessionEntry; digest: string }>, parties: SessionEntry[], out: Finding[]): void {
  const s = seal.statement;
  const at = idx(seal.index);
  if (s.actionCount === 0) out.push(error('ERR_SESSION_EMPTY', 'the seal covers no action: an empty session is never complete', { index: at }));
  const mismatch = (what: string, expected: unknown, found: unknown): void => {
    out.push(error('ERR_SESSION_INCOMPLETE', `the seal's ${what} differs from the session presented`, { index: at, expected, found }));
  };
  if (s.actionCount !== actions.length) mismatch('action count', s.actionCount, actions.length);
  const digest = actionsDigest(actions.map((a) => a.digest));
  if (s.actionsDigest !== digest) mismatch('ordered action digest', s.actionsDigest, digest);
  const startDigest = digestOf(start);
  if (s.startDigest !== startDigest) mismatch('start digest', s.startDigest, startDigest);
  if (s.firstIndex !== String(start.index)) mismatch('first log index', s.firstIndex, String(start.index));
  const last = actions.length > 0 ? String(actions[actions.length - 1]!.e.index) : null;
  if (s.lastIndex !== last) mismatch('last log index', s.lastIndex, last);
  if ((s.policyDigest ?? null) !== (start.statement.policyDigest ?? null)) mismatch('policy digest', start.statement.policyDigest ?? null, s.policyDigest ?? null);
  const before = parties.filter((p) => p.index! < seal.index!).map(digestOf);
  if (s.partyCount !== before.length) mismatch('count of approvals and confirmations', s.partyCount, before.length);
  else if (s.partiesDigest !== actionsDigest(before)) mismatch('digest of approvals and confirmations', s.partiesDigest, actionsDigest(before));
  for (const a of actions) {
    if (a.e.index !== null && seal.index !== null && a.e.index > seal.index) out.push(error('ERR_SESSION_INCOMPLETE', 'an action logged after the seal', { index: idx(a.e.index) }));
  }
}

/** Each captured call an action names must be in the receipt with the digests the action signs. */
function checkCalls(actions: Array<{ e: SessionEntry; s: ActionStatement }>, calls: CallLookup, out: Finding[]): void {
  for (const { e, s } of actions) {
    const c = s.call;
    if (!c) continue;
    const att = calls(c.attestationIndex);
    const rcp = calls(c.receiptIndex);
    if (att?.kind !== 'attestation' || att.digest !== c.attestationDigest || att.tool !== c.tool) {
      out.push(error('ERR_SESSION_CALL_MISSING', `action ${s.seq}: the attestation of its call (entry ${c.attestationIndex}) is not in the receipt as signed`, { index: idx(e.index), expected: c.attestationDigest, found: att?.digest ?? null }));
    }
    if (rcp?.kind !== 'receipt' || rcp.digest !== c.receiptDigest || rcp.answers !== c.attestationIndex) {
      out.push(error('ERR_SESSION_CALL_MISSING', `action ${s.seq}: the receipt of its call (entry ${c.receiptIndex}) is not in the receipt as signed`, { index: idx(e.index), expected: c.receiptDigest, found: rcp?.digest ?? null }));
    }
  }
}

/** Policy binding: the session's policy digest against the document the verifier holds. */
function checkPolicy(start: StartStatement | null, given: string | undefined, out: Finding[]): DimensionStatus {
  const bound = start?.policyDigest;
  if (bound === undefined && given === undefined) return 'none';
  if (given === undefined) {
    out.push(notice('NOTE_POLICY_UNCHECKED', `the session is bound to policy document ${bound}; give it to the verifier to check the binding`));
    return 'unchecked';
  }
  if (bound !== given) {
    out.push(error('ERR_POLICY_DOC_MISMATCH', bound === undefined ? 'the session is bound to no policy document' : 'the policy document given is not the one the session is bound to', { expected: bound ?? null, found: given }));
    return 'fail';
  }
  return 'pass';
}

const ROLE: Record<PartyStatement['kind'], PartyRole> = { approval: 'approver', confirmation: 'counterparty' };

/** Resolve a party key from the trust policy: same id, algorithm, key id, and the role. */
async function partyKey(policy: TrustPolicy, s: PartyStatement): Promise<CryptoKey | null> {
  const p = policy.parties.find((x) => x.id === s.signer.id && x.alg === s.signer.alg && x.keyId === s.signer.keyId && x.roles.includes(ROLE[s.kind]));
  return p ? importPublicJwk(p.alg, p.publicKeyJwk).catch(() => null) : null;
}

interface PartyContext {
  agent: StartStatement['signer'];
  actions: Map<number, string>;
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
async function checkParty(e: SessionEntry & { statement: PartyStatement }, ctx: PartyContext, out: Finding[]): Promise<PartyResult> {
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
  if (s.signer.id !== s.party) return failWith('ERR_PARTY_UNTRUSTED', 'the signer is not the party it names', { expected: s.party, found: s.signer.id });
  if (!ctx.policy.acceptedAlgorithms.includes(s.signer.alg)) return failWith('ERR_ALG_NOT_ALLOWED', `algorithm ${s.signer.alg} is not accepted by the trust policy`);
  const verdict = e.signed ?? (await signatureVerdict(s, ctx.policy, ctx.keys));
  if (verdict === 'no-key') return failWith('ERR_PARTY_UNTRUSTED', `the trust policy lists no ${ROLE[s.kind]} ${s.signer.id} with key ${s.signer.keyId}`);
  if (verdict === 'invalid') return failWith('ERR_SIGNATURE_INVALID', 'the signature does not verify');
  return { ...r, status: 'verified' };
}

/** Split the statements of a session by kind (log order); duplicates of start or seal are findings. */
function sortOut(entries: SessionEntry[], out: Finding[]) {
  const starts = entries.filter((e): e is SessionEntry & { statement: StartStatement } => e.statement.kind === 'start');
  const seals = entries.filter((e): e is SessionEntry & { statement: SealStatement } => e.statement.kind === 'seal');
  const actions = entries.filter((e): e is SessionEntry & { statement: ActionStatement } => e.statement.kind === 'action').map((e) => ({ e, s: e.statement, digest: digestOf(e) }));
  const parties = entries.filter((e): e is SessionEntry & { statement: PartyStatement } => e.statement.kind === 'approval' || e.statement.kind === 'confirmation');
  if (starts.length > 1) out.push(error('ERR_SESSION_CHAIN_BROKEN', 'the session is started twice', { index: idx(starts[1]!.index) }));
  if (seals.length > 1) out.push(error('ERR_SESSION_CHAIN_BROKEN', 'the session is sealed twice', { index: idx(seals[1]!.index) }));
  return { start: starts[0] ?? null, seal: seals[0] ?? null, actions, parties };
}

/**
 * Verify one session. `entries` are its logged statements in log order (then attachments,
 * `index` null); every statement must carry `sessionId`. Never throws for anything in the
 * statements.
 */
export async function checkSession(sessionId: string, entries: SessionEntry[], policy: TrustPolicy, keys: KeyResolver, o: SessionCheckOptions = {}): Promise<SessionResult> {
  const f = { agentSignature: [] as Finding[], seal: [] as Finding[], policy: [] as Finding[], parties: [] as Finding[] };
  const { start, seal, actions, parties } = sortOut(entries.filter((e) => e.index !== null), f.seal);
  const attachments = entries.filter((e): e is SessionEntry & { statement: PartyStatement } => e.index === null && (e.statement.kind === 'approval' || e.statement.kind === 'confirmation'));
  const agent = start?.statement.signer ?? null;
  if (!start) f.seal.push(error('ERR_SESSION_INCOMPLETE', 'the session\'s start is missing: the head of the session is cut off'));
  else {
    if (start.statement.genesis !== sessionGenesis(sessionId)) f.seal.push(error('ERR_SESSION_CHAIN_BROKEN', 'the genesis is not derived from the session id', { index: idx(start.index), expected: sessionGenesis(sessionId), found: start.statement.genesis }));
    for (const e of entries) if (e.index !== null && e.index < start.index!) f.seal.push(error('ERR_SESSION_CHAIN_BROKEN', 'a statement logged before the session\'s start', { index: e.index }));
    for (const e of [start, ...actions.map((a) => a.e), ...(seal ? [seal] : [])]) await checkAgentSignature(e, start.statement.signer, policy, keys, f.agentSignature);
  }
  checkChain(sessionId, actions, f.seal);
  if (!seal) f.seal.push(error('ERR_SESSION_UNSEALED', 'the session is not sealed: its receipt is not complete'));
  else if (start) checkSeal(start, seal, actions.map((a) => ({ e: a.e, digest: a.digest })), parties, f.seal);
  if (o.calls) checkCalls(actions, o.calls, f.seal);
  const inLog = o.context === 'log';
  const policyBinding = inLog ? 'unchecked' : checkPolicy(start?.statement ?? null, o.policyDocDigest, f.policy);
  const results: PartyResult[] = [];
  if (agent) {
    const ctx: PartyContext = { agent, actions: new Map(actions.map((a) => [a.s.seq, a.digest])), sealDigest: seal ? digestOf(seal) : null, policy, keys };
    for (const p of [...parties, ...attachments]) results.push(await checkParty(p, ctx, f.parties));
  }
  if (inLog) {
    f.seal = relaxForLog(f.seal);
    f.parties = relaxForLog(f.parties);
  }
  const status = (list: Finding[]): DimensionStatus => (list.some((x) => x.severity === 'error') ? 'fail' : 'pass');
  return {
    sessionId, task: start?.statement.task ?? null, delegator: start?.statement.delegator ?? null, policyDigest: start?.statement.policyDigest ?? null,
    agent: agent && { id: agent.id, alg: agent.alg, keyId: agent.keyId },
    actions: actions.map((a) => ({ seq: a.s.seq, index: String(a.e.index), name: a.s.name, digest: a.digest, evidence: a.s.evidence ?? null, call: a.s.call?.tool ?? null })),
    seal: seal && { index: String(seal.index), digest: digestOf(seal) },
    agentSignature: start ? status(f.agentSignature) : 'fail', sealCompleteness: status(f.seal), policyBinding, parties: results, findings: f,
  };
}
