/**
 * Erasure of one call from a private log (docs/log-format.md "Erasure"): an erasure record
 * naming the call's entries is appended (and a checkpoint covers it: the caller closes the
 * recorder), then the salts and records of those entries are deleted, and the call's
 * payloads from the evidence store unless a record still kept names them too. The
 * commitments stay, so the tree, every checkpoint and every cosignature stay valid; the
 * erased entries can never be opened again (a bundle of them is refused, `verify` reports
 * them as `NOTE_ERASED`, and an opening missing without such a record as tampering). A public
 * or v1 log cannot erase: its records are its entries.
 */
import { AttestError } from '../errors.js';
import { fromUtf8, utf8 } from '../bytes/index.js';
import { callEntryIndexes } from './calls.js';
import { EvidenceStore } from './evidence.js';
import { decodeRecord, encodeRecord, ATTESTATION_RECORD, DECISION_RECORD, ERASURE_RECORD, RECEIPT_RECORD, SESSION_RECORD } from '../records/record.js';
import type { LogDb } from './log-db.js';

/** What an erasure removed: entries opened no more, payloads deleted, and the erasure record's index. */
export interface Erased { entries: bigint[]; payloads: number; record: bigint }

/**
 * The payload digests (hex) a record names: `sha256:<hex>` (a hash-only commitment) and
 * `…/sha256/<hex>` (an evidence reference, the SEP-text profile's `argsRef`).
 */
function digestsIn(record: Uint8Array): string[] {
  return [...fromUtf8(record).matchAll(/sha256[:/]([0-9a-f]{64})/g)].map((m) => m[1]!);
}

/** `ERR_USAGE` when a receipt session's action captured one of `entries` (erasing it would break that session's proof). */
function refuseCaptured(db: LogDb, entries: bigint[]): void {
  for (const i of entries) {
    for (const [, r] of db.recordsContaining(utf8(`"attestationIndex":"${i}"`))) {
      let rec;
      try {
        rec = decodeRecord(r);
      } catch {
        continue;
      }
      if (rec.type === SESSION_RECORD && rec.statement.kind === 'action' && rec.statement.call?.attestationIndex === i.toString()) {
        throw new AttestError('ERR_USAGE', `the call is captured by receipt session ${rec.sessionId}: erasing it would break that session's proof`);
      }
    }
  }
}

/**
 * `ERR_USAGE` when an attestation (or allowed decision) among `entries` has no receipt among
 * them: the call is in flight, and the proxy running it would log its receipt, and its
 * result, after the erasure (a receipt then answering an erased entry); or when its receipt
 * is a task handle's and its task's result is not receipted yet (the same, for that result).
 */
function refuseInFlight(db: LogDb, callId: string, entries: bigint[]): void {
  const calls = new Set<string>();
  const answered = new Set<string>();
  /** Calls answered with a task handle whose task's result is not receipted (docs/receipt.md "Tasks"). */
  const tasks = new Set<string>();
  for (const i of entries) {
    const bytes = db.record(i);
    let r;
    try {
      r = bytes === null ? null : decodeRecord(bytes);
    } catch {
      continue;
    }
    if (r?.type === ATTESTATION_RECORD || (r?.type === DECISION_RECORD && r.decision === 'allowed' && r.attestation !== null)) calls.add(i.toString());
    else if (r?.type === RECEIPT_RECORD) {
      const outcome = r.receipt['outcomeDerived'] as Record<string, unknown> | undefined;
      answered.add(r.attestationIndex);
      if (outcome?.['reason'] === 'task_created') tasks.add(r.attestationIndex);
      else if (outcome?.['taskReceiptDigest'] !== undefined) tasks.delete(r.attestationIndex);
    }
  }
  if ([...calls].some((i) => !answered.has(i))) {
    throw new AttestError('ERR_USAGE', `call ${callId} is in flight (no receipt yet): erase it once it is answered (its proxy logs the receipt when the call returns, or when the proxy stops); --in-flight erases it now, for a call whose proxy was killed`);
  }
  if (tasks.size > 0) {
    throw new AttestError('ERR_USAGE', `call ${callId} was answered with a task handle and its task's result is not receipted yet: erase it once its result is fetched (tasks/result); --in-flight erases it now, when no one will fetch it`);
  }
}

/**
 * Erase call `callId` from the writable private log `db` (a recorder's: the caller closes it
 * to sign a checkpoint over the erasure record), and its payloads from the evidence store at
 * `evidencePath`. A call in flight (no receipt yet) only with `o.inFlight`: for one a proxy
 * killed mid-call left so; a proxy still running it would log its receipt after. Throws
 * `ERR_USAGE` for an empty id, a call the log does not hold opened, a call in flight, a call a
 * receipt session captured, or a log whose entries are public; `ERR_STORE_IO`.
 */
export async function eraseCall(db: LogDb, evidencePath: string, callId: string, now: number, o: { inFlight?: boolean } = {}): Promise<Erased> {
  if (callId === '') throw new AttestError('ERR_USAGE', 'an empty call id names no call (it is what unattested decisions carry)');
  if (db.mode() !== 'private') throw new AttestError('ERR_USAGE', 'this log\'s entries are public (a v1 log, or made with --public-log): a record is its entry and cannot be erased without breaking the tree');
  const entries = callEntryIndexes(db, callId);
  if (entries.length === 0) throw new AttestError('ERR_USAGE', `no call ${callId} with entries still opened in the log`);
  if (o.inFlight !== true) refuseInFlight(db, callId, entries);
  refuseCaptured(db, entries);
  // One pass: the digests the call's records name, and those every other kept record names.
  const own = new Set(entries);
  const named = new Set<string>();
  const kept = new Set<string>();
  for (const [i, r] of db.records()) for (const h of digestsIn(r)) (own.has(i) ? named : kept).add(h);
  const orphaned = [...named].filter((h) => !kept.has(h));
  // The erasure is recorded first: a crash before the openings go leaves a record of an
  // erasure not done yet (harmless, and the erase can run again), never an unrecorded one.
  const record = db.append((index) => encodeRecord({ type: ERASURE_RECORD, index: index.toString(), entries: entries.map(String), time: now }));
  await db.durable();
  const evidence = new EvidenceStore(evidencePath, false, db.db);
  let payloads: number;
  try {
    payloads = evidence.erase(orphaned);
  } finally {
    db.db.exec('DETACH DATABASE evidence');
  }
  db.erase(entries);
  return { entries, payloads, record };
}
