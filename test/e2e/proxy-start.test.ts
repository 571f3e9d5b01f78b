/**
 * `mcp-attest proxy` starts its upstream command as soon as its flags are checked, while it
 * opens its data directory (src/cli/cmd-proxy.ts): an upstream that cannot run or exits during
 * that start-up ends the proxy as before, and a proxy that cannot start after all (here an
 * unknown `--session`), or is stopped by a signal while it starts, does not leave the
 * upstream it started running.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { initHome } from '../../src/store/identity.js';
import { cli, scope, waitFor, type Scope } from './helpers.js';

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

/** An upstream that outlives the end of its stdin (only a signal ends it), killed when the test ends; its path. */
function stubbornUpstream(s: Scope): string {
  const script = join(s.dir, 'stubborn-upstream.cjs');
  writeFileSync(script, 'process.stdin.on("error", () => {}); setInterval(() => {}, 1000);\n');
  s.defer(() => running(script).forEach((p) => process.kill(p, 'SIGKILL')));
  return script;
}

test('a proxy that cannot start stops the upstream it started', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  const script = stubbornUpstream(s);
  const r = cli(['proxy', '--home', s.home, '--session', `ses_${'B'.repeat(22)}`, '--', process.execPath, script]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--session .*ERR_SESSION_UNKNOWN/);
  await waitFor('the upstream to be stopped', () => running(script).length === 0, 10_000);
});

test('an upstream that cannot run, or exits while the proxy starts, ends the proxy as before', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const missing = cli(['proxy', '--home', s.home, '--', join(s.dir, 'no-such-command')]);
  assert.equal(missing.status, 3, missing.stderr);
  assert.match(missing.stderr, /cannot start upstream: .*ENOENT/);
  const quits = cli(['proxy', '--home', s.home, '--', process.execPath, '-e', 'process.exit(5)']);
  assert.equal(quits.status, 5, quits.stderr);
});

test('a signal while the proxy starts stops the upstream too, and ends the proxy as Node would', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const script = stubbornUpstream(s);
  // The proxy signals itself at the turn of the event loop after it started the upstream: its
  // relay's modules are still loading then.
  const preload = join(s.dir, 'signal-after-spawn.cjs');
  writeFileSync(preload, `const cp = require('node:child_process');
const spawn = cp.spawn;
cp.spawn = function (...a) {
  cp.spawn = spawn;
  setImmediate(() => process.kill(process.pid, 'SIGTERM'));
  return spawn.apply(this, a);
};
`);
  const r = cli(['proxy', '--home', s.home, '--', process.execPath, script], 60_000, { preload });
  assert.equal(r.status, 143, r.stderr);
  await waitFor('the upstream to be stopped', () => running(script).length === 0, 10_000);
});
