/**
 * Opening a SQLite file the way every mcp-attest store does: WAL journal (cut back to
 * {@link WAL_SIZE_LIMIT} when rewound), `synchronous` FULL (fsync at every commit) or NORMAL
 * (survives process crashes only), a 15 s busy timeout so several processes can share the
 * file, and the store's schema applied.
 *
 * Two processes creating one new file at once can deadlock in the switch to WAL (both hold
 * a shared lock and want an exclusive one); SQLite then returns `SQLITE_BUSY` at once, without
 * waiting. The setup is therefore retried, with a short random pause, until the busy timeout.
 */
import { closeSync, constants, existsSync, fstatSync, realpathSync, statSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { AttestError, type ErrorCode } from '../errors.js';
import type { Durability } from './log-db.js';
import { checkPlainSchema } from './sqlite-guard.js';

/** How long a store waits for another process's lock, in milliseconds. */
export const BUSY_TIMEOUT_MS = 15_000;

/**
 * The size a store's WAL file is cut back to when SQLite next rewinds it
 * (`journal_size_limit`), in bytes: 24 MiB, above what a recorder's WALs reach in steady use
 * (the evidence store's 16 MiB, the log's 4 MiB: store/wal-checkpointer.ts), so only what a
 * burst left (several writers, a long reader holding the WAL) is given back to the file
 * system, and a WAL in steady use is overwritten in place, never cut and grown again.
 */
export const WAL_SIZE_LIMIT = 24 * 1024 * 1024;

/** Options of {@link openSqlite}. */
export interface OpenSqliteOptions {
  /** `full` (default) or `normal`; ignored when `readonly`. */
  durability?: Durability | undefined;
  /** Open an existing file read-only: no pragma that writes, no schema. */
  readonly?: boolean | undefined;
  /** The error code thrown when the file cannot be opened. */
  code: ErrorCode;
  /** What the file is, for the message ("log", "nonce store"...). */
  what: string;
  /**
   * The file may come from someone else (a verifier's input): before any query or schema
   * change, `trusted_schema` is turned off and the schema checked (store/sqlite-guard.ts;
   * `ERR_STORE_CORRUPT` for a view, trigger, virtual table or generated column). The
   * caller checks the files first with `checkSqliteFiles`.
   */
  untrusted?: boolean | undefined;
  /**
   * The page size of a file created now, bytes (a power of two, 512 to 65,536); SQLite's
   * 4,096 when absent. A file that already exists keeps its own (a WAL file's cannot change).
   */
  pageSize?: number | undefined;
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Put schema `schema` of `db` (`main`, or an attached file's name) in WAL mode as every store
 * is: the WAL cut back to {@link WAL_SIZE_LIMIT} when rewound, `synchronous` FULL or NORMAL.
 * Throws SQLite's errors (`SQLITE_BUSY` when another process is switching the file too).
 */
export function walMode(db: Database.Database, schema: string, durability: Durability): void {
  db.pragma(`${schema}.journal_mode = WAL`);
  db.pragma(`${schema}.journal_size_limit = ${WAL_SIZE_LIMIT}`);
  db.pragma(`${schema}.synchronous = ${durability === 'normal' ? 'NORMAL' : 'FULL'}`);
}

/** SQLite's primary result code of `cause` (`SQLITE_READONLY` of `SQLITE_READONLY_DIRECTORY`), or null. */
function sqliteCode(cause: unknown): string | null {
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1') : null;
}

let uriFilenames = false;

/**
 * Load better-sqlite3's addon with URI filenames on (its `SQLITE_USE_URI` switch, read once,
 * when the addon loads: set only for that moment, so no child process inherits it), so a
 * read-only open can fall back to `immutable=1` ({@link openReadOnly}). Every path this
 * module opens is made absolute first, so none is read as a URI by accident.
 */
function loadWithUriFilenames(): void {
  if (uriFilenames) return;
  uriFilenames = true;
  const had = process.env['SQLITE_USE_URI'];
  process.env['SQLITE_USE_URI'] = '1';
  try {
    new Database(':memory:').close();
  } finally {
    if (had === undefined) delete process.env['SQLITE_USE_URI'];
    else process.env['SQLITE_USE_URI'] = had;
  }
}

/** The size of `path`'s journal file of that `suffix` (`-wal`, `-journal`) in bytes; 0 when there is none. */
function sideBytes(path: string, suffix: string): number {
  try {
    return statSync(`${path}${suffix}`).size;
  } catch {
    return 0;
  }
}

/**
 * Open an existing file read-only. A WAL file needs its `-shm` beside it, which SQLite
 * creates; where the reader cannot write (read-only media, another user's directory) and the
 * file has no `-wal`, or an empty one (every commit is in the file itself), it is opened
 * `immutable` instead, which reads the file alone and creates nothing.
 */
function openReadOnly(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  try {
    // The first read opens the WAL (and its -shm): where that fails, it fails here.
    db.pragma('schema_version', { simple: true });
    return db;
  } catch (cause) {
    db.close();
    // Only where the -shm cannot be made; never past a hot rollback journal (SQLITE_READONLY_ROLLBACK).
    const code = (cause as { code?: unknown }).code;
    if (!['SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_CANTINIT', 'SQLITE_CANTOPEN'].includes(String(code)) || sideBytes(path, '-journal') > 0) throw cause;
    if (sideBytes(path, '-wal') > 0) {
      const said = `${(cause as Error).message} (SQLite needs to create ${path}-shm to read the commits in ${path}-wal, and cannot: verify a copy of the directory where you can write)`;
      throw Object.assign(new Error(said, { cause }), { code });
    }
    return openImmutable(path, cause);
  }
}

/** `path` opened `immutable` (a URI filename); `cause` rethrown unless SQLite reports it opened that very file (a process whose addon was loaded before {@link loadWithUriFilenames} reads the URI as a relative file name). */
function openImmutable(path: string, cause: unknown): Database.Database {
  // Were URI filenames off, SQLite would open the URI as a path under the working directory: not tried when anything is there.
  if (existsSync(resolve('file:'))) throw cause;
  let db: Database.Database;
  try {
    db = new Database(`${pathToFileURL(path).href}?immutable=1`, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  } catch {
    throw cause;
  }
  const [main] = db.pragma('database_list') as Array<{ file: string }>;
  if (main?.file === path || main?.file === realpathSync(path)) return db;
  db.close();
  throw cause;
}

/**
 * Make `path` an empty file only its owner may read or write (mode 0600), unless something is
 * there already (`O_EXCL`: never through a symbolic link). SQLite gives a database's journal,
 * WAL and shared-memory files the mode of the database file, and reads an empty file as an
 * empty database: a log's private openings and an evidence store's payloads are then not
 * readable by the machine's other users, whatever the directory's mode or the umask.
 */
export function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch {
    // There already, or not makeable here (a read-only or foreign directory): SQLite's own open reports what it finds, with its code.
  }
}

function setUp(path: string, schema: string, o: OpenSqliteOptions): Database.Database {
  loadWithUriFilenames();
  if (o.readonly !== true) createPrivate(path);
  const db = o.readonly === true ? openReadOnly(path) : new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    if (o.untrusted) checkPlainSchema(db, o.what, path);
    if (!o.readonly) {
      if (o.pageSize !== undefined) db.pragma(`page_size = ${o.pageSize}`);
      walMode(db, 'main', o.durability ?? 'full');
      db.exec(schema);
    }
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Open (creating unless `readonly`, mode 0600: {@link createPrivate}) `path` and apply `schema`. Throws `o.code` naming `o.what`
 * and the path, or `ERR_STORE_IO` when SQLite cannot reach or write the file (permissions, a
 * read-only directory, an I/O error); with `o.untrusted`, `ERR_STORE_CORRUPT` for a schema that
 * is not plain tables.
 */
export function openSqlite(path: string, schema: string, o: OpenSqliteOptions): Database.Database {
  try {
    return retryBusy(() => setUp(resolve(path), schema, o));
  } catch (cause) {
    if (o.untrusted && cause instanceof AttestError) throw cause;
    // A file that cannot be reached or written is no corrupt file, whatever the caller's code.
    const io = ['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_IOERR'].includes(sqliteCode(cause) ?? '');
    throw new AttestError(io ? 'ERR_STORE_IO' : o.code, `cannot open ${o.what} ${path}: ${(cause as Error).message}`, { path, cause });
  }
}

/**
 * Run `setUp` (which must undo its own partial work when it throws) until it does not throw
 * `SQLITE_BUSY`, pausing 10–50 ms between tries, for at most {@link BUSY_TIMEOUT_MS}: the
 * switch to WAL of a file two processes create at once returns busy at once (see above).
 * Any other error, or busy after the timeout, is rethrown as it is.
 */
export function retryBusy<T>(setUp: () => T): T {
  const end = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return setUp();
    } catch (cause) {
      if ((cause as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= end) throw cause;
      pause(10 + Math.random() * 40);
    }
  }
}

/** How long {@link truncateWal} keeps trying, in milliseconds. */
export const TRUNCATE_RETRY_MS = 5_000;

/**
 * Checkpoint the WAL of `schema` on `db` into its file and truncate it to nothing
 * (`wal_checkpoint(TRUNCATE)`), trying again every 20–70 ms for up to
 * {@link TRUNCATE_RETRY_MS}: another connection's checkpoint (a running recorder's, or its
 * checkpoint worker's) makes it report busy at once, without waiting, and is over in
 * milliseconds. Returns whether the WAL is now empty; false only when a reader or writer kept
 * it busy all that time.
 */
export function truncateWal(db: Database.Database, schema = 'main'): boolean {
  const end = Date.now() + TRUNCATE_RETRY_MS;
  // Each try without the busy timeout: a TRUNCATE waiting on a reader holds the WAL's write
  // lock all the while, and a running proxy's appends would wait out the same 15 s behind it.
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    for (;;) {
      const [cp] = db.pragma(`${schema}.wal_checkpoint(TRUNCATE)`) as Array<{ busy: number }>;
      if (cp === undefined || cp.busy === 0) return true;
      if (Date.now() >= end) return false;
      pause(20 + Math.random() * 50);
    }
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}

/** The file `db` has open as schema `main`, as SQLite resolved it (a symlink followed): beside it are its WAL and shared memory. */
export function databaseFile(db: Database.Database): string {
  const main = (db.pragma('database_list') as Array<{ name: string; file: string }>).find((d) => d.name === 'main');
  if (main === undefined || main.file === '') throw new AttestError('ERR_STORE_IO', 'the database has no file');
  return main.file;
}

/** A WAL frame's header, and the WAL file's own header, in bytes (sqlite.org/fileformat2.html §4.1). */
const FRAME_HEADER = 24;
const WAL_HEADER = 32;

/**
 * Extend the WAL of the database `db` has open at `dbPath` with zeros to hold `frames` frames
 * of its pages (plus 64 for the commit that crosses them), synced, when it is shorter: the
 * size it reaches in use before its writer rewinds it (store/wal-checkpointer.ts), allocated
 * once so that growing it never makes a commit's fdatasync commit the file system's journal
 * too (store/wal-sync.ts: 0.35 ms an append instead of 0.21 here).
 * Takes ~13 ms for a log's 4 MiB here. Nothing is overwritten: the zeros go past the end of
 * the file while this connection holds the WAL's write lock (`BEGIN IMMEDIATE`), so no
 * connection of any process writes frames meanwhile, and to SQLite they are no frames (a
 * frame's salt and checksum must match the header's; recovery stops at the first that does
 * not), as the frames left past the end of a rewound WAL are not. The file stays within
 * `journal_size_limit` ({@link WAL_SIZE_LIMIT}), so SQLite never cuts it back.
 * Best effort: returns false, having changed nothing SQLite reads, when another connection
 * holds the lock now (no wait) or the zeros cannot be written (the appends then pay the
 * growth, as without it); true when the WAL is at least that long. But a failed fsync is
 * not the size's matter: it is the first sync of frames already committed (a new log's
 * schema), which the kernel may have dropped, so it throws `ERR_STORE_IO` (the log is not
 * opened) rather than let a later sync report them durable.
 */
export function prefillWal(db: Database.Database, dbPath: string, frames: number): boolean {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const bytes = Math.min(WAL_HEADER + (frames + 64) * (pageSize + FRAME_HEADER), WAL_SIZE_LIMIT);
  // Not worth a wait: a writer holding the lock now is growing the WAL itself.
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch {
    return false;
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
  try {
    const fd = openSync(`${dbPath}-wal`, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size >= bytes) return true;
      const zeros = Buffer.alloc(Math.min(1 << 20, bytes - size));
      for (let at = size; at < bytes; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
      try {
        fsyncSync(fd);
      } catch (cause) {
        throw new AttestError('ERR_STORE_IO', `cannot sync the write-ahead file ${dbPath}-wal: ${(cause as Error).message}`, { path: `${dbPath}-wal`, cause });
      }
      return true;
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof AttestError) throw e;
    return false;
  } finally {
    db.exec('ROLLBACK');
  }
}
