/**
 * What a recorder checks in its data directory before it opens a log, and what it leaves
 * there (src/proxy/recorder.ts `Recorder.open`): the log's format is the one identity.json
 * says; a directory whose calls are a fleet's records nowhere else (docs/fleet.md).
 */
import { rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AttestError, isAttestError } from '../errors.js';
import { noteOrigin } from '../log/checkpoint.js';
import { exists, homePaths } from '../store/home.js';
import { markMoved, readMoved } from '../store/synced.js';
import type { Identity } from '../store/identity.js';
import type { LogStore } from '../store/log-store.js';
import { LogDb } from '../store/log-db.js';

/**
 * `ERR_STORE_CORRUPT` (after `close`) when the log's format is not the one identity.json
 * says; for a fleet's log (`fleet`), `ERR_USAGE`: a data directory made for another format.
 */
export function checkMode(identity: Identity, mode: string | null, close: () => void, fleet = false): void {
  if (identity.log.entries === undefined || mode === null || mode === identity.log.entries) return;
  close();
  if (fleet) throw new AttestError('ERR_USAGE', `this data directory keeps a ${identity.log.entries} log, and the fleet's log is ${mode}: record to it from a data directory made for it (mcp-attest init${mode === 'public' ? ' --public-log' : ''})`, { expected: mode, found: identity.log.entries });
  throw new AttestError('ERR_STORE_CORRUPT', `the log's entries are ${mode} but identity.json says ${identity.log.entries}: refusing to record (was the log replaced?)`, { expected: identity.log.entries, found: mode });
}

/**
 * `ERR_USAGE` when `home`'s log is a fleet's (anything at `log-moved.json`, a dangling link
 * too: moved by `log migrate`, or claimed by `log integrate`; or its key signed a fleet's
 * tree, `integrator-signed.json`): a SQLite log here, appended to or signed, would be a
 * second history under the same key.
 */
export function refuseMoved(home: string): void {
  const { moved, integratorSigned, db, evidence } = homePaths(home);
  if (exists(moved) || exists(integratorSigned)) throw new AttestError('ERR_USAGE', `this data directory's log was moved to a fleet's log (${moved}): record there with --store or $MCP_ATTEST_STORE; appending here would sign a second history with the same key`);
  // Payloads kept here, no log.db: this directory's calls went to a fleet's log (or its log was removed). A new log would split them silently.
  if (!exists(db) && exists(evidence)) throw new AttestError('ERR_USAGE', `calls were recorded from this data directory to a fleet's log (${evidence} is here, no log.db): record there with --store URL or $MCP_ATTEST_STORE; a log started here would split its calls between two logs (if its log.db was removed instead, move ${evidence} aside to start anew)`);
}

/**
 * Mark `home` as recording to the fleet's log at `url` (`log-moved.json`, store/synced.ts
 * `markMoved`) unless it is marked already: a recorder started here later without the URL
 * then refuses ({@link refuseMoved}), whatever it keeps. The mark is made first, only if none
 * is there (atomic across processes), and the log is then read under its write lock, also
 * when it was marked already (by a claim not finished, or one that crashed): a local recorder
 * appending at the same moment has either committed its call (then this refuses) or finds the
 * mark before its next append (store/log-db.ts `firstAppend`; src/proxy/recorder.ts).
 * `ERR_USAGE`, and the mark removed only if this call made it, when `home` has a log of its
 * own holding calls the fleet's log does not (past its parameters entry, and past what `log
 * migrate` moved): its calls would be split between two logs (`log migrate` moves them
 * first); and when a mark already there names another fleet's log than `fleet` (by its random
 * name, `id`, and its database's name, wherever it is served), or more entries
 * moved than the fleet's log holds (`size`: the move never committed there). Throws what
 * `markMoved` throws; `ERR_STORE_IO` when the log stays locked past the busy timeout.
 */
export function claimForFleet(home: string, url: string, fleet: { size: bigint; id: string }): void {
  const p = homePaths(home);
  const mine = markMoved(p.moved, url, 0n, fleet.id);
  try {
    const marked = readMoved(p.moved);
    const want = new URL(url);
    // The log's own name and its database's, wherever it is served (a server has several host names); a copy of the
    // database keeps the log's name, and is told apart by its database's unless restored under the same.
    const other = (marked.log !== null && marked.log !== fleet.id) || (marked.to !== null && marked.to.pathname !== want.pathname);
    if (!mine && other) {
      throw new AttestError('ERR_USAGE', `this data directory records to another fleet's log (${p.moved} names log ${marked.log?.slice(0, 64) ?? '(none)'} in database ${marked.to?.pathname.slice(1, 64) ?? '(none)'}): recording here to log ${fleet.id} in database ${want.pathname.slice(1)} would split its calls between two logs`);
    }
    if (marked.entries > fleet.size) throw new AttestError('ERR_USAGE', `${p.moved} says ${marked.entries} entries moved to the fleet's log, which holds ${fleet.size}: the move did not commit there, or this is another database`);
    const own = readLocked(p.db, (db) => ({ size: db.size(), params: db.mode() === 'v1' || db.size() === 0n ? 0n : 1n }));
    const held = own === null ? 0n : own.size - (own.params > marked.entries ? own.params : marked.entries);
    if (held > 0n) throw new AttestError('ERR_USAGE', `this data directory has a log of its own with ${held} entries the fleet's log does not hold (${p.db}): recording its calls to a fleet's log would split them between two logs; move its log there first (mcp-attest log migrate --home ${home} --to URL) or record from another data directory`);
  } catch (e) {
    if (mine) rmSync(p.moved, { force: true });
    throw e;
  }
}

/**
 * `read` of the SQLite log at `path` (opened read-only, as untrusted input) while its write
 * lock is held, so no append commits meanwhile; null when there is no log (no file, or a file
 * of no bytes: a crash while it was created, an empty log as the recorder reads it). Throws
 * what `read` and `LogDb` throw, `ERR_STORE_IO` when the lock is not had within 30 s.
 */
export function readLocked<T>(path: string, read: (db: LogDb) => T): T | null {
  if (!exists(path) || statSync(path).size === 0) return null;
  const lock = new Database(path, { fileMustExist: true, timeout: 30_000 });
  try {
    lock.exec('BEGIN IMMEDIATE');
    const db = new LogDb(path, 'normal', true);
    try {
      return read(db);
    } finally {
      db.close();
    }
  } catch (e) {
    throw isAttestError(e) ? e : new AttestError('ERR_STORE_IO', `cannot read ${path} under its write lock: ${(e as Error).message}`, { path, cause: e });
  } finally {
    lock.close();
  }
}

/** The origin a fleet's log goes by: its latest checkpoint's (its integrator's); the data directory's until it has one. */
export async function fleetOrigin(log: LogStore, identity: Identity): Promise<string> {
  const latest = await log.latestCheckpoint();
  return (latest === null ? null : noteOrigin(latest.note)) ?? identity.log.origin;
}
