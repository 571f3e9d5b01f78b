/**
 * Witnessing from the log side: send the latest checkpoint to every configured witness that
 * has not cosigned it yet, concurrently, and store each cosignature that verifies. A witness
 * that is down, slow or refuses is recorded as an event and skipped: the log never waits on
 * it. A conflict (the witness holds a larger or different tree for this origin) is an alarm:
 * recorded, and returned so the caller shows it to the operator.
 * @see https://c2sp.org/tlog-witness; docs/witnessing.md
 */
import type { LogDb } from './log-db.js';
import { submitCheckpoint, type SubmitOptions, type SubmitOutcome, type WitnessEndpoint } from '../witness/submit.js';

/** The result of one witness in one round. */
export interface WitnessResult {
  witness: string;
  size: bigint;
  /** `cosigned` (now), `already` (stored earlier), or the failure's code. */
  status: 'cosigned' | 'already' | 'ERR_WITNESS_UNREACHABLE' | 'ERR_WITNESS_REFUSED' | 'ERR_WITNESS_CONFLICT';
  message?: string;
}

function record(db: LogDb, w: WitnessEndpoint, size: bigint, out: SubmitOutcome): WitnessResult {
  const at = Math.floor(Date.now() / 1000);
  if (out.ok) {
    db.addCosignature(size, w.name, out.line, at);
    return { witness: w.name, size, status: 'cosigned' };
  }
  // A 409 beyond the tree this round sent, but within the log's latest checkpoint, is a
  // round that lost a race with a newer one (another round, log witness): not an alarm.
  const latest = db.latestCheckpoint()?.size ?? 0n;
  if (out.code === 'ERR_WITNESS_CONFLICT' && out.witnessSize !== undefined && out.witnessSize > size && out.witnessSize <= latest) {
    return { witness: w.name, size, status: 'ERR_WITNESS_REFUSED', message: `${w.name} already holds size ${out.witnessSize}: a newer round got there first` };
  }
  // A witness that answers with a size within our tree tells us where it is: remember it
  // (only ever raised), so the next submission starts from there.
  if (out.witnessSize !== undefined && out.witnessSize <= size && out.code !== 'ERR_WITNESS_CONFLICT') db.setWitnessSize(w.name, out.witnessSize);
  db.addWitnessEvent({ at, witness: w.name, size, code: out.code, message: out.message });
  return { witness: w.name, size, status: out.code, message: out.message };
}

/**
 * One witnessing round for the latest checkpoint of `db`. Returns one result per witness
 * (empty when the log has no checkpoint). Never throws for a witness's behaviour; store
 * errors (`ERR_STORE_IO`) propagate.
 */
export async function witnessLatest(db: LogDb, witnesses: WitnessEndpoint[], o: SubmitOptions = {}): Promise<WitnessResult[]> {
  const latest = db.latestCheckpoint();
  if (!latest) return [];
  const have = new Set(db.cosignatureLines(latest.size).map((l) => l.slice(2, l.lastIndexOf(' '))));
  return Promise.all(witnesses.map(async (w): Promise<WitnessResult> => {
    if (have.has(w.name)) return { witness: w.name, size: latest.size, status: 'already' };
    const out = await submitCheckpoint(w, latest.note, latest.size, db.witnessSize(w.name), (m) => db.consistencyProof(m, latest.size), o);
    return record(db, w, latest.size, out);
  }));
}
