/**
 * The CLI's start-up paths (cli/main.ts): `--version` answered before anything is loaded,
 * help without running any action.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { CLI, ROOT } from './helpers.js';

const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('--version and -V print package.json\'s version and nothing else', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = run([flag]);
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${version}\n`, ''], flag);
  }
});

test('help of the program and of a command exits 0 with its usage; an unknown command exits 2 with a suggestion', () => {
  const top = run(['--help']);
  assert.equal(top.status, 0);
  for (const name of ['verify', 'proxy', 'gateway', 'agent']) assert.match(top.stdout, new RegExp(`\\n  ${name}\\b`), name);
  const verify = run(['verify', '--help']);
  assert.equal(verify.status, 0);
  assert.match(verify.stdout, /^Usage: mcp-attest verify/);
  const unknown = run(['verifx']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Did you mean verify\?/);
});
