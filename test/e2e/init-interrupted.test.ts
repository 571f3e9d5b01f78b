/**
 * A first run killed while it initializes the data directory (SIGKILL: no handler runs)
 * leaves nothing that blocks the next run: killed while writing its keys, the next run
 * initializes afresh; killed after publishing them but before `identity.json`, the next run
 * completes that identity. The next run here is a real `mcp-attest proxy` in front of an
 * upstream, which answers a call. Keys that are not the ones the identity names (files of two
 * initializations) are refused before anything is signed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, RawPeer, cli, initializeRequest, rawServer, scope, type Scope } from './helpers.js';

/** A preload that SIGKILLs the process at its first `fs.<fn>` call on a path ending in `/<name>`, after the call when `after`. */
function killAt(s: Scope, fn: 'writeFileSync' | 'linkSync', name: string, after: boolean): string {
  const preload = join(s.dir, `kill-at-${fn}.cjs`);
  writeFileSync(preload, `const fs = require('node:fs');
const real = fs.${fn};
fs.${fn} = function (...a) {
  const hit = String(a[${fn === 'linkSync' ? 1 : 0}]).endsWith('/${name}');
  if (hit && !${after}) process.kill(process.pid, 'SIGKILL');
  const r = real.apply(this, a);
  if (hit) process.kill(process.pid, 'SIGKILL');
  return r;
};
require('node:module').syncBuiltinESMExports();
`);
  return preload;
}

/** Run `mcp-attest init` under `preload`; asserts it was killed. */
function killedInit(s: Scope, preload: string): void {
  const r = spawnSync(process.execPath, ['--require', preload, CLI, 'init', '--home', s.home], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
}

/** A proxy on the directory answers a call; returns its stderr. */
async function proxyAnswers(s: Scope): Promise<string> {
  const peer = RawPeer.proxy(s, rawServer(s).argv);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'meta', arguments: {} } });
  assert.match(await peer.response(1), /"result"/);
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0, peer.stderr);
  return peer.stderr;
}

test('killed while writing its keys: the next run initializes the directory afresh', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  killedInit(s, killAt(s, 'writeFileSync', 'issuer.pem', true));
  assert.equal(existsSync(join(s.home, 'identity.json')), false);
  assert.equal(existsSync(join(s.home, 'keys')), false, 'nothing published');
  const stderr = await proxyAnswers(s);
  assert.match(stderr, /initialized /);
  assert.ok(existsSync(join(s.home, 'identity.json')));
});

test('killed after publishing its keys, before identity.json: the next run completes that identity', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  killedInit(s, killAt(s, 'linkSync', 'identity.json', false));
  assert.equal(existsSync(join(s.home, 'identity.json')), false);
  const staged = JSON.parse(readFileSync(join(s.home, 'keys', 'identity.json'), 'utf8')) as { iss: string };
  const stderr = await proxyAnswers(s);
  assert.doesNotMatch(stderr, /initialized /);
  assert.equal((JSON.parse(readFileSync(join(s.home, 'identity.json'), 'utf8')) as { iss: string }).iss, staged.iss);
  assert.ok(!readdirSync(s.home).some((n) => n.startsWith('keys.unfinished')));
});

test('a directory whose issuer key is not the one identity.json names: the proxy refuses to start, nothing is logged', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const other = join(s.dir, 'other');
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  assert.equal(cli(['init', '--home', other]).status, 0);
  copyFileSync(join(other, 'keys', 'issuer.pem'), join(s.home, 'keys', 'issuer.pem'));
  const r = cli(['proxy', '--home', s.home, '--', process.execPath, ...rawServer(s).argv]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ERR_STORE_CORRUPT: .*issuer\.pem is not the key identity\.json names/);
  assert.equal(existsSync(join(s.home, 'log.db')), false);
});
