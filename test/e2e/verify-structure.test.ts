/**
 * `mcp-attest verify` does not trust the structure of what it is handed (docs/cli.md,
 * "Inputs"). A log.db with a view (a recursive CTE that never ends), a trigger or a
 * generated column; tiles, checkpoints, journals and bundles that are FIFOs, devices,
 * symlinks or too large; and such files passed as --trust, --secret, --checkpoint,
 * --policy-doc or in --state: each is a coded failure within seconds, never a hang. The
 * thing verified being bad exits 1 with the code in the `--json` findings; a file of the
 * verifier's own (trust, state, checkpoint, policy document, self-trust identity) exits 3
 * with the code on stderr. Every CLI run is bounded: a hang fails the test.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, cpSync, readdirSync, openSync, writeSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI, ROOT, exportTrust, type Report } from './helpers.js';
import { initHome } from '../../src/store/identity.js';
import { recordCalls } from '../unit/log-helper.js';

/** A run that has not ended by then is a hang: the test fails (and the child is killed). */
const RUN_TIMEOUT_MS = 5_000;
const ROOT_USER = process.getuid?.() === 0;

let base = '';
let home = '';
let trust = '';
let tiles = '';
let n = 0;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'mcp-attest-structure-'));
  home = join(base, 'home');
  await initHome(home);
  await recordCalls(home, 3);
  trust = exportTrust(home, join(base, 'trust.json'));
  tiles = join(base, 'tiles');
  assert.equal(run(['log', 'export', '--home', home, '--out', tiles]).status, 0);
  assert.equal(run(['verify', home, '--trust', trust]).status, 0, 'the untouched home verifies');
  assert.equal(run(['verify', tiles, '--trust', trust]).status, 0, 'the untouched tiles verify');
});

after(() => rmSync(base, { recursive: true, force: true }));

/** `mcp-attest ARGS...`, killed after RUN_TIMEOUT_MS; asserts it ended by itself. `as`: run under that user and group id. */
function run(args: string[], as?: number): { status: number; stdout: string; stderr: string } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, cwd: ROOT, ...(as === undefined ? {} : { uid: as, gid: as }) });
  assert.ok(r.status !== null, `mcp-attest ${args.join(' ')} hung (killed after ${Date.now() - started} ms)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh copy of the home (or the tiles directory) to corrupt. */
function copyOf(src: string): string {
  const dst = join(base, `copy-${n++}`);
  cpSync(src, dst, { recursive: true });
  return dst;
}

/** Run `sql` on a database file, then close it (its WAL folded back in). */
function editDb(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** `verify TARGET --trust T --json ...` must exit 1 with an error finding `code` (and `text` in its message). */
function failsWith(target: string, code: string, text = '', extra: string[] = []): void {
  const r = run(['verify', target, '--trust', trust, '--json', ...extra]);
  assert.equal(r.status, 1, `expected exit 1 for ${code}: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.verified, false);
  const hit = report.findings.find((f) => f.severity === 'error' && f.code === code);
  assert.ok(hit, `${code} not in ${JSON.stringify(report.findings)}`);
  assert.ok(hit.message.includes(text), `"${text}" not in "${hit.message}"`);
}

/** `mcp-attest ARGS...` must exit 3 naming `code` on stderr. */
function ioFails(args: string[], code: string): void {
  const r = run(args);
  assert.equal(r.status, 3, `expected exit 3 for ${code}: ${r.stdout}${r.stderr}`);
  assert.ok(r.stderr.includes(code), `${code} not in stderr: ${r.stderr}`);
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

/** A character device (major 1, minor 5: /dev/zero); needs root. */
function mkzero(t: TestContext, path: string): boolean {
  if (!ROOT_USER) {
    t.skip('mknod needs root');
    return false;
  }
  execFileSync('mknod', [path, 'c', '1', '5']);
  return true;
}

const ENDLESS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)';

test('a log.db whose entries table is an endless recursive view is refused unqueried', () => {
  const h = copyOf(home);
  editDb(join(h, 'log.db'), `ALTER TABLE entries RENAME TO real_entries;
    CREATE VIEW entries AS ${ENDLESS} SELECT x AS idx, zeroblob(10) AS data, zeroblob(32) AS leaf FROM c;`);
  failsWith(join(h, 'log.db'), 'ERR_STORE_CORRUPT', 'view "entries"');
  failsWith(h, 'ERR_STORE_CORRUPT', 'view "entries"');
});

test('a file that is neither a log.db nor a bundle fails, saying what verify reads; a log.db whose header is overwritten fails too', () => {
  for (const [name, text] of [['array.json', '[{"type":"mcp-attest/bundle@2"}]'], ['notes.txt', 'hello'], ['empty', '']] as const) {
    const file = join(base, name);
    writeFileSync(file, text);
    failsWith(file, 'ERR_STORE_CORRUPT', 'neither a log.db (no SQLite header) nor a receipt bundle');
  }
  const h = copyOf(home);
  const db = join(h, 'log.db');
  const fd = openSync(db, 'r+');
  writeSync(fd, Buffer.alloc(16));
  closeSync(fd);
  failsWith(db, 'ERR_STORE_CORRUPT', 'neither a log.db');
  failsWith(h, 'ERR_STORE_CORRUPT');
});

test('a log.db holding a trigger, a view elsewhere or a generated column is refused', () => {
  const trig = copyOf(home);
  editDb(join(trig, 'log.db'), `CREATE TABLE junk (x); CREATE TRIGGER t AFTER INSERT ON checkpoints BEGIN INSERT INTO junk ${ENDLESS} SELECT x FROM c; END;`);
  failsWith(join(trig, 'log.db'), 'ERR_STORE_CORRUPT', 'trigger "t"');
  const view = copyOf(home);
  editDb(join(view, 'log.db'), `CREATE VIEW unrelated AS ${ENDLESS} SELECT x FROM c;`);
  failsWith(join(view, 'log.db'), 'ERR_STORE_CORRUPT', 'view "unrelated"');
  const gen = copyOf(home);
  editDb(join(gen, 'log.db'), 'ALTER TABLE checkpoints ADD COLUMN junk BLOB AS (zeroblob(100000000));');
  failsWith(join(gen, 'log.db'), 'ERR_STORE_CORRUPT', 'generated column "checkpoints.junk"');
});

test('a log.db that is a FIFO or a device, or whose journal is a FIFO, is refused unopened', (t) => {
  const fifo = join(base, `fifo-${n++}.db`);
  mkfifo(fifo);
  failsWith(fifo, 'ERR_INPUT_NOT_REGULAR', 'a FIFO');
  const h = copyOf(home);
  mkfifo(join(h, 'log.db-journal'));
  failsWith(join(h, 'log.db'), 'ERR_INPUT_NOT_REGULAR', 'log.db-journal');
  failsWith(h, 'ERR_INPUT_NOT_REGULAR', 'log.db-journal');
  const w = copyOf(home);
  rmSync(join(w, 'log.db-wal'), { force: true });
  symlinkSync('/dev/zero', join(w, 'log.db-wal'));
  failsWith(join(w, 'log.db'), 'ERR_INPUT_NOT_REGULAR', 'log.db-wal');
  const dev = join(base, `dev-${n++}.db`);
  if (mkzero(t, dev)) failsWith(dev, 'ERR_INPUT_NOT_REGULAR', 'a character device');
});

test('a data directory the verifier cannot write verifies from log.db alone when no WAL holds commits; with one that does, it exits 3 saying to verify a copy', () => {
  const h = copyOf(home);
  editDb(join(h, 'log.db'), 'PRAGMA schema_version'); // read, then closed: its WAL folded into the file and removed
  // Root writes anywhere: the verifier runs as nobody (65534), over a directory it may read.
  const reader = ROOT_USER ? 65534 : undefined;
  chmodSync(base, 0o755);
  for (const f of readdirSync(h)) chmodSync(join(h, f), f === 'keys' ? 0o700 : 0o444);
  chmodSync(h, 0o555);
  try {
    const r = run(['verify', h, '--trust', trust, '--json'], reader);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(readdirSync(h).filter((f) => f.startsWith('log.db-')), [], 'nothing created beside log.db');
    chmodSync(h, 0o755);
    writeFileSync(join(h, 'log.db-wal'), Buffer.alloc(4224));
    chmodSync(h, 0o555);
    const walled = run(['verify', h, '--trust', trust], reader);
    assert.equal(walled.status, 3, walled.stdout + walled.stderr);
    assert.match(walled.stderr, /ERR_STORE_IO: cannot open log .*log\.db-wal, and cannot: verify a copy of the directory where you can write/);
  } finally {
    chmodSync(h, 0o755);
  }
});

test('a symlinked log.db inside a data directory is refused; a log.db path the user names may be one', () => {
  const h = copyOf(home);
  const elsewhere = join(base, `elsewhere-${n++}.db`);
  renameSync(join(h, 'log.db'), elsewhere);
  symlinkSync(elsewhere, join(h, 'log.db'));
  failsWith(h, 'ERR_INPUT_NOT_REGULAR', 'a symbolic link');
  const named = join(base, `named-${n++}.db`);
  symlinkSync(elsewhere, named);
  assert.equal(run(['verify', named, '--trust', trust]).status, 0);
  const toZero = join(base, `zero-${n++}.db`);
  symlinkSync('/dev/zero', toZero);
  failsWith(toZero, 'ERR_INPUT_NOT_REGULAR', 'a character device');
});

/** The tiles files the export wrote for 7 entries (the parameters entry and 3 calls). */
const CHECKPOINT = 'checkpoint';
const HASH_TILE = 'tile/0/000.p/7';
const ENTRY_BUNDLE = 'tile/entries/000.p/7';

for (const file of [CHECKPOINT, HASH_TILE, ENTRY_BUNDLE]) {
  test(`a tiles directory whose ${file} is a FIFO, a device or a symlink is refused`, (t) => {
    const fifo = copyOf(tiles);
    unlinkSync(join(fifo, file));
    mkfifo(join(fifo, file));
    failsWith(fifo, 'ERR_INPUT_NOT_REGULAR', 'a FIFO');
    const toRegular = copyOf(tiles);
    const kept = join(base, `kept-${n++}`);
    renameSync(join(toRegular, file), kept);
    symlinkSync(kept, join(toRegular, file)); // the very bytes that verify: refused for being a link
    failsWith(toRegular, 'ERR_INPUT_NOT_REGULAR', 'a symbolic link');
    const toZero = copyOf(tiles);
    unlinkSync(join(toZero, file));
    symlinkSync('/dev/zero', join(toZero, file));
    failsWith(toZero, 'ERR_INPUT_NOT_REGULAR', 'a symbolic link');
    const dev = copyOf(tiles);
    unlinkSync(join(dev, file));
    if (mkzero(t, join(dev, file))) failsWith(dev, 'ERR_INPUT_NOT_REGULAR', 'a character device');
  });
}

test('a symlinked directory inside a tiles directory is refused; the tiles directory itself may be one', () => {
  const d = copyOf(tiles);
  const moved = join(base, `entries-${n++}`);
  renameSync(join(d, 'tile/entries'), moved);
  symlinkSync(moved, join(d, 'tile/entries'));
  failsWith(d, 'ERR_INPUT_NOT_REGULAR', 'tile/entries');
  const link = join(base, `tiles-link-${n++}`);
  symlinkSync(tiles, link);
  assert.equal(run(['verify', link, '--trust', trust]).status, 0);
});

test('tiles, checkpoints and bundles over their caps are refused unread', () => {
  const big = copyOf(tiles);
  writeFileSync(join(big, HASH_TILE), Buffer.alloc(256 * 32 + 1));
  failsWith(big, 'ERR_INPUT_TOO_LARGE', 'cap of 8192');
  const cp = copyOf(tiles);
  truncateSync(join(cp, CHECKPOINT), (1 << 20) + 1);
  failsWith(cp, 'ERR_INPUT_TOO_LARGE');
  const bundle = join(base, `big-${n++}.bundle.json`);
  writeFileSync(bundle, '{');
  truncateSync(bundle, 256 * 1024 * 1024 + 1); // sparse: nothing to write, nothing to read
  failsWith(bundle, 'ERR_INPUT_TOO_LARGE', 'bundle');
});

test('the verifier\'s own inputs that are not regular files exit 3 with the code', () => {
  const fifo = join(base, `fifo-${n++}`);
  mkfifo(fifo);
  ioFails(['verify', home, '--trust', fifo, '--json'], 'ERR_INPUT_NOT_REGULAR');
  ioFails(['verify', home, '--trust', '/dev/zero', '--json'], 'ERR_INPUT_NOT_REGULAR');
  ioFails(['verify', home, '--trust', trust, '--secret', fifo, '--json'], 'ERR_INPUT_NOT_REGULAR');
  ioFails(['verify', home, '--trust', trust, '--checkpoint', fifo, '--json'], 'ERR_INPUT_NOT_REGULAR');
  const receipt = join(base, `receipt-${n++}.json`);
  writeFileSync(receipt, '{"format": "mcp-attest/session-receipt@1"}');
  ioFails(['verify', receipt, '--trust', trust, '--policy-doc', fifo, '--json'], 'ERR_INPUT_NOT_REGULAR');
  const linked = join(base, `trust-link-${n++}.json`);
  symlinkSync(trust, linked);
  assert.equal(run(['verify', home, '--trust', linked]).status, 0, 'a --trust path may be a symlink');
  const self = copyOf(home);
  unlinkSync(join(self, 'identity.json'));
  mkfifo(join(self, 'identity.json'));
  ioFails(['verify', self, '--json'], 'ERR_INPUT_NOT_REGULAR');
  const wit = copyOf(home);
  symlinkSync('/dev/zero', join(wit, 'witnesses.json'));
  ioFails(['verify', wit, '--json'], 'ERR_INPUT_NOT_REGULAR');
});

test('a --state database that is a FIFO, or holds an endless view or trigger, exits 3', () => {
  const fifoState = join(base, `state-${n++}`);
  mkdirSync(fifoState);
  mkfifo(join(fifoState, 'verifier.db'));
  ioFails(['verify', home, '--trust', trust, '--state', fifoState], 'ERR_INPUT_NOT_REGULAR');
  const fresh = (): string => {
    const dir = join(base, `state-${n++}`);
    assert.equal(run(['verify', home, '--trust', trust, '--state', dir]).status, 0);
    return dir;
  };
  const view = fresh();
  editDb(join(view, 'verifier.db'), `ALTER TABLE accepted RENAME TO real_accepted;
    CREATE VIEW accepted AS ${ENDLESS} SELECT 'o' AS origin, x AS size, zeroblob(32) AS root, '' AS note, 0 AS accepted FROM c;`);
  ioFails(['verify', home, '--trust', trust, '--state', view], 'ERR_STORE_CORRUPT');
  const trig = fresh();
  editDb(join(trig, 'verifier.db'), `DELETE FROM accepted; CREATE TABLE junk (x);
    CREATE TRIGGER t AFTER INSERT ON accepted BEGIN INSERT INTO junk ${ENDLESS} SELECT x FROM c; END;`);
  ioFails(['verify', home, '--trust', trust, '--state', trig], 'ERR_STORE_CORRUPT');
  const link = fresh();
  const moved = join(base, `verifier-${n++}.db`);
  copyFileSync(join(link, 'verifier.db'), moved);
  unlinkSync(join(link, 'verifier.db'));
  symlinkSync(moved, join(link, 'verifier.db'));
  ioFails(['verify', home, '--trust', trust, '--state', link], 'ERR_INPUT_NOT_REGULAR');
});
