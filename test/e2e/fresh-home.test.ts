/**
 * A data directory `init` made and nothing has recorded in yet has no log (the first proxy,
 * `serve` or `log checkpoint` creates it): `log status` reports an empty log, and the commands
 * that read the log say there is none yet (exit 3), never that it is corrupt, and create nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, scope } from './helpers.js';

test('a data directory nothing has recorded in: log status is an empty log; show, export, bundle and verify say there is no log yet (and verify of a missing path, that nothing is there)', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  const files = readdirSync(s.home).sort();
  const db = join(s.home, 'log.db');
  assert.equal(existsSync(db), false);
  const status = cli(['log', 'status', '--home', s.home, '--json']);
  assert.equal(status.status, 0, status.stderr);
  assert.deepEqual({ ...JSON.parse(status.stdout), origin: null }, { origin: null, driver: 'sqlite', entries: null, size: '0', integrated: '0', checkpoint: null, unsealed: '0', witnesses: [] });
  assert.match(cli(['log', 'status', '--home', s.home]).stdout, /^log {9}mcp-attest\.local\/\S+ \(entries none yet, sqlite\)\nsize {8}0 \(integrated 0\)\ncheckpoint {2}none\n/);
  for (const args of [['log', 'show'], ['log', 'export', '--out', join(s.dir, 'tiles')], ['bundle', '--range', '0..0', '--out', join(s.dir, 'b.json')], ['log', 'migrate', '--to', 'postgres://u@127.0.0.1:1/db']]) {
    const r = cli([...args, '--home', s.home]);
    assert.equal(r.status, 3, args.join(' '));
    assert.equal(r.stderr, `mcp-attest: no log at ${db}: nothing has been recorded in this data directory yet\n`, args.join(' '));
  }
  const v = cli(['verify', s.home]);
  assert.deepEqual([v.status, v.stderr], [3, `mcp-attest: no log at ${db}: nothing has been recorded in this data directory yet\n`]);
  const missing = join(s.dir, 'no-such.bundle.json');
  const m = cli(['verify', missing]);
  assert.deepEqual([m.status, m.stderr], [3, `mcp-attest: nothing at ${missing}: no such file or directory\n`], 'a path with nothing there is not called a log');
  const plain = cli(['verify', s.dir]);
  assert.deepEqual([plain.status, plain.stderr], [3, `mcp-attest: no log at ${join(s.dir, 'log.db')}: not a log file, a data directory or a tiles directory\n`], 'a directory that is no data directory is not called one');
  assert.deepEqual(readdirSync(s.home).sort(), files, 'nothing was created');
  assert.equal(existsSync(join(s.dir, 'tiles')) || existsSync(join(s.dir, 'b.json')), false);
});
