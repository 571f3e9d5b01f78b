/**
 * cli/help.ts: which command lines are answered from the help texts the build rendered, and
 * which are left to commander.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'node:test';
import { prerenderedHelp } from '../../src/cli/help.js';

/** A directory with a main.js and a help.json of `texts` (raw text when a string), help.json newer unless `stale`. */
function built(texts: unknown, stale = false): { dir: URL; done: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'help-'));
  writeFileSync(join(path, 'main.js'), '');
  writeFileSync(join(path, 'help.json'), typeof texts === 'string' ? texts : JSON.stringify(texts));
  const [older, newer] = [new Date(1_000_000_000_000), new Date(1_000_000_100_000)];
  utimesSync(join(path, 'main.js'), stale ? newer : older, stale ? newer : older);
  utimesSync(join(path, 'help.json'), stale ? older : newer, stale ? older : newer);
  return { dir: pathToFileURL(`${path}/`), done: () => rmSync(path, { recursive: true, force: true }) };
}

const TEXTS = { '': 'program\n', verify: 'verify\n', 'log show': 'log show\n' };

test('command names followed by --help or -h are answered from help.json when stdout is not a terminal', () => {
  const { dir, done } = built(TEXTS);
  try {
    assert.equal(prerenderedHelp(['verify', '--help'], false, dir), 'verify\n');
    assert.equal(prerenderedHelp(['log', 'show', '-h'], false, dir), 'log show\n');
    assert.equal(prerenderedHelp(['--help'], false, dir), 'program\n');
  } finally {
    done();
  }
});

test('a terminal, another argument, an unknown command or a member that is no text is left to commander', () => {
  const { dir, done } = built({ ...TEXTS, odd: 42 });
  try {
    assert.equal(prerenderedHelp(['verify', '--help'], true, dir), null, 'a terminal: commander renders to its width');
    for (const args of [[], ['verify'], ['verify', '--json', '--help'], ['verify', 'x.json', '--help'], ['--help', 'verify'], ['verifx', '--help'], ['log', '--help'], ['__proto__', '--help'], ['constructor', '--help'], ['odd', '--help'], ['Verify', '--help']]) {
      assert.equal(prerenderedHelp(args, false, dir), null, args.join(' '));
    }
  } finally {
    done();
  }
});

test('a help.json older than main.js, unreadable, not JSON or not an object, or none at all, is not used', () => {
  for (const [texts, stale] of [[TEXTS, true], ['{"verify": "ver', false], ['"verify"', false], ['null', false]] as const) {
    const { dir, done } = built(texts, stale);
    try {
      assert.equal(prerenderedHelp(['verify', '--help'], false, dir), null, `${JSON.stringify(texts)} ${stale}`);
    } finally {
      done();
    }
  }
  assert.equal(prerenderedHelp(['verify', '--help'], false, pathToFileURL(join(tmpdir(), 'no-such-dir-for-help/'))), null);
});
