/**
 * The data directory's own log as the commands that only read it open it (`log show`,
 * `log status`, `log export`, `bundle`, `demo`'s summary): read-only, never created. A data
 * directory that `init` made and nothing has recorded in yet has no `log.db`: the first
 * proxy, `serve` or `log checkpoint` creates it.
 */
import { lstatSync } from 'node:fs';
import { LogDb } from '../store/log-db.js';
import { CliExit, EXIT_IO } from './output.js';

/** Whether anything is at `path` (a link counts, even a dangling one: opening it says what is wrong). */
export function logExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
}

/**
 * The log at `path` (a data directory's `log.db`), opened read-only. Throws `CliExit` with
 * exit 3 and "no log at PATH: nothing has been recorded in this data directory yet" when
 * there is no such file, and what {@link LogDb} throws otherwise (`ERR_STORE_CORRUPT`).
 */
export function openHomeLog(path: string): LogDb {
  if (!logExists(path)) throw new CliExit(EXIT_IO, `no log at ${path}: nothing has been recorded in this data directory yet`);
  return new LogDb(path, 'full', true);
}
