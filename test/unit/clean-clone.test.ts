/**
 * A plain clone of the repository must test itself: no file may refer to the folder of
 * published vectors that sits beside the checkout on the development machine (a clone never
 * has it). The published vectors are vendored in test/vectors/published/ and read through
 * test/vectors.ts. The search pattern is built at run time, so this file is checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vectorPath } from '../vectors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Skipped: installed, built, VCS and gitignored output folders, and the vendored vectors. */
const SKIP = new Set(['node_modules', 'dist', '.git', '.bench-out', 'tmp', join('test', 'vectors', 'published')]);

const NAME = ['sha', 'red'].join('');
/** `../<name>`, `..\<name>`, `<name>/vectors`, or `'..', '<name>'` as path.join arguments. */
const SIBLING = new RegExp(
  [`\\.\\.[\\\\/]+${NAME}\\b`, `\\b${NAME}[\\\\/]+vectors\\b`, `['"]\\.\\.['"]\\s*,\\s*['"]${NAME}['"]`].join('|'),
);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const abs = join(dir, name);
    if (SKIP.has(relative(ROOT, abs))) return [];
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) return [];
    return st.isDirectory() ? walk(abs) : st.isFile() ? [abs] : [];
  });
}

/** `file:line: text` for every line that refers to the sibling folder. */
function siblingReferences(files: string[]): string[] {
  return files.flatMap((abs) =>
    readFileSync(abs, 'latin1').split('\n').flatMap((line, i) =>
      SIBLING.test(line) ? [`${relative(ROOT, abs)}:${i + 1}: ${line.trim().slice(0, 160)}`] : [],
    ),
  );
}

test('the pattern catches the forms a sibling reference takes, and not ordinary words', () => {
  const hits = (s: string): boolean => SIBLING.test(s);
  assert.ok(hits(`new URL('../../../${NAME}/vectors/jcs/', import.meta.url)`));
  assert.ok(hits(`read in place from ../${NAME}/`));
  assert.ok(hits(`..\\${NAME}\\vectors`));
  assert.ok(hits(`${NAME}/vectors/c2sp`));
  assert.ok(hits(`join(root, '..', '${NAME}', 'vectors')`));
  assert.ok(!hits(`a ${NAME} secret; state ${NAME} by the gate`));
  assert.ok(!hits('test/vectors/published/jcs'));
});

test('no file of the repository refers to the sibling vector folder', () => {
  const files = walk(ROOT);
  assert.ok(files.some((f) => relative(ROOT, f) === join('test', 'unit', 'clean-clone.test.ts')), 'walk reaches test/unit');
  assert.ok(files.some((f) => relative(ROOT, f) === 'package.json'), 'walk reaches the repository root');
  assert.deepEqual(siblingReferences(files), []);
});

test('published vectors resolve inside the repository, every folder with its SOURCE.md', () => {
  const dir = vectorPath('');
  assert.equal(dir, join(ROOT, 'test', 'vectors', 'published') + sep);
  const folders = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual(folders, ['c2sp', 'jcs', 'merkle', 'sep2787', 'vaara-receipt']);
  for (const f of folders) assert.ok(existsSync(vectorPath(`${f}/SOURCE.md`)), `${f}/SOURCE.md`);
  assert.ok(existsSync(vectorPath('README.md')));
});
