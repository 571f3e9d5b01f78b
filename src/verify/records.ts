/**
 * Per-record checks shared by log and bundle verification: every attestation (or allowed
 * decision) verifies under the trust policy with the tool and server its record names;
 * every receipt answers an earlier attestation by index and back link and verifies; a
 * response receipt the client proxy logged is re-checked; nonces are unique. The caller
 * feeds entries in index order and reads the tally and findings at the end.
 * @see docs/log-format.md (records); SEP-2787 "Verification Rules"
 */
import { ATTESTATION_RECORD, DECISION_RECORD, type EntriesMode } from '../records/record.js';
import { SessionCheck, type CallLookup, type SessionCheckOptions, type SessionResult } from './session.js';
import { knownEntry, sharedSigner, type LoggedStatement } from './logged-statements.js';
import { withoutCredentialKeys } from '../identity/gate-check.js';
import type { StatementSigner } from '../receipt/session.js';
import type { KeyResolver } from '../envelope/signature.js';
import { fail, type Check } from '../envelope/report.js';
import { error, FindingCap, fromCheck, notice, type Finding } from './findings.js';
import { entryFacts, type CallFacts, type EntryFacts, type ReceiptFacts } from './entry-facts.js';
import type { TrustPolicy } from './policy.js';
import type { IdentityIndex } from '../identity/entries.js';
import { CallRecords } from './call-records.js';

/** A call awaiting its receipt: an attestation record, or an allowed attested decision; the digest and nonce its receipt's back link must name. */
export interface Pending { index: bigint; callId: string; tool: string; digest: string | null; nonce: unknown; answered: boolean }

/**
 * Counts of a verification: receipts, never-answered calls, gatekeeper refusals, unattested
 * allowed calls, refused inputs, and private entries seen without their opening (`sealed`).
 */
export interface Tally { receipts: number; unanswered: number; refused: number; unattested: number; refusedInputs: number; sealed: number }

/**
 * Checks records one by one, in index order: {@link entryFacts} checks each entry alone (or
 * a caller computes the facts elsewhere, e.g. in worker threads, and hands them to
 * {@link RecordChecker.fold}); the fold adds what needs other entries. `partial` is for a
 * bundle (a selection of entries): a receipt whose attestation is not in the selection is
 * a notice, not an orphan.
 */
export class RecordChecker {
  readonly calls = new Map<string, Pending>();
  /**
   * Allowed gatekeeper decisions on an attestation this same log recorded first (a gateway's
   * attest-then-gate chain, docs/gateway.md): the call's second pending record, answered by
   * the gatekeeper's receipt, by callId.
   */
  private readonly gated = new Map<string, Pending>();
  /**
   * Calls answered with a task handle: the digest of that receipt, and whether the task's
   * result was receipted; by callId and the index of the record answered (a gateway's
   * attest-then-gate chain logs two handle receipts of one call, its own and its gatekeeper's).
   */
  private readonly tasks = new Map<string, { digest: string; answered: boolean }>();
  readonly tally: Tally = { receipts: 0, unanswered: 0, refused: 0, unattested: 0, refusedInputs: 0, sealed: 0 };
  /**
   * Entry indexes of the attestation records whose receipt says the gatekeeper refused the call
   * (a client proxy's log). Said by the agent's own receipt, from the server's answer: nothing
   * a gatekeeper signed. Their identity decisions stand, and say so.
   */
  readonly refusedByGatekeeper = new Set<bigint>();
  /**
   * The identity log's credentials (identity/entries.ts `IdentityIndex`), when calls
   * are decided against one: a call under no credential, signed with a key a credential named
   * by then, is `ERR_CREDENTIAL_UNTRUSTED` (an agent's key trusted on its own too, e.g. merged
   * from its `trust export`, must not sign around its credential: docs/identity.md).
   */
  credentials: Pick<IdentityIndex, 'credentialedSince'> | null = null;
  /** The sealed entries' positions (the first {@link MAX_SEALED_KEPT}), and the entries erasure records name. */
  private readonly sealedAt: bigint[] = [];
  private readonly declaredErased = new Set<string>();
  /** The log's format once entry 0 was seen (its parameters entry, else v1); what every later entry's form must match. */
  private mode: EntriesMode | 'v1' | null = null;
  /** Session statements by session id, in the order checked, as text ({@link sessionEntries} parses them); none with `checkSessions`. */
  readonly sessions = new Map<string, LoggedStatement[]>();
  /** With `checkSessions`: each session's check, fed as its statements are folded, by session id in the order first seen. */
  private readonly sessionChecks = new Map<string, SessionCheck>();
  /** The signer of the last statement handed to a session's check: the next one's, when equal, is this object. */
  private signer: StatementSigner | null = null;
  /** What every session's check is made with: one key resolver and one options object for all. */
  private sessionCheckArgs: { keys: KeyResolver; o: SessionCheckOptions } | null = null;
  /** The statements handed to their sessions' checks, one after another (a check's `add` is awaited before the next). */
  private sessionWork: Promise<void> = Promise.resolve();
  /** Attestation and receipt records by log index: what a session action's captured call is checked against. */
  private readonly callRecords = new CallRecords();
  /** Entries folded so far (what bounds the records' typed arrays). */
  private folded = 0;
  /** Looks up a checked attestation or receipt record by log index (decimal). */
  readonly lookupCall: CallLookup = (index) => this.callRecords.get(index);

  /** Where the findings go: `out`, at most `MAX_FINDINGS_PER_CODE` (findings.ts) of a code until {@link finish} counts the rest. */
  private readonly findings: FindingCap;

  /**
   * Findings are added to `out` as entries are folded, the counts of those not listed at
   * {@link finish}. `checkSessions` (a whole log's verification): each session is checked
   * as its statements are folded, in O(1) memory per action beyond its digest, index and
   * number (verify/session.ts `SessionCheck`; its findings from {@link sessionResults}),
   * instead of its statements being kept for the caller ({@link sessions}).
   */
  constructor(private readonly policy: TrustPolicy, private readonly keys: KeyResolver, out: Finding[], private readonly partial = false, private readonly checkSessions = false) {
    this.findings = new FindingCap(out);
  }

  /**
   * With `checkSessions`, once every entry is folded: each session's result, in the order the
   * sessions were first seen, each let go once given. Rejects as a session's check would
   * (a key resolver that throws).
   */
  async *sessionResults(): AsyncGenerator<SessionResult> {
    await this.sessionWork;
    for (const [id, check] of this.sessionChecks) {
      this.sessionChecks.delete(id);
      yield await check.finish();
    }
  }

  /** Hand a statement to its session's check (the checks run one statement after another, in fold order). */
  private checkStatement(sessionId: string, e: LoggedStatement): void {
    let check = this.sessionChecks.get(sessionId);
    if (check === undefined) {
      // A log's sessions: no credential key signs a statement; an open session or an unlisted party is a notice.
      this.sessionCheckArgs ??= { keys: withoutCredentialKeys(this.keys, this.policy), o: { calls: this.lookupCall, context: 'log', actions: false } };
      check = new SessionCheck(sessionId, this.policy, this.sessionCheckArgs.keys, this.sessionCheckArgs.o);
      this.sessionChecks.set(sessionId, check);
    }
    const c = check;
    const entry = knownEntry(e);
    this.signer = sharedSigner(entry, this.signer);
    this.sessionWork = this.sessionWork.then(() => c.add(entry));
    // Awaited in sessionResults; a rejection meanwhile is not unhandled.
    this.sessionWork.catch(() => undefined);
  }

  /** Add a finding of the caller's about a folded entry (one an entry at most), under the same limit. */
  report(f: Finding): void {
    this.findings.add(f);
  }

  /**
   * Check the entry at `position`; returns the index the record claims (its own `index`),
   * or `position` when the entry does not decode (`ERR_ENTRY_MALFORMED` and the codes of
   * the strict record decoder are pushed as findings).
   */
  async check(position: bigint, bytes: Uint8Array): Promise<bigint> {
    return this.fold(await entryFacts(position, bytes, this.policy, this.keys));
  }

  /** Fold the facts of the next entry (in index order) into the verification; returns the index it claims. */
  fold(f: EntryFacts): bigint {
    const { findings, tally } = this;
    this.folded++;
    if (!this.formHolds(f)) return f.claimed;
    switch (f.kind) {
      case 'malformed': findings.push(f.finding); break;
      case 'params': break;
      case 'erasure': for (const i of f.entries) this.declaredErased.add(i); break;
      case 'sealed': if (tally.sealed++ < MAX_SEALED_KEPT) this.sealedAt.push(f.position); break;
      case 'refused': tally.refusedInputs += f.count; findings.push(f.finding); break;
      case 'session': {
        // Handed to its session's check now (checkSessions), or kept for the caller.
        const entry: LoggedStatement = f.signed === undefined ? { index: f.position, text: f.text } : { index: f.position, text: f.text, signed: f.signed };
        if (this.checkSessions) {
          this.checkStatement(f.sessionId, entry);
          break;
        }
        const list = this.sessions.get(f.sessionId);
        // A list made with its first entry holds one slot; pushed into an empty one, 17.
        if (list === undefined) this.sessions.set(f.sessionId, [entry]);
        else list.push(entry);
        break;
      }
      case 'call': this.foldCall(f); break;
      default:
        if (f.digest !== null) this.callRecords.set(f.position, { kind: 'receipt', digest: f.digest, tool: null, answers: f.attestationIndex }, this.folded);
        if (this.partial && !this.calls.has(f.callId)) this.foldDetached(f);
        else if (f.response) this.foldResponse(f);
        else this.foldReceipt(f);
    }
    return f.claimed;
  }

  /**
   * Entry 0 sets the log's format (docs/log-format.md "Format v2"): a parameters entry says
   * private or public, anything else makes a v1 log. Every later entry must be in that
   * format's form (a commitment in a private log, a record in any other), and no later entry
   * may be a parameters entry: else `ERR_ENTRY_MALFORMED`, and the entry is not folded.
   * A bundle without entry 0 is not checked here (each of its entries is self-describing).
   */
  private formHolds(f: EntryFacts): boolean {
    if (f.position === 0n) {
      this.mode = f.kind === 'params' ? f.entries : 'v1';
      return true;
    }
    let problem: string | null = null;
    if (f.kind === 'params') problem = 'a parameters entry after index 0';
    else if (this.mode === 'private' && f.form !== 'commitment') problem = 'a record in clear in a private log';
    else if (this.mode !== null && this.mode !== 'private' && f.form !== 'record') problem = 'a commitment in a log whose entries are public';
    if (problem === null) return true;
    this.findings.push(error('ERR_ENTRY_MALFORMED', `entry is malformed: ${problem}`, { index: f.position }));
    return false;
  }

  /**
   * Sealed entries: in published tiles, one `NOTE_SEALED`; in the operator's store, each must
   * be named by an erasure record of the log (`NOTE_ERASED`), else `ERR_ENTRY_UNOPENED`: an
   * opening deleted outside `log erase` is tampering, not erasure.
   */
  private sealedFindings(sealed: 'erased' | 'unopened'): Finding[] {
    const list = (at: bigint[], total: number): string => `${at.slice(0, 10).join(', ')}${total > 10 ? ', …' : ''}`;
    const n = this.tally.sealed;
    if (sealed === 'unopened') return [notice('NOTE_SEALED', `${n} private entries are commitments without their opening: the tree and checkpoints are verified, their records are not (open them with a bundle; entries ${list(this.sealedAt, n)})`)];
    const undeclared = this.sealedAt.filter((p) => !this.declaredErased.has(p.toString()));
    // Each one (up to the positions kept): the caller's cap lists 1,000 and counts the rest.
    const out: Finding[] = undeclared.map((p) => error('ERR_ENTRY_UNOPENED', 'a private entry without its opening that no erasure record names', { index: p }));
    if (n > this.sealedAt.length) out.push(error('ERR_ENTRY_UNOPENED', `${n - this.sealedAt.length} more private entries without their opening were not checked against erasure records`));
    const erased = n - undeclared.length;
    if (erased > 0) out.push(notice('NOTE_ERASED', `${erased} private entries are erased (their salt and record deleted, as erasure records of the log say): they stay in the tree and cannot be opened (entries ${list(this.sealedAt.filter((p) => this.declaredErased.has(p.toString())), erased)})`));
    return out;
  }

  private foldCall(f: CallFacts): void {
    const { calls, tally } = this;
    if (f.record === ATTESTATION_RECORD && f.digest !== null) this.callRecords.set(f.position, { kind: 'attestation', digest: f.digest, tool: f.tool, answers: null }, this.folded);
    if (f.refused) tally.refused++;
    else if (!f.attested) tally.unattested++;
    if (!f.attested) return;
    this.findings.push(...f.findings);
    const named = f.plainKey === undefined ? undefined : this.credentials?.credentialedSince(f.plainKey.keyId);
    if (named !== undefined && !(f.plainKey!.time < named.since)) {
      this.findings.push(error('ERR_CREDENTIAL_UNTRUSTED', `signed under no credential with the key agent credential ${named.id} names (valid from ${named.since}, POSIX seconds): that key's calls count only under its credentials`, { index: f.position }));
    }
    const prior = calls.get(f.callId);
    // Kept until the end for each call (a log may hold millions): one string for a tool's
    // name, and the nonce as the call id when they are equal (as they must be).
    const pending: Pending = { index: f.position, callId: f.callId, tool: this.callRecords.intern(f.tool), digest: f.digest, nonce: f.nonce === f.callId ? f.callId : f.nonce, answered: false };
    if (prior === undefined) calls.set(f.callId, pending);
    else if (f.record === DECISION_RECORD && this.chains(prior, f.digest)) this.gated.set(f.callId, pending);
    else this.findings.push(error('ERR_LOG_DUPLICATE_NONCE', 'a second attestation with the same nonce (a replayed call)', { index: f.position, found: f.callId }));
  }

  /**
   * A receipt (or response receipt) whose attestation is not in the bundle: its signature is
   * still verified (a failure is an error, an issuer the policy does not list for a response
   * receipt a notice, as in a log); only the back link cannot be checked (`NOTE_OUTSIDE_BUNDLE`).
   */
  private foldDetached(f: ReceiptFacts): void {
    this.findings.push(notice('NOTE_OUTSIDE_BUNDLE', `${f.response ? 'response receipt' : 'receipt'} of call ${f.callId}: its attestation (entry ${f.attestationIndex}) is not in this bundle; back link not checked`, f.position));
    if (!f.response) this.tally.receipts++;
    if (f.response && (f.code !== null || f.fails.every((c) => c.code === 'ERR_KEY_UNAVAILABLE'))) return;
    for (const c of f.fails) this.findings.push(fromCheck(c, f.position, f.response ? 'response receipt' : 'receipt'));
  }

  /**
   * A decision chains onto an earlier record of the same call when that record is this
   * log's own attestation record (not a decision), no decision chained onto it yet, and the
   * decision carries the very same attestation: one call attested, then gated, in one log.
   */
  private chains(prior: Pending, digest: string | null): boolean {
    const first = this.callRecords.get(prior.index.toString());
    return first?.kind === 'attestation' && !this.gated.has(prior.callId) && digest !== null && first.digest === digest;
  }

  /** The pending record a receipt names (by call id and index): the attestation, or the decision chained onto it. */
  private pendingFor(r: { callId: string; attestationIndex: string }): Pending | undefined {
    const g = this.gated.get(r.callId);
    return g !== undefined && g.index.toString() === r.attestationIndex ? g : this.calls.get(r.callId);
  }

  /** The receipt's failed checks in verification order, with its back link checked against `pending` (none: not checked). */
  private static withBackLink(f: ReceiptFacts, pending: Pending | undefined): Check[] {
    const link = pending === undefined ? null : backLink(f.back, pending);
    if (link === null) return f.fails;
    const at = f.fails.findIndex((c) => c.dimension === 'result_commitment');
    return at < 0 ? [...f.fails, link] : [...f.fails.slice(0, at), link, ...f.fails.slice(at)];
  }

  private foldReceipt(f: ReceiptFacts): void {
    if (f.taskOf !== null) return this.foldTaskResult(f);
    const pending = this.pendingFor(f);
    this.tally.receipts++;
    if (!pending || pending.index.toString() !== f.attestationIndex) {
      this.findings.push(error('ERR_RECEIPT_ORPHAN', 'receipt answers no earlier attestation in this log', { index: f.position, expected: f.attestationIndex, found: pending?.index.toString() ?? null }));
    } else if (pending.answered) {
      this.findings.push(error('ERR_RECEIPT_DUPLICATE', 'second receipt for one call', { index: f.position }));
    }
    for (const c of RecordChecker.withBackLink(f, pending)) this.findings.push(fromCheck(c, f.position, 'receipt'));
    if (pending && !pending.answered && f.taskCreated && f.digest !== null) this.tasks.set(`${f.callId}\n${f.attestationIndex}`, { digest: f.digest, answered: false });
    if (pending) pending.answered = true;
    if (f.refused && pending !== undefined && pending.index.toString() === f.attestationIndex && this.callRecords.get(f.attestationIndex)?.kind === 'attestation') {
      this.refusedByGatekeeper.add(pending.index);
      this.tally.refused++;
    }
    if (f.unanswered !== null) {
      this.tally.unanswered++;
      this.findings.push(notice('NOTE_UNANSWERED', `call ${f.callId} was never answered (${f.unanswered})`, f.position));
    }
  }

  /**
   * A task's result (`outcomeDerived.taskReceiptDigest`): it must answer the same call as
   * the receipt of the task handle it names, which this log holds earlier
   * (`ERR_RECEIPT_ORPHAN` otherwise), once per task (`ERR_RECEIPT_DUPLICATE`).
   */
  private foldTaskResult(f: ReceiptFacts): void {
    const pending = this.pendingFor(f);
    const task = this.tasks.get(`${f.callId}\n${f.attestationIndex}`);
    this.tally.receipts++;
    if (!pending || pending.index.toString() !== f.attestationIndex || task === undefined || task.digest !== f.taskOf) {
      this.findings.push(error('ERR_RECEIPT_ORPHAN', 'task result receipt answers no task handle receipted earlier in this log for its call', { index: f.position, expected: f.taskOf, found: task?.digest ?? null }));
    } else if (task.answered) {
      this.findings.push(error('ERR_RECEIPT_DUPLICATE', 'second result receipt for one task', { index: f.position }));
    }
    for (const c of RecordChecker.withBackLink(f, pending)) this.findings.push(fromCheck(c, f.position, 'receipt'));
    if (task !== undefined && task.digest === f.taskOf) task.answered = true;
  }

  /**
   * A gatekeeper's response receipt as the client proxy logged it: re-verified. One the
   * proxy recorded as verified must still verify (else an error); one it recorded as failed,
   * or whose issuer this trust policy does not list, is a notice.
   */
  private foldResponse(f: ReceiptFacts): void {
    const pending = this.pendingFor(f);
    if (!pending || pending.index.toString() !== f.attestationIndex) {
      this.findings.push(error('ERR_RECEIPT_ORPHAN', 'response receipt answers no earlier attestation in this log', { index: f.position, expected: f.attestationIndex, found: pending?.index.toString() ?? null }));
      return;
    }
    if (f.code !== null) {
      this.findings.push(notice('NOTE_RESPONSE_RECEIPT', `the gatekeeper's response receipt for call ${f.callId} did not verify when received (${f.code})`, f.position));
      return;
    }
    const failed = RecordChecker.withBackLink(f, pending);
    if (failed.length > 0 && failed.every((c) => c.code === 'ERR_KEY_UNAVAILABLE')) {
      this.findings.push(notice('NOTE_RESPONSE_RECEIPT', `the gatekeeper's response receipt for call ${f.callId} is signed by an issuer this trust policy does not list; not re-checked`, f.position));
      return;
    }
    for (const c of failed) this.findings.push(fromCheck(c, f.position, 'response receipt'));
  }

  /**
   * Calls with no receipt among the checked entries (a `NOTE_IN_FLIGHT` notice each); returns
   * their count. Then, for each code with findings not listed, one finding counting them. Sealed entries are one notice: `NOTE_ERASED` when `sealed` is `erased` (the
   * operator's own store, where a missing opening was deleted), else `NOTE_SEALED`.
   */
  finish(sealed: 'erased' | 'unopened' = 'unopened'): number {
    if (this.tally.sealed > 0) for (const f of this.sealedFindings(sealed)) this.findings.add(f);
    let inFlight = 0;
    for (const p of [...this.calls.values(), ...this.gated.values()]) {
      if (!p.answered) {
        inFlight++;
        this.findings.push(notice('NOTE_IN_FLIGHT', `call ${p.callId} (${p.tool}) has no receipt${this.partial ? ' in this bundle' : ': in flight or the recorder was killed'}`, p.index));
      }
    }
    this.findings.flush();
    return inFlight;
  }
}

/** Most sealed positions kept for the erasure check (beyond them an operator's store is reported as too far gone). */
const MAX_SEALED_KEPT = 100_000;

/** The back-link dimension as a failed check, or null when it holds: the receipt names the pending attestation's digest and nonce. */
function backLink(back: ReceiptFacts['back'], pending: Pending): Check | null {
  if (pending.digest === null) return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation cannot be canonicalized');
  if (back.digest !== pending.digest) return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation digest differs', { expected: back.digest, found: pending.digest });
  if (back.nonce !== pending.nonce) return fail('back_link', 'ERR_BACK_LINK_MISMATCH', 'attestation nonce differs', { expected: back.nonce, found: pending.nonce });
  return null;
}
