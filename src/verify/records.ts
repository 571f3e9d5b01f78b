/**
 * Per-record checks shared by log and bundle verification: every attestation (or allowed
 * decision) verifies under the trust policy with the tool and server its record names;
 * every receipt answers an earlier attestation by index and back link and verifies; a
 * response receipt the client proxy logged is re-checked; nonces are unique. The caller
 * feeds entries in index order and reads the tally and findings at the end.
 * @see docs/log-format.md (records); SEP-2787 "Verification Rules"
 */
import { decodeRecord, ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, REFUSED_INPUT_RECORD, SESSION_RECORD, type DecisionRecord, type ReceiptRecord, type ResponseReceiptRecord, type LogRecord } from '../records/record.js';
import { canonicalBytes, type JsonValue } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import type { CallLookup, SessionEntry } from './session.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import { UNANSWERED_REASONS, type OutcomeReason } from '../receipt/schema.js';
import type { KeyResolver } from '../envelope/signature.js';
import { isAttestError } from '../errors.js';
import { error, fromCheck, notice, type Finding } from './findings.js';
import type { TrustPolicy } from './policy.js';

/** A call awaiting its receipt: an attestation record, or an allowed attested decision. */
export interface Pending { index: bigint; callId: string; tool: string; attestation: Record<string, JsonValue>; answered: boolean }

/** Counts of a verification: receipts, never-answered calls, gatekeeper refusals and unattested allowed calls. */
export interface Tally { receipts: number; unanswered: number; refused: number; unattested: number; refusedInputs: number }

/**
 * Checks records one by one. `partial` is for a bundle (a selection of entries): a receipt
 * whose attestation is not in the selection is a notice, not an orphan.
 */
export class RecordChecker {
  readonly calls = new Map<string, Pending>();
  /**
   * Allowed gatekeeper decisions on an attestation this same log recorded first (a gateway's
   * attest-then-gate chain, docs/gateway.md): the call's second pending record, answered by
   * the gatekeeper's receipt, by callId.
   */
  private readonly gated = new Map<string, Pending>();
  readonly tally: Tally = { receipts: 0, unanswered: 0, refused: 0, unattested: 0, refusedInputs: 0 };
  /** Session statements by session id, in the order checked. */
  readonly sessions = new Map<string, SessionEntry[]>();
  /** Attestation and receipt records by log index: what a session action's captured call is checked against. */
  private readonly callRecords = new Map<string, ReturnType<CallLookup>>();
  /** Looks up a checked attestation or receipt record by log index (decimal). */
  readonly lookupCall: CallLookup = (index) => this.callRecords.get(index) ?? null;

  constructor(private readonly policy: TrustPolicy, private readonly keys: KeyResolver, private readonly findings: Finding[], private readonly partial = false) {}

  /**
   * Check the entry at `position`; returns the index the record claims (its own `index`),
   * or `position` when the entry does not decode (`ERR_ENTRY_MALFORMED` and the codes of
   * the strict record decoder are pushed as findings).
   */
  async check(position: bigint, bytes: Uint8Array): Promise<bigint> {
    let record: LogRecord;
    try {
      record = decodeRecord(bytes);
    } catch (e) {
      this.findings.push(error(isAttestError(e) ? e.code : 'ERR_ENTRY_MALFORMED', `entry is malformed: ${(e as Error).message}`, { index: position }));
      return position;
    }
    const { policy, keys, findings, calls, tally } = this;
    if (record.type === SESSION_RECORD) {
      // Checked as a whole per session (verify/session.ts) once every entry is read.
      const list = this.sessions.get(record.sessionId) ?? [];
      if (list.length === 0) this.sessions.set(record.sessionId, list);
      list.push({ index: position, statement: record.statement });
      return BigInt(record.index);
    }
    if (record.type === REFUSED_INPUT_RECORD) {
      // Evidence of what a relay kept off the wire: counted, nothing to verify.
      tally.refusedInputs += 1 + record.suppressed;
      const more = record.suppressed > 0 ? `; ${record.suppressed} more before it, over the logging budget` : '';
      findings.push(notice('NOTE_REFUSED_INPUT', `the relay refused an input from the ${record.direction} (${record.code}, ${record.size} bytes, ${record.digest})${more}`, position));
      return BigInt(record.index);
    }
    if (record.type === ATTESTATION_RECORD) this.callRecords.set(position.toString(), { kind: 'attestation', digest: sha256Tagged(canonicalBytes(record.attestation)), tool: record.tool, answers: null });
    if (record.type === RECEIPT_RECORD) this.callRecords.set(position.toString(), { kind: 'receipt', digest: sha256Tagged(canonicalBytes(record.receipt)), tool: null, answers: record.attestationIndex });
    if (record.type === ATTESTATION_RECORD || record.type === DECISION_RECORD) {
      const attestation = record.type === DECISION_RECORD ? decisionAttestation(record, tally) : record.attestation;
      if (attestation !== null) {
        await checkAttestationRecord({ ...record, attestation }, position, policy, keys, findings);
        const prior = calls.get(record.callId);
        const pending = { index: position, callId: record.callId, tool: record.tool, attestation, answered: false };
        if (prior === undefined) calls.set(record.callId, pending);
        else if (record.type === DECISION_RECORD && this.chains(prior, attestation)) this.gated.set(record.callId, pending);
        else findings.push(error('ERR_LOG_DUPLICATE_NONCE', 'a second attestation with the same nonce (a replayed call)', { index: position, found: record.callId }));
      }
    } else if (this.partial && !calls.has(record.callId)) {
      await this.checkDetached(record, position);
    } else if (record.type === RECEIPT_RECORD) {
      tally.receipts++;
      if (await checkReceiptRecord(record, position, this.pendingFor(record), policy, keys, findings)) tally.unanswered++;
    } else {
      await checkResponseReceipt(record, position, this.pendingFor(record), policy, keys, findings);
    }
    return BigInt(record.index);
  }

  /**
   * A receipt (or response receipt) whose attestation is not in the bundle: its signature is
   * still verified (a failure is an error, an issuer the policy does not list for a response
   * receipt a notice, as in a log); only the back link cannot be checked (`NOTE_OUTSIDE_BUNDLE`).
   */
  private async checkDetached(record: ReceiptRecord | ResponseReceiptRecord, position: bigint): Promise<void> {
    const isReceipt = record.type === RECEIPT_RECORD;
    this.findings.push(notice('NOTE_OUTSIDE_BUNDLE', `${isReceipt ? 'receipt' : 'response receipt'} of call ${record.callId}: its attestation (entry ${record.attestationIndex}) is not in this bundle; back link not checked`, position));
    if (isReceipt) this.tally.receipts++;
    if (!isReceipt && record.code !== null) return; // recorded as failed when received: a notice in a log too
    const v = await verifyReceipt(record.receipt, { keys: this.keys, acceptedAlgs: this.policy.acceptedAlgorithms });
    const failed = v.checks.filter((c) => c.status === 'fail');
    if (!isReceipt && failed.length > 0 && failed.every((c) => c.code === 'ERR_KEY_UNAVAILABLE')) return;
    for (const c of failed) this.findings.push(fromCheck(c, position, isReceipt ? 'receipt' : 'response receipt'));
  }

  /**
   * A decision chains onto an earlier record of the same call when that record is this
   * log's own attestation record (not a decision), no decision chained onto it yet, and the
   * decision carries the very same attestation: one call attested, then gated, in one log.
   */
  private chains(prior: Pending, attestation: Record<string, JsonValue>): boolean {
    const first = this.callRecords.get(prior.index.toString());
    return first?.kind === 'attestation' && !this.gated.has(prior.callId) && first.digest === sha256Tagged(canonicalBytes(attestation));
  }

  /** The pending record a receipt names (by call id and index): the attestation, or the decision chained onto it. */
  private pendingFor(r: { callId: string; attestationIndex: string }): Pending | undefined {
    const g = this.gated.get(r.callId);
    return g !== undefined && g.index.toString() === r.attestationIndex ? g : this.calls.get(r.callId);
  }

  /** Calls with no receipt among the checked entries (a `NOTE_IN_FLIGHT` notice each); returns their count. */
  finish(): number {
    let inFlight = 0;
    for (const p of [...this.calls.values(), ...this.gated.values()]) {
      if (!p.answered) {
        inFlight++;
        this.findings.push(notice('NOTE_IN_FLIGHT', `call ${p.callId} (${p.tool}) has no receipt${this.partial ? ' in this bundle' : ': in flight or the recorder was killed'}`, p.index));
      }
    }
    return inFlight;
  }
}

/** The attestation of a decision that must be answered by a receipt; refusals and unattested calls are counted. */
function decisionAttestation(r: DecisionRecord, tally: Tally): Record<string, JsonValue> | null {
  if (r.decision === 'refused') tally.refused++;
  else if (r.attestation === null) tally.unattested++;
  return r.decision === 'allowed' ? r.attestation : null;
}

async function checkAttestationRecord(r: { attestation: Record<string, JsonValue>; tool: string; callId: string; server: { fingerprint: string } }, position: bigint, policy: TrustPolicy, keys: KeyResolver, findings: Finding[]): Promise<void> {
  // The record's unsigned tool and server must be the ones the issuer signed.
  const v = await verifyAttestation(r.attestation, { keys, acceptedAlgs: policy.acceptedAlgorithms, toolName: r.tool, serverFingerprint: r.server.fingerprint });
  for (const c of v.checks) if (c.status === 'fail') findings.push(fromCheck(c, position, 'attestation'));
  const nonce = (r.attestation['issuerAsserted'] as Record<string, unknown> | undefined)?.['nonce'];
  if (nonce !== r.callId) findings.push(error('ERR_ENTRY_MALFORMED', 'callId differs from the attestation nonce', { index: position, expected: nonce, found: r.callId }));
}

/** Returns true when the receipt records a call that was never answered. */
async function checkReceiptRecord(r: ReceiptRecord, position: bigint, pending: Pending | undefined, policy: TrustPolicy, keys: KeyResolver, findings: Finding[]): Promise<boolean> {
  if (!pending || pending.index.toString() !== r.attestationIndex) {
    findings.push(error('ERR_RECEIPT_ORPHAN', 'receipt answers no earlier attestation in this log', { index: position, expected: r.attestationIndex, found: pending?.index.toString() ?? null }));
  } else if (pending.answered) {
    findings.push(error('ERR_RECEIPT_DUPLICATE', 'second receipt for one call', { index: position }));
  }
  const v = await verifyReceipt(r.receipt, { keys, acceptedAlgs: policy.acceptedAlgorithms, ...(pending ? { attestation: pending.attestation } : {}) });
  for (const c of v.checks) if (c.status === 'fail') findings.push(fromCheck(c, position, 'receipt'));
  if (pending) pending.answered = true;
  const outcome = (r.receipt['outcomeDerived'] ?? {}) as Record<string, unknown>;
  const reason = outcome['reason'];
  if (UNANSWERED_REASONS.includes(reason as OutcomeReason) && outcome['resultCommitment'] === undefined) {
    findings.push(notice('NOTE_UNANSWERED', `call ${r.callId} was never answered (${String(reason)})`, position));
    return true;
  }
  return false;
}

/**
 * A gatekeeper's response receipt as the client proxy logged it: re-verified here. One the
 * proxy recorded as verified must still verify (else an error); one it recorded as failed,
 * or whose issuer this trust policy does not list, is a notice.
 */
async function checkResponseReceipt(r: ResponseReceiptRecord, position: bigint, pending: Pending | undefined, policy: TrustPolicy, keys: KeyResolver, findings: Finding[]): Promise<void> {
  if (!pending || pending.index.toString() !== r.attestationIndex) {
    findings.push(error('ERR_RECEIPT_ORPHAN', 'response receipt answers no earlier attestation in this log', { index: position, expected: r.attestationIndex, found: pending?.index.toString() ?? null }));
    return;
  }
  if (r.code !== null) {
    findings.push(notice('NOTE_RESPONSE_RECEIPT', `the gatekeeper's response receipt for call ${r.callId} did not verify when received (${r.code})`, position));
    return;
  }
  const v = await verifyReceipt(r.receipt, { keys, acceptedAlgs: policy.acceptedAlgorithms, attestation: pending.attestation });
  const failed = v.checks.filter((c) => c.status === 'fail');
  if (failed.length > 0 && failed.every((c) => c.code === 'ERR_KEY_UNAVAILABLE')) {
    findings.push(notice('NOTE_RESPONSE_RECEIPT', `the gatekeeper's response receipt for call ${r.callId} is signed by an issuer this trust policy does not list; not re-checked`, position));
    return;
  }
  for (const c of failed) findings.push(fromCheck(c, position, 'response receipt'));
}

