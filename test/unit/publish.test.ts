/**
 * `log publish` (src/store/publish.ts): static tlog-tiles written once, incrementally, with
 * the partial tiles of every checkpointed tree size, each run from the checkpoint the directory
 * holds; a directory of another log, or holding another tree's checkpoint, is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { publishTiles } from '../../src/store/publish.js';
import { SqliteLogStore } from '../../src/store/log-store.js';
import { readTilesDir, tilesFor } from '../../src/store/tiles.js';
import { entriesPath, tilePath } from '../../src/log/tiles.js';
import { verifyLog } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { isAttestError } from '../../src/errors.js';
import { recordCalls, recordedHome, tempDir } from './log-helper.js';

function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(dir, rel))) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.set(r, readFileSync(join(dir, r)));
    }
  };
  walk('');
  return out;
}

test('publish is incremental and immutable, and keeps the partial tiles of every checkpointed size', async (t) => {
  const { home, policy } = await recordedHome(t, 3);
  const out = join(tempDir(t), 'public');
  const db = (): LogDb => new LogDb(homePaths(home).db, 'full', true);
  let d = db();
  const first = await publishTiles(new SqliteLogStore(d), out);
  d.close();
  assert.deepEqual([first.size, first.kept], [7n, 0]);
  assert.ok(existsSync(join(out, 'tile/0/000.p/7')) && existsSync(join(out, 'tile/entries/000.p/7')));
  const before = snapshot(out);

  await recordCalls(home, 150, 3);
  d = db();
  t.after(() => d.close());
  const second = await publishTiles(new SqliteLogStore(d), out);
  assert.ok(second.size > 256n, `size ${second.size}`);
  assert.ok(second.kept >= 2, 'the first run\'s tiles are kept, not rewritten');
  const after = snapshot(out);
  for (const [rel, bytes] of before) if (rel !== 'checkpoint') assert.deepEqual(after.get(rel), bytes, `${rel} never changes`);
  // Every tile of every checkpointed size, partial ones included, is there (tlog-tiles).
  for (const c of d.checkpoints()) {
    for (const [level, index, width] of tilesFor(c.size)) {
      assert.ok(after.has(tilePath(level, index, width)), `${tilePath(level, index, width)} for size ${c.size}`);
      if (level === 0) assert.ok(after.has(entriesPath(index, width)));
    }
  }
  assert.ok(after.has('tile/0/000') && after.has('tile/entries/000'), 'the full tile');
  assert.equal(after.get('checkpoint')!.toString(), d.checkpoints().at(-1)!.note);
  const tiles = readTilesDir(out);
  const r = await verifyLog({ entries: tiles.entries, checkpoints: [tiles.checkpoint] }, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  assert.deepEqual(tiles.findings(), []);
  assert.equal((await publishTiles(new SqliteLogStore(d), out)).written, 0, 'nothing new: nothing written');
});

test('publishing another log into the directory is ERR_PUBLISH_CONFLICT, and its checkpoint is not published', async (t) => {
  const a = await recordedHome(t, 2);
  const b = await recordedHome(t, 2);
  const out = join(tempDir(t), 'public');
  const da = new LogDb(homePaths(a.home).db, 'full', true);
  const dbb = new LogDb(homePaths(b.home).db, 'full', true);
  t.after(() => { da.close(); dbb.close(); });
  await publishTiles(new SqliteLogStore(da), out);
  const checkpoint = readFileSync(join(out, 'checkpoint'));
  await assert.rejects(publishTiles(new SqliteLogStore(dbb), out), (e) => isAttestError(e, 'ERR_PUBLISH_CONFLICT'));
  assert.deepEqual(readFileSync(join(out, 'checkpoint')), checkpoint);
});

test('a run starts from the checkpoint the directory holds: only the tiles of the sizes signed since are read', async (t) => {
  const { home } = await recordedHome(t, 3);
  const out = join(tempDir(t), 'public');
  const run = async (): Promise<{ kept: number; held: bigint }> => {
    const d = new LogDb(homePaths(home).db, 'full', true);
    try {
      const r = await publishTiles(new SqliteLogStore(d), out);
      return { kept: r.kept, held: r.size };
    } finally {
      d.close();
    }
  };
  let previous = (await run()).held;
  for (let i = 0; i < 3; i++) {
    await recordCalls(home, 1, 3 + i); // one more checkpoint
    const r = await run();
    // The held checkpoint's tiles are compared (they tie the directory to this log); the older sizes' are not read again.
    const files = tilesFor(previous).length * 2;
    assert.equal(r.kept, files, `run ${i + 2}: the ${files} files of size ${previous}`);
    previous = r.held;
  }
});

test('a checkpoint in the directory that is not of this log\'s tree is ERR_PUBLISH_CONFLICT, and nothing is published', async (t) => {
  const { home } = await recordedHome(t, 2);
  const d = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => d.close());
  const note = d.checkpoints().at(-1)!.note;
  const [origin, size, root] = note.split('\n');
  const cases: Array<[string, string]> = [
    ['not a note', 'hello\n'],
    ['a larger tree', note.replace(`\n${size}\n`, '\n999\n')],
    ['another root', note.replace(`\n${root}\n`, `\n${Buffer.alloc(32, 7).toString('base64')}\n`)],
    ['another origin', note.replace(`${origin}\n`, 'example.com/other\n')],
  ];
  for (const [what, text] of cases) {
    const out = join(tempDir(t), 'public');
    mkdirSync(out);
    writeFileSync(join(out, 'checkpoint'), text);
    await assert.rejects(publishTiles(new SqliteLogStore(d), out), (e) => isAttestError(e, 'ERR_PUBLISH_CONFLICT'), what);
    assert.deepEqual(readdirSync(out), ['checkpoint'], `${what}: nothing published`);
    assert.equal(readFileSync(join(out, 'checkpoint'), 'utf8'), text);
  }
});

test('a directory seeded with the checkpoint alone gets every older size\'s partial tiles; a checkpoint that cannot be read is ERR_STORE_IO', async (t) => {
  const { home } = await recordedHome(t, 2);
  await recordCalls(home, 1, 2);
  await recordCalls(home, 1, 3);
  const d = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => d.close());
  const full = join(tempDir(t), 'full');
  await publishTiles(new SqliteLogStore(d), full);
  const seeded = join(tempDir(t), 'seeded');
  mkdirSync(seeded);
  writeFileSync(join(seeded, 'checkpoint'), readFileSync(join(full, 'checkpoint')));
  await publishTiles(new SqliteLogStore(d), seeded);
  assert.deepEqual([...snapshot(seeded).keys()].sort(), [...snapshot(full).keys()].sort(), 'the same files as a directory published from the start');
  // --out naming a file: its checkpoint cannot be read (ENOTDIR), an I/O error, not another log's directory.
  const file = join(tempDir(t), 'a-file');
  writeFileSync(file, 'x');
  await assert.rejects(publishTiles(new SqliteLogStore(d), file), (e) => isAttestError(e, 'ERR_STORE_IO'));
});
