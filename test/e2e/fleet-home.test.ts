/**
 * The data directory of a fleet's integrator (docs/fleet.md) on a real PostgreSQL: its log
 * key signs the fleet's log, so it must never sign a SQLite log of its own as well (two
 * histories under one origin and key: a fork). `log integrate` refuses a data directory with
 * a log of its own, and marks the one it integrates with (`log-moved.json`) before it signs
 * anything; from then on nothing records, checkpoints or serves a log there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, scope } from './helpers.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { LogDb } from '../../src/store/log-db.js';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** `mcp-attest ARGS` with no fleet's log named by the environment. */
const run = (args: string[]) => cli(args, 20_000, { env: { MCP_ATTEST_STORE: '' } });
const integrate = (home: string, url: string) => run(['log', 'integrate', '--home', home, '--store', url, '--once']);

test('log integrate refuses a data directory with a log of its own, and marks the one it integrates with before signing: nothing records, checkpoints or serves a log of its own there', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const init = (name: string): string => {
    const home = join(s.dir, name);
    assert.equal(run(['init', '--home', home]).status, 0);
    return home;
  };
  // A data directory whose key signed a checkpoint of its own log.
  const own = init('own');
  assert.equal(run(['log', 'checkpoint', '--home', own]).status, 0);
  const url = await server.database('fleet_a');
  const refused = integrate(own, url);
  assert.deepEqual([refused.status, refused.stderr], [2, `mcp-attest: this data directory has a log of its own (${join(own, 'log.db')}, 1 entries): integrating a fleet's log with its key would sign a second history (a fork); move it to the fleet's log first (mcp-attest log migrate --to URL), or integrate from another data directory\n`]);
  assert.equal(existsSync(join(own, 'log-moved.json')) || existsSync(join(own, 'integrator-signed.json')), false, 'nothing marked or signed');

  // A new data directory is marked, then integrates.
  const fleet = init('fleet');
  const first = integrate(fleet, url);
  assert.equal(first.status, 0, first.stderr);
  const marker = JSON.parse(readFileSync(join(fleet, 'log-moved.json'), 'utf8')) as { to: string; entries: string };
  assert.deepEqual([marker.to, marker.entries], [url.replace('postgres:postgres@', 'postgres@'), '0'], 'where, without the password');
  const checkpoint = run(['log', 'checkpoint', '--home', fleet]);
  assert.equal(checkpoint.status, 2);
  assert.match(checkpoint.stderr, /ERR_USAGE: this data directory's log was moved to a fleet's log .*appending here would sign a second history with the same key/);
  for (const args of [['log', 'serve', '--listen', '127.0.0.1:0'], ['log', 'witness']]) {
    const r = run([...args, '--home', fleet]);
    assert.equal(r.status, 3, args.join(' '));
    assert.match(r.stderr, /^mcp-attest: no log at .*: it moved to a fleet's log/, args.join(' '));
  }
  assert.equal(existsSync(join(fleet, 'log.db')), false, 'no log of its own was created');
  assert.equal(integrate(fleet, url).status, 0, 'it integrates again');

  // A log moved with log migrate: its integrator proceeds; the log left behind is not served.
  const moved = await server.database('fleet_b');
  assert.equal(run(['log', 'migrate', '--home', own, '--to', moved]).status, 0);
  assert.equal(integrate(own, moved).status, 0);
  const serve = run(['log', 'serve', '--home', own, '--listen', '127.0.0.1:0']);
  assert.deepEqual([serve.status, serve.stderr], [2, `mcp-attest: this data directory's log is a fleet's (${join(own, 'log-moved.json')}): serve and witness it with log publish and log integrate, --store URL or $MCP_ATTEST_STORE\n`]);

  // An empty log.db (an earlier version's `log witnesses list` left one) is no history.
  const empty = init('empty');
  new LogDb(join(empty, 'log.db')).close();
  assert.equal(integrate(empty, await server.database('fleet_c')).status, 0);
  assert.equal(existsSync(join(empty, 'log-moved.json')), true);
});
