/**
 * The data directory's own log as the commands that only read it open it (`log show`,
 * `log status`, `log export`, `log publish`, `log migrate`, `bundle`, `verify`, `demo`'s
 * summary, `receipt list`, `log witnesses list`): read-only, never created. A data directory
 * `init` made has no `log.db` until a command opens the log for writing (the first proxy,
 * `serve`, `log serve`, `log checkpoint`); one whose proxies record to a fleet's log never has
 * one.
 */
import { exists, homePaths } from '../store/home.js';
export { markMoved } from '../store/synced.js';
import { loadIdentity } from '../store/identity.js';
import { LogDb } from '../store/log-db.js';
import { CliExit, EXIT_IO, EXIT_USAGE } from './output.js';
import { isFleetStore } from '../store/log-store.js';

/** `--store`, else `$MCP_ATTEST_STORE`; a usage error (exit 2) when neither names a fleet's log. */
export function storeUrl(option: string | undefined): string {
  const url = option ?? process.env['MCP_ATTEST_STORE'] ?? '';
  if (!isFleetStore(url)) throw new CliExit(EXIT_USAGE, 'a fleet\'s log is named by --store postgres://… or $MCP_ATTEST_STORE');
  return url;
}

/** Whether the log to read is a fleet's (`--store`, `$MCP_ATTEST_STORE`) rather than the data directory's. */
export const fleetLog = (o: { store?: string }): boolean => o.store !== undefined || (process.env['MCP_ATTEST_STORE'] ?? '') !== '';

/** How a fleet's log is read: the commands that take --store, and verify of what log publish writes. */
const FLEET_READERS = 'log status, log show, log publish or bundle --store URL (or $MCP_ATTEST_STORE), and verify the tiles log publish writes or the bundle';

/**
 * Whether the data directory `home` has its `log.db`; false for one nothing has recorded in
 * yet. Throws `ERR_HOME_MISSING` (from `loadIdentity`, with the `init` hint) for a path that is
 * no data directory, and `CliExit` (exit 3) for one without a log that is not new: its log
 * moved to a fleet's (`log-moved.json`), or calls were recorded here (`evidence.db`) to a
 * fleet's log or to a log since removed.
 */
export function hasHomeLog(home: string): boolean {
  const p = homePaths(home);
  if (exists(p.db)) return true;
  loadIdentity(home);
  if (exists(p.moved)) throw new CliExit(EXIT_IO, `no log at ${p.db}: it moved to a fleet's log (${p.moved}): read it with ${FLEET_READERS}`);
  if (exists(p.evidence)) throw new CliExit(EXIT_IO, `no log at ${p.db}, though calls were recorded here: a proxy with --store records to a fleet's log (read it with ${FLEET_READERS}); otherwise the log was removed`);
  return false;
}

/**
 * The path of the data directory `home`'s `log.db`. Throws what {@link hasHomeLog} throws,
 * and `CliExit` (exit 3, "no log at PATH: nothing has been recorded in this data directory
 * yet") for a new one.
 */
export function homeLogPath(home: string): string {
  const path = homePaths(home).db;
  if (!hasHomeLog(home)) throw new CliExit(EXIT_IO, `no log at ${path}: nothing has been recorded in this data directory yet`);
  return path;
}

/** The log of the data directory `home`, opened read-only. Throws what {@link homeLogPath} throws, and what {@link LogDb} throws (`ERR_STORE_CORRUPT`). */
export function openHomeLog(home: string): LogDb {
  return new LogDb(homeLogPath(home), 'full', true);
}

