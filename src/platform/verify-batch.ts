/**
 * Signature verifications gathered and run back to back (Node). OpenSSL's P-256 verify runs
 * from precomputed tables that the rest of an entry's checks (JSON, SQLite, hashing) push out
 * of the CPU caches: one ES256 verify between other work takes ~88 µs here, the same verify
 * in a run of them ~66 µs (scratch measurement on 6,000 log entries: 121–136 µs per entry
 * checked one by one, 100–112 µs gathered). {@link VerifyBatcher.all} runs the checks of a
 * batch of entries concurrently; each verification they ask for waits in a queue, and the
 * queue runs whenever every check is waiting (once per turn of the event loop). Verdicts are
 * the direct verifier's, one per request, in order of request.
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
 * it returns a promise settled when the queue next runs. A verification queued by someone
 * else meanwhile is run with the batch's and settled the same way.
 */
export class VerifyBatcher {
  private queue: Pending[] = [];
  private active = 0;

  constructor(private readonly direct: (alg: AlgName, key: CryptoKey, data: Uint8Array, signature: Uint8Array) => boolean) {}

  /** The verifier to install (`usePlatformVerify`): direct, or queued while a batch runs. */
  readonly verify: PlatformVerify = (alg, key, data, signature) => {
    if (this.active === 0) return this.direct(alg, key, data, signature);
    return new Promise((resolve) => this.queue.push({ alg, key, data, signature, resolve }));
  };

  /**
   * Start every task at once and resolve with their results in order (as `Promise.all`,
   * rejecting with the first task's failure). While they run, the queued verifications run
   * back to back at each turn of the event loop, the last run right before this returns: a
   * verification asked for later (a task still running after another failed) is direct.
   */
  async all<T>(tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
    this.active++;
    let settled = false;
    const results = Promise.all(tasks.map((t) => t()));
    const done = (): void => {
      settled = true;
    };
    results.then(done, done);
    while (!settled) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.run();
    }
    this.active--;
    return results;
  }

  /** Run what is queued now; a verifier that throws counts as a signature that does not verify. */
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
