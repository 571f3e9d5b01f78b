/**
 * Group commit for a SQLite log in WAL mode: commits are written with `synchronous=NORMAL`
 * (the WAL frames reach the kernel at COMMIT, nothing waits for the disk), and durability
 * comes from `fdatasync` of the WAL file, shared: every caller waiting at once is served by one
 * sync that started after its commit. It runs on libuv's thread pool ({@link WalSync.sync}), or
 * on the event loop for a caller with nothing else to do while syncs are fast
 * ({@link WalSync.syncNow}, {@link WalSync.syncSoon}).
 *
 * Why this is as durable as `synchronous=FULL`: FULL does exactly one thing more per commit,
 * an fsync of the WAL after writing its frames. Here that fsync happens once for all the
 * commits written before it began (any process's: the page cache is shared), and a caller is
 * told "durable" only once a sync that began after its commit has finished. SQLite's own
 * checkpoints keep syncing the WAL before copying and the database after (NORMAL does both),
 * and the WAL file is never deleted while a connection (ours) is open. The first sync also
 * syncs the directory, so a log file or WAL just created keeps its name across a power loss.
 *
 * A WAL that grows makes each fdatasync commit the file system's journal too (the file's size
 * and blocks change): on ext4 here 0.35 ms per durable append instead of 0.21, until the WAL
 * first reaches its working size and is rewound, which is the first 1,200 or so appends of
 * every process that opens the log (SQLite removes the WAL at the last close). The log
 * therefore writes that size of zeros once, at open (store/sqlite.ts `prefillWal`), and a
 * WAL in use is only ever overwritten in place.
 *
 * An fdatasync that fails leaves the disk's state unknown (the kernel may drop the dirty
 * pages and report success next time): the failure is sticky, every later
 * {@link WalSync.sync} rejects with `ERR_STORE_IO`, the log takes no more commits
 * ({@link WalSync.assertHealthy}), and the log must be reopened. The kernel reports a
 * write-back error to the descriptors open when it happens, so the WAL's is opened with the
 * log ({@link WalSync.start}), before anything waits on it; the prefill's fsync at open fails
 * the open (store/sqlite.ts `prefillWal`).
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { AttestError } from '../errors.js';

/**
 * Recent syncs slower than this on average (ms, exponentially weighted over both kinds)
 * keep {@link WalSync.syncNow} off: on a disk loaded by another writer one fdatasync can take
 * hundreds of milliseconds, which on the event loop would stall every other connection.
 */
export const INLINE_SYNC_MAX_MS = 1;
/** Weight of the newest sync in the running average. */
const AVERAGE_WEIGHT = 0.25;

/** Shared, off-loop fdatasync of one SQLite database's WAL file (`<path>-wal`). */
export class WalSync {
  private fd: number | null = null;
  /** The sync running now, if any. */
  private current: Promise<void> | null = null;
  /** The sync {@link syncSoon} has scheduled for the end of this turn of the event loop, if any. */
  private soon: Promise<void> | null = null;
  /** The sync queued to start when {@link current} ends (callers that came during it). */
  private next: Promise<void> | null = null;
  private failed: AttestError | null = null;
  private closed = false;
  private count = 0;
  /** Running average of recent syncs' wall time, ms (on the pool: from start to callback). */
  private averageMs = 0;
  /** Run just before the next sync starts (store/log-db.ts commits the appends it queued there). */
  private hooks: Array<() => void> = [];

  /**
   * `dbPath`: the database file; its WAL is `dbPath + "-wal"`. Nothing is opened until the
   * first sync. `datasync`, `datasyncNow`: `fs.fdatasync` and `fs.fdatasyncSync`; `clock`:
   * milliseconds, `performance.now` (others only in tests, to make syncs fail or seem slow).
   */
  constructor(
    private readonly dbPath: string,
    private readonly datasync: typeof fdatasync = fdatasync,
    private readonly datasyncNow: typeof fdatasyncSync = fdatasyncSync,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /**
   * Resolves once everything committed to the database before this call is on disk, and,
   * with `before`, what `before` commits: it runs just before the sync that serves the caller
   * starts (at once when none is running; else when the running one ends). `before` must not
   * throw. Rejects with `ERR_STORE_IO` when the WAL cannot be opened or synced, now or at any
   * earlier sync (`before` then does not run).
   */
  sync(before?: () => void): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.current === null && this.next === null) {
      before?.();
      return (this.current = this.run());
    }
    if (before !== undefined) this.hooks.push(before);
    if (this.next !== null) return this.next;
    // The running sync may have begun before the caller's commit: wait for the next one.
    return (this.next = this.current!.catch(() => undefined).then(() => {
      this.next = null;
      const hooks = this.hooks;
      this.hooks = [];
      if (this.failed === null) for (const h of hooks) h();
      return (this.current = this.run());
    }));
  }

  /**
   * {@link sync} on this thread, blocking it: for a caller with nothing else to do meanwhile
   * (the thread pool's round trip costs ~65 µs here, an fdatasync of an append ~120 µs).
   * Only while not {@link busy} (a sync on the pool may have begun before the caller's
   * commit) and while recent syncs took {@link INLINE_SYNC_MAX_MS} or less on average (a
   * slow disk blocks the pool's thread, not the loop): returns false, having done nothing,
   * otherwise; true once everything committed before the call is on disk. Throws
   * `ERR_STORE_IO` as {@link sync} rejects.
   */
  syncNow(): boolean {
    if (this.failed !== null) throw this.failed;
    if (this.busy || this.averageMs > INLINE_SYNC_MAX_MS) return false;
    let start: number;
    try {
      const fd = this.open();
      this.count++;
      start = this.clock();
      this.datasyncNow(fd);
    } catch (cause) {
      throw this.fail(cause);
    }
    this.timed(start);
    return true;
  }

  /**
   * {@link sync}, made at the end of this turn of the event loop (`setImmediate`) and there
   * on this thread ({@link syncNow}) when it can be, else on the pool: for a caller that
   * answers a request only once its append is durable, with nothing else to do meanwhile
   * (`mcp-attest serve`). Every caller of the same turn shares that one sync (a burst of
   * requests read together, whose handlers all run before it), and none pays the pool's round
   * trip (~65 µs here) while syncs are fast. Rejects with `ERR_STORE_IO` as {@link sync}.
   */
  syncSoon(): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    this.soon ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.soon = null;
      return this.syncNow() ? undefined : this.sync();
    });
    return this.soon;
  }

  /**
   * Open the WAL's descriptor now (and sync the directory), before the log commits anything
   * a caller will wait on: Linux reports a write-back error of the file to the descriptors
   * open when it happens (or to the first that asks, when none did), so one opened later,
   * after another descriptor (the WAL's prefill, another process's) took the report, would
   * sync "successfully" over pages the kernel dropped. Throws `ERR_STORE_IO` when the WAL or
   * its directory cannot be opened (the log cannot be made durable: it is not opened); that
   * failure is final, as a failed sync is.
   */
  start(): void {
    try {
      this.open();
    } catch (cause) {
      throw this.fail(cause);
    }
  }

  /**
   * Throws the `ERR_STORE_IO` of an earlier failed sync, if any: after one the disk's state is
   * unknown, so the log takes no more commits (LogDb `append`: a call refused for it leaves no
   * record behind).
   */
  assertHealthy(): void {
    if (this.failed !== null) throw this.failed;
  }

  /**
   * Resolves once the syncs asked for so far (running, queued, or due at the end of this turn:
   * {@link syncSoon}) have ended, without starting one when none is; rejects with the
   * `ERR_STORE_IO` of a failed sync. For a reader that shows what was committed only once it
   * is on disk, when every commit of this process is followed, in the same turn, by a sync
   * request (the session server's tools): reading costs no sync of its own.
   */
  settled(): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return this.busy || this.soon !== null ? this.syncSoon() : Promise.resolve();
  }

  /** Whether a sync is running or queued: a commit made now would wait for the next one. */
  get busy(): boolean {
    return this.current !== null || this.next !== null;
  }

  /** How many fdatasyncs this object has started (each may have served many callers). */
  get syncs(): number {
    return this.count;
  }

  /**
   * Close the WAL's file descriptor (after the database is closed), once the sync running on
   * the pool, if any, has ended. Syncs queued or requested from now on reject with
   * `ERR_STORE_IO`: their callers are told nothing is durable, although the database's close
   * may have made their commits so (it checkpoints the WAL when it is the last connection).
   */
  close(): void {
    this.closed = true;
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    // Nothing is left to report a failure to: the descriptor was only ever read.
    const closeFd = (): void => {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    };
    if (this.current === null) closeFd();
    else void this.current.catch(() => undefined).then(closeFd);
  }

  private run(): Promise<void> {
    const done: Promise<void> = new Promise<void>((resolve, reject) => {
      // A sync queued behind one that failed must not run: after a failed fsync the kernel
      // may have dropped the pages, and a later one could succeed without them.
      if (this.failed !== null) return reject(this.failed);
      let fd: number;
      try {
        fd = this.open();
      } catch (cause) {
        return reject(this.fail(cause));
      }
      this.count++;
      const start = this.clock();
      this.datasync(fd, (e) => {
        this.timed(start);
        if (e === null) resolve();
        else reject(this.fail(e));
      });
    }).finally(() => {
      if (this.current === done) this.current = null;
    });
    return done;
  }

  /** Add a sync begun at `start` ({@link clock}, ms) to the running average. */
  private timed(start: number): void {
    this.averageMs += AVERAGE_WEIGHT * (this.clock() - start - this.averageMs);
  }

  private open(): number {
    if (this.fd !== null) return this.fd;
    if (this.closed) throw new Error('the log is closed');
    const fd = openSync(`${this.dbPath}-wal`, 'r');
    try {
      const dir = openSync(dirname(this.dbPath), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return (this.fd = fd);
  }

  private fail(cause: unknown): AttestError {
    this.failed ??= new AttestError('ERR_STORE_IO', `cannot sync the log's write-ahead file ${this.dbPath}-wal: ${(cause as Error).message}`, { path: `${this.dbPath}-wal`, cause });
    return this.failed;
  }
}
