/**
 * The durable RFC 6962 log in SQLite (better-sqlite3, WAL). Several processes may append at
 * once: each append is one `BEGIN IMMEDIATE` transaction that reads the size, builds the
 * entry for that index, and stores the entry, its leaf hash and every Merkle node the
 * append completes. With `synchronous=FULL` (default) an append returns only once it is on
 * disk; with group commit (the proxy's recorder) it returns once written, and
 * {@link LogDb.durable} resolves once it is on disk: that is the write-ahead guarantee the
 * proxy relies on. Nothing is ever updated or deleted but for the one-time move of a log of
 * the earlier layout (log-nodes.ts) and the erasure of a private entry's opening
 * ({@link LogDb.erase}); checkpoints are kept for every size they were signed at.
 *
 * Tables: `entries(idx, data, leaf, up, salt, record)` (`data`: the entry as published;
 * `up`: the hashes of the complete subtrees the entry's append completed, bottom up, every
 * Merkle node living in the row that completed it, store/log-nodes.ts; `salt`, `record`: a
 * private entry's opening, NULL for a public one or once erased, log/opening.ts), `checkpoints(size, note, created)`, `cosignatures(size, witness, line,
 * received)` (witness cosignature/v1 lines collected for a checkpoint; the first per witness
 * and size is kept), `witness_sizes(witness, size)` (the latest size each witness cosigned
 * for this log, to send as `old`), `witness_events(...)` (refusals and conflict alarms; these four
 * are the checkpoint side, store/log-checkpoints.ts, which `LogDb` extends),
 * `sessions(...)` and `session_entries(...)` (the state of each receipt session and its
 * entries, derived from the session records and written in the same transaction; see
 * store/sessions.ts).
 */
import Database from 'better-sqlite3';
import { AttestError } from '../errors.js';
import { databaseFile, openSqlite, prefillWal, truncateWal } from './sqlite.js';
import { WalSync } from './wal-sync.js';
import { QueuedCommits } from './queued-commits.js';
import { AUTOCHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.js';
import { migrateNodes, nodeReader } from './log-nodes.js';
import { LOG_SCHEMA, LOG_PAGE_SIZE, addOpeningColumns, hasOpeningColumns, indexWitnesses } from './log-schema.js';
import { concatBytes } from '../bytes/index.js';
import { leafHash } from '../log/hash.js';
import { LogCheckpoints } from './log-checkpoints.js';
import { cutColumn, entryBytes, entryRow, storedRows, type StoredRow } from './entry-row.js';
import type { EntryInput } from '../verify/log.js';
import { decodeParameters, encodeRecord, PARAMETERS_RECORD, type EntriesMode } from '../records/record.js';
import { appendNodes, rootAt, inclusionProof, consistencyProof, type NodeReader } from '../log/tree.js';

export { MAX_ENTRY_BYTES } from './entry-row.js';

/** How hard an append waits for the disk: `full` fsyncs every commit (default). */
export type Durability = 'full' | 'normal';

/** The SQLite-backed log. Open one per process; close it on exit. */
export class LogDb extends LogCheckpoints {
  readonly db: Database.Database;
  readonly read: NodeReader;
  private readonly lastIdx: Database.Statement;

  /**
   * Open (creating if needed) the log at `path`. `groupCommit` (with durability `full`):
   * appends are synced together, off the event loop, by {@link durable}, which the caller
   * must await before acting on them. `readonly` opens an existing file as
   * untrusted input: `trusted_schema` off and the schema checked before any query (a view,
   * trigger, virtual table or generated column is `ERR_STORE_CORRUPT`; store/sqlite-guard.ts).
   * A caller handed the path checks the files first (`checkSqliteFiles`).
   * `backgroundCheckpoints`: the WAL is checkpointed by a worker thread, with these database
   * files (the ones attached to this connection) too, not in the commits (store/wal-checkpointer.ts).
   * `prefill` false: a short-lived open does not allocate the WAL (store/sqlite.ts `prefillWal`).
   * `firstAppend` runs inside the first append's transaction (holding the write lock), and
   * again inside each later one until an append it passed has committed: what it throws fails
   * the append.
   * Throws `ERR_STORE_CORRUPT` when the file cannot be opened or is not a plain log.
   */
  constructor(path: string, durability: Durability = 'full', readonly = false, o: { groupCommit?: boolean; entries?: EntriesMode; backgroundCheckpoints?: readonly string[]; prefill?: boolean; firstAppend?: () => void } = {}) {
    super();
    this.firstAppend = o.firstAppend ?? null;
    const group = o.groupCommit === true && durability === 'full' && !readonly;
    this.db = openSqlite(path, LOG_SCHEMA, { durability: group ? 'normal' : durability, readonly, untrusted: readonly, code: 'ERR_STORE_CORRUPT', what: 'log', pageSize: LOG_PAGE_SIZE });
    try {
      const wal = this.db.pragma('journal_mode', { simple: true }) === 'wal';
      // The file SQLite opened (a symlink resolved): its WAL is the one to sync and allocate.
      const file = group && wal ? databaseFile(this.db) : path;
      if (group) {
        // Only a WAL can be synced apart from its commits; anything else syncs at each commit.
        if (wal) {
          this.walSync = new WalSync(file);
          this.walSync.start();
        }
        else this.db.pragma('synchronous = FULL');
      }
      if (!readonly) migrateNodes(this.db);
      if (!readonly) addOpeningColumns(this.db);
      if (!readonly) indexWitnesses(this.db);
      this.openings = hasOpeningColumns(this.db);
      this.read = nodeReader(this.db);
      this.lastIdx = this.db.prepare('SELECT idx FROM entries ORDER BY idx DESC LIMIT 1').safeIntegers(true);
      if (!readonly && o.entries !== undefined) this.writeParameters(o.entries);
      if (!readonly && wal && o.backgroundCheckpoints !== undefined) this.checkpointer = new WalCheckpointer(this.db, [path, ...o.backgroundCheckpoints]);
      if (this.walSync !== null && o.prefill !== false) prefillWal(this.db, file, this.checkpointer?.workingFrames ?? AUTOCHECKPOINT_PAGES);
    } catch (cause) {
      this.checkpointer?.close();
      this.db.close();
      this.walSync?.close();
      if (cause instanceof AttestError) throw cause;
      // Busy past the timeout (another process holding the log) is the environment, not the file.
      const code = (cause as { code?: string }).code === 'SQLITE_BUSY' ? 'ERR_STORE_IO' : 'ERR_STORE_CORRUPT';
      throw new AttestError(code, `cannot open log ${path}: ${(cause as Error).message}`, { path, cause });
    }
  }

  /**
   * Resolves once every append made so far is on disk. Without `groupCommit` (or with
   * durability `normal`) there is nothing to wait for: a `full` commit was synced before
   * {@link append} returned. With it, appends return once written; await this shared sync on the
   * pool (store/wal-sync.ts) before acting on one (forwarding a call, releasing a response);
   * `soon`: at the end of this turn of the event loop, on it while syncs are fast (`syncSoon`).
   * Rejects with `ERR_STORE_IO` when the disk cannot be synced, now or at any earlier call.
   */
  durable(soon = false): Promise<void> {
    return this.walSync === null ? Promise.resolve() : soon ? this.walSync.syncSoon() : this.walSync.sync();
  }

  /**
   * Resolves once the syncs asked for so far have ended, starting none when none is (at once
   * without group commit); rejects with `ERR_STORE_IO` after a failed sync (`WalSync.settled`).
   */
  settled(): Promise<void> {
    return this.walSync === null ? Promise.resolve() : this.walSync.settled();
  }

  /** Group syncs run by this connection so far (0 without group commit): the appends per sync tell how well commits are shared. */
  get syncs(): number {
    return this.walSync?.syncs ?? 0;
  }

  /**
   * {@link LogCheckpoints.addCheckpoint}, refused with `ERR_STORE_IO` once a group sync has
   * failed, as an append is: the disk's state is then unknown, and a checkpoint stored after
   * it could be served and cosigned for a tree a power loss takes back (a caller that synced
   * before signing can meet a sync failing while it signs).
   */
  override addCheckpoint(size: bigint, note: string, created: number): void {
    this.walSync?.assertHealthy();
    super.addCheckpoint(size, note, created);
  }

  /** Current tree size (number of entries). */
  size(): bigint {
    const row = this.lastIdx.get() as { idx: bigint } | undefined;
    return row ? row.idx + 1n : 0n;
  }

  /**
   * The log's format (docs/log-format.md): `private` or `public` as its parameters entry
   * (index 0) says, `v1` for a log without one (public), null while it is empty. Throws
   * `ERR_STORE_CORRUPT` for a log with entries but no entry 0 (its format cannot be known:
   * private must not fail open).
   */
  mode(): EntriesMode | 'v1' | null {
    if (this.knownMode !== undefined) return this.knownMode;
    const first = this.entry(0n);
    if (first === null) {
      if (this.size() > 0n) throw new AttestError('ERR_STORE_CORRUPT', 'the log has entries but no entry 0: its format cannot be known');
      return null;
    }
    this.knownMode = decodeParameters(first)?.entries ?? 'v1';
    return this.knownMode;
  }

  /** An empty log gets its parameters entry (index 0) saying `entries`; a log with entries keeps the format it has. */
  private writeParameters(entries: EntriesMode): void {
    if (this.size() > 0n) return;
    this.appendTxn ??= this.db.transaction((f: () => bigint) => f());
    this.appendTxn.immediate(() => (this.size() === 0n ? this.insert(0n, encodeRecord({ type: PARAMETERS_RECORD, index: '0', entries }), null, null) : 0n));
  }

  /**
   * Append one record, durably. `build(index)` returns the record's bytes for the index it
   * will get (so a record can name its own index); in a private log the entry is their
   * salted commitment and the record and salt are kept beside it (log/opening.ts), in any
   * other the entry is the record. `after(index)` runs inside the same transaction. Throws
   * `ERR_ENTRY_TOO_LARGE` for a record past 65,535 bytes, `ERR_STORE_IO` on failure, and
   * before committing anything once a group sync has failed (store/wal-sync.ts).
   */
  append(build: (index: bigint) => Uint8Array, after?: (index: bigint) => void): bigint {
    this.walSync?.assertHealthy();
    this.appendTxn ??= this.db.transaction((f: () => bigint) => f());
    const index = this.appendTxn.immediate(() => this.appendNow(build, after));
    this.firstAppend = null; // committed after the check passed
    return index;
  }

  /** The append itself, inside the caller's transaction. */
  private appendNow(build: (index: bigint) => Uint8Array, after?: (index: bigint) => void): bigint {
    this.firstAppend?.();
    const index = this.size();
    const row = entryRow(build(index), this.mode());
    this.insert(index, row.data, row.salt, row.record);
    after?.(index);
    this.checkpointer?.appended();
    return index;
  }

  /**
   * {@link append}, resolving once the entry is durable (as {@link durable}). With group
   * commit, an append that comes while a sync runs would wait for the next sync anyway: it is
   * queued instead, and every append queued for that sync is committed in one transaction
   * (one savepoint each: an append that fails fails alone) just before the sync starts
   * (store/queued-commits.ts).
   * `alone`: the caller has nothing else to do meanwhile (the recorder with no other call in
   * it): when no sync is running, this one runs on this thread (`WalSync.syncNow`), without
   * the thread pool's round trip. Resolves with the index; rejects with the append's own
   * error (`ERR_ENTRY_TOO_LARGE`...), or `ERR_STORE_IO` when the commit or the sync fails.
   */
  appendDurable(build: (index: bigint) => Uint8Array, after?: (index: bigint) => void, alone = false): Promise<bigint> {
    if (this.walSync === null || !this.walSync.busy) {
      try {
        const index = this.append(build, after);
        if (alone && this.walSync?.syncNow() === true) return Promise.resolve(index);
        return this.durable().then(() => index);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.queue ??= new QueuedCommits(this.db, this.walSync);
    return this.queue.add(() => this.appendNow(build, after)).then((index) => {
      this.firstAppend = null; // committed after the check passed
      return index;
    });
  }

  /** Insert the entry `data` at `index` (inside the caller's transaction), with its opening when private. */
  private insert(index: bigint, data: Uint8Array, salt: Uint8Array | null, record: Uint8Array | null): bigint {
    const leaf = leafHash(data);
    // The parents this leaf completes, bottom up, in the entry's own row (one page per append).
    const parents = appendNodes(index, leaf, this.read).slice(1).map((n) => n.hash);
    this.statement('INSERT INTO entries (idx, data, leaf, up, salt, record) VALUES (?, ?, ?, ?, ?, ?)').run(index, data, leaf, concatBytes(...parents), salt, record);
    return index;
  }

  private knownMode: EntriesMode | 'v1' | undefined;
  /** The check each append runs (constructor option `firstAppend`) until one it passed has committed. */
  private firstAppend: (() => void) | null;
  /** Whether the entries table has the `salt` and `record` columns (a log read-only from before v2 has not). */
  private readonly openings: boolean;
  private walSync: WalSync | null = null;
  private checkpointer: WalCheckpointer | null = null;
  private appendTxn: Database.Transaction<(f: () => bigint) => bigint> | null = null;
  /** Appends waiting for the next group sync ({@link appendDurable}). */
  private queue: QueuedCommits | null = null;

  /** The entry at `index` as published (a private log's: the commitment), or null. Throws `ERR_STORE_CORRUPT` for a row that is not a blob of at most 65,535 bytes. */
  entry(index: bigint): Uint8Array | null {
    const row = this.statement(`SELECT ${cutColumn('data')} FROM entries WHERE idx = ?`).get(index) as { data: unknown } | undefined;
    if (row === undefined) return null;
    const data = entryBytes(row.data, index);
    if (data === null) throw new AttestError('ERR_STORE_CORRUPT', `entry ${index} is not a blob`);
    return data;
  }

  /** {@link entry}, for an index below a checkpoint's size: throws `ERR_STORE_CORRUPT` when it is missing. */
  presentEntry(index: bigint): Uint8Array {
    const e = this.entry(index);
    if (e === null) throw new AttestError('ERR_STORE_CORRUPT', `entry ${index} is missing`);
    return e;
  }

  /** The salt and record of the private entry at `index`; null when it has none (a public entry, an erased one, none at all). Throws `ERR_STORE_CORRUPT` for a record past 65,535 bytes. */
  opening(index: bigint): { salt: Uint8Array; record: Uint8Array } | null {
    if (!this.openings) return null;
    const row = this.statement(`SELECT ${cutColumn('salt')}, ${cutColumn('record')} FROM entries WHERE idx = ?`).get(index) as { salt: unknown; record: unknown } | undefined;
    const [salt, record] = [entryBytes(row?.salt, index), entryBytes(row?.record, index)];
    return salt && record ? { salt, record } : null;
  }

  /** The record of the entry at `index`: the entry itself, or a private entry's opened record; null when erased or absent. */
  record(index: bigint): Uint8Array | null {
    const e = this.entry(index);
    return e === null || e[0] !== 0x01 ? e : this.opening(index)?.record ?? null;
  }

  /**
   * Iterate entries in index order (the stored index, gaps and all), for a verifier
   * (verify/log.ts {@link EntryInput}): a private entry with its opening and the entry the
   * log publishes as `[index, record, salt, entry]` (log/opening.ts; the verifier reports an
   * opening that does not make the entry: the record or the entry was altered), any other
   * (an erased one: its commitment) as `[index, entry]`.
   */
  *entries(): Generator<EntryInput> {
    for (const row of this.rows('')) yield row.salt === null || row.record === null ? [row.idx, row.data] : [row.idx, row.record, row.salt, row.data];
  }

  /** Iterate the records in index order as `[index, record]`, skipping erased entries (and, in a v2 log, its parameters entry). */
  *records(): Generator<[bigint, Uint8Array]> {
    for (const row of this.rows('')) {
      const r = row.record ?? (row.data[0] === 0x01 ? null : row.data);
      if (r !== null && !(row.idx === 0n && decodeParameters(r) !== null)) yield [row.idx, r];
    }
  }

  /** Every stored row in index order: the entry as published, and a private entry's opening (NULL members when it has none), for copying the log elsewhere. */
  *storedRows(): Generator<StoredRow> {
    yield* this.rows('');
  }

  /** The entry rows (index order) matching `where` (store/entry-row.ts). */
  private rows(where: string, arg?: Buffer): Generator<StoredRow> {
    return storedRows(this.db, this.openings, where, arg);
  }

  /**
   * Erase the openings of the entries at `indexes` (private entries only): their salt and
   * record are overwritten (`secure_delete`), the file rewritten from its live content
   * (`VACUUM`: copies an earlier page split left in unused space go too; it takes as long as
   * copying the log) and the WAL checkpointed and truncated, so the bytes are gone from the
   * log's files; the commitments, the tree and
   * every checkpoint stay as they were. The only change ever made to a stored entry.
   * Returns how many entries were erased (already erased and public ones are not counted).
   * Throws `ERR_STORE_IO`, before changing anything, when the WAL cannot be truncated
   * (another process holds a read open: a `verify`, a `log serve` serving): stop it and retry.
   */
  erase(indexes: bigint[]): number {
    if (!this.openings) return 0;
    this.truncateWal('nothing erased yet');
    this.db.pragma('secure_delete = ON');
    let n = 0;
    this.db.transaction(() => {
      const stmt = this.statement('UPDATE entries SET salt = NULL, record = NULL WHERE idx = ? AND (salt IS NOT NULL OR record IS NOT NULL)');
      for (const i of indexes) n += stmt.run(i).changes;
    }).immediate();
    // Copies from before (a page split, a freed page) may linger in unused space: rewrite the file.
    this.db.exec('VACUUM');
    this.truncateWal('erased, but the old bytes are still in log.db-wal until its next checkpoint');
    return n;
  }

  /** Checkpoint the WAL into the file and truncate it to nothing; `ERR_STORE_IO` (saying `state`) when another process keeps it busy ({@link truncateWal}). */
  private truncateWal(state: string): void {
    if (!truncateWal(this.db)) throw new AttestError('ERR_STORE_IO', `the log is being read by another process (a verify, log serve): ${state}; stop it and run the erase again`, {});
  }

  /** Root hash at `size` (default: current size). */
  root(size: bigint = this.size()): Uint8Array {
    return rootAt(size, this.read);
  }

  /** Inclusion proof of `index` in the tree of `size`. */
  inclusionProof(index: bigint, size: bigint): Uint8Array[] {
    return inclusionProof(index, size, this.read);
  }

  /** Consistency proof from `size1` to `size2`. */
  consistencyProof(size1: bigint, size2: bigint): Uint8Array[] {
    return consistencyProof(size1, size2, this.read);
  }

  /**
   * Records whose bytes contain `needle`, in index order, as `[index, record]` (a byte search
   * inside SQLite: the caller decodes each and keeps the ones it means; used to find a call's
   * records by id). Erased entries are not found.
   */
  *recordsContaining(needle: Uint8Array): Generator<[bigint, Uint8Array]> {
    const where = this.openings ? 'WHERE instr(coalesce(record, data), ?) > 0' : 'WHERE instr(data, ?) > 0';
    for (const row of this.rows(where, Buffer.from(needle))) {
      const r = row.record ?? (row.data[0] === 0x01 ? null : row.data);
      if (r !== null) yield [row.idx, r];
    }
  }

  /** Close the database. */
  close(): void {
    // The worker's connections first: the writer's close, the last, may then remove the WAL.
    this.checkpointer?.close();
    if (this.db.open) this.db.close();
    this.walSync?.close();
  }
}
