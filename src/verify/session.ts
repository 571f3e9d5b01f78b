/**
 * Verification of one receipt session from its statements (docs/session.md, "Verification"):
 * the agent's signature on every statement it signs, under a key of the trust policy; the
 * action chain from the genesis derived from the session id; the seal against the actions
 * presented (count, ordered digest, start, first and last log index, policy digest); the
 * captured calls the actions name; the policy binding; and each approval and confirmation
 * (bound to an action digest or the seal, signed by a party of that role in the trust
 * policy, never with the agent's key: verify/session-signatures.ts). Fail closed: anything
 * missing, added, reordered, altered or badly signed is an error finding of its dimension.
 * The statements are checked as they come ({@link SessionCheck}), so a log's sessions are
 * checked as it is read. Pure: no I/O, no clock.
 */
import type { KeyResolver } from '../envelope/signature.js';
import type { AlgName } from '../keys/algorithms.js';
import {
  actionsDigest, sessionGenesis, statementDigest,
  type ActionStatement, type PartyStatement, type SealStatement, type StartStatement, type Statement,
} from '../receipt/session.js';
import { error, notice, type Finding } from './findings.js';
import type { TrustPolicy } from './policy.js';
import { checkAgentSignature, checkParty, type PartyContext } from './session-signatures.js';
import { Actions } from './session-actions.js';

/**
 * The verdict on a statement's signature under the key its own signer names
 * (session-signatures.ts `signatureVerdict`): `valid`, `invalid`, or `no-key` (the trust
 * policy gives none).
 */
export type SignatureVerdict = 'valid' | 'invalid' | 'no-key';

/** A session statement with the log index of its entry (null: an attachment not yet logged). */
export interface SessionEntry { index: bigint | null; statement: Statement }

/**
 * A session statement as a log or bundle verification hands it to {@link SessionCheck}
 * (internal: not in the public API, which checks every statement itself): with its
 * `statementDigest`, made from the JCS text its entry holds (`digest`), and the
 * {@link SignatureVerdict} its entry's facts found under the same trust policy and key
 * resolver (`signed`, verify/entry-facts.ts, in worker threads), when they did.
 */
export interface KnownEntry extends SessionEntry { digest?: string; signed?: SignatureVerdict }

/** The statement's digest (receipt/session.ts `statementDigest`, `sha256:` hex), computed unless given. */
export function digestOf(e: KnownEntry): string {
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
  /** `verified`: signed by a trusted party key; `declared`: the agent's own record; `failed`: see `code`; `ignored`: logged, but no party of the trust policy signed it (see `code`): not counted. */
  status: 'verified' | 'declared' | 'failed' | 'ignored';
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
   * log; an open session is a `NOTE_SESSION_OPEN` notice, and the policy binding is not checked
   * (a logged statement no listed party signed is a `NOTE_PARTY_IGNORED` notice in both).
   */
  context?: 'receipt' | 'log';
  /** List each action in the result (`actions`; default true). */
  actions?: boolean;
}

/** In a whole log, an open session is a notice: the log is still intact. */
function relaxForLog(f: Finding[]): Finding[] {
  return f.map((x) => (x.code === 'ERR_SESSION_UNSEALED' ? notice('NOTE_SESSION_OPEN', x.message) : x));
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

type Logged<S> = KnownEntry & { index: bigint; statement: S };

/** `list` with `more` added (made on first use: a session keeps nothing it has no finding for). */
function added<T>(list: T[] | null, more: T[]): T[] | null {
  if (more.length === 0) return list;
  if (list === null) return more;
  list.push(...more);
  return list;
}

/**
 * The check of one session, fed its statements one at a time ({@link add}: the logged ones
 * in log order, then attachments, index null) and finished once ({@link finish}): exactly
 * what {@link checkSession} reports for the same list. What it keeps of an action is its
 * digest (32 bytes), log index and number, and, while the records it names may still come,
 * its captured call; statements logged before the session's start, approvals and
 * confirmations are kept whole until they can be checked, and a start whose digest is given
 * without its signature and timestamp. Every list is made on first use. Not for concurrent
 * use: await each {@link add} before the next.
 */
export class SessionCheck {
  private start: Logged<StartStatement> | null = null;
  /** The start's genesis is not the session's. */
  private genesis: Finding | null = null;
  private seal: Logged<SealStatement> | null = null;
  /** Log indexes of the second start and the second seal, if any. */
  private secondStart: bigint | null = null;
  private secondSeal: bigint | null = null;
  /** Logged before the start came: every statement's index, and the actions (their signatures wait for the start's signer). */
  private early: { indexes: bigint[]; actions: KnownEntry[] } | null = null;
  private beforeStart: Finding[] | null = null;
  /** The agent's signature checks, in the order reported: the start's, then the actions'. */
  private startSignature: Finding[] | null = null;
  private actionSignatures: Finding[] | null = null;
  private chain: Finding[] | null = null;
  private actions: Actions | null = null;
  private parties: Array<Logged<PartyStatement>> | null = null;
  private attachments: Array<KnownEntry & { statement: PartyStatement }> | null = null;
  /** Actions whose captured call was not found as signed when they came, in order. */
  private calls: Array<{ index: bigint; s: ActionStatement }> | null = null;
  private rows: SessionResult['actions'] | null = null;

  constructor(private readonly sessionId: string, private readonly policy: TrustPolicy, private readonly keys: KeyResolver, private readonly o: SessionCheckOptions = {}) {}

  /** Check the next statement as far as it can be now. Never throws for anything in it. */
  async add(e: KnownEntry): Promise<void> {
    const s = e.statement;
    if (e.index === null) {
      if (s.kind === 'approval' || s.kind === 'confirmation') (this.attachments ??= []).push(e as KnownEntry & { statement: PartyStatement });
      return;
    }
    const start = this.start;
    if (start === null) {
      // The first start is not logged before itself.
      if (s.kind !== 'start') (this.early ??= { indexes: [], actions: [] }).indexes.push(e.index);
    }
    else if (e.index < start.index) this.beforeStart = added(this.beforeStart, [beforeStart(e.index)]);
    switch (s.kind) {
      case 'start':
        if (start === null) await this.started(e as Logged<StartStatement>);
        else this.secondStart ??= e.index;
        break;
      case 'seal':
        if (this.seal === null) this.seal = e as Logged<SealStatement>;
        else this.secondSeal ??= e.index;
        break;
      case 'action':
        await this.action(e as Logged<ActionStatement>);
        break;
      default:
        (this.parties ??= []).push(e as Logged<PartyStatement>);
    }
  }

  /** The first start: the statements before it are checked against it now. */
  private async started(e: Logged<StartStatement>): Promise<void> {
    const early = this.early;
    this.early = null;
    const out: Finding[] = [];
    await checkAgentSignature(e, e.statement.signer, this.policy, this.keys, out);
    this.startSignature = added(null, out);
    const genesis = sessionGenesis(this.sessionId);
    if (e.statement.genesis !== genesis) this.genesis = error('ERR_SESSION_CHAIN_BROKEN', 'the genesis is not derived from the session id', { index: e.index, expected: genesis, found: e.statement.genesis });
    this.start = e.digest === undefined ? e : { index: e.index, digest: e.digest, statement: leanStart(e.statement) };
    if (early === null) return;
    this.beforeStart = added(this.beforeStart, early.indexes.filter((i) => i < e.index).map(beforeStart));
    for (const a of early.actions) await this.actionSignature(a);
  }

  private async actionSignature(e: KnownEntry): Promise<void> {
    const out: Finding[] = [];
    await checkAgentSignature(e, this.start!.statement.signer, this.policy, this.keys, out);
    this.actionSignatures = added(this.actionSignatures, out);
  }

  private async action(e: Logged<ActionStatement>): Promise<void> {
    const s = e.statement;
    const digest = digestOf(e);
    const actions = (this.actions ??= new Actions(sessionGenesis(this.sessionId)));
    const position = actions.length;
    let broken: Finding | null = null;
    if (s.seq !== position + 1) broken = error('ERR_SESSION_CHAIN_BROKEN', `action ${s.seq} is at position ${position + 1}: an action is missing, added or reordered`, { index: e.index, expected: position + 1, found: s.seq });
    else if (s.prev !== actions.prev) broken = error('ERR_SESSION_CHAIN_BROKEN', `action ${s.seq} does not link to ${position === 0 ? 'the genesis' : `action ${position}`}`, { index: e.index, expected: actions.prev, found: s.prev });
    if (broken !== null) this.chain = added(this.chain, [broken]);
    actions.push(digest, e.index, s.seq);
    if (this.o.actions !== false) (this.rows ??= []).push({ seq: s.seq, index: String(e.index), name: s.name, digest, evidence: s.evidence ?? null, call: s.call?.tool ?? null });
    // In a log, the records an index names are read once, in order: found as signed now, they are found so at the end.
    if (s.call !== undefined && this.o.calls !== undefined && (this.o.context !== 'log' || callProblems(e.index, s, this.o.calls).length > 0)) (this.calls ??= []).push({ index: e.index, s });
    // Before the start, what its signature check reads (the whole statement only when it has no verdict yet).
    if (this.start === null) this.early!.actions.push(e.signed === undefined ? e : { index: e.index, signed: e.signed, statement: { kind: 'action', signer: s.signer } as ActionStatement });
    else await this.actionSignature(e);
  }

  /** The verdict, once every statement was added. */
  async finish(): Promise<SessionResult> {
    const { start, seal } = this;
    const f = { agentSignature: [] as Finding[], seal: [] as Finding[], policy: [] as Finding[], parties: [] as Finding[] };
    if (this.secondStart !== null) f.seal.push(error('ERR_SESSION_CHAIN_BROKEN', 'the session is started twice', { index: this.secondStart }));
    if (this.secondSeal !== null) f.seal.push(error('ERR_SESSION_CHAIN_BROKEN', 'the session is sealed twice', { index: this.secondSeal }));
    if (!start) f.seal.push(error('ERR_SESSION_INCOMPLETE', 'the session\'s start is missing: the head of the session is cut off'));
    else {
      if (this.genesis !== null) f.seal.push(this.genesis);
      f.seal.push(...(this.beforeStart ?? []));
      f.agentSignature.push(...(this.startSignature ?? []), ...(this.actionSignatures ?? []));
      if (seal) await checkAgentSignature(seal, start.statement.signer, this.policy, this.keys, f.agentSignature);
    }
    f.seal.push(...(this.chain ?? []));
    if (!seal) f.seal.push(error('ERR_SESSION_UNSEALED', 'the session is not sealed: its receipt is not complete'));
    else if (start) this.checkSeal(start, seal, f.seal);
    if (this.o.calls) for (const { index, s } of this.calls ?? []) f.seal.push(...callProblems(index, s, this.o.calls));
    const inLog = this.o.context === 'log';
    const policyBinding = inLog ? 'unchecked' : checkPolicy(start?.statement ?? null, this.o.policyDocDigest, f.policy);
    const results: PartyResult[] = [];
    const agent = start?.statement.signer ?? null;
    if (agent) {
      const { actions } = this;
      const bySeq = { get: (seq: number): string | undefined => actions?.digestOf(seq) };
      const ctx: PartyContext = { agent, actions: bySeq, sealDigest: seal ? digestOf(seal) : null, policy: this.policy, keys: this.keys };
      for (const p of [...(this.parties ?? []), ...(this.attachments ?? [])]) results.push(await checkParty(p, ctx, f.parties));
    }
    if (inLog) {
      f.seal = relaxForLog(f.seal);
      f.parties = relaxForLog(f.parties);
    }
    const status = (list: Finding[]): DimensionStatus => (list.some((x) => x.severity === 'error') ? 'fail' : 'pass');
    return {
      sessionId: this.sessionId, task: start?.statement.task ?? null, delegator: start?.statement.delegator ?? null, policyDigest: start?.statement.policyDigest ?? null,
      agent: agent && { id: agent.id, alg: agent.alg, keyId: agent.keyId }, actions: this.rows ?? [],
      seal: seal && { index: String(seal.index), digest: digestOf(seal) },
      agentSignature: start ? status(f.agentSignature) : 'fail', sealCompleteness: status(f.seal), policyBinding, parties: results, findings: f,
    };
  }

  /** The seal against what is presented: actions, start, indexes, policy, and the parties logged before it. */
  private checkSeal(start: Logged<StartStatement>, seal: Logged<SealStatement>, out: Finding[]): void {
    const s = seal.statement;
    const actions = this.actions;
    const n = actions?.length ?? 0;
    if (s.actionCount === 0) out.push(error('ERR_SESSION_EMPTY', 'the seal covers no action: an empty session is never complete', { index: seal.index }));
    const mismatch = (what: string, expected: unknown, found: unknown): void => {
      out.push(error('ERR_SESSION_INCOMPLETE', `the seal's ${what} differs from the session presented`, { index: seal.index, expected, found }));
    };
    if (s.actionCount !== n) mismatch('action count', s.actionCount, n);
    const digest = actionsDigest(Array.from({ length: n }, (_, k) => actions!.digests.at(k)));
    if (s.actionsDigest !== digest) mismatch('ordered action digest', s.actionsDigest, digest);
    const startDigest = digestOf(start);
    if (s.startDigest !== startDigest) mismatch('start digest', s.startDigest, startDigest);
    if (s.firstIndex !== String(start.index)) mismatch('first log index', s.firstIndex, String(start.index));
    const last = n > 0 ? String(actions!.indexAt(n - 1)) : null;
    if (s.lastIndex !== last) mismatch('last log index', s.lastIndex, last);
    if ((s.policyDigest ?? null) !== (start.statement.policyDigest ?? null)) mismatch('policy digest', start.statement.policyDigest ?? null, s.policyDigest ?? null);
    const before = (this.parties ?? []).filter((p) => p.index < seal.index).map(digestOf);
    if (s.partyCount !== before.length) mismatch('count of approvals and confirmations', s.partyCount, before.length);
    else if (s.partiesDigest !== actionsDigest(before)) mismatch('digest of approvals and confirmations', s.partiesDigest, actionsDigest(before));
    for (let k = 0; k < n; k++) {
      const i = actions!.indexAt(k);
      if (i > seal.index) out.push(error('ERR_SESSION_INCOMPLETE', 'an action logged after the seal', { index: i }));
    }
  }
}

/** The finding of a statement logged before its session's start, at `index`. */
function beforeStart(index: bigint): Finding {
  return error('ERR_SESSION_CHAIN_BROKEN', 'a statement logged before the session\'s start', { index });
}

/** What a session's check reads of a start once its genesis and signature are checked and its digest is given (not its genesis, signature, timestamp, format or session id). */
function leanStart(s: StartStatement): StartStatement {
  const lean: Pick<StartStatement, 'kind' | 'signer' | 'task' | 'delegator' | 'policyDigest'> = { kind: 'start', signer: s.signer, task: s.task, delegator: s.delegator };
  if (s.policyDigest !== undefined) lean.policyDigest = s.policyDigest;
  // Not a whole statement: nothing reads the members left out once the digest is known.
  return lean as StartStatement;
}

/** The findings of an action's captured call: its attestation and receipt must be found (`calls`) with the digests it signs. */
function callProblems(index: bigint, s: ActionStatement, calls: CallLookup): Finding[] {
  const c = s.call!;
  const out: Finding[] = [];
  const att = calls(c.attestationIndex);
  const rcp = calls(c.receiptIndex);
  if (att?.kind !== 'attestation' || att.digest !== c.attestationDigest || att.tool !== c.tool) {
    out.push(error('ERR_SESSION_CALL_MISSING', `action ${s.seq}: the attestation of its call (entry ${c.attestationIndex}) is not in the receipt as signed`, { index, expected: c.attestationDigest, found: att?.digest ?? null }));
  }
  if (rcp?.kind !== 'receipt' || rcp.digest !== c.receiptDigest || rcp.answers !== c.attestationIndex) {
    out.push(error('ERR_SESSION_CALL_MISSING', `action ${s.seq}: the receipt of its call (entry ${c.receiptIndex}) is not in the receipt as signed`, { index, expected: c.receiptDigest, found: rcp?.digest ?? null }));
  }
  return out;
}

/**
 * Verify one session. `entries` are its logged statements in log order (then attachments,
 * `index` null); every statement must carry `sessionId`. Every statement's digest and
 * signature are checked here. Never throws for anything in the statements.
 */
export async function checkSession(sessionId: string, entries: SessionEntry[], policy: TrustPolicy, keys: KeyResolver, o: SessionCheckOptions = {}): Promise<SessionResult> {
  return checkKnown(sessionId, entries.map((e) => ({ index: e.index, statement: e.statement })), policy, keys, o);
}

/** {@link checkSession} of statements whose digests and verdicts may be known (internal: verify/records.ts, session-receipt.ts). */
export async function checkKnown(sessionId: string, entries: KnownEntry[], policy: TrustPolicy, keys: KeyResolver, o: SessionCheckOptions = {}): Promise<SessionResult> {
  const check = new SessionCheck(sessionId, policy, keys, o);
  for (const e of entries) await check.add(e);
  return check.finish();
}
