/**
 * cli/help.ts: which command lines are answered from the help texts the build rendered, and
 * which are left to commander.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'node:test';
import { commandSummaries, commanderVersion, prerenderedHelp } from '../../src/cli/help.js';

const BUILD = 'build-1';
const TEXTS = { '': 'program\n', verify: 'verify\n', 'log show': 'log show\n' };

/** A directory `<tmp>/dist/cli/` with a help.json of `file` (raw text when a string), and commander `version` installed at `<tmp>` (none when null). */
function built(file: unknown, version: string | null = '14.0.3'): { dir: URL; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'help-'));
  const dir = join(root, 'dist', 'cli');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'help.json'), typeof file === 'string' ? file : JSON.stringify(file));
  if (version !== null) {
    mkdirSync(join(root, 'node_modules', 'commander'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'commander', 'package.json'), JSON.stringify({ name: 'commander', version }));
  }
  return { dir: pathToFileURL(`${dir}/`), done: () => rmSync(root, { recursive: true, force: true }) };
}

test('command names followed by --help or -h are answered from the help.json of this build and commander release, stdout not a terminal', () => {
  const { dir, done } = built({ build: BUILD, commander: '14.0.3', texts: TEXTS });
  try {
    assert.equal(prerenderedHelp(['verify', '--help'], false, dir, BUILD), 'verify\n');
    assert.equal(prerenderedHelp(['log', 'show', '-h'], false, dir, BUILD), 'log show\n');
    assert.equal(prerenderedHelp(['--help'], false, dir, BUILD), 'program\n');
  } finally {
    done();
  }
});

test('a terminal, another argument, an unknown command or a member that is no text is left to commander', () => {
  const { dir, done } = built({ build: BUILD, commander: '14.0.3', texts: { ...TEXTS, odd: 42 } });
  try {
    assert.equal(prerenderedHelp(['verify', '--help'], true, dir, BUILD), null, 'a terminal: commander renders to its width');
    for (const args of [[], ['verify'], ['verify', '--json', '--help'], ['verify', 'x.json', '--help'], ['--help', 'verify'], ['verifx', '--help'], ['log', '--help'], ['__proto__', '--help'], ['constructor', '--help'], ['odd', '--help'], ['Verify', '--help']]) {
      assert.equal(prerenderedHelp(args, false, dir, BUILD), null, args.join(' '));
    }
  } finally {
    done();
  }
});

test('help.json of another build, of another commander release, unreadable or malformed, or none, is not used; nor by an entry point without a build id', () => {
  const cases: Array<[unknown, string | null, string | null]> = [
    [{ build: 'build-0', commander: '14.0.3', texts: TEXTS }, '14.0.3', BUILD],
    [{ build: BUILD, commander: '14.0.3', texts: TEXTS }, null, null],
    [{ build: BUILD, commander: '14.0.3', texts: TEXTS }, '14.1.0', BUILD],
    [{ build: BUILD, commander: '14.0.3', texts: TEXTS }, null, BUILD],
    [{ build: BUILD, texts: TEXTS }, '14.0.3', BUILD],
    [{ build: BUILD, commander: '14.0.3', texts: null }, '14.0.3', BUILD],
    [{ build: BUILD, commander: '14.0.3', texts: 'verify' }, '14.0.3', BUILD],
    ['{"build": "build-1", "texts": {"verify": "ver', '14.0.3', BUILD],
    ['null', '14.0.3', BUILD],
  ];
  for (const [file, version, build] of cases) {
    const { dir, done } = built(file, version);
    try {
      const answer = prerenderedHelp(['verify', '--help'], false, dir, version === null && build === null ? null : build);
      assert.equal(answer, null, `${JSON.stringify(file)} ${version} ${build}`);
    } finally {
      done();
    }
  }
  assert.equal(prerenderedHelp(['verify', '--help'], false, pathToFileURL(join(tmpdir(), 'no-such-dir-for-help/')), BUILD), null);
});

test('commanderVersion is that of the nearest node_modules/commander from the directory up, null when there is none', () => {
  const { dir, done } = built({}, '14.2.0');
  try {
    assert.equal(commanderVersion(dir), '14.2.0', 'found two directories up');
    assert.equal(commanderVersion(new URL('../../', dir)), '14.2.0', 'found beside');
  } finally {
    done();
  }
  const bare = built({}, null);
  try {
    assert.equal(commanderVersion(bare.dir), null);
  } finally {
    bare.done();
  }
});

test('commandSummaries are the commands of the help.json of this build and commander release, null when any is not a summary', () => {
  const verify = { name: 'verify', term: 'verify [options] <input>', description: 'check it' };
  const { dir, done } = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, commands: [verify, { ...verify, name: 'log', term: 'log', extra: 1 }] });
  try {
    assert.deepEqual(commandSummaries(dir, BUILD), [verify, { ...verify, name: 'log', term: 'log' }], 'members past a summary\'s are left out');
    assert.equal(commandSummaries(dir, 'build-0'), null, 'another build');
    assert.equal(commandSummaries(dir, null), null, 'a compile without a build id');
  } finally {
    done();
  }
  for (const commands of [undefined, null, {}, [null], [{ name: 'verify', term: 'verify' }], [{ ...verify, description: 1 }], 'verify']) {
    const other = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, commands });
    try {
      assert.equal(commandSummaries(other.dir, BUILD), null, JSON.stringify(commands));
    } finally {
      other.done();
    }
  }
  const release = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, commands: [verify] }, '14.1.0');
  try {
    assert.equal(commandSummaries(release.dir, BUILD), null, 'rendered by another commander release');
  } finally {
    release.done();
  }
});
