/**
 * Signature verifications gathered and run back to back (Node). OpenSSL's P-256 verify runs
 * from precomputed tables that the rest of an entry's checks (JSON, SQLite, hashing) push out
 * of the CPU caches: one ES256 verify between other work took ~88 µs here, the same verify in
 * a run of them 66–70 µs (scratch measurement on 6,000 log entries: 121–136 µs per entry
 * checked one by one, 100–112 µs gathered). {@link VerifyBatcher.all} runs the checks of a
 * batch of entries concurrently; a verification one of them asks for is queued, and the queue
 * runs at the next turn of the event loop, after every check that could go on without
 * waiting has queued its own. Verdicts are the direct verifier's, one per request, in order
 * of request.
 */
import type { AlgName, PlatformVerify } from '../keys/algorithms.js';

interface Pending {
  alg: AlgName;
  key: CryptoKey;
  data: Uint8Array;
  signature: Uint8Array;
  resolve: (ok: boolean) => void;
}

/**
 * Wraps a synchronous verifier (`direct`, e.g. node:crypto's). {@link verify} is a
 * {@link PlatformVerify} to install: outside {@link all} it is `direct`; while any `all` runs,
 * it queues the verification and returns a promise that the next run of the queue settles
 * (a run is scheduled whenever the queue gets its first request, so every request is
 * settled, whatever becomes of the batch that asked). A verification someone else asks for
 * meanwhile is queued with the batch's.
 */
export class VerifyBatcher {
  private queue: Pending[] = [];
  private active = 0;

  constructor(private readonly direct: (alg: AlgName, key: CryptoKey, data: Uint8Array, signature: Uint8Array) => boolean) {}

  /** The verifier to install (`usePlatformVerify`): direct, or queued while a batch runs. */
  readonly verify: PlatformVerify = (alg, key, data, signature) => {
    if (this.active === 0) return this.direct(alg, key, data, signature);
    if (this.queue.length === 0) setImmediate(() => this.run());
    return new Promise((resolve) => this.queue.push({ alg, key, data, signature, resolve }));
  };

  /**
   * Start every task at once and resolve with their results in order, as `Promise.all`:
   * rejects with the failure of the first task to fail (a synchronous throw included), and
   * the others run on. Their verifications are gathered while this runs; one asked for after
   * it ended is direct, unless another batch is running then.
   */
  async all<T>(tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
    this.active++;
    try {
      return await Promise.all(tasks.map(async (t) => t()));
    } finally {
      this.active--;
    }
  }

  /** Run what is queued; a verifier that throws counts as a signature that does not verify. */
  private run(): void {
    const q = this.queue;
    this.queue = [];
    for (const p of q) {
      let ok = false;
      try {
        ok = this.direct(p.alg, p.key, p.data, p.signature);
      } catch {
        ok = false;
      }
      p.resolve(ok);
    }
  }
}
