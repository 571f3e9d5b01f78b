/**
 * `mcp-attest log status`: where a log stands, for people and monitoring, on either driver
 * (store/log-store.ts). Sizes are entry counts; times are POSIX seconds.
 * @see docs/log-format.md "Status"; docs/fleet.md
 */
import type { EntriesMode } from '../records/record.js';
import type { LogStore } from './log-store.js';
import { noteOrigin } from '../log/checkpoint.js';
import { printable } from '../bytes/index.js';

/**
 * A log's status. `size`: entries sequenced (durable); `integrated`: entries in the Merkle
 * tree (SQLite integrates each append in its own transaction, so it equals `size`; on
 * PostgreSQL the integrator follows); `unsealed`: entries after the latest checkpoint; per
 * witness, the largest size it cosigned and how far that is behind the latest checkpoint.
 */
export interface LogStatus {
  /** The origin of the latest checkpoint (a fleet's: its integrator's); before any, the data directory's; null when neither is known. */
  origin: string | null;
  driver: 'sqlite' | 'postgres';
  entries: EntriesMode | 'v1' | null;
  size: string;
  integrated: string;
  checkpoint: { size: string; created: number; ageSeconds: number; cosignatures: number } | null;
  unsealed: string;
  witnesses: Array<{ name: string; size: string; lag: string }>;
}

/**
 * The status of `store` (named by its latest checkpoint's origin, else `origin`; with the configured witnesses `witnesses`) at
 * time `now` (POSIX seconds); with `store` null, of a data directory's log not created yet
 * (nothing recorded: size 0, no checkpoint, format `null`).
 */
export async function logStatus(store: LogStore | null, origin: string | null, witnesses: string[], now: number): Promise<LogStatus> {
  const [size, integrated, latest, sizes, entries] = store === null
    ? [0n, 0n, null, new Map<string, bigint>(), null]
    : await Promise.all([store.size(), store.integratedSize(), store.latestCheckpoint(), store.witnessSizes(), store.mode()]);
  const cpSize = latest?.size ?? 0n;
  // The note's signature lines after its blank line: the log's own, then each cosignature.
  const signatures = latest === null ? 0 : latest.note.slice(latest.note.indexOf('\n\n') + 2).split('\n').filter((l) => l.startsWith('\u2014 ')).length;
  const checkpoint = latest === null ? null : {
    size: latest.size.toString(), created: latest.created, ageSeconds: Math.max(0, now - latest.created), cosignatures: Math.max(0, signatures - 1),
  };
  return {
    // The log's own name, as its latest checkpoint says (a fleet's is its integrator's); until it has one, the data directory's.
    origin: (latest === null ? null : noteOrigin(latest.note)) ?? origin, driver: store?.driver ?? 'sqlite', entries, size: size.toString(), integrated: integrated.toString(), checkpoint, unsealed: (size - cpSize).toString(),
    witnesses: witnesses.map((name) => {
      const w = sizes.get(name) ?? 0n;
      return { name, size: w.toString(), lag: (cpSize > w ? cpSize - w : 0n).toString() };
    }),
  };
}

/** The status as lines for a person. */
export function formatStatus(s: LogStatus): string {
  const lines = [
    `log         ${s.origin === null ? '(no checkpoint yet)' : printable(s.origin)} (entries ${s.entries ?? 'none yet'}, ${s.driver})`,
    `size        ${s.size} (integrated ${s.integrated})`,
    `checkpoint  ${s.checkpoint ? `${s.checkpoint.size}, ${s.checkpoint.ageSeconds} s ago, ${s.checkpoint.cosignatures} cosignatures` : 'none'}`,
    `unsealed    ${s.unsealed}`,
  ];
  for (const w of s.witnesses) lines.push(`witness     ${w.name} at ${w.size} (lag ${w.lag})`);
  return lines.join('\n');
}
