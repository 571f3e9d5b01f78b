/**
 * C2SP tlog-tiles paths and entry bundles (src/log/tiles.ts) against
 * test/vectors/published/c2sp/tlog-tiles-paths.json (C2SP tlog-tiles.md examples,
 * derived paths, golang.org/x/mod sumdb/tlog tile paths; provenance in c2sp/SOURCE.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { concatBytes, equalBytes, utf8 } from '../../src/bytes/index.js';
import { readTiles, tileBytes, tilesFor, type TileReader } from '../../src/log/tiles-read.js';
import { formatCheckpoint } from '../../src/log/checkpoint.js';
import { formatSignatureLine } from '../../src/log/note.js';
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

test('a tiles directory of 65,836 entries is read one bundle at a time: every tile at levels 0, 1 and 2 is checked, a changed or missing one found', () => {
  const size = 65_536 + 300;
  const tree = new MemoryTree();
  const entries = Array.from({ length: size }, (_, i) => utf8(`entry ${i}`));
  for (const e of entries) tree.append(e);
  const files = new Map<string, Uint8Array>();
  for (let n = 0; n * 256 < size; n++) files.set(entriesPath(BigInt(n), Math.min(256, size - n * 256)), formatEntryBundle(entries.slice(n * 256, n * 256 + 256)));
  const tiles = tilesFor(BigInt(size));
  assert.deepEqual([0, 1, 2].map((l) => tiles.filter(([level]) => level === l).length), [258, 2, 1]);
  for (const [level, index, width] of tiles) files.set(tilePath(level, index, width), tileBytes(tree.read, level, index, width));
  const note = `${formatCheckpoint({ origin: 'example.com/tiles', size: BigInt(size), rootHash: tree.root(), extensions: [] })}\n${formatSignatureLine('example.com/tiles', 1, new Uint8Array(64))}`;
  files.set('checkpoint', utf8(note));
  const read = (changed: Map<string, Uint8Array | null>): TileReader => (rel) => (changed.has(rel) ? changed.get(rel)! : files.get(rel) ?? null);
  const t = readTiles(read(new Map()));
  assert.equal(t.size, BigInt(size));
  let k = 0;
  for (const [index, bytes] of t.entries) assert.ok(index === BigInt(k) && equalBytes(bytes, entries[k++]!));
  assert.equal(k, size);
  assert.deepEqual(t.findings(), []);
  // One byte of the level-1 tile 0, the level-2 tile missing, a level-0 tile cut: each found, by path.
  const level1 = tilePath(1, 0n);
  const flipped = files.get(level1)!.slice();
  flipped[100]! ^= 1;
  const bad = readTiles(read(new Map<string, Uint8Array | null>([[level1, flipped], [tilePath(2, 0n, 1), null], [tilePath(0, 5n), files.get(tilePath(0, 5n))!.subarray(32)]])));
  // Not iterated: findings() reads what was not read yet.
  assert.deepEqual(bad.findings().map((f) => [f.code, f.message]), [
    ['ERR_LOG_TILE_MISMATCH', `tile ${tilePath(0, 5n)} does not match the entries`],
    ['ERR_LOG_TILE_MISMATCH', `tile ${level1} does not match the entries`],
    ['ERR_LOG_TILE_MISMATCH', `tile ${tilePath(2, 0n, 1)} is missing`],
  ]);
  // A missing entry bundle stops the reading there: the tiles are checked for the 768 entries read
  // (as before this reading was streamed), so the level-1 tile of three nodes is missing too.
  const cut = readTiles(read(new Map([[entriesPath(3n), null]])));
  assert.equal([...cut.entries].length, 768);
  assert.deepEqual(cut.findings().map((f) => f.message), [`${entriesPath(3n)}: entry bundle ${entriesPath(3n)} is missing`, `tile ${tilePath(1, 0n, 3)} is missing`]);
  // A checkpoint file that is not strict UTF-8 is malformed, and a byte-order mark is kept (then part of the origin the
  // verifier compares): never decoded leniently into another text than its bytes.
  const invalid = readTiles(read(new Map([['checkpoint', concatBytes(utf8(note.slice(0, 10)), new Uint8Array([0xff]), utf8(note.slice(10)))]])));
  assert.deepEqual([invalid.size, invalid.findings().map((f) => f.code)], [0n, ['ERR_CHECKPOINT_MALFORMED']]);
  assert.equal(readTiles(read(new Map([['checkpoint', concatBytes(new Uint8Array([0xef, 0xbb, 0xbf]), utf8(note))]]))).checkpoint, `\ufeff${note}`);
});
