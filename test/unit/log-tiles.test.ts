/**
 * C2SP tlog-tiles paths and entry bundles (src/log/tiles.ts) against
 * test/vectors/published/c2sp/tlog-tiles-paths.json (C2SP tlog-tiles.md examples,
 * derived paths, golang.org/x/mod sumdb/tlog tile paths; provenance in c2sp/SOURCE.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { utf8 } from '../../src/bytes/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';
import { leafHash } from '../../src/log/hash.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { subtreeHash } from '../../src/log/tree.js';
import {
  entriesPath,
  formatEntryBundle,
  MAX_ENTRY_SIZE,
  parseEntryBundle,
  parseTilePath,
  partialWidth,
  tilePath,
} from '../../src/log/tiles.js';
import { vectorUrl } from '../vectors.js';

const C2SP = vectorUrl('c2sp/');
const V = JSON.parse(readFileSync(new URL('tlog-tiles-paths.json', C2SP), 'utf8'));
const code = (c: ErrorCode) => (e: unknown) => isAttestError(e, c);

test('C2SP examples: index encoding and tile counts for sizes 70,000 and 256', () => {
  const [enc, s70000, s256] = V.c2spExamples;
  assert.equal(tilePath(0, BigInt(enc.index)), `tile/0/${enc.encodedN}`);
  assert.equal(entriesPath(BigInt(enc.index)), `tile/entries/${enc.encodedN}`);
  const full = (level: number, size: bigint): number => Number(size >> BigInt(8 * (level + 1)));
  const size = BigInt(s70000.treeSize);
  // "273 full level-0 tiles, partial level-0 112, 1 full level-1 tile, partial level-1 17, partial level-2 1"
  assert.deepEqual([full(0, size), partialWidth(0, size)], [273, 112]);
  assert.deepEqual([full(1, size), partialWidth(1, size)], [1, 17]);
  assert.deepEqual([full(2, size), partialWidth(2, size)], [0, 1]);
  assert.equal(partialWidth(3, size), 0);
  // "1 full level-0 tile and 1 partial level-1 tile of width 1"
  const s = BigInt(s256.treeSize);
  assert.deepEqual([full(0, s), partialWidth(0, s), partialWidth(1, s)], [1, 0, 1]);
  assert.equal(partialWidth(63, (1n << 64n) - 1n), 0);
  assert.equal(partialWidth(7, (1n << 64n) - 1n), 255);
});

test('derived C2SP paths format and parse back', () => {
  for (const c of V.derivedC2spPaths) {
    const [index, width] = [BigInt(c.index), c.width];
    const path = c.entries ? entriesPath(index, width) : tilePath(c.level, index, width);
    assert.equal(path, c.path);
    const ref = parseTilePath(c.path);
    assert.deepEqual(ref, { kind: c.entries ? 'entries' : 'hash', level: c.entries ? 0 : c.level, index, width });
  }
});

test('Go sumdb tile/<H>/<L>/<N> paths are not C2SP paths and are rejected', () => {
  for (const c of V.goSumdbPaths.cases) {
    assert.throws(() => parseTilePath(c.path), code('ERR_TILE_PATH'), c.path);
  }
});

test('strict path parsing and formatting', () => {
  const bad = [
    'tile/00/000', 'tile/64/000', 'tile/0/x000/001', 'tile/0/01', 'tile/0/0001', 'tile/0/000.p/0',
    'tile/0/000.p/256', 'tile/0/000.p/01', 'tile/0/000.p/', 'tile/entries/000.p/256', 'tile/0/000/',
    '/tile/0/000', 'tile/0/x001/x234/067/', 'tile/0/X001/234', 'tile/-1/000', 'tile/data/000',
    'tile/0/x018/x446/x744/x073/x709/x551/616', 'tile/entries/0', 'tile/0/1.p/5', '', 'tile/0/000\n',
  ];
  for (const p of bad) assert.throws(() => parseTilePath(p), code('ERR_TILE_PATH'), p);
  const max = (1n << 64n) - 1n;
  assert.equal(parseTilePath(tilePath(63, max, 255)).index, max);
  assert.equal(tilePath(0, 0n, 256), 'tile/0/000');
  assert.equal(tilePath(5, 1000n), 'tile/5/x001/000');
  for (const f of [
    () => tilePath(64, 0n), () => tilePath(-1, 0n), () => tilePath(1.5, 0n), () => tilePath(0, -1n),
    () => tilePath(0, max + 1n), () => tilePath(0, 0n, 0), () => tilePath(0, 0n, 257), () => entriesPath(0n, 1.5),
    () => partialWidth(64, 1n), () => partialWidth(0, -1n),
  ]) {
    assert.throws(f, code('ERR_TILE_PATH'));
  }
});

test('entry bundles: round trip, u16 limit, strict parsing', () => {
  const entries = [new Uint8Array(0), utf8('a'), new Uint8Array(MAX_ENTRY_SIZE).fill(7)];
  const bundle = formatEntryBundle(entries);
  assert.equal(bundle.length, 6 + 1 + MAX_ENTRY_SIZE);
  assert.deepEqual([...bundle.slice(0, 5)], [0, 0, 0, 1, 0x61]);
  assert.deepEqual(parseEntryBundle(bundle), entries);
  assert.deepEqual(parseEntryBundle(bundle, 3), entries);
  assert.throws(() => parseEntryBundle(bundle, 4), code('ERR_ENTRY_MALFORMED'));
  assert.throws(() => formatEntryBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)]), code('ERR_ENTRY_TOO_LARGE'));
  assert.throws(() => formatEntryBundle([]), code('ERR_ENTRY_MALFORMED'));
  assert.throws(() => formatEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(1))), code('ERR_ENTRY_MALFORMED'));
  for (let len = 0; len < 2 + 2 + 1; len++) {
    if (len === 2) continue; // [0, 0] is one empty entry: a valid bundle
    assert.throws(() => parseEntryBundle(bundle.slice(0, len)), code('ERR_ENTRY_MALFORMED'), `truncated ${len}`);
  }
  assert.throws(() => parseEntryBundle(new Uint8Array(257 * 2)), code('ERR_ENTRY_MALFORMED'));
  assert.equal(parseEntryBundle(new Uint8Array(256 * 2)).length, 256);
});

test('tiles and bundles agree with the tree: entry j hashes to level-0 hash j', () => {
  const tree = new MemoryTree();
  const all = Array.from({ length: 300 }, (_, i) => utf8(`entry ${i}`));
  for (const e of all) tree.append(e);
  const size = tree.size;
  const bundles = [formatEntryBundle(all.slice(0, 256)), formatEntryBundle(all.slice(256))];
  assert.equal(partialWidth(0, size), 44);
  assert.equal(entriesPath(1n, partialWidth(0, size)), 'tile/entries/001.p/44');
  bundles.forEach((b, n) =>
    parseEntryBundle(b).forEach((e, j) => assert.deepEqual(leafHash(e), tree.read(0, BigInt(n * 256 + j)))),
  );
  // Hash i of level-1 tile 0 is MTH(D[i*256 : (i+1)*256]) = stored node at level 8.
  assert.deepEqual(tree.read(8, 0n), subtreeHash(0n, 256n, tree.read));
  assert.equal(partialWidth(1, size), 1);
  assert.equal(tilePath(1, 0n, partialWidth(1, size)), 'tile/1/000.p/1');
});
