/**
 * The data directory of a fleet's integrator (`log integrate`, docs/fleet.md): its log key
 * signs the fleet's log, so it must sign one history. What it signed in a SQLite log of its
 * own (before `log migrate`) the fleet's tree must extend, and nothing signs a SQLite log
 * there again. The marker `log-moved.json` (cli/home-log.ts `markMoved`) says so to every
 * recorder: one refuses to open the SQLite log once it is there, and checks it again before
 * each checkpoint it signs (proxy/recorder.ts), so a recorder opened before the marker signs
 * nothing after it.
 */
import { rmSync } from 'node:fs';
import { homePaths } from '../store/home.js';
import type { SignedTreeMemory } from '../store/pg-integrator.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { parseNote } from '../log/note.js';
import { AttestError } from '../errors.js';
import { markMoved } from './home-log.js';
import { readMoved } from '../store/synced.js';
import { readLocked } from '../proxy/log-home.js';
import { CliExit, EXIT_USAGE } from './output.js';

/** The latest checkpoint the SQLite log at `path` holds (its size and root, as signed), its entry count, read under its write lock; null for no log. Throws `ERR_STORE_CORRUPT`, `ERR_STORE_IO`. */
function ownLog(path: string): { size: bigint; checkpoint: { size: bigint; root: Uint8Array } | null } | null {
  return readLocked(path, (db) => {
    const latest = db.latestCheckpoint();
    if (latest === null) return { size: db.size(), checkpoint: null };
    try {
      const c = parseCheckpoint(parseNote(latest.note).text);
      return { size: db.size(), checkpoint: { size: c.size, root: c.rootHash } };
    } catch (cause) {
      throw new AttestError('ERR_STORE_CORRUPT', `the latest checkpoint of ${path} does not parse: what this key signed there cannot be known`, { path, cause });
    }
  });
}

/**
 * Claim `home` for integrating the fleet's log at `url`, before anything is signed:
 * 1. `log-moved.json` is written first unless it is there (a recorder whose checkpoint comes
 *    after it refuses to sign; one that came before is in `log.db` when it is read next);
 * 2. a data directory not moved to a fleet's log (the marker was not there) whose `log.db`
 *    holds entries or a checkpoint is refused, and the marker written here removed: its
 *    entries would be left behind, and what its key signed there the fleet's tree does not
 *    extend (move it first: `log migrate`). An empty `log.db` is no history;
 * 3. a moved one's latest SQLite checkpoint is put into `memory` (unless it holds a larger
 *    tree), so the integrator signs only a fleet's tree that extends it: not one in another
 *    database than the move's, nor one a move that never committed left empty, nor one
 *    missing entries a recorder added after the move.
 * Throws `CliExit` (exit 2), `ERR_STORE_CORRUPT`, what `markMoved` throws.
 */
export function claimFleetHome(home: string, url: string, memory: SignedTreeMemory, logId: string): void {
  const p = homePaths(home);
  const created = markMoved(p.moved, url, 0n, logId); // only if none is there, atomically: a marker another process is writing is never taken for this one's
  try {
    const signed = checkFleetHome(home, logId);
    const last = memory.last();
    if (signed !== null && (last === null || last.size < signed.size)) memory.remember(signed.size, signed.root);
  } catch (e) {
    if (created) rmSync(p.moved, { force: true });
    throw e;
  }
}

/**
 * What `log integrate` with data directory `home` on the fleet's log `logId` checks before
 * anything is written there or in the log ({@link claimFleetHome} again once marked): `CliExit`
 * (exit 2) when its marker names another fleet's log, or it has a log of its own (entries or
 * a checkpoint) that `log migrate` did not move. Returns its own log's latest checkpoint
 * (null: none, or no log).
 */
export function checkFleetHome(home: string, logId: string): { size: bigint; root: Uint8Array } | null {
  const p = homePaths(home);
  const marked = readMoved(p.moved);
  if (marked.log !== null && marked.log !== logId) throw new CliExit(EXIT_USAGE, `this data directory's log is another fleet's (${p.moved} names log ${marked.log.slice(0, 64) || '""'}, this one is ${logId}): integrate this one from another data directory`);
  const own = ownLog(p.db);
  if (own === null || (own.size === 0n && own.checkpoint === null)) return null;
  // Not moved by `log migrate` (no marker, this claim's, or a proxy's claim not finished or crashed): the log here is its own.
  if (marked.entries === 0n) throw new CliExit(EXIT_USAGE, `this data directory has a log of its own (${p.db}, ${own.size} entries): integrating a fleet's log with its key would sign a second history (a fork); move it to the fleet's log first (mcp-attest log migrate --to URL), or integrate from another data directory`);
  return own.checkpoint;
}
