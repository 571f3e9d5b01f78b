/**
 * The log's Merkle nodes in the rows of the entries that complete them (store/log-nodes.ts):
 * one append writes one row (no nodes table); a log of the earlier layout (entries plus a
 * `nodes(level, idx, hash)` table, built here as that code wrote it) reads the same roots
 * and proofs read-only, is moved on its first writable open with every root, proof and
 * checkpoint unchanged, and keeps appending correctly; what an earlier version does to a
 * moved log (a nodes table made again, entries appended without their nodes) is repaired.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LogDb } from '../../src/store/log-db.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { appendNodes } from '../../src/log/tree.js';
import { leafHash } from '../../src/log/hash.js';
import { tempDir } from './log-helper.js';


const entry = (i: number): Uint8Array => new TextEncoder().encode(`entry ${i}`);

/** A log.db in the earlier layout, with `n` entries, as that code wrote it; returns its reference tree. */
function legacyLog(path: string, n: number): MemoryTree {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL, leaf BLOB NOT NULL);
    CREATE TABLE nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
    CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, created INTEGER NOT NULL);`);
  const ref = new MemoryTree();
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(entry(i));
    db.prepare('INSERT INTO entries VALUES (?, ?, ?)').run(i, entry(i), leaf);
    for (const node of appendNodes(BigInt(i), leaf, ref.read)) db.prepare('INSERT INTO nodes VALUES (?, ?, ?)').run(node.level, node.index, node.hash);
    ref.appendLeafHash(leaf);
  }
  db.prepare('INSERT INTO checkpoints VALUES (?, ?, ?)').run(n, 'a checkpoint note', 1);
  db.close();
  return ref;
}

function sameTree(db: LogDb, ref: MemoryTree): void {
  const n = ref.size;
  for (const size of [1n, 2n, 3n, 64n, 65n, n - 1n, n].filter((x) => x <= n)) assert.deepEqual(db.root(size), ref.root(size), `root at ${size}`);
  for (const i of [0n, 1n, 63n, 100n, n - 1n].filter((x) => x < n)) assert.deepEqual(db.inclusionProof(i, n), ref.inclusionProof(i, n), `proof of ${i}`);
  assert.deepEqual(db.consistencyProof(37n, n), ref.consistencyProof(37n, n));
}

const tables = (path: string): string[] => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
};

test('an append writes its nodes into its own row: no nodes table, same tree as the reference', (t) => {
  const path = join(tempDir(t), 'log.db');
  const db = new LogDb(path);
  const ref = new MemoryTree();
  for (let i = 0; i < 300; i++) db.append(() => entry(i)), ref.append(entry(i));
  sameTree(db, ref);
  db.close();
  assert.ok(!tables(path).includes('nodes'));
});

test('a log of the earlier layout reads the same read-only, then is moved on its first writable open and keeps appending', (t) => {
  const path = join(tempDir(t), 'log.db');
  const ref = legacyLog(path, 300);
  const ro = new LogDb(path, 'full', true);
  sameTree(ro, ref);
  ro.close();
  assert.ok(tables(path).includes('nodes'), 'a read-only open changes nothing');
  const db = new LogDb(path);
  assert.ok(!tables(path).includes('nodes'), 'moved');
  sameTree(db, ref);
  assert.deepEqual(db.checkpoints().map((c) => c.size), [300n]);
  for (let i = 300; i < 333; i++) db.append(() => entry(i)), ref.append(entry(i));
  sameTree(db, ref);
  db.close();
  const again = new LogDb(path);
  sameTree(again, ref);
  again.close();
});

test('entries an earlier version appended to a moved log, and the nodes table it made again, are repaired on the next writable open', (t) => {
  const path = join(tempDir(t), 'log.db');
  const ref = legacyLog(path, 20);
  new LogDb(path).close(); // moved
  // What an earlier version does on opening it: its schema makes an empty nodes table, and
  // its appends write entries (idx, data, leaf) only.
  const raw = new Database(path);
  raw.exec('CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID');
  for (let i = 20; i < 40; i++) raw.prepare('INSERT INTO entries (idx, data, leaf) VALUES (?, ?, ?)').run(i, entry(i), leafHash(entry(i)));
  raw.close();
  for (let i = 20; i < 40; i++) ref.append(entry(i));
  const db = new LogDb(path);
  assert.ok(!tables(path).includes('nodes'));
  sameTree(db, ref);
  db.close();
});
