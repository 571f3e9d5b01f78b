/**
 * Log verification spread over worker threads (Node): the per-entry checks
 * ({@link EntryFacts}: decoding, leaf hash, envelope signatures, digests) of batches of
 * entries run in `threads` workers while this thread reads the entries and folds the facts
 * in index order ({@link verifyLog}). Verdicts are those of the sequential path: the same
 * function computes the facts. Memory is bounded: at most two batches per worker in flight.
 * @see verify/entry-facts.ts
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { AttestError } from '../errors.js';
import type { EntryFacts } from '../verify/entry-facts.js';
import { sequentialFacts, type FactsSource } from '../verify/log.js';
import type { TrustPolicy } from '../verify/policy.js';

/** Entries per message to a worker. */
const BATCH = 256;
/** Largest number of worker threads. */
export const MAX_VERIFY_THREADS = 16;

/** The default number of verification threads: the cores this process may use, at most {@link MAX_VERIFY_THREADS}. */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), MAX_VERIFY_THREADS);
}

interface Reply { id: number; facts?: EntryFacts[]; leaves?: Uint8Array; error?: string }

/** The worker script beside this module (`.ts` when this module runs from source under a TypeScript loader). */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js', import.meta.url);
}

/** One worker and the replies it owes, by batch id. */
class Lane {
  readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  constructor(workerData: unknown) {
    this.worker = new Worker(workerUrl(), { workerData });
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.resolve(r);
    });
    const fail = (e: Error): void => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(new AttestError('ERR_VERIFY_WORKER', `a verification worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => fail(new AttestError('ERR_VERIFY_WORKER', `a verification worker exited (${code})`)));
  }

  send(id: number, batch: Array<[bigint, Uint8Array]>): Promise<Reply> {
    const ends = new Uint32Array(batch.length);
    const positions = new BigInt64Array(batch.length);
    let total = 0;
    batch.forEach(([p, b], k) => { total += b.length; ends[k] = total; positions[k] = BigInt.asIntN(64, p); });
    const bytes = new Uint8Array(total);
    batch.forEach(([, b], k) => bytes.set(b, k === 0 ? 0 : ends[k - 1]));
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, positions, bytes, ends }, [bytes.buffer, ends.buffer, positions.buffer]);
    });
  }
}

/** Facts of one reply, each given its leaf hash back. */
function unpack(r: Reply): EntryFacts[] {
  if (r.error !== undefined || !r.facts || !r.leaves) throw new AttestError('ERR_VERIFY_WORKER', `a verification worker failed: ${r.error ?? 'no facts'}`);
  const leaves = r.leaves;
  r.facts.forEach((f, k) => { f.leaf = leaves.subarray(32 * k, 32 * k + 32); });
  return r.facts;
}

/**
 * A {@link FactsSource} over `threads` worker threads (default {@link defaultThreads}); with
 * one thread, or fewer than two batches of entries to check, the facts are computed here
 * ({@link sequentialFacts}). `secret` is the raw HS256 secret of the policy's HS256 issuers
 * (the workers import it themselves), or null. Throws `ERR_VERIFY_WORKER` when a worker fails.
 */
export function workerFacts(o: { threads?: number; secret: Uint8Array | null }): FactsSource {
  const threads = Math.max(1, Math.min(o.threads ?? defaultThreads(), MAX_VERIFY_THREADS));
  if (threads === 1) return sequentialFacts;
  return async function* (entries, policy: TrustPolicy, keys) {
    const it = entries[Symbol.iterator]();
    const head: Array<[bigint, Uint8Array]> = [];
    while (head.length < 2 * BATCH) {
      const r = it.next();
      if (r.done === true) break;
      head.push(r.value);
    }
    if (head.length < 2 * BATCH) return yield* sequentialFacts(head, policy, keys);
    const lanes = Array.from({ length: threads }, () => new Lane({ policy, secret: o.secret }));
    const inFlight: Array<Promise<Reply>> = [];
    let id = 0;
    let batch: Array<[bigint, Uint8Array]> = [];
    const dispatch = (): void => {
      inFlight.push(lanes[id % lanes.length]!.send(id++, batch));
      batch = [];
    };
    try {
      for (const entry of chain(head, it)) {
        batch.push(entry);
        if (batch.length < BATCH) continue;
        dispatch();
        if (inFlight.length >= 2 * lanes.length) yield* unpack(await inFlight.shift()!);
      }
      if (batch.length > 0) dispatch();
      while (inFlight.length > 0) yield* unpack(await inFlight.shift()!);
    } finally {
      inFlight.forEach((p) => p.catch(() => undefined));
      await Promise.all(lanes.map((l) => l.worker.terminate()));
    }
  };
}

/** `head`'s items, then the rest of `rest`. */
function* chain<T>(head: T[], rest: Iterator<T>): Generator<T> {
  yield* head;
  for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
}
