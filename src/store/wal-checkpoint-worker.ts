/**
 * The worker of store/wal-checkpointer.ts: its own connection to each database file of
 * `workerData.paths` (opened at the first checkpoint that finds the file), and on each
 * `checkpoint` message a `wal_checkpoint(PASSIVE)` of each, then `workerData.state[1]` back
 * to 0. On `close` it closes its connections, sets `state[0]` to 1 (the writer waits for it)
 * and ends.
 * A connection here never writes a row; `synchronous=NORMAL` makes its checkpoints sync the
 * WAL before copying and the database after, as the writer's own would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

const { paths, state } = workerData as { paths: string[]; state: Int32Array };
const conns = new Map<string, Database.Database>();

function connection(path: string): Database.Database | null {
  let c = conns.get(path);
  if (c === undefined && existsSync(path)) {
    c = new Database(path, { fileMustExist: true, timeout: 0 });
    c.pragma('trusted_schema = OFF');
    c.pragma('synchronous = NORMAL');
    c.pragma('wal_autocheckpoint = 0');
    conns.set(path, c);
  }
  return c ?? null;
}

parentPort!.on('message', (m: unknown) => {
  if (m === 'close') {
    for (const c of conns.values()) c.close();
    Atomics.store(state, 0, 1);
    Atomics.notify(state, 0);
    parentPort!.close();
    return;
  }
  for (const path of paths) {
    try {
      connection(path)?.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or locked now: the next request tries again; the WAL only grows meanwhile.
    }
  }
  Atomics.store(state, 1, 0);
});
