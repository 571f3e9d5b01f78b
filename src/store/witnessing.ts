/**
 * Witnessing from the log side: send the latest checkpoint to every configured witness that
 * has not cosigned it yet, concurrently, and store each cosignature that verifies. A witness
 * that is down, slow or refuses is recorded as an event and skipped: the log never waits on
 * it. A conflict (the witness holds a larger or different tree for this origin, or is found
 * below the size it cosigned for us: it lost its state) is an alarm: recorded, and returned
 * so the caller shows it to the operator.
 * @see https://c2sp.org/tlog-witness; docs/witnessing.md
 */
import { submitCheckpoint, type SubmitOptions, type SubmitOutcome, type WitnessEndpoint } from '../witness/submit.js';

/** The result of one witness in one round. */
export interface WitnessResult {
  witness: string;
  size: bigint;
  /** `cosigned` (now), `already` (stored earlier), or the failure's code. */
  status: 'cosigned' | 'already' | 'ERR_WITNESS_UNREACHABLE' | 'ERR_WITNESS_REFUSED' | 'ERR_WITNESS_CONFLICT';
  message?: string;
  /** Refused only because a newer round got there first: the witness is well. */
  raced?: true;
}

type Awaitable<T> = T | Promise<T>;

/**
 * What a witnessing round needs of a log: the SQLite `LogDb` is one as it is, and
 * `PgLog.witnessing()` gives the PostgreSQL log's. Sizes are `bigint` tree sizes.
 */
export interface WitnessingLog {
  /** The latest checkpoint: `note` as the log signed it (no cosignatures), or null. */
  latestCheckpoint(): Awaitable<{ size: bigint; note: string } | null>;
  /** The cosignature lines stored for the checkpoint of `size`. */
  cosignatureLines(size: bigint): Awaitable<string[]>;
  /** The size `witness` last cosigned (0n when unknown). */
  witnessSize(witness: string): Awaitable<bigint>;
  /** The RFC 6962 consistency proof from `size1` to `size2` (RFC 9162 §2.1.4). */
  consistencyProof(size1: bigint, size2: bigint): Awaitable<Uint8Array[]>;
  /**
   * Store a verified cosignature line (first one kept) and raise the witness's size: the only
   * way it moves, so it is always a size the witness cosigned (a 409's size is not signed).
   */
  addCosignature(size: bigint, witness: string, line: string, received: number): Awaitable<void>;
  /** Record a refusal, an unreachable witness or a conflict alarm. */
  addWitnessEvent(e: { at: number; witness: string; size: bigint; code: string; message: string }): Awaitable<void>;
}

async function record(db: WitnessingLog, w: WitnessEndpoint, size: bigint, out: SubmitOutcome): Promise<WitnessResult> {
  const at = Math.floor(Date.now() / 1000);
  if (out.ok) {
    await db.addCosignature(size, w.name, out.line, at);
    if (out.alarm === undefined) return { witness: w.name, size, status: 'cosigned' };
    // Cosigned again from where it now is (so it guards what comes next), and an alarm once.
    await db.addWitnessEvent({ at, witness: w.name, size, code: 'ERR_WITNESS_CONFLICT', message: out.alarm });
    return { witness: w.name, size, status: 'ERR_WITNESS_CONFLICT', message: out.alarm };
  }
  // A 409 beyond the tree this round sent, but within the log's latest checkpoint, is a
  // round that lost a race with a newer one (another round, log witness): not an alarm.
  const latest = (await db.latestCheckpoint())?.size ?? 0n;
  if (out.code === 'ERR_WITNESS_CONFLICT' && out.witnessSize !== undefined && out.witnessSize > size && out.witnessSize <= latest) {
    return { witness: w.name, size, status: 'ERR_WITNESS_REFUSED', message: `${w.name} already holds size ${out.witnessSize}: a newer round got there first`, raced: true };
  }
  await db.addWitnessEvent({ at, witness: w.name, size, code: out.code, message: out.message });
  return { witness: w.name, size, status: out.code, message: out.message };
}

/**
 * One witnessing round for the latest checkpoint of `db`. Returns one result per witness
 * (empty when the log has no checkpoint). Never throws for a witness's behaviour; store
 * errors (`ERR_STORE_IO`) propagate.
 */
export async function witnessLatest(db: WitnessingLog, witnesses: WitnessEndpoint[], o: SubmitOptions = {}): Promise<WitnessResult[]> {
  const latest = await db.latestCheckpoint();
  if (!latest) return [];
  const have = new Set((await db.cosignatureLines(latest.size)).map((l) => l.slice(2, l.lastIndexOf(' '))));
  return Promise.all(witnesses.map(async (w): Promise<WitnessResult> => {
    if (have.has(w.name)) return { witness: w.name, size: latest.size, status: 'already' };
    const out = await submitCheckpoint(w, latest.note, latest.size, await db.witnessSize(w.name), (m) => db.consistencyProof(m, latest.size), o);
    return record(db, w, latest.size, out);
  }));
}

/** Longest pause before a witness that keeps failing is asked again, ms. */
export const MAX_WITNESS_BACKOFF_MS = 5 * 60_000;

/**
 * Which witnesses a periodic round asks (`log serve`, `log integrate`): one that was
 * unreachable or refused is asked again only after a pause that doubles with each failure in
 * a row (from the round interval up to {@link MAX_WITNESS_BACKOFF_MS}), so a witness that is
 * down or refuses every checkpoint costs an event and a warning a few times an hour, not every
 * round; a cosignature (or one stored already) ends its pause. A conflict is an alarm and is
 * never paused.
 */
export class WitnessBackoff {
  private readonly paused = new Map<string, { failures: number; until: number }>();

  constructor(private readonly baseMs: number) {}

  /** When the first pause still running at `now` ends (ms since the epoch), or null when none is: a log gone quiet asks then (its latest checkpoint is still owed). */
  nextDue(now = Date.now()): number | null {
    let next: number | null = null;
    for (const p of this.paused.values()) if (p.until > now && (next === null || p.until < next)) next = p.until;
    return next;
  }

  /** The witnesses to ask now (`now`: ms since the epoch); one no longer configured is forgotten. */
  due(witnesses: WitnessEndpoint[], now = Date.now()): WitnessEndpoint[] {
    const names = new Set(witnesses.map((w) => w.name));
    for (const name of this.paused.keys()) if (!names.has(name)) this.paused.delete(name);
    return witnesses.filter((w) => (this.paused.get(w.name)?.until ?? 0) <= now);
  }

  /** Take a round's results into account. */
  after(results: WitnessResult[], now = Date.now()): void {
    for (const r of results) {
      if (r.status === 'cosigned' || r.status === 'already' || r.status === 'ERR_WITNESS_CONFLICT' || r.raced === true) {
        this.paused.delete(r.witness);
        continue;
      }
      const failures = (this.paused.get(r.witness)?.failures ?? 0) + 1;
      this.paused.set(r.witness, { failures, until: now + Math.min(MAX_WITNESS_BACKOFF_MS, this.baseMs * 2 ** Math.min(failures - 1, 20)) });
    }
  }
}
