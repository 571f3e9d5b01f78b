/**
 * Verify a whole log offline: every entry parses and names its own index; every
 * attestation and receipt signature verifies under the trust policy; every receipt's back
 * link holds; every attestation has a receipt (or is reported unanswered / in flight); the
 * Merkle tree matches the latest checkpoint, which a trusted log key signed; every earlier
 * checkpoint is consistent with it. Pure: no I/O, no clock.
 * @see RFC 9162 §2.1; c2sp.org/tlog-checkpoint; docs/log-format.md
 */
import { leafHash } from '../log/hash.js';
import { rootAt } from '../log/tree.js';
import { MemoryTree } from '../log/memory-tree.js';
import { decodeRecord, ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, type DecisionRecord, type ReceiptRecord, type ResponseReceiptRecord } from '../records/record.js';
import type { JsonValue } from '../jcs/index.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import { UNANSWERED_REASONS, type OutcomeReason } from '../receipt/schema.js';
import type { KeyResolver } from '../envelope/signature.js';
import { isAttestError } from '../errors.js';
import { error, fromCheck, notice, type Finding } from './findings.js';
import { verifyCheckpoints } from './checkpoints.js';
import type { TrustPolicy } from './policy.js';

/** What to verify: entries in stored order (with their stored index) and checkpoint notes. */
export interface LogInput {
  entries: Iterable<[bigint, Uint8Array]>;
  checkpoints: string[];
}

/** The report: ok when there is no error finding. */
export interface LogReport {
  ok: boolean;
  size: string;
  checkpointSize: string | null;
  calls: number;
  receipts: number;
  unanswered: number;
  inFlight: number;
  /** Gatekeeper logs: calls refused, and calls allowed without an attestation (policy `required: false`). */
  refused: number;
  unattested: number;
  findings: Finding[];
}

/** A call awaiting its receipt: an attestation record, or an allowed attested decision. */
interface Pending { index: bigint; callId: string; tool: string; attestation: Record<string, JsonValue>; answered: boolean }

interface Tally { receipts: number; unanswered: number; refused: number; unattested: number }

/** Verify a log. `onProgress(done)` is called every 256 entries. */
export async function verifyLog(input: LogInput, policy: TrustPolicy, keys: KeyResolver, onProgress?: (done: number) => void): Promise<LogReport> {
  const findings: Finding[] = [];
  const tree = new MemoryTree();
  const calls = new Map<string, Pending>();
  const claimed: bigint[] = [];
  const tally: Tally = { receipts: 0, unanswered: 0, refused: 0, unattested: 0 };
  for (const [, bytes] of input.entries) {
    const position = tree.size;
    tree.appendLeafHash(leafHash(bytes));
    let record;
    try {
      record = decodeRecord(bytes);
    } catch (e) {
      findings.push(error(isAttestError(e) ? e.code : 'ERR_ENTRY_MALFORMED', `entry is malformed: ${(e as Error).message}`, { index: position }));
      claimed.push(position);
      continue;
    }
    claimed.push(BigInt(record.index));
    if (record.type === ATTESTATION_RECORD || record.type === DECISION_RECORD) {
      const attestation = record.type === DECISION_RECORD ? decisionAttestation(record, tally) : record.attestation;
      if (attestation === null) continue;
      await checkAttestationRecord({ ...record, attestation }, position, policy, keys, findings);
      if (calls.has(record.callId)) findings.push(error('ERR_LOG_DUPLICATE_NONCE', 'a second attestation with the same nonce (a replayed call)', { index: position, found: record.callId }));
      else calls.set(record.callId, { index: position, callId: record.callId, tool: record.tool, attestation, answered: false });
    } else if (record.type === RECEIPT_RECORD) {
      tally.receipts++;
      if (await checkReceiptRecord(record, position, calls, policy, keys, findings)) tally.unanswered++;
    } else {
      await checkResponseReceipt(record, position, calls, policy, keys, findings);
    }
    if (onProgress && tree.size % 256n === 0n) onProgress(Number(tree.size));
  }
  findings.push(...orderFindings(claimed));
  let inFlight = 0;
  for (const p of calls.values()) {
    if (!p.answered) {
      inFlight++;
      findings.push(notice('NOTE_IN_FLIGHT', `call ${p.callId} (${p.tool}) has no receipt: in flight or the recorder was killed`, p.index));
    }
  }
  const cp = await verifyCheckpoints(input.checkpoints, policy, tree.size, (size) => rootAt(size, tree.read), findings);
  return {
    ok: !findings.some((f) => f.severity === 'error'), size: tree.size.toString(), checkpointSize: cp,
    calls: calls.size, receipts: tally.receipts, unanswered: tally.unanswered, inFlight, refused: tally.refused, unattested: tally.unattested, findings,
  };
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
async function checkReceiptRecord(r: ReceiptRecord, position: bigint, calls: Map<string, Pending>, policy: TrustPolicy, keys: KeyResolver, findings: Finding[]): Promise<boolean> {
  const pending = calls.get(r.callId);
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
async function checkResponseReceipt(r: ResponseReceiptRecord, position: bigint, calls: Map<string, Pending>, policy: TrustPolicy, keys: KeyResolver, findings: Finding[]): Promise<void> {
  const pending = calls.get(r.callId);
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

/** Most findings of one kind listed; the rest are counted in a last one. */
const MAX_ORDER_FINDINGS = 100;

/**
 * Entries that do not sit at the index they record: missing (a gap) or reordered. Only
 * indices below the number of entries are considered, so a hostile claimed index costs
 * nothing; a claim at or beyond the end is a reordering.
 */
function orderFindings(claimed: bigint[]): Finding[] {
  const n = BigInt(claimed.length);
  const seen = new Set(claimed.filter((c) => c < n).map(String));
  const out: Finding[] = [];
  let missing = 0;
  for (let i = 0n; i < n; i++) {
    if (!seen.has(i.toString()) && missing++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_MISSING', `entry ${i} is missing`, { index: i }));
  }
  if (missing > 0) return capped(out, missing, 'ERR_LOG_ENTRY_MISSING');
  let moved = 0;
  claimed.forEach((c, p) => {
    if (c !== BigInt(p) && moved++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_REORDERED', 'entry is not at the index it records', { index: BigInt(p), expected: p.toString(), found: c.toString() }));
  });
  return capped(out, moved, 'ERR_LOG_ENTRY_REORDERED');
}

function capped(out: Finding[], total: number, code: Finding['code']): Finding[] {
  if (total > MAX_ORDER_FINDINGS) out.push(error(code, `${total - MAX_ORDER_FINDINGS} more entries like the above`));
  return out;
}
