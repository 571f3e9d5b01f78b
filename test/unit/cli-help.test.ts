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
import { commanderVersion, helpModel, prerenderedHelp, type HelpModel } from '../../src/cli/help.js';

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

test('helpModel is the model of a command path in the help.json of this build and commander release, null for any other shape', () => {
  const model: HelpModel = {
    description: 'the log', arguments: [{ term: '<input>', description: '' }],
    options: [{ flags: '--home <dir>', description: 'data directory' }], commands: [{ name: 'show', term: 'show [options]', description: 'print it' }], helpCommand: true,
  };
  const extra = { ...model, extra: 1, options: [{ ...model.options[0], extra: 2 }] };
  const { dir, done } = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, models: { log: extra, '': { ...model, helpCommand: false } } });
  try {
    assert.deepEqual(helpModel(dir, BUILD, ['log']), model, 'members past a model\'s are left out');
    assert.deepEqual(helpModel(dir, BUILD, []), { ...model, helpCommand: false }, 'the program\'s');
    assert.equal(helpModel(dir, BUILD, ['log', 'show']), null, 'no model for that path');
    assert.equal(helpModel(dir, BUILD, ['constructor']), null, 'an inherited member is no model');
    assert.equal(helpModel(dir, 'build-0', ['log']), null, 'another build');
    assert.equal(helpModel(dir, null, ['log']), null, 'a compile without a build id');
  } finally {
    done();
  }
  const malformed: unknown[] = [
    undefined, null, [], 'log', { ...model, description: null }, { ...model, description: undefined },
    { ...model, helpCommand: 'yes' }, { ...model, arguments: {} }, { ...model, arguments: [{ term: '<x>' }] }, { ...model, options: [null] },
    { ...model, options: [{ flags: 1, description: '' }] }, { ...model, commands: [{ name: 'show', term: 'show' }] },
    { ...model, commands: [{ name: 'Show', term: 'Show', description: '' }] }, { ...model, commands: [{ name: 'a b', term: 'a', description: '' }] },
  ];
  for (const m of [...malformed.map((log) => ({ log })), null, [], 'models']) {
    const other = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, models: m });
    try {
      assert.equal(helpModel(other.dir, BUILD, ['log']), null, JSON.stringify(m));
    } finally {
      other.done();
    }
  }
  const release = built({ build: BUILD, commander: '14.0.3', texts: TEXTS, models: { log: model } }, '14.1.0');
  try {
    assert.equal(helpModel(release.dir, BUILD, ['log']), null, 'rendered by another commander release');
  } finally {
    release.done();
  }
});
