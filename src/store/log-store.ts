/**
 * The log's storage, behind one interface with two drivers: SQLite (store/log-db.ts, the
 * embedded default for one machine: an append is sequenced and integrated in one
 * transaction) and PostgreSQL (store/pg-log.ts, one log for a fleet: appends are sequenced
 * durably in batches by any number of processes, and integrated into the Merkle tree by one
 * integrator at a time, store/pg-integrator.ts). Everything is asynchronous so both drivers
 * fit; sizes and indices are uint64 `bigint`s, hashes 32 bytes.
 * @see docs/fleet.md
 */
import type { EntriesMode } from '../records/record.js';
import type { EntryInput } from '../verify/log.js';
import type { NodeReader } from '../log/tree.js';
import { LogDb } from './log-db.js';
import { sizesOf } from './note-rows.js';

/** True when `url` names a fleet's log: a `postgres://` or `postgresql://` URL. */
export function isFleetStore(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** A log store (see the module comment). Errors: `ERR_STORE_IO` (the store cannot be reached or written), `ERR_STORE_CORRUPT`. */
export interface LogStore {
  readonly driver: 'sqlite' | 'postgres';
  /** The log's format: its parameters entry's, `v1` without one, null while empty. */
  mode(): Promise<EntriesMode | 'v1' | null>;
  /**
   * Append one record; resolves with its index once it is durable (the write-ahead rule: act
   * on it only then). `build(index)` makes the record for the index it gets. In a private
   * log the entry is the record's salted commitment (log/opening.ts). Rejects with
   * `ERR_ENTRY_TOO_LARGE` for a record past 65,535 bytes (that record alone).
   */
  append(build: (index: bigint) => Uint8Array): Promise<bigint>;
  /** Entries sequenced (durable, with an index). */
  size(): Promise<bigint>;
  /** Entries integrated into the Merkle tree (a prefix of the sequenced ones). */
  integratedSize(): Promise<bigint>;
  /** The entry at `index` as published, or null. */
  entry(index: bigint): Promise<Uint8Array | null>;
  /** A private entry's salt and record; null for a public one, an erased one, or none. */
  opening(index: bigint): Promise<{ salt: Uint8Array; record: Uint8Array } | null>;
  /** Entries `[from, to)` in index order as a verifier takes them (opened when an opening is held). */
  entries(from: bigint, to: bigint): AsyncIterable<EntryInput>;
  /** Run `compute` over the stored Merkle nodes of the integrated tree (a root, a proof, a tile). */
  withNodes<T>(compute: (read: NodeReader) => T): Promise<T>;
  /** Every checkpoint, smallest first, with its collected cosignature lines appended. */
  checkpoints(): Promise<Array<{ size: bigint; note: string; created: number }>>;
  /** The tree sizes of the checkpoints of size `from` or more, smallest first (notes unread). */
  checkpointSizes(from: bigint): Promise<bigint[]>;
  /** The latest checkpoint (as {@link checkpoints} gives each), or null. */
  latestCheckpoint(): Promise<{ size: bigint; note: string; created: number } | null>;
  /** Store a cosignature line of witness `witness` for the checkpoint of `size` (first one kept). */
  addCosignature(size: bigint, witness: string, line: string, received: number): Promise<void>;
  /** The size each witness last cosigned. */
  witnessSizes(): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

/** The SQLite driver: {@link LogDb} behind the asynchronous interface. */
export class SqliteLogStore implements LogStore {
  readonly driver = 'sqlite';

  constructor(readonly db: LogDb) {}

  async mode(): Promise<EntriesMode | 'v1' | null> {
    return this.db.mode();
  }

  async append(build: (index: bigint) => Uint8Array): Promise<bigint> {
    const index = this.db.append(build);
    await this.db.durable();
    return index;
  }

  async size(): Promise<bigint> {
    return this.db.size();
  }

  async integratedSize(): Promise<bigint> {
    return this.db.size();
  }

  async entry(index: bigint): Promise<Uint8Array | null> {
    return this.db.entry(index);
  }

  async opening(index: bigint): Promise<{ salt: Uint8Array; record: Uint8Array } | null> {
    return this.db.opening(index);
  }

  async *entries(from: bigint, to: bigint): AsyncIterable<EntryInput> {
    for (const e of this.db.entries()) {
      if (e[0] >= to) return;
      if (e[0] >= from) yield e;
    }
  }

  async withNodes<T>(compute: (read: NodeReader) => T): Promise<T> {
    return compute(this.db.read);
  }

  async checkpoints(): Promise<Array<{ size: bigint; note: string; created: number }>> {
    const created = new Map((this.db.db.prepare('SELECT size, created FROM checkpoints').safeIntegers(true).all() as Array<{ size: bigint; created: bigint }>).map((r) => [r.size, Number(r.created)]));
    return this.db.checkpoints().map((c) => ({ ...c, created: created.get(c.size) ?? 0 }));
  }

  async checkpointSizes(from: bigint): Promise<bigint[]> {
    return sizesOf(this.db.db.prepare('SELECT size FROM checkpoints WHERE size >= ? ORDER BY size').safeIntegers(true).all(from) as Array<{ size: unknown }>);
  }

  async latestCheckpoint(): Promise<{ size: bigint; note: string; created: number } | null> {
    const row = this.db.statement('SELECT size, created FROM checkpoints ORDER BY size DESC LIMIT 1').safeIntegers(true).get() as { size: bigint; created: bigint } | undefined;
    const latest = this.db.latestCheckpoint();
    return row && latest ? { size: latest.size, note: latest.cosigned, created: Number(row.created) } : null;
  }

  async addCosignature(size: bigint, witness: string, line: string, received: number): Promise<void> {
    this.db.addCosignature(size, witness, line, received);
  }

  async witnessSizes(): Promise<Map<string, bigint>> {
    const rows = this.db.db.prepare('SELECT witness, size FROM witness_sizes').safeIntegers(true).all() as Array<{ witness: string; size: bigint }>;
    return new Map(rows.map((r) => [r.witness, r.size]));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
