/**
 * The calls of a log, derived from its entries when asked (`log show`, a bundle by call id)
 * instead of an index written with every append: the hot path writes the entry and nothing
 * else (issue 14: a random-key index cost two extra pages and ~10% of an append). An entry
 * that does not decode is left out here; `verify` reports it.
 * @see docs/log-format.md (records)
 */
import { utf8 } from '../bytes/index.js';
import { decodeRecord, ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, type LogRecord } from '../records/record.js';
import type { LogDb } from './log-db.js';

/** One call: its attestation (or allowed decision) and receipt entries, and what they say. */
export interface CallRow {
  call_id: string;
  attestation_idx: number;
  receipt_idx: number | null;
  /** A task-augmented call's: the entry of its task's result (status, reason and completion are then the result's), or null. */
  task_result_idx: number | null;
  server: string | null;
  tool: string | null;
  /** `issuerAsserted.iat` of the attestation (RFC 3339 UTC; a decision's, when it carries one), or null. */
  started: string | null;
  status: string | null;
  reason: string | null;
  completed: string | null;
}

function decoded(bytes: Uint8Array): LogRecord | null {
  try {
    return decodeRecord(bytes);
  } catch {
    return null;
  }
}

const field = (o: unknown, k: string): string | null => {
  const v = (o as Record<string, unknown> | null)?.[k];
  return typeof v === 'string' ? v : null;
};

/**
 * Fold one record into the calls by id: the first attestation or decision opens a call (a
 * gatekeeper's refusal is one: refused, with its code), its first receipt closes it; a task
 * handle's call then takes its task's result.
 */
function fold(calls: Map<string, CallRow>, index: bigint, r: LogRecord): void {
  if (r.type === ATTESTATION_RECORD || (r.type === DECISION_RECORD && (r.decision === 'refused' || r.attestation !== null))) {
    // A refusal is its own row: its call id is a stranger's unverified nonce (or none), which
    // must not take the place of a call's that ran.
    const refused = r.type === DECISION_RECORD && r.decision === 'refused';
    const key = refused ? `#${index}` : r.callId;
    if (calls.has(key)) return;
    const started = r.attestation === null ? null : field(r.attestation['issuerAsserted'], 'iat');
    calls.set(key, {
      call_id: r.callId, attestation_idx: Number(index), receipt_idx: null, task_result_idx: null, server: r.server.name, tool: r.tool, started,
      status: refused ? 'refused' : null, reason: refused ? r.code ?? r.reason : null, completed: null,
    });
  } else if (r.type === RECEIPT_RECORD) {
    const row = calls.get(r.callId);
    if (row === undefined || String(row.attestation_idx) !== r.attestationIndex) return;
    const o = r.receipt['outcomeDerived'];
    const outcome = { status: field(o, 'status'), reason: field(o, 'reason'), completed: field(o, 'completedAt') };
    // A task's result (`verify` checks it names the task handle's receipt): the call's outcome is the task's.
    if (row.receipt_idx !== null) {
      if (row.reason === 'task_created' && row.task_result_idx === null && field(o, 'taskReceiptDigest') !== null) Object.assign(row, { task_result_idx: Number(index), ...outcome });
      return;
    }
    Object.assign(row, { receipt_idx: Number(index), ...outcome });
  }
}

/**
 * Add the entry at `index` (`bytes`: a private entry's record, any other entry as it is) to
 * `calls` (by call id, in the order first seen), entries given in index order. An entry that
 * does not decode adds nothing.
 */
export function addToCalls(calls: Map<string, CallRow>, index: bigint, bytes: Uint8Array): void {
  const r = decoded(bytes);
  if (r !== null) fold(calls, index, r);
}

/** Every call of the log, oldest first (one pass over the entries). */
export function listCalls(db: LogDb): CallRow[] {
  const calls = new Map<string, CallRow>();
  for (const [index, bytes] of db.records()) addToCalls(calls, index, bytes);
  return [...calls.values()];
}

/**
 * Indexes of every entry of call `callId` (attestation or decision, receipts, response
 * receipts), ascending; empty when the log has none. Entries are found by a byte search for
 * the record's canonical `"callId":"..."` member, then decoded and kept only when the record's
 * own `callId` is `callId`.
 */
export function callEntryIndexes(db: LogDb, callId: string): bigint[] {
  const out: bigint[] = [];
  for (const [index, bytes] of db.recordsContaining(utf8(`"callId":${JSON.stringify(callId)}`))) {
    const r = decoded(bytes);
    if (r !== null && 'callId' in r && r.callId === callId) out.push(index);
  }
  return out;
}
