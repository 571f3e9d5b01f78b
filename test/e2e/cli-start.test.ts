/**
 * The CLI's start-up paths (cli/main.ts): `--version` answered before anything is loaded,
 * help without running any action, a command's help from the texts the build rendered
 * (cli/help.ts) exactly as commander prints it.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'node:test';
import type { Command } from 'commander';
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

/** Every command path of the program (names joined by spaces, '' for the program). */
async function commandPaths(): Promise<string[]> {
  const { createProgram } = await import('../../src/cli/commands.js');
  const paths: string[] = [];
  const walk = (c: Command, path: string[]): void => {
    paths.push(path.join(' '));
    for (const sub of c.commands) walk(sub, [...path, sub.name()]);
  };
  walk(await createProgram([]), []);
  return paths;
}

test('every command\'s --help through the entry point is commander\'s own, byte for byte (stdout a pipe), with -h too', async () => {
  const texts = JSON.parse(readFileSync(join(dirname(CLI), 'help.json'), 'utf8')) as Record<string, string>;
  const paths = await commandPaths();
  assert.deepEqual(Object.keys(texts).sort(), [...paths].sort(), 'help.json has exactly the commands of the program');
  const program = join(dirname(CLI), 'program.js');
  const spawned = (script: string, args: string[]) => new Promise<[number | null, string, string]>((resolve, reject) => {
    execFile(process.execPath, [script, ...args], { encoding: 'utf8' }, (e, stdout, stderr) => {
      if (e !== null && typeof e.code !== 'number') reject(e);
      else resolve([e === null ? 0 : (e.code as number), stdout, stderr]);
    });
  });
  for (const path of paths) {
    const words = path === '' ? [] : path.split(' ');
    const flag = path.length % 2 === 0 ? '--help' : '-h';
    const [fast, real] = await Promise.all([spawned(CLI, [...words, flag]), spawned(program, [...words, flag])]);
    assert.deepEqual(fast, real, `${path} ${flag}`);
    assert.equal(fast[0], 0, path);
    assert.equal(fast[1], texts[path], path);
  }
});

test('the entry point answers help from help.json alone, and ignores one older than itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-help-'));
  try {
    // The built entry point and what it imports statically (not the program's chunks, nor any
    // package): only help.json can answer.
    const main = readFileSync(CLI, 'utf8');
    for (const [, file] of main.matchAll(/^} from "\.\/([^"]+)";$/gm)) copyFileSync(join(dirname(CLI), file!), join(dir, file!));
    copyFileSync(CLI, join(dir, 'main.js'));
    writeFileSync(join(dir, 'help.json'), JSON.stringify({ verify: 'from help.json\n' }));
    const answered = spawnSync(process.execPath, [join(dir, 'main.js'), 'verify', '--help'], { encoding: 'utf8' });
    assert.deepEqual([answered.status, answered.stdout, answered.stderr], [0, 'from help.json\n', '']);
    // Older than main.js (a compile after the last build): commander is asked, and is not here.
    utimesSync(join(dir, 'help.json'), new Date(0), new Date(0));
    const stale = spawnSync(process.execPath, [join(dir, 'main.js'), 'verify', '--help'], { encoding: 'utf8' });
    assert.notEqual(stale.status, 0);
    assert.equal(stale.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
