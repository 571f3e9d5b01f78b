/**
 * A data directory `init` made and nothing has recorded in yet has no log (the first command
 * that opens it for writing creates it): `log status` reports an empty log, and the commands
 * that read the log say there is none yet (exit 3), never that it is corrupt, and create
 * nothing. A path that is no data directory, or one without a log that is not new (its log
 * moved to a fleet's, or calls were recorded here), is said to be that.
 */
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, scope } from './helpers.js';

/** `mcp-attest ARGS` with no fleet's log named by the environment. */
const run = (args: string[]) => cli(args, 60_000, { env: { MCP_ATTEST_STORE: '' } });

/** The command lines that read a data directory's log, each given `--home`. */
const readers = (dir: string): string[][] => [
  ['log', 'show'], ['log', 'export', '--out', join(dir, 'tiles')], ['log', 'publish', '--out', join(dir, 'tiles')],
  ['bundle', '--range', '0..0', '--out', join(dir, 'b.json')], ['log', 'migrate', '--to', 'postgres://u@127.0.0.1:1/db'],
];

test('a data directory nothing has recorded in: log status is an empty log; show, export, publish, migrate, bundle and verify say there is no log yet', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  assert.equal(run(['init', '--home', s.home]).status, 0);
  const files = readdirSync(s.home).sort();
  const db = join(s.home, 'log.db');
  assert.equal(existsSync(db), false);
  const status = run(['log', 'status', '--home', s.home, '--json']);
  assert.equal(status.status, 0, status.stderr);
  assert.deepEqual({ ...JSON.parse(status.stdout), origin: null }, { origin: null, driver: 'sqlite', entries: null, size: '0', integrated: '0', checkpoint: null, unsealed: '0', witnesses: [] });
  assert.match(run(['log', 'status', '--home', s.home]).stdout, /^log {9}mcp-attest\.local\/\S+ \(entries none yet, sqlite\)\nsize {8}0 \(integrated 0\)\ncheckpoint {2}none\nunsealed {4}0\n$/);
  for (const args of [...readers(s.dir), ['verify']]) {
    const r = run([...args, ...(args[0] === 'verify' ? [s.home] : ['--home', s.home])]);
    assert.deepEqual([r.status, r.stderr], [3, `mcp-attest: ERR_STORE_IO: no log at ${db}: nothing has been recorded in this data directory yet\n`], args.join(' '));
  }
  // A command that would write, refused for its options, opens nothing either.
  for (const args of [['log', 'serve', '--listen', 'bogus'], ['log', 'serve', '--witness-interval', '0'], ['log', 'serve', '--witness-timeout', 'x']]) {
    assert.equal(run([...args, '--home', s.home]).status, 2, args.join(' '));
  }
  assert.deepEqual(readdirSync(s.home).sort(), files, 'nothing was created');
  assert.equal(existsSync(join(s.dir, 'tiles')) || existsSync(join(s.dir, 'b.json')), false);
});

test('no data directory, or one whose log moved or whose calls went to a fleet\'s log, is not called new; verify of a missing path says nothing is there', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const none = join(s.dir, 'no-such-home');
  for (const args of [...readers(s.dir), ['log', 'status'], ['receipt', 'list'], ['log', 'witnesses', 'list'], ['agent', 'list']]) {
    const r = run([...args, '--home', none]);
    assert.deepEqual([r.status, r.stderr], [3, `mcp-attest: ERR_HOME_MISSING: no identity in ${none}: run "mcp-attest init --home ${none}"\n`], args.join(' '));
  }
  const v = run(['verify', s.dir]);
  assert.deepEqual([v.status, v.stderr], [3, `mcp-attest: ERR_STORE_IO: nothing to verify at ${s.dir}: not a log file, a data directory (no identity.json) or a tiles directory (no checkpoint)\n`]);
  const missing = join(s.dir, 'no-such.bundle.json');
  const m = run(['verify', missing]);
  assert.deepEqual([m.status, m.stderr], [3, `mcp-attest: ERR_STORE_IO: nothing at ${missing}: no such file or directory\n`]);
  // An origin ending in /identity is an identity log's name: no data directory's log takes it.
  const named = run(['init', '--home', join(s.dir, 'named'), '--origin', 'example.com/log/identity']);
  assert.deepEqual([named.status, named.stderr], [2, 'mcp-attest: ERR_USAGE: --origin example.com/log/identity: an origin ending in /identity names an identity log (docs/identity.md)\n']);
  assert.equal(run(['init', '--home', s.home]).status, 0);
  const db = join(s.home, 'log.db');
  // A proxy with --store keeps its payloads here and its log in PostgreSQL.
  writeFileSync(join(s.home, 'evidence.db'), '');
  for (const args of [...readers(s.dir), ['log', 'status'], ['verify']]) {
    const r = run([...args, ...(args[0] === 'verify' ? [s.home] : ['--home', s.home])]);
    assert.equal(r.status, 3, args.join(' '));
    assert.equal(r.stderr, `mcp-attest: ERR_STORE_IO: no log at ${db}, though calls were recorded here: a proxy with --store records to a fleet's log (read it with log status, log show, log publish or bundle --store URL (or $MCP_ATTEST_STORE), and verify the tiles log publish writes or the bundle); otherwise the log was removed\n`, args.join(' '));
  }
  // A recorder started here without the fleet's log (a service that lost $MCP_ATTEST_STORE) refuses, creating no log.db.
  const lost = run(['proxy', '--home', s.home, '--', process.execPath, '-e', '0']);
  assert.equal(lost.status, 2, lost.stderr);
  assert.match(lost.stderr, /ERR_USAGE: calls were recorded from this data directory to a fleet's log .*: record there with --store URL or \$MCP_ATTEST_STORE/);
  assert.equal(existsSync(db), false);
  writeFileSync(join(s.home, 'log-moved.json'), '{}\n');
  const moved = run(['log', 'status', '--home', s.home]);
  assert.equal(moved.status, 3);
  assert.match(moved.stderr, /^mcp-attest: ERR_STORE_IO: no log at .*: it moved to a fleet's log \(.*log-moved\.json\): read it with log status, log show, log publish or bundle --store URL \(or \$MCP_ATTEST_STORE\), and verify the tiles log publish writes or the bundle\n$/);
});

test('a data directory nothing has recorded in: receipt list and log witnesses list read nothing and create nothing; receipt export, receipt attach, log witness and log erase refuse', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  assert.equal(run(['init', '--home', s.home]).status, 0);
  const vkey = run(['witness', 'key', '--home', join(s.dir, 'witness')]).stdout.trim();
  const added = run(['log', 'witnesses', 'add', '--home', s.home, '--url', 'http://user:secret@127.0.0.1:9', '--vkey', vkey]);
  assert.equal(added.status, 0, added.stderr);
  // The same again is no change; another URL is an update (its password not shown); its key under another name is refused.
  assert.match(run(['log', 'witnesses', 'add', '--home', s.home, '--url', 'http://user:secret@127.0.0.1:9', '--vkey', vkey]).stdout, /already configured \(1 configured\)/);
  const moved = run(['log', 'witnesses', 'add', '--home', s.home, '--url', 'http://user:secret@127.0.0.1:10', '--vkey', vkey]);
  assert.equal(moved.stdout, `witness ${vkey.split('+')[0]} updated: url http://user:***@127.0.0.1:9/ -> http://user:***@127.0.0.1:10/ (1 configured)\n`);
  assert.equal(run(['log', 'witnesses', 'add', '--home', s.home, '--url', 'http://user:secret@127.0.0.1:9', '--vkey', vkey]).status, 0);
  const twin = run(['log', 'witnesses', 'add', '--home', s.home, '--url', 'http://127.0.0.1:11', '--vkey', formatVerifierKey('witness.sybil/x', SIG_TYPE_COSIGNATURE_V1, parseVerifierKey(vkey).publicKey)]);
  assert.equal(twin.status, 2);
  assert.match(twin.stderr, /that key is witness .* already: one witness under two names would count twice/);
  // A list edited by hand into the same: trust export refuses to print a policy every verifier refuses.
  const listed = readFileSync(join(s.home, 'witnesses.json'), 'utf8');
  const one = (JSON.parse(listed) as Array<Record<string, string>>)[0]!;
  const sybil = formatVerifierKey('witness.sybil/x', SIG_TYPE_COSIGNATURE_V1, parseVerifierKey(vkey).publicKey);
  writeFileSync(join(s.home, 'witnesses.json'), JSON.stringify([one, { name: 'witness.sybil/x', vkey: sybil, url: 'http://127.0.0.1:11/' }]));
  const exported = run(['trust', 'export', '--home', s.home]);
  assert.equal(exported.status, 2);
  assert.match(exported.stderr, /ERR_POLICY_INVALID: the trust policy of .* would be refused by every verifier: .*public key listed twice/);
  writeFileSync(join(s.home, 'witnesses.json'), listed);
  const files = readdirSync(s.home).sort();
  const list = run(['receipt', 'list', '--home', s.home, '--json']);
  assert.deepEqual([list.status, JSON.parse(list.stdout), list.stderr], [0, [], '']);
  assert.deepEqual([run(['receipt', 'list', '--home', s.home]).stdout], ['']);
  const witnesses = run(['log', 'witnesses', 'list', '--home', s.home, '--json']);
  assert.equal(witnesses.status, 0, witnesses.stderr);
  const parsed = JSON.parse(witnesses.stdout) as { witnesses: Array<{ vkey: string; url: string; cosignedSize: string }>; events: unknown[] };
  assert.deepEqual([parsed.witnesses.map((w) => [w.vkey, w.url, w.cosignedSize]), parsed.events], [[[vkey, 'http://user:***@127.0.0.1:9/', '0']], []], 'the password is not shown');
  assert.doesNotMatch(run(['log', 'witnesses', 'list', '--home', s.home]).stdout, /secret/);
  const witness = run(['log', 'witness', '--home', s.home]);
  assert.deepEqual([witness.status, witness.stderr], [2, 'mcp-attest: ERR_USAGE: the log has no checkpoint yet: mcp-attest log checkpoint\n']);
  const erase = run(['log', 'erase', '--home', s.home, '--call', 'abc']);
  assert.deepEqual([erase.status, erase.stderr], [2, 'mcp-attest: ERR_USAGE: no call abc: nothing has been recorded in this data directory yet\n']);
  const session = 'ses_AAAAAAAAAAAAAAAAAAAAAA';
  writeFileSync(join(s.dir, 'approval.json'), '{}');
  for (const args of [['receipt', 'export', session, '--out', join(s.dir, 'r.json')], ['receipt', 'attach', session, join(s.dir, 'approval.json')]]) {
    const r = run([...args, '--home', s.home]);
    assert.deepEqual([r.status, r.stderr], [2, `mcp-attest: ERR_SESSION_UNKNOWN: no session ${session}: nothing has been recorded in this data directory yet\n`], args.join(' '));
  }
  assert.deepEqual(readdirSync(s.home).sort(), files, 'nothing was created');
  assert.equal(existsSync(join(s.dir, 'r.json')), false);
});
