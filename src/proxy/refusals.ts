/**
 * The refused-input log of one relay (docs/wire.md §5), under a budget so a peer sending
 * garbage can neither grow the log without bound nor stall the relay with a durable append
 * per line: a token bucket of {@link BURST} records, refilled at {@link PER_SECOND} per
 * second. A refusal over budget is still answered and reported, and counted: the next
 * record logged carries the count in `suppressed` (and {@link RefusalLog.close} logs the
 * last one held back), so the log always says how many refusals it does not list.
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

  constructor(
    private readonly recorder: Recorder,
    private readonly server: () => { name: string; fingerprint: string },
    private readonly report: (e: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.at = clock();
  }

  /** Log `r` if the budget allows, else count it. */
  add(r: Refusal): void {
    const now = this.clock();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.at) / 1000) * PER_SECOND);
    this.at = now;
    if (this.tokens < 1) {
      this.held = { last: r, count: (this.held?.count ?? 0) + 1 };
      return;
    }
    this.tokens -= 1;
    const suppressed = this.held?.count ?? 0;
    this.held = null;
    this.append(r, suppressed);
  }

  /** Log the last refusal held back, if any (at shutdown). */
  close(): void {
    if (this.held !== null) this.append(this.held.last, this.held.count - 1);
    this.held = null;
  }

  private append(r: Refusal, suppressed: number): void {
    // Not awaited: the refusal's answer needs no record first; a record that fails is reported.
    this.recorder.refusedInput({ server: this.server(), ...r, suppressed }).catch((e: unknown) => this.report(e));
  }
}
