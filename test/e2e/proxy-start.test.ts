/**
 * `mcp-attest proxy` starts its upstream command as soon as its flags are checked, while it
 * opens its data directory (src/cli/cmd-proxy.ts): an upstream that cannot run, or writes and
 * exits during that start-up, ends the proxy as before, its output relayed; a proxy that cannot
 * start after all (here an unknown `--session`), or is signalled while it starts, does not
 * leave the upstream it started running, even one that ignores SIGTERM and its input's end
 * (nor does a running proxy, when its client leaves or it is signalled);
 * a SIGTERM at any moment of its start-up ends it (none is lost while the relay takes over).
 * A preload holds the proxy, right after it spawned the upstream, until the upstream has
 * written a marker file: every case below happens with the upstream running (or gone) while
 * the proxy is still starting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { initHome } from '../../src/store/identity.js';
import { CLI, cli, exportTrust, logShow, ROOT, scope, verify, waitFor, type Scope } from './helpers.js';

/** Pids of the processes whose command line includes `needle`. */
function running(needle: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) pids.push(Number(p));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/**
 * An upstream script: it runs `body`, then writes `marker` (so the marker says its signal
 * handlers are in place: a SIGTERM sent once it exists meets them); killed when the test
 * ends. Returns its path and its marker's.
 */
function upstream(s: Scope, name: string, body: string): { script: string; marker: string } {
  const script = join(s.dir, `${name}.cjs`);
  const marker = join(s.dir, `${name}.started`);
  writeFileSync(script, `${body}\nrequire('node:fs').writeFileSync(${JSON.stringify(marker)}, '');\n`);
  s.defer(() => running(script).forEach((p) => process.kill(p, 'SIGKILL')));
  return { script, marker };
}

/**
 * Ignores SIGTERM and the end of its input: only SIGKILL ends it. It closes the stderr it
 * inherits (the test's pipe from the proxy, which spawnSync would otherwise wait on).
 */
const STUBBORN = 'require("node:fs").closeSync(2); process.on("SIGTERM", () => {}); process.stdin.on("end", () => {}).on("error", () => {}).resume(); setInterval(() => {}, 1000);';

/** A preload that holds the proxy after its first spawn until `marker` exists (at most 20 s), then runs `then` (a statement). */
function holdUntilStarted(s: Scope, marker: string, then = ''): string {
  const preload = join(s.dir, 'hold-after-spawn.cjs');
  writeFileSync(preload, `const cp = require('node:child_process');
const fs = require('node:fs');
const spawn = cp.spawn;
cp.spawn = function (...a) {
  cp.spawn = spawn;
  const child = spawn.apply(this, a);
  const end = Date.now() + 20000;
  while (!fs.existsSync(${JSON.stringify(marker)}) && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  ${then}
  return child;
};
`);
  return preload;
}

test('a proxy that cannot start stops the upstream it started, one that ignores SIGTERM too', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  const { script, marker } = upstream(s, 'stubborn', STUBBORN);
  const r = cli(['proxy', '--home', s.home, '--session', `ses_${'B'.repeat(22)}`, '--', process.execPath, script], 60_000, { preload: holdUntilStarted(s, marker) });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--session .*ERR_SESSION_UNKNOWN/);
  assert.ok(existsSync(marker), 'the upstream was started');
  await waitFor('the upstream to be stopped', () => running(script).length === 0, 10_000);
});

test('an upstream that cannot run, or writes and exits while the proxy starts, ends the proxy as before', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const missing = cli(['proxy', '--home', s.home, '--', join(s.dir, 'no-such-command')]);
  assert.equal(missing.status, 3, missing.stderr);
  assert.match(missing.stderr, /cannot start upstream: .*ENOENT/);
  const note = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'early' } };
  const { script, marker } = upstream(s, 'quits', `process.stdout.write(${JSON.stringify(JSON.stringify(note) + '\n')}, () => process.exit(5));`);
  // Held until the upstream wrote its marker, and a little more for it to write and exit.
  const quits = cli(['proxy', '--home', s.home, '--', process.execPath, script], 60_000, { preload: holdUntilStarted(s, marker, 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);') });
  assert.equal(quits.status, 5, quits.stderr);
  assert.deepEqual(quits.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown), [note]);
});

test('a signal while the proxy starts stops the upstream too, and ends the proxy with 128 + its number', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const termed = join(s.dir, 'termed');
  const { script, marker } = upstream(s, 'stubborn', `process.on("SIGTERM", () => require("node:fs").writeFileSync(${JSON.stringify(termed)}, "")); ${STUBBORN}`);
  // Signalled at the turn of the event loop after the upstream started: the relay's modules are still loading then.
  const preload = holdUntilStarted(s, marker, "setImmediate(() => process.kill(process.pid, 'SIGTERM'));");
  const r = cli(['proxy', '--home', s.home, '--', process.execPath, script], 60_000, { preload });
  assert.equal(r.status, 143, r.stderr);
  // This upstream outlives SIGTERM (it records it) and the end of its input: the proxy asked it
  // to stop, then killed it.
  assert.ok(existsSync(termed), 'the upstream got SIGTERM first');
  assert.deepEqual(running(script), []);
});

test('once running, an upstream that ignores SIGTERM and its input\'s end neither holds the proxy open nor outlives it', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  const { script, marker } = upstream(s, 'stubborn', STUBBORN);
  // The client goes away: the proxy ends the upstream's input, SIGTERMs it 2 s later, SIGKILLs it 2 s after that.
  const left = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, '--', process.execPath, script], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
  await waitFor('the upstream to start', () => existsSync(marker));
  left.stdin.end();
  const code = await new Promise<number | null>((r) => left.on('exit', r));
  assert.equal(code, 137, 'the upstream ended by SIGKILL: 128 + 9, as a shell reports it');
  await waitFor('the upstream to be gone', () => running(script).length === 0, 5_000);
  // SIGTERM to the proxy: it stops the upstream the same way before it exits.
  rmSync(marker);
  const termed = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, '--', process.execPath, script], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
  await waitFor('the upstream to start', () => existsSync(marker));
  await new Promise((r) => setTimeout(r, 300)); // the relay has taken the signals over
  termed.kill('SIGTERM');
  assert.equal(await new Promise<number | null>((r) => termed.on('exit', r)), 0);
  assert.deepEqual(running(script), []);
});

test('a signal while the proxy starts, a call already sent: the relay built meanwhile shuts down, nothing is left in flight, the log verifies', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  // Takes 500 ms to exit on SIGTERM: the relay is built while the start-up handler waits for it.
  const { script, marker } = upstream(s, 'slow', 'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 500)); process.stdin.resume(); setInterval(() => {}, 1000);');
  const preload = holdUntilStarted(s, marker, "setImmediate(() => process.kill(process.pid, 'SIGTERM'));");
  const p = spawn(process.execPath, ['--require', preload, CLI, 'proxy', '--home', s.home, '--checkpoint-ms', '10000', '--', process.execPath, script], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
  p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { x: 1 } } }) + '\n');
  assert.equal(await new Promise<number | null>((r) => p.on('exit', r)), 143);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.equal(report.calls, report.receipts, 'every call recorded has its receipt');
  assert.equal(report.inFlight, 0);
  assert.equal(report.checkpointSize, report.size);
});

test('a signal that comes while the upstream is being spawned is handled: the upstream does not outlive the proxy', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { script, marker } = upstream(s, 'stubborn', STUBBORN);
  // Raised as spawn returns, before the proxy's code goes on (as one held across the fork is delivered).
  const preload = holdUntilStarted(s, marker, "process.kill(process.pid, 'SIGTERM');");
  const r = cli(['proxy', '--home', s.home, '--', process.execPath, script], 60_000, { preload });
  assert.equal(r.status, 143, r.stderr);
  assert.deepEqual(running(script), []);
});

test('a proxy whose tool pins cannot be opened exits with the error at once, its client still connected, and records nothing', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  writeFileSync(join(s.home, 'pins.db'), Buffer.alloc(5000, 0x5a));
  const { script } = upstream(s, 'quiet', 'process.stdin.resume();');
  const p = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, '--', process.execPath, script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }) + '\n');
  const code = await new Promise<number | string>((resolve) => {
    const hung = setTimeout(() => { p.kill('SIGKILL'); resolve('still running 15 s later'); }, 15_000);
    p.on('exit', (c) => { clearTimeout(hung); resolve(c ?? 'signal'); });
  });
  assert.equal(code, 3, stderr);
  assert.match(stderr, /tool pins/);
  assert.deepEqual(logShow(s.home), []);
});

test('a SIGTERM at any moment of start-up ends the proxy: none is lost while the relay takes over', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  const { script } = upstream(s, 'stubborn', STUBBORN);
  const outcomes: string[] = [];
  for (let delay = 0; delay <= 400; delay += 25) {
    const p = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, '--', process.execPath, script], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
    await new Promise((r) => setTimeout(r, delay));
    p.kill('SIGTERM');
    outcomes.push(await new Promise<string>((resolve) => {
      const hung = setTimeout(() => { p.kill('SIGKILL'); resolve(`${delay} ms: still running 5 s later`); }, 5_000);
      // 0: the relay's own shutdown; SIGTERM: before the proxy listens (Node's default); 143: the start-up handler.
      p.on('exit', (code, signal) => { clearTimeout(hung); resolve(code === 0 || signal === 'SIGTERM' || code === 143 ? 'ended' : `${delay} ms: ${code ?? signal}`); });
    }));
    running(script).forEach((pid) => process.kill(pid, 'SIGKILL'));
  }
  assert.deepEqual(outcomes.filter((o) => o !== 'ended'), []);
});
