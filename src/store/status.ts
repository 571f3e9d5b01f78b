/**
 * `mcp-attest log status`: where a log stands, for people and monitoring. Sizes are entry
 * counts; times are POSIX seconds.
 * @see docs/log-format.md "Status"
 */
import type { EntriesMode } from '../records/record.js';
import type { LogDb } from './log-db.js';

/**
 * A log's status. `integrated`: entries in the Merkle tree (the SQLite store integrates each
 * append in its own transaction, so it equals `size`); `unsealed`: entries after the latest
 * checkpoint; per witness, the largest size it cosigned and how far that is behind the
 * latest checkpoint.
 */
export interface LogStatus {
  origin: string;
  entries: EntriesMode | 'v1' | null;
  size: string;
  integrated: string;
  checkpoint: { size: string; created: number; ageSeconds: number; cosignatures: number } | null;
  unsealed: string;
  witnesses: Array<{ name: string; size: string; lag: string }>;
}

/** The status of `db` (of origin `origin`, with the configured witnesses `witnesses`) at time `now` (POSIX seconds). */
export function logStatus(db: LogDb, origin: string, witnesses: string[], now: number): LogStatus {
  const size = db.size();
  const row = db.statement('SELECT size, created FROM checkpoints ORDER BY size DESC LIMIT 1').safeIntegers(true).get() as { size: bigint; created: bigint } | undefined;
  const cpSize = row?.size ?? 0n;
  const checkpoint = row === undefined ? null : {
    size: row.size.toString(), created: Number(row.created), ageSeconds: Math.max(0, now - Number(row.created)), cosignatures: db.cosignatureLines(row.size).length,
  };
  return {
    origin, entries: db.mode(), size: size.toString(), integrated: size.toString(), checkpoint, unsealed: (size - cpSize).toString(),
    witnesses: witnesses.map((name) => {
      const w = db.witnessSize(name);
      return { name, size: w.toString(), lag: (cpSize > w ? cpSize - w : 0n).toString() };
    }),
  };
}

/** The status as lines for a person. */
export function formatStatus(s: LogStatus): string {
  const lines = [
    `log         ${s.origin} (entries ${s.entries ?? 'none yet'})`,
    `size        ${s.size} (integrated ${s.integrated})`,
    `checkpoint  ${s.checkpoint ? `${s.checkpoint.size}, ${s.checkpoint.ageSeconds} s ago, ${s.checkpoint.cosignatures} cosignatures` : 'none'}`,
    `unsealed    ${s.unsealed}`,
  ];
  for (const w of s.witnesses) lines.push(`witness     ${w.name} at ${w.size} (lag ${w.lag})`);
  return lines.join('\n');
}
