/**
 * The calls a recorder has in flight, and the two choices they decide: whether a signature
 * goes to libuv's thread pool (`Signer.offload`) and whether an append is synced on the
 * event loop (store/log-db.ts `appendDurable`, `WalSync.syncNow`). A call is in flight while
 * it is being recorded (in `attest` or `receipt`) and between its attestation and its
 * receipt (upstream). Counts only: a wrong count changes which thread works, never whether
 * a signature is made or an append synced.
 */
import type { Signer } from '../envelope/sign.js';

/** Calls being recorded and calls upstream, for one recorder. */
export class CallsInFlight {
  /** Calls being recorded now (signing, or waiting for their append to be durable). */
  private active = 0;
  /** Attestations logged and not yet answered (their calls are upstream). */
  private readonly unanswered = new WeakSet<object>();
  /** How many: a call never answered (the process ends first) only keeps later calls off {@link alone}'s fast path. */
  private open = 0;

  /** Run `f` as one call being recorded. */
  async recording<T>(f: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
    }
  }

  /** `attestation` is logged: its call goes upstream until {@link answered}. */
  logged(attestation: object): void {
    this.unanswered.add(attestation);
    this.open++;
  }

  /** `attestation`'s call came back (its receipt is being made); a second time, or one never logged here, is nothing. */
  answered(attestation: object): void {
    if (this.unanswered.delete(attestation)) this.open--;
  }

  /**
   * True when the one call being recorded is the only call in flight (none other is being
   * recorded or is upstream): its append is then synced on this thread, saving the thread
   * pool's round trip (~65 µs here), since nothing would run meanwhile. With other calls in
   * flight the sync runs on the pool and is shared.
   */
  get alone(): boolean {
    return this.active === 1 && this.open === 0;
  }

  /** True when no call is being recorded (a caller with its own count, the gatekeeper, may then sync on this thread). */
  get idle(): boolean {
    return this.active === 0;
  }

  /**
   * `s`, signing on the thread pool ({@link Signer.offload}) while other calls are being
   * recorded: their work runs on this thread during the signature. One call alone signs here
   * (a round trip to the pool would only add to its latency).
   */
  signing(s: Signer): Signer {
    return this.active > 1 && s.offload !== undefined ? { ...s, sign: s.offload } : s;
  }
}
