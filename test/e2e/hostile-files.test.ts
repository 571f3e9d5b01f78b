/**
 * Every file a command is handed, and the files of a data directory, are read as hostile
 * (store/read-regular.ts): a FIFO, a link to a device or a file past its cap is refused
 * unread with a coded error, never read until memory runs out, never waited on for ever.
 * An `--out` file is replaced whole, never written through a symlink planted at its path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { initHome } from '../../src/store/identity.js';
import { recordCalls } from '../unit/log-helper.js';
import { join } from 'node:path';
import { CLI, cli, scope } from './helpers.js';

/** `mcp-attest ARGS` with no fleet's log named by the environment; 20 s at most (a read that waits fails the test). */
const run = (args: string[]) => cli(args, 20_000, { env: { MCP_ATTEST_STORE: '' } });

test('a FIFO, a link to /dev/zero or an oversized file named on the command line is refused unread, with a coded error', { timeout: 300_000 }, (t) => {
  const s = scope(t);
  assert.equal(run(['init', '--home', s.home]).status, 0);
  const trust = join(s.dir, 'trust.json');
  writeFileSync(trust, run(['trust', 'export', '--home', s.home]).stdout);
  const key = join(s.dir, 'key.pem');
  assert.equal(run(['key', 'generate', '--out', key]).status, 0);
  const envelope = join(s.dir, 'envelope.json');
  writeFileSync(envelope, '{}');
  const fifo = join(s.dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  const zero = join(s.dir, 'zero.json');
  symlinkSync('/dev/zero', zero);
  const large = join(s.dir, 'large.json');
  writeFileSync(large, '');
  truncateSync(large, (1 << 20) + 1);
  const session = 'ses_AAAAAAAAAAAAAAAAAAAAAA';
  // Each command line with F for the hostile file; `large`: its cap is 1 MiB (the others' are larger).
  const lines: Array<{ args: (f: string) => string[]; large: boolean }> = [
    { args: (f) => ['proxy', '--home', s.home, '--trust', f, '--', process.execPath, '-e', '0'], large: true },
    { args: (f) => ['proxy', '--role', 'server', '--policy', f, '--home', s.home, '--', process.execPath, '-e', '0'], large: true },
    { args: (f) => ['agent', 'revoke', f, '--home', s.home], large: false },
    { args: (f) => ['agent', 'renew', f, '--home', s.home], large: false },
    { args: (f) => ['attestation', 'verify', f, '--trust', trust], large: true },
    { args: (f) => ['attestation', 'verify', envelope, '--args', f, '--trust', trust], large: false },
    { args: (f) => ['receipt', 'verify', f, '--trust', trust], large: true },
    { args: (f) => ['receipt', 'verify', envelope, '--result', f, '--trust', trust], large: false },
    { args: (f) => ['approve', f, '--key', key, '--id', 'approver:alice', '--action', '1'], large: false },
    { args: (f) => ['countersign', f, '--key', key, '--id', 'counterparty:acme', '--action', '1'], large: false },
    { args: (f) => ['trust', 'merge', f], large: true },
    { args: (f) => ['trust', 'party', '--key', f, '--id', 'approver:alice', '--role', 'approver'], large: true },
    { args: (f) => ['receipt', 'attach', session, f, '--home', s.home], large: false },
    { args: (f) => ['gateway', '--config', f], large: true },
  ];
  for (const { args, large: capped } of lines) {
    for (const [file, found] of [[fifo, /is a FIFO, not a regular file: refused unread/], [zero, /is a character device, not a regular file: refused unread/], ...(capped ? [[large, /is 1048577 bytes, more than its cap of 1048576: refused unread/] as const] : [])] as const) {
      const argv = args(file);
      const r = run(argv);
      assert.notEqual(r.status, 0, argv.join(' '));
      assert.match(r.stderr, found, argv.join(' '));
      assert.match(r.stderr, /ERR_[A-Z_]+/, `${argv.join(' ')}: a coded error`);
    }
  }
});

test('a FIFO or a link to /dev/zero in place of a witness\'s key files is refused unread', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const w = join(s.dir, 'witness');
  mkdirSync(w);
  execFileSync('mkfifo', [join(w, 'witness.json')]);
  const r = run(['witness', 'key', '--home', w]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /ERR_STORE_IO: cannot read the witness key/);
  const k = join(s.dir, 'witness-2');
  assert.equal(run(['witness', 'key', '--home', k]).status, 0);
  rmSync(join(k, 'witness-key.pem'));
  symlinkSync('/dev/zero', join(k, 'witness-key.pem'));
  const z = run(['witness', 'key', '--home', k]);
  assert.equal(z.status, 3);
  assert.match(z.stderr, /ERR_STORE_IO: cannot read the witness key/);
});

test('a private key or secret its group or others may read or write is refused (ERR_KEY_EXPOSED, exit 3, naming chmod 600); 0600 and 0400 are used', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  await initHome(home);
  const logKey = join(home, 'keys', 'log.pem');
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o610]) {
    chmodSync(logKey, mode);
    const r = run(['log', 'checkpoint', '--home', home]);
    assert.equal(r.status, 3, `${mode.toString(8)}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`ERR_KEY_EXPOSED: key ${logKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has mode 0${mode.toString(8)}: .*chmod 600`));
  }
  for (const mode of [0o600, 0o400]) {
    chmodSync(logKey, mode);
    assert.equal(run(['log', 'checkpoint', '--home', home]).status, 0, mode.toString(8));
  }
  // The log it made is 0600; one others may read (an earlier version's) is named by log status.
  assert.equal(lstatSync(join(home, 'log.db')).mode & 0o777, 0o600);
  assert.doesNotMatch(run(['log', 'status', '--home', home]).stderr, /warning/);
  chmodSync(join(home, 'log.db'), 0o644);
  const status = run(['log', 'status', '--home', home]);
  assert.equal(status.status, 0);
  assert.match(status.stderr, /warning: .*log\.db may be read by other users of this machine .*chmod 600 .*log\.db\*/);
  // A secret named on the command line, and a witness's own key.
  const secret = join(s.dir, 'hs.secret');
  writeFileSync(secret, Buffer.alloc(32, 1), { mode: 0o644 });
  chmodSync(secret, 0o644);
  const v = run(['attestation', 'verify', join(s.dir, 'absent.json'), '--secret', secret]);
  assert.equal(v.status, 3);
  assert.match(v.stderr, /ERR_KEY_EXPOSED: --secret .* has mode 0644/);
  // 0600 but another user's: they could put a secret of their choosing there.
  chmodSync(secret, 0o600);
  if (process.getuid?.() === 0) {
    chownSync(secret, 65534, 65534);
    const other = run(['attestation', 'verify', join(s.dir, 'absent.json'), '--secret', secret]);
    assert.equal(other.status, 3);
    assert.match(other.stderr, /ERR_KEY_EXPOSED: --secret .* is owned by another user \(uid 65534\)/);
    // A user's own data directory, operated by root (sudo, a container over a bind mount): the keys are its owner's, and taken.
    const theirs = join(s.dir, 'theirs');
    await initHome(theirs);
    for (const f of [theirs, join(theirs, 'keys'), ...['issuer.pem', 'log.pem'].map((k) => join(theirs, 'keys', k))]) chownSync(f, 65534, 65534);
    const checkpointed = run(['log', 'checkpoint', '--home', theirs]);
    assert.equal(checkpointed.status, 0, checkpointed.stderr);
  }
  // An agent credential issuer's key, which signs credentials and revocations.
  const agent = join(s.dir, 'agent');
  assert.equal(run(['init', '--home', agent]).status, 0);
  assert.equal(run(['agent', 'issuer', 'init', '--home', home, '--id', 'idp:acme', '--subject-prefix', 'agent:acme/']).status, 0);
  chmodSync(join(home, 'keys', 'credential-issuer.pem'), 0o644);
  const issued = run(['agent', 'issue', '--home', home, '--agent-home', agent, '--subject', 'agent:acme/bot1', '--ttl', '600']);
  assert.equal(issued.status, 3, issued.stderr);
  assert.match(issued.stderr, /ERR_KEY_EXPOSED: credential issuer key .* has mode 0644/);
  const w = join(s.dir, 'witness');
  assert.equal(run(['witness', 'key', '--home', w]).status, 0);
  chmodSync(join(w, 'witness-key.pem'), 0o640);
  const k = run(['witness', 'key', '--home', w]);
  assert.equal(k.status, 3);
  assert.match(k.stderr, /ERR_KEY_EXPOSED: witness key .* has mode 0640/);
});

test('an --out path is replaced whole: a symlink planted there is replaced, never written through; a FIFO is written to', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  await recordCalls(s.home, 2);
  const victim = join(s.dir, 'victim.txt');
  writeFileSync(victim, 'keep me\n');
  const out = join(s.dir, 'calls.json');
  symlinkSync(victim, out);
  const made = run(['bundle', '--home', s.home, '--range', '0..1', '--out', out]);
  assert.equal(made.status, 0, made.stderr);
  assert.equal(readFileSync(victim, 'utf8'), 'keep me\n');
  assert.ok(lstatSync(out).isFile() && readFileSync(out, 'utf8').startsWith('{'));
  assert.deepEqual(readdirSync(s.dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  // A FIFO (a shell's >(…), /dev/stdout) is written as it is: a reader on the other end gets the bundle.
  const fifo = join(s.dir, 'pipe.json');
  execFileSync('mkfifo', [fifo]);
  const copied = join(s.dir, 'through-pipe.json');
  const reader = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', fifo, copied], { stdio: 'ignore' });
  const ended = new Promise((resolve) => reader.on('exit', resolve));
  const piped = run(['bundle', '--home', s.home, '--range', '0..1', '--out', fifo]);
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(await ended, 0);
  assert.ok(lstatSync(fifo).isFIFO());
  assert.equal(readFileSync(copied, 'utf8'), readFileSync(out, 'utf8'));
  // /dev/stdout redirected to a file: the bundle goes to that descriptor, and the summary printed after it follows it.
  const redirected = join(s.dir, 'stdout.txt');
  execFileSync('sh', ['-c', '"$@" > "$0"', redirected, process.execPath, CLI, 'bundle', '--home', s.home, '--range', '0..1', '--out', '/dev/stdout'], { env: { ...process.env, MCP_ATTEST_STORE: '' } });
  assert.ok(readFileSync(redirected, 'utf8').startsWith(readFileSync(out, 'utf8') + 'wrote /dev/stdout: 2 entries'));
  assert.ok(lstatSync('/dev/stdout').isSymbolicLink());
});
