/**
 * The checkpoint side of the SQLite log (store/log-db.ts `LogDb` extends it): signed
 * checkpoint notes, the witness cosignature lines collected for them, the size each witness
 * last cosigned and the witnessing events, in the tables `checkpoints`, `cosignatures`,
 * `witness_sizes` and `witness_events` (docs/log-format.md). Notes and lines are read
 * bounded (store/note-rows.ts).
 */
import type Database from 'better-sqlite3';
import { boundedLines, LINE_COLUMN, NOTE_COLUMN } from './note-rows.js';

/** Checkpoints, cosignatures and witness state of a log on the connection `db`. */
export abstract class LogCheckpoints {
  abstract readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private hasCosignatures: boolean | undefined;

  /**
   * A prepared statement on this log's connection, cached by its SQL text (preparing costs
   * more than most single-row statements run). Not for `iterate`: a cached statement runs one
   * query at a time.
   */
  statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Store a signed checkpoint note for `size` (first one for a size wins). */
  addCheckpoint(size: bigint, note: string, created: number): void {
    this.statement('INSERT OR IGNORE INTO checkpoints (size, note, created) VALUES (?, ?, ?)').run(size, note, created);
  }

  /** All checkpoint notes, oldest (smallest) first, each with its collected cosignature lines appended; read bounded (store/note-rows.ts). */
  checkpoints(): Array<{ size: bigint; note: string }> {
    return [...this.checkpointRows()];
  }

  /** {@link checkpoints} read one row at a time (a verifier holds one note, not a log's thousands). */
  *checkpointRows(): Generator<{ size: bigint; note: string }> {
    const rows = this.db.prepare(`SELECT size, ${NOTE_COLUMN} FROM checkpoints ORDER BY size`).safeIntegers(true).iterate() as IterableIterator<{ size: bigint; note: string }>;
    for (const r of rows) yield { size: r.size, note: r.note + this.cosignatureLines(r.size).join('') };
  }

  /**
   * The latest checkpoint, or null when there is none: `note` as the log signed it, and
   * `cosigned`, the note with the stored cosignature lines appended.
   */
  latestCheckpoint(): { size: bigint; note: string; cosigned: string } | null {
    const row = this.statement(`SELECT size, ${NOTE_COLUMN} FROM checkpoints ORDER BY size DESC LIMIT 1`).safeIntegers(true).get() as { size: bigint; note: string } | undefined;
    return row ? { size: row.size, note: row.note, cosigned: row.note + this.cosignatureLines(row.size).join('') } : null;
  }

  /** Whether the file has a `cosignatures` table (a log written by an earlier version and opened read-only has none). */
  cosigned(): boolean {
    return (this.hasCosignatures ??= this.hasTable('cosignatures'));
  }

  /** Whether the file has the table `name` (one an earlier version did not create, in a log opened read-only, has not). */
  hasTable(name: string): boolean {
    return this.statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  }

  /** Cosignature lines (`— <name> <base64>\n`) stored for the checkpoint of `size`, by witness name; read bounded (store/note-rows.ts). */
  cosignatureLines(size: bigint): string[] {
    if (!this.cosigned()) return [];
    return boundedLines(this.statement(`SELECT ${LINE_COLUMN} FROM cosignatures WHERE size = ? ORDER BY witness`).iterate(size) as IterableIterator<{ line: unknown }>);
  }

  /**
   * Store a witness's verified cosignature line for the checkpoint of `size`, and raise the
   * size recorded for that witness. A line already stored for (size, witness) is kept.
   */
  addCosignature(size: bigint, witness: string, line: string, received: number): void {
    this.db.transaction(() => {
      this.statement('INSERT OR IGNORE INTO cosignatures (size, witness, line, received) VALUES (?, ?, ?, ?)').run(size, witness, line, received);
      this.setWitnessSize(witness, size);
    }).immediate();
  }

  /** The size `witness` last cosigned for this log (0n when unknown). */
  witnessSize(witness: string): bigint {
    const row = this.statement('SELECT size FROM witness_sizes WHERE witness = ?').safeIntegers(true).get(witness) as { size: bigint } | undefined;
    return row?.size ?? 0n;
  }

  /** Record that `witness` holds `size` (raised only; a smaller size is ignored). */
  setWitnessSize(witness: string, size: bigint): void {
    this.statement('INSERT INTO witness_sizes (witness, size) VALUES (?, ?) ON CONFLICT(witness) DO UPDATE SET size = max(size, excluded.size)').run(witness, size);
  }

  /** Record a witnessing event (a refusal, an unreachable witness, a conflict alarm). */
  addWitnessEvent(e: { at: number; witness: string; size: bigint; code: string; message: string }): void {
    this.statement('INSERT INTO witness_events (at, witness, size, code, message) VALUES (@at, @witness, @size, @code, @message)').run(e);
  }

  /** The latest `limit` witnessing events, newest first. */
  witnessEvents(limit = 50): Array<{ at: number; witness: string; size: number; code: string; message: string }> {
    return this.statement('SELECT at, witness, size, code, message FROM witness_events ORDER BY id DESC LIMIT ?').all(limit) as Array<{ at: number; witness: string; size: number; code: string; message: string }>;
  }

  /** Size of the latest checkpoint, or -1n when there is none. */
  latestCheckpointSize(): bigint {
    const row = this.statement('SELECT max(size) AS s FROM checkpoints').safeIntegers(true).get() as { s: bigint | null };
    return row.s ?? -1n;
  }
}
