/**
 * The durable state of a C2SP tlog-witness: per log origin, the latest checkpoint this
 * witness cosigned (tree size, root hash, and the checkpoint note as submitted, with the
 * log signatures). One SQLite file (WAL, `synchronous=FULL` by default, 15 s busy
 * timeout; see store/sqlite.ts), shareable by several witness processes.
 *
 * Table `witness_checkpoints(origin TEXT PRIMARY KEY, origin_hash TEXT UNIQUE, size TEXT,
 * root BLOB, note TEXT, updated INTEGER)`: `size` is the uint64 tree size as an ASCII
 * decimal (SQLite integers are signed 64-bit), `root` the 32-byte RFC 6962 root,
 * `origin_hash` the lowercase hex SHA-256 of the UTF-8 origin (the monitoring URL key),
 * `updated` POSIX seconds of the last write.
 *
 * The witness rule "check `old` against the stored size, then persist" is one
 * `BEGIN IMMEDIATE` transaction ({@link WitnessState.update}), committed (and fsynced with
 * FULL durability) before the caller answers: concurrent requests, from one process or
 * several sharing the file, can never roll the state back, and a restart never loses it.
 * @see https://c2sp.org/tlog-witness ("persisted ... atomically")
 */
import type Database from 'better-sqlite3';
import { sha256 } from '../bytes/digest.js';
import { equalBytes, toHex, utf8 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { HASH_SIZE } from '../log/hash.js';
import { parseDecimal } from '../log/u64.js';
import type { Durability } from '../store/log-db.js';
import { openSqlite } from '../store/sqlite.js';

/** The latest cosigned checkpoint of one origin. */
export interface StoredCheckpoint {
  /** The log origin (first checkpoint line). */
  origin: string;
  /** Tree size, uint64. */
  size: bigint;
  /** RFC 6962 root hash at `size`, 32 bytes. */
  rootHash: Uint8Array;
  /** The checkpoint note as submitted (text, blank line, log signature lines). */
  note: string;
}

/**
 * What a {@link WitnessState.update} decision returns: the caller's `result`, and the
 * checkpoint to store when the request is accepted (omitted: nothing is written).
 */
export interface StateDecision<T> {
  result: T;
  write?: StoredCheckpoint;
}

/** Options of {@link WitnessState}. */
export interface WitnessStateOptions {
  /** `full` (default): fsync every commit; `normal`: survives process crashes only. */
  durability?: Durability;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS witness_checkpoints (
  origin TEXT PRIMARY KEY, origin_hash TEXT NOT NULL UNIQUE, size TEXT NOT NULL,
  root BLOB NOT NULL, note TEXT NOT NULL, updated INTEGER NOT NULL);
`;

interface Row { origin: string; size: string; root: Buffer; note: string }

/** Lowercase hex SHA-256 of the UTF-8 origin: the key of the monitoring endpoint. */
export function originHash(origin: string): string {
  return toHex(sha256(utf8(origin)));
}

function isSqliteError(e: unknown): e is Error {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_');
}

function fromRow(row: Row | undefined): StoredCheckpoint | null {
  if (row === undefined) return null;
  const size = parseDecimal(row.size);
  if (size === null || !(row.root instanceof Uint8Array) || row.root.length !== HASH_SIZE) {
    throw new AttestError('ERR_STORE_CORRUPT', `witness state for ${JSON.stringify(row.origin)} is not valid`);
  }
  return { origin: row.origin, size, rootHash: new Uint8Array(row.root), note: row.note };
}

/** Refuses a write that would roll the stored tree back or swap its root (`ERR_LOG_ROLLBACK`). */
function checkForward(origin: string, stored: StoredCheckpoint | null, next: StoredCheckpoint): void {
  if (next.origin !== origin) throw new AttestError('ERR_USAGE', 'a decision may only write its own origin');
  if (next.rootHash.length !== HASH_SIZE) throw new AttestError('ERR_USAGE', 'root hash must be 32 bytes');
  if (stored === null) return;
  if (next.size < stored.size || (next.size === stored.size && !equalBytes(next.rootHash, stored.rootHash))) {
    throw new AttestError('ERR_LOG_ROLLBACK', `refusing to replace size ${stored.size} of ${JSON.stringify(origin)} with size ${next.size}`, {
      expected: stored.size, found: next.size,
    });
  }
}

/**
 * The witness's per-origin state in SQLite. Open one per process; close it on exit.
 * @see https://c2sp.org/tlog-witness
 */
export class WitnessState {
  private readonly db: Database.Database;
  private readonly select: Database.Statement;
  private readonly selectByHash: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly txn: Database.Transaction<(f: () => unknown) => unknown>;

  /**
   * Open (creating if needed) the state file at `path`. Throws `ERR_STORE_IO` when it
   * cannot be opened or is not a database.
   */
  constructor(path: string, o: WitnessStateOptions = {}) {
    this.db = openSqlite(path, SCHEMA, { durability: o.durability, code: 'ERR_STORE_IO', what: 'witness state' });
    this.select = this.db.prepare('SELECT origin, size, root, note FROM witness_checkpoints WHERE origin = ?');
    this.selectByHash = this.db.prepare('SELECT origin, size, root, note FROM witness_checkpoints WHERE origin_hash = ?');
    this.upsert = this.db.prepare(`INSERT INTO witness_checkpoints (origin, origin_hash, size, root, note, updated)
      VALUES (@origin, @hash, @size, @root, @note, @updated)
      ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, updated = excluded.updated`);
    this.txn = this.db.transaction((f: () => unknown) => f());
  }

  /** The latest cosigned checkpoint of `origin`, or null. Throws `ERR_STORE_CORRUPT`, `ERR_STORE_IO`. */
  latest(origin: string): StoredCheckpoint | null {
    return this.read(() => this.select.get(origin) as Row | undefined);
  }

  /**
   * The latest cosigned checkpoint of the origin whose {@link originHash} is `hash`
   * (64 lowercase hex digits), or null. Throws `ERR_STORE_CORRUPT`, `ERR_STORE_IO`.
   */
  latestByOriginHash(hash: string): StoredCheckpoint | null {
    return this.read(() => this.selectByHash.get(hash) as Row | undefined);
  }

  /**
   * Atomically: read the stored checkpoint of `origin` (null if none), call `decide` with
   * it, and store `decide`'s `write` if any; all in one `BEGIN IMMEDIATE` transaction,
   * committed before this returns. `decide` MUST be synchronous (no await): other
   * processes wait on the lock meanwhile (up to 15 s). A `write` must be for `origin`, and
   * neither smaller than the stored size nor the same size with another root
   * (`ERR_LOG_ROLLBACK`, nothing written). Errors thrown by `decide` roll back and
   * propagate unchanged; SQLite failures (including a lock held longer than the busy
   * timeout) throw `ERR_STORE_IO`.
   */
  update<T>(origin: string, decide: (stored: StoredCheckpoint | null) => StateDecision<T>): T {
    try {
      return this.txn.immediate(() => {
        const stored = fromRow(this.select.get(origin) as Row | undefined);
        const d = decide(stored);
        if (d.write !== undefined) {
          checkForward(origin, stored, d.write);
          this.upsert.run({
            origin, hash: originHash(origin), size: d.write.size.toString(), root: d.write.rootHash,
            note: d.write.note, updated: Math.floor(Date.now() / 1000),
          });
        }
        return d.result;
      }) as T;
    } catch (e) {
      if (!isSqliteError(e)) throw e;
      throw new AttestError('ERR_STORE_IO', `cannot update the witness state: ${e.message}`, { cause: e });
    }
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }

  private read(get: () => Row | undefined): StoredCheckpoint | null {
    let row: Row | undefined;
    try {
      row = get();
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot read the witness state: ${(cause as Error).message}`, { cause });
    }
    return fromRow(row);
  }
}
