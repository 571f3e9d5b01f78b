/**
 * Log verification spread over threads (Node): the per-entry checks ({@link EntryFacts}:
 * decoding, leaf hash, envelope signatures, digests) of batches of entries run in
 * `threads - 1` workers and in this thread, which also reads the entries and folds the facts
 * in index order ({@link verifyLog}): it sends each worker {@link DEPTH} batches, and checks the next
 * batch itself while every worker has that many. One worker fewer than threads saves an isolate's
 * start, compiling and memory, and this thread does not sit idle (on 2 cores: 20,001 entries
 * in about the same time as two workers, 20% less peak memory). Verdicts are those of the
 * sequential path: the same function computes the facts. Memory is bounded: at most
 * {@link DEPTH} batches per worker, one more and {@link AHEAD} checked here in flight, each of
 * at most 256 entries and about 1 MiB (in runs of at most 256 KiB: verify/runs.ts; worker
 * entries are at most 64 KiB, and a larger one is checked here, alone).
 * @see verify/entry-facts.ts
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { AttestError } from '../errors.js';
import { entryFacts, type EntryFacts } from '../verify/entry-facts.js';
import { MAX_ENTRY_BYTES } from '../store/log-db.js';
import { COMMITMENT_BYTES, SALT_BYTES } from '../log/opening.js';
import { localFacts, type EntryInput, type FactsSource } from '../verify/log.js';
import './node.js'; // Node's primitives and check runner: the facts computed here run in batches too
import type { TrustPolicy } from '../verify/policy.js';

/** Most entries per message to a worker. */
const BATCH = 256;
/** A batch is sent once its entries reach this many bytes, before {@link BATCH} entries: what is in flight is bounded in bytes too. */
const BATCH_BYTES = 1 << 20;
/**
 * Batches each worker may have queued before this thread checks one itself. Four, not two:
 * this thread also folds the facts and checks each checkpoint note as the tree reaches it,
 * and a worker with two batches ran dry while it did (a log of 200,001 entries and 100,000
 * checkpoints: the worker idle half the time, 40–41 s against 35 s with four).
 */
const DEPTH = 4;
/**
 * Fewer entries than this are checked in this thread: below it, starting the workers costs
 * what they save (measured on this project's 2-core machine: 4,001 entries 0.77 s in one
 * thread against 0.84 s in two, 8,001 entries 1.31 s against 1.29 s).
 */
const WORKERS_FROM = 16 * BATCH;
/**
 * Batches this thread may check beyond the in-flight bound while the oldest batch is still
 * a worker's: a worker's first answer comes only once it has started (~150–250 ms here),
 * which this thread spent waiting before (measured: a 20,001-entry bundle verified in
 * 3.15 s idled ~200 ms at the start). Their facts are held until the worker's come.
 */
const AHEAD = 4;
/** Largest number of verification threads (this one and the workers). */
export const MAX_VERIFY_THREADS = 16;

/** The default number of verification threads (this one and the workers): the cores this process may use, at most {@link MAX_VERIFY_THREADS}. */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), MAX_VERIFY_THREADS);
}

interface Reply { id: number; facts?: EntryFacts[]; leaves?: Uint8Array; error?: string }

/** One batch's facts to come (set when the batch is dispatched), and whether they are in. */
interface Slot { facts: Promise<EntryFacts[]> | null; settled: boolean }

/**
 * The worker script in dist/platform: verify-worker.ts and its imports bundled into one
 * file by `npm run build` (scripts/build-worker.mjs), which starts in half the time, unless
 * it is missing or older than the compiled verify-worker.js (a build by `tsc` alone: the
 * bundle would check entries with code other than this thread's); null when this module runs
 * from TypeScript source (no compiled worker to start). Named from `..`: this module runs
 * one directory below dist/, compiled in dist/platform or bundled into dist/cli
 * (scripts/build-cli.mjs).
 */
function workerUrl(): URL | null {
  if (import.meta.url.endsWith('.ts')) return null;
  const compiled = new URL('../platform/verify-worker.js', import.meta.url);
  const bundled = new URL('../platform/verify-worker.bundle.js', import.meta.url);
  try {
    return statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs ? bundled : compiled;
  } catch {
    return compiled;
  }
}

/** One worker and the replies it owes, by batch id. Once it fails, every reply owed and every later send is rejected. */
class Lane {
  readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private dead: AttestError | null = null;

  constructor(url: URL, workerData: unknown) {
    this.worker = new Worker(url, { workerData });
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.resolve(r);
    });
    const fail = (e: AttestError): void => {
      this.dead ??= e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(new AttestError('ERR_VERIFY_WORKER', `a verification worker failed: ${e.message}`, { cause: e })));
    this.worker.on('messageerror', (e) => fail(new AttestError('ERR_VERIFY_WORKER', `a verification worker's reply could not be read: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => fail(new AttestError('ERR_VERIFY_WORKER', `a verification worker exited (${code})`)));
  }

  send(id: number, batch: EntryInput[]): Promise<Reply> {
    const ends = new Uint32Array(batch.length);
    const positions = new BigInt64Array(batch.length);
    // An opened entry's salt at 16·k and the entry its store publishes at 33·k; `salted[k]`
    // says whether entry k has a salt (1), and a published entry too (2).
    const salts = new Uint8Array(SALT_BYTES * batch.length);
    const published = new Uint8Array(COMMITMENT_BYTES * batch.length);
    const salted = new Uint8Array(batch.length);
    let total = 0;
    batch.forEach(([p, b, salt, entry], k) => {
      total += b.length;
      ends[k] = total;
      positions[k] = BigInt.asIntN(64, p);
      if (salt !== undefined) {
        salts.set(salt, SALT_BYTES * k);
        salted[k] = 1;
      }
      if (entry !== undefined) {
        published.set(entry, COMMITMENT_BYTES * k);
        salted[k] = 2;
      }
    });
    const bytes = new Uint8Array(total);
    batch.forEach(([, b], k) => bytes.set(b, k === 0 ? 0 : ends[k - 1]));
    return new Promise((resolve, reject) => {
      if (this.dead !== null) return reject(this.dead);
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, positions, bytes, ends, salts, published, salted }, [bytes.buffer, ends.buffer, positions.buffer, salts.buffer, published.buffer, salted.buffer]);
    });
  }
}

/** Facts of one batch in order, each given its leaf hash back; an oversized entry's facts are those computed here (`local`, by position in the batch). */
async function unpack(reply: Promise<Reply>, local: Map<number, EntryFacts>): Promise<EntryFacts[]> {
  const r = await reply;
  if (r.error !== undefined || !r.facts || !r.leaves) throw new AttestError('ERR_VERIFY_WORKER', `a verification worker failed: ${r.error ?? 'no facts'}`);
  const leaves = r.leaves;
  return r.facts.map((f, k) => local.get(k) ?? Object.assign(f, { leaf: leaves.subarray(32 * k, 32 * k + 32) }));
}

/**
 * A {@link FactsSource} over `threads` threads, this one and `threads - 1` workers (default
 * {@link defaultThreads}); with
 * one thread, fewer than 4,096 entries to check (totalling under 32 MiB), or when running
 * from TypeScript source, the facts are computed here ({@link localFacts}). `expected`: how
 * many entries the caller expects (a log's row count; else the `length` the entries come
 * with, a bundle's entry count), when known: from 4,096 the workers
 * start once one batch (256 entries) is read, not 4,096. The workers build their
 * keys from `policy` and `secret` (the raw HS256 secret of the policy's HS256 issuers, or
 * null), not from the `keys` passed to the source. An entry larger than a log entry can be
 * ({@link MAX_ENTRY_BYTES}: a hostile file) is checked here and never buffered, so at most
 * {@link DEPTH} batches per worker, one more and {@link AHEAD} checked here, of at most
 * 1 MiB + 64 KiB each, are in flight. Throws `ERR_VERIFY_WORKER`
 * when a worker fails.
 */
export function workerFacts(o: { threads?: number; secret: Uint8Array | null; expected?: number }): FactsSource {
  const threads = Math.max(1, Math.min(o.threads ?? defaultThreads(), MAX_VERIFY_THREADS));
  const url = workerUrl();
  if (threads === 1 || url === null) return localFacts;
  return async function* (entries, policy: TrustPolicy, keys) {
    // Look ahead WORKERS_FROM entries, or as many bytes as two batches of the largest entries,
    // to decide; when the caller expects that many (a count the input itself may claim), one
    // batch, and the workers boot while this thread reads the rest.
    const count = (entries as { length?: unknown }).length; // a bundle's entry count
    const expected = o.expected ?? (typeof count === 'number' ? count : 0);
    const lookahead = expected >= WORKERS_FROM ? BATCH : WORKERS_FROM;
    const it = entries[Symbol.iterator]();
    const head: EntryInput[] = [];
    let headBytes = 0;
    let ended = false;
    while (head.length < lookahead && headBytes <= 2 * BATCH * MAX_ENTRY_BYTES) {
      const r = it.next();
      if (r.done === true) {
        ended = true;
        break;
      }
      head.push(r.value);
      headBytes += r.value[1].length;
    }
    if (ended) return yield* localFacts(head, policy, keys);
    const lanes: Lane[] = [];
    // Each batch's facts to come, in order.
    const inFlight: Slot[] = [];
    let id = 0;
    let queued = 0; // batches sent to the workers and not answered yet
    let batch: EntryInput[] = [];
    let batchBytes = 0;
    let local = new Map<number, EntryFacts>();
    const dispatch = async (): Promise<void> => {
      const slot: Slot = { facts: null, settled: false };
      const own = local; // the facts computed here of the batch's oversized entries, by position in it
      if (queued < DEPTH * lanes.length) {
        queued++;
        slot.facts = unpack(lanes[id % lanes.length]!.send(id++, batch), own);
        // Awaited in order below; a lane's failure must not go unhandled meanwhile.
        slot.facts.then(() => undefined, () => undefined).finally(() => {
          queued--;
          slot.settled = true;
        });
      } else {
        // Every worker has its batches: this thread checks this one rather than wait.
        const facts = await collect(localFacts(batch, policy, keys));
        slot.facts = Promise.resolve(facts.map((f, k) => own.get(k) ?? f));
        slot.settled = true;
      }
      inFlight.push(slot);
      batch = [];
      batchBytes = 0;
      local = new Map();
    };
    try {
      for (let k = 0; k < threads - 1; k++) lanes.push(new Lane(url, { policy, secret: o.secret }));
      for (const e of chain(head, it)) {
        const [position, bytes, salt, entry] = e;
        // A salt or a published entry of another length (a finding, as in one thread) is checked here, never shipped.
        if (bytes.length > MAX_ENTRY_BYTES || (salt !== undefined && salt.length !== SALT_BYTES) || (entry !== undefined && entry.length !== COMMITMENT_BYTES)) {
          local.set(batch.length, await entryFacts(position, bytes, policy, keys, salt, entry));
          batch.push([position, new Uint8Array(0)]);
        } else {
          batch.push(e);
          batchBytes += bytes.length;
        }
        if (batch.length < BATCH && batchBytes < BATCH_BYTES) continue;
        await dispatch();
        // Folded as soon as they are in; the oldest is awaited once more than DEPTH batches per
        // worker, one more and those checked here ahead of it wait.
        while (inFlight.length > 0 && (inFlight[0]!.settled || inFlight.length > DEPTH * lanes.length + 1 + AHEAD)) yield* await inFlight.shift()!.facts!;
      }
      if (batch.length > 0) await dispatch();
      while (inFlight.length > 0) yield* await inFlight.shift()!.facts!;
    } finally {
      // Left early (a worker failed, the caller stopped): the entries' reader is closed too (a
      // log's open SQLite statement would keep its connection busy).
      it.return?.();
      await Promise.all(lanes.map((l) => l.worker.terminate()));
    }
  };
}

/** Every item of `source`, in order. */
async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** `head`'s items, then the rest of `rest`. */
function* chain<T>(head: T[], rest: Iterator<T>): Generator<T> {
  yield* head;
  for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
}
