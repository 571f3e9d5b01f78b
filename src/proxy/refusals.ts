/**
 * The refused-input log of one relay (docs/wire.md §5), under a budget so a peer sending
 * garbage can neither grow the log without bound nor stall the relay with a durable append
 * per line: a token bucket of {@link BURST} records, refilled at {@link PER_SECOND} per
 * second. A refusal over budget is still answered and reported, and counted: the next
 * record logged carries the count in `suppressed`. The last one held back is logged as soon
 * as the budget allows (a timer), or at {@link RefusalLog.close}, so the log says how many
 * refusals it does not list, a process killed after the flood included.
 */
import type { ErrorCode } from '../errors.js';
import type { RefusedInputRecord } from '../records/record.js';
import type { Recorder } from './recorder.js';

/** Records a relay may log at once. */
export const BURST = 64;
/** Records per second once the burst is spent. */
export const PER_SECOND = 4;

/** One refused input, as logged (docs/log-format.md). */
export type Refusal = Pick<RefusedInputRecord, 'direction' | 'size' | 'digest' | 'id'> & { code: ErrorCode };

/** Logs refused inputs under the budget. Never throws: a failed append is reported on stderr. */
export class RefusalLog {
  private tokens = BURST;
  private at: number;
  private held: { last: Refusal; count: number } | null = null;
  /** Logs what is held once a token is back. */
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly recorder: Recorder,
    private readonly server: () => { name: string; fingerprint: string },
    private readonly report: (e: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.at = clock();
  }

  /** Log `r` if the budget allows, else count it (and log it once a token is back). */
  add(r: Refusal): void {
    if (!this.take()) {
      this.held = { last: r, count: (this.held?.count ?? 0) + 1 };
      this.schedule();
      return;
    }
    const suppressed = this.held?.count ?? 0;
    this.held = null;
    this.append(r, suppressed);
  }

  /** Log the last refusal held back, if any (at shutdown). */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.held !== null) this.append(this.held.last, this.held.count - 1);
    this.held = null;
  }

  /** A token, if the budget (refilled to now) has one. */
  private take(): boolean {
    const now = this.clock();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.at) / 1000) * PER_SECOND);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Run {@link flush} once the budget has a token again (one timer at a time, not keeping the process alive). */
  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), Math.ceil(((1 - this.tokens) / PER_SECOND) * 1000)).unref();
  }

  /** The timer's: log the last refusal held back, with the count of those before it, once a token is back. */
  private flush(): void {
    this.timer = null;
    if (this.held === null) return;
    if (!this.take()) return this.schedule();
    const { last, count } = this.held;
    this.held = null;
    this.append(last, count - 1);
  }

  private append(r: Refusal, suppressed: number): void {
    // Not awaited: the refusal's answer needs no record first; a record that fails is reported.
    this.recorder.refusedInput({ server: this.server(), ...r, suppressed }).catch((e: unknown) => this.report(e));
  }
}
