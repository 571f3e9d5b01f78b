/**
 * WAL checkpoints off the event loop (Node): a worker thread with its own connections runs
 * `wal_checkpoint(PASSIVE)` on the log's database file and on the evidence store's
 * (store/wal-checkpoint-worker.ts), asked every {@link CHECKPOINT_EVERY} appends, one at a
 * time, and the writing connection's automatic checkpoint waits for a WAL four times larger
 * than SQLite's default, to rewind it ({@link RESTART_PAGES}).
 *
 * Why: SQLite runs an automatic checkpoint inside the commit that takes the WAL past 1,000
 * pages, on the thread that commits: it copies those pages into the database file and, with
 * `synchronous=NORMAL`, syncs the WAL before and the database after. In the proxy that is a
 * stall of milliseconds on the event loop every few hundred calls, which every call in
 * flight waits out. A PASSIVE checkpoint from another connection does the same work and
 * never blocks the writer. It syncs the WAL before copying; it syncs the database file only
 * when it has copied the whole WAL (strace), and only then may the writer rewind the WAL: a
 * WAL frame is overwritten only once the database holding its page is on disk.
 *
 * The worker starts at the first request, so a writer that appends little (a CLI command)
 * never starts a thread. If it cannot start or fails, the writer's automatic checkpoints are
 * SQLite's own again: the WAL stays bounded either way. Running from TypeScript source
 * (tests under tsx) there is no compiled worker, and SQLite's own checkpoints stay.
 */
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** Appends between two checkpoint requests (an append writes 3 to 5 WAL pages; SQLite's own threshold is 1,000 pages). */
export const CHECKPOINT_EVERY = 128;
/** SQLite's default `wal_autocheckpoint`, restored when the worker is gone. */
export const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The writer's own automatic checkpoint while the worker runs, in WAL pages (4 MiB of a log
 * made now, whose pages are 1 KiB; 16 MiB of the evidence store): it restarts the WAL. A
 * checkpoint from another connection never ends with the WAL empty while
 * appends keep coming, and SQLite rewinds the WAL only from an empty one, so without it the
 * file would grow for as long as the appends do. By then the worker has copied all but the
 * last few hundred pages: the writer's checkpoint copies those and syncs.
 */
const RESTART_PAGES = 4000;
/**
 * Longest wait at close for the worker to close its connections, ms; then it is terminated.
 * Nothing durable depends on it (whichever connection closes last removes the WAL): it only
 * spares a dead worker's exit, not yet seen, from holding a close for long.
 */
const CLOSE_WAIT_MS = 1_000;

/**
 * The worker script in dist/store; null from TypeScript source. Named from `..`: this module
 * runs one directory below dist/, compiled in dist/store or bundled into dist/cli
 * (scripts/build-cli.mjs).
 */
function workerUrl(): URL | null {
  return import.meta.url.endsWith('.ts') ? null : new URL('../store/wal-checkpoint-worker.js', import.meta.url);
}

/** Background checkpoints of the WAL files of `paths` (database files, the first the writer's own), for the writer `db`. */
export class WalCheckpointer {
  private worker: Worker | null = null;
  /** No worker to start (from TypeScript source), or it failed: SQLite's own checkpoints. */
  private off: boolean;
  private appends = 0;
  /** A checkpoint was asked for: the worker may hold connections, to be closed before the writer's. */
  private asked = false;
  /**
   * Shared with the worker: [0] set to 1 once its connections are closed, [1] 1 while a
   * checkpoint is asked for or running. Shared memory, not messages: a writer whose awaits
   * never reach the event loop (a caller appending in a loop) still sees them.
   */
  private readonly state = new Int32Array(new SharedArrayBuffer(8));

  /** Nothing starts before the first {@link CHECKPOINT_EVERY} appends (a short-lived writer never starts a thread). Never throws. */
  constructor(private readonly db: Database.Database, private readonly paths: readonly string[]) {
    this.off = workerUrl() === null;
  }

  /**
   * The WAL frames the writer lets its WAL reach before its own automatic checkpoint rewinds
   * it: {@link RESTART_PAGES} while the worker runs or can start, SQLite's default 1,000
   * without one (store/sqlite.ts `prefillWal` sizes the WAL by it).
   */
  get workingFrames(): number {
    return this.off ? AUTOCHECKPOINT_PAGES : RESTART_PAGES;
  }

  /** Count an append; every {@link CHECKPOINT_EVERY} of them, ask for a checkpoint unless one is running. */
  appended(): void {
    if (this.off || ++this.appends % CHECKPOINT_EVERY !== 0 || Atomics.load(this.state, 1) !== 0) return;
    const w = this.worker ?? this.start();
    if (w === null) return;
    Atomics.store(this.state, 1, 1);
    this.asked = true;
    w.postMessage('checkpoint');
  }

  /** Start the worker and leave the WAL's rewinding alone to the writer; null (and SQLite's own checkpoints) when it cannot start. */
  private start(): Worker | null {
    try {
      // No flags of this process (`--input-type` alone makes a worker fail to start): it needs none.
      // Absolute: the process reads a path beginning "file:" as a URI (store/sqlite.ts).
      this.worker = new Worker(workerUrl()!, { workerData: { paths: this.paths.map((p) => resolve(p)), state: this.state }, execArgv: [] });
    } catch {
      this.off = true;
      return null;
    }
    this.worker.unref();
    const gone = (): void => this.fallBack();
    this.worker.on('error', gone);
    this.worker.on('exit', gone);
    this.db.pragma(`wal_autocheckpoint = ${RESTART_PAGES}`);
    return this.worker;
  }

  /**
   * Close the worker's connections (waiting at most {@link CLOSE_WAIT_MS} for a checkpoint it
   * is running, then terminating it), so the writer's own close is the last and may remove
   * the WAL. Synchronous.
   */
  close(): void {
    const w = this.worker;
    this.off = true;
    if (w === null) return;
    this.worker = null;
    w.removeAllListeners('exit');
    w.removeAllListeners('error');
    w.on('error', () => undefined);
    w.postMessage('close');
    if (this.asked && Atomics.wait(this.state, 0, 0, CLOSE_WAIT_MS) === 'timed-out') void w.terminate();
  }

  /** The worker is gone: SQLite's own checkpoints again. */
  private fallBack(): void {
    if (this.worker === null) return;
    this.worker = null;
    this.off = true;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
