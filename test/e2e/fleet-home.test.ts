/**
 * The data directory of a fleet's integrator (docs/fleet.md) on a real PostgreSQL: its log
 * key signs the fleet's log, so it must never sign a SQLite log of its own as well (two
 * histories under one origin and key: a fork). `log integrate` refuses a data directory with
 * a log of its own, and marks the one it integrates with (`log-moved.json`) before it signs
 * anything; from then on nothing records, checkpoints or serves a log there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, connect, EVERYTHING, CLI, readLog, scope, waitFor } from './helpers.js';
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
  assert.deepEqual([refused.status, refused.stderr], [2, `mcp-attest: ERR_USAGE: this data directory has a log of its own (${join(own, 'log.db')}, 1 entries): integrating a fleet's log with its key would sign a second history (a fork); move it to the fleet's log first (mcp-attest log migrate --to URL), or integrate from another data directory\n`]);
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
    assert.match(r.stderr, /^mcp-attest: ERR_STORE_IO: no log at .*: it moved to a fleet's log/, args.join(' '));
  }
  assert.equal(existsSync(join(fleet, 'log.db')), false, 'no log of its own was created');
  assert.equal(integrate(fleet, url).status, 0, 'it integrates again');

  // A log moved with log migrate: its integrator proceeds; the log left behind is not served.
  const moved = await server.database('fleet_b');
  assert.equal(run(['log', 'migrate', '--home', own, '--to', moved]).status, 0);
  assert.equal(integrate(own, moved).status, 0);
  const serve = run(['log', 'serve', '--home', own, '--listen', '127.0.0.1:0']);
  assert.deepEqual([serve.status, serve.stderr], [3, `mcp-attest: ERR_STORE_IO: this data directory's log is a fleet's (${join(own, 'log-moved.json')}): serve and witness it with log publish and log integrate, --store URL or $MCP_ATTEST_STORE\n`]);

  // An empty log.db (an earlier version's `log witnesses list` left one) is no history.
  const empty = init('empty');
  new LogDb(join(empty, 'log.db')).close();
  assert.equal(integrate(empty, await server.database('fleet_c')).status, 0);
  assert.equal(existsSync(join(empty, 'log-moved.json')), true);
});

/** One echo call recorded by a proxy on `home` (SQLite log, or the fleet's at `store`); the proxy is closed after, its final checkpoint signed. */
async function recordCall(s: ReturnType<typeof scope>, home: string, store?: string): Promise<void> {
  const { client } = await connect(s, process.execPath, [CLI, 'proxy', '--home', home, ...(store ? ['--store', store] : []), '--', process.execPath, EVERYTHING]);
  await client.callTool({ name: 'echo', arguments: { message: `from ${home}` } });
  await client.close();
}

test('a moved data directory\'s integrator signs only a fleet\'s tree that extends what its key signed in SQLite; a recorder open across the move signs nothing after it', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const [moved, other, open] = [join(s.dir, 'moved'), join(s.dir, 'other'), join(s.dir, 'open')];
  for (const h of [moved, other, open]) assert.equal(run(['init', '--home', h]).status, 0);
  await recordCall(s, moved);
  const signed = readLog(moved).checkpoints.at(-1)!.size;
  const [a, b] = [await server.database('fleet_d'), await server.database('fleet_e')];
  assert.equal(run(['log', 'migrate', '--home', moved, '--to', a]).status, 0);
  assert.equal(run(['log', 'migrate', '--home', moved, '--to', b]).status, 2, 'moved once, not again');
  const left = run(['log', 'status', '--home', moved]);
  assert.equal(left.status, 0, left.stderr);
  assert.match(left.stderr, /this data directory's log moved to a fleet's log .*: this is the log it left/, 'its status says the log moved');
  // Another fleet's log, with other entries: this key signing it would sign a second history.
  await recordCall(s, other, b);
  const wrong = integrate(moved, b);
  assert.equal(wrong.status, 2, wrong.stderr);
  assert.match(wrong.stderr, /this data directory's log is another fleet's/);
  assert.ok(signed > 0n);
  assert.equal(integrate(moved, a).status, 0, 'the fleet\'s log it moved to extends it');

  // A recorder opened before its data directory's log moved records on, but signs no checkpoint after.
  await recordCall(s, open);
  const { client, stderr } = await connect(s, process.execPath, [CLI, 'proxy', '--home', open, '--', process.execPath, EVERYTHING]);
  await client.callTool({ name: 'echo', arguments: { message: 'before the move' } });
  await waitFor('its checkpoint', () => readLog(open).checkpoints.at(-1)!.size === readLog(open).entries.length);
  assert.equal(run(['log', 'migrate', '--home', open, '--to', await server.database('fleet_f')]).status, 0);
  const before = readLog(open).checkpoints.at(-1)!.size;
  await client.callTool({ name: 'echo', arguments: { message: 'after the move' } });
  await waitFor('a refused checkpoint', () => /checkpoint failed: .*was moved to a fleet's log/.test(stderr()));
  await client.close();
  assert.equal(readLog(open).checkpoints.at(-1)!.size, before, 'no checkpoint signed after the move');
  assert.ok(readLog(open).entries.length > before);
});

test('log integrate that fails before signing anything leaves the data directory as it was', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  assert.equal(run(['init', '--home', home]).status, 0);
  const url = await server.database('fleet_g');
  // The fleet's log holds checkpoints of another origin.
  assert.equal(integrate(join(s.dir, 'first'), url).status, 3, 'no such data directory');
  const first = join(s.dir, 'first');
  assert.equal(run(['init', '--home', first]).status, 0);
  assert.equal(integrate(first, url).status, 0);
  const refused = integrate(home, url);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /made for the data directory of origin/);
  assert.equal(existsSync(join(home, 'log-moved.json')), false, 'not marked');
  assert.equal(run(['log', 'checkpoint', '--home', home]).status, 0, 'it records on its own');
});

test('a dangling link at log-moved.json, or an integrator-signed.json, makes a fleet\'s data directory to every recorder', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const [linked, signedFleet] = [join(s.dir, 'linked'), join(s.dir, 'signed')];
  for (const h of [linked, signedFleet]) assert.equal(run(['init', '--home', h]).status, 0);
  symlinkSync(join(s.dir, 'nowhere'), join(linked, 'log-moved.json'));
  writeFileSync(join(signedFleet, 'integrator-signed.json'), `{"size":"1","root":"${'00'.repeat(32)}"}\n`);
  for (const home of [linked, signedFleet]) {
    const r = run(['log', 'checkpoint', '--home', home]);
    assert.equal(r.status, 2, home);
    assert.match(r.stderr, /ERR_USAGE: this data directory's log was moved to a fleet's log/);
    assert.equal(existsSync(join(home, 'log.db')), false);
  }
});

test('the owner\'s first log status --store writes the fleet\'s parameters entry, the format of the data directory named: the first writer does not decide it', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'integrator');
  assert.equal(run(['init', '--home', home]).status, 0);
  const url = await server.database('fleet_params');
  const status = run(['log', 'status', '--home', home, '--store', url, '--json']);
  assert.equal(status.status, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { size: string }).size, '1');
  const { PgLog } = await import('../../src/store/pg-log.js');
  const log = await PgLog.open(url);
  t.after(() => log.close());
  assert.equal(await log.mode(), 'private');
  assert.equal(run(['log', 'status', '--store', url, '--json']).status, 0, 'again, and without a data directory: nothing more written');
  assert.equal(await log.size(), 1n);
});


test('a data directory a fleet proxy creates says its calls go to the fleet\'s log, not an origin of its own it never uses', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const fresh = join(s.dir, 'fresh');
  const { client, stderr } = await connect(s, process.execPath, [CLI, 'proxy', '--home', fresh, '--store', await server.database('fleet_fresh'), '--', process.execPath, EVERYTHING]);
  await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
  await client.close();
  assert.match(stderr(), new RegExp(`mcp-attest: initialized ${fresh.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(issuer issuer://[0-9a-f-]+, calls recorded to the fleet's log\\)`), stderr());
  assert.doesNotMatch(stderr(), /, log /);
});
