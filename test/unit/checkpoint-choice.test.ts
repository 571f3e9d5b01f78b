/**
 * The bundle's checkpoint chosen without counting every checkpoint (src/store/checkpoint-choice.ts,
 * src/store/bundle-build.ts `bestCheckpoint`, `firstCosignedCheckpoint`): on randomized small logs,
 * the same checkpoint the rule counted row by row chooses (most cosignature rows under its size,
 * then largest, of those above `last` and at least `held`; the first cosigned one above an entry),
 * whatever the cosignatures' pattern: every round shared, witnesses added and removed, spread so
 * that no two meet, rows for sizes with no checkpoint; with the index, without it (a log an
 * earlier version wrote, opened read-only), and with the search's lookups cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDb } from '../../src/store/log-db.js';
import { WITNESS_INDEX_MAX_ROWS } from '../../src/store/log-schema.js';
import { bestCheckpoint, firstCosignedCheckpoint, pickCheckpoint } from '../../src/store/bundle-build.js';
import { bestCheckpointSearch, type Lookup, type Size } from '../../src/store/checkpoint-choice.js';
import { PATTERNS, random, randomLog, ruleOf, type Log } from './checkpoint-helper.js';

/**
 * The search run on `log` held in memory, with `budget` lookups, the witnesses unknown (as
 * without the index) when `blind`; `lookups` counts the lookups it made, by kind.
 */
function searched(log: Log, from: bigint, budget: number, blind: boolean, lookups: Map<string, number> = new Map()): bigint | null {
  const candidates = log.checkpoints.filter((s) => s >= from);
  if (candidates.length === 0) return null;
  const top = candidates[candidates.length - 1]!;
  const count = (s: Size): number => log.cosigned.get(BigInt(s))?.size ?? 0;
  const has = new Set(log.checkpoints);
  const witnesses = [...new Set([...log.cosigned.values()].flatMap((w) => [...w]))].sort();
  const answer = (l: Lookup): unknown => {
    lookups.set(l.kind, (lookups.get(l.kind) ?? 0) + 1);
    switch (l.kind) {
      case 'witnesses': return blind ? null : witnesses;
      case 'before': {
        const sizes = [...log.cosigned].filter(([s, w]) => w.has(l.witness as string) && s >= from && s < l.below).map(([s]) => s);
        return sizes.length === 0 ? null : sizes.reduce((a, b) => (b > a ? b : a));
      }
      case 'count': return { n: count(l.size), checkpoint: has.has(BigInt(l.size)) ? BigInt(l.size) : null };
      case 'scan': {
        const below = log.checkpoints.filter((s) => s < l.below);
        const size = ruleOf({ checkpoints: below, cosigned: log.cosigned }, from);
        return size === null ? null : { size, n: count(size) };
      }
    }
  };
  const search = bestCheckpointSearch(top, count(top), budget);
  let step = search.next();
  while (step.done !== true) step = search.next(answer(step.value));
  return step.value;
}

test('the search chooses what the rule chooses, on random logs of every pattern, with and without the witnesses, however few its lookups', () => {
  const rnd = random(7);
  for (let round = 0; round < 600; round++) {
    const pattern = PATTERNS[round % PATTERNS.length]!;
    const log = randomLog(rnd, 1 + Math.floor(rnd() * 80), pattern);
    for (let k = 0; k < 8; k++) {
      const last = BigInt(Math.floor(rnd() * 90)) - 1n;
      const held = rnd() < 0.5 ? 0n : BigInt(Math.floor(rnd() * 90));
      const from = held > last ? held : last + 1n;
      const budget = [1, 3, 10, 4096][k % 4]!;
      const blind = k === 7;
      assert.equal(searched(log, from, budget, blind), ruleOf(log, from), `${pattern} log ${round}, from ${from}, budget ${budget}${blind ? ', no witnesses' : ''}`);
    }
  }
});

test('a few lookups settle a long log whose witnesses cosign the same checkpoints, one of them removed long ago', () => {
  // 100,000 checkpoints, a round every 10 in which w1..w3 cosign (w3 misses one in 7), the latest
  // round's not yet answered; w0 cosigned rounds 1,000..2,000 with them, and was removed.
  const log: Log = { checkpoints: [], cosigned: new Map() };
  for (let size = 1n; size <= 100_000n; size++) {
    log.checkpoints.push(size);
    if (size % 10n !== 0n || size === 100_000n) continue;
    const ws = new Set(['w1', 'w2']);
    if (size % 7n !== 0n) ws.add('w3');
    if (size >= 1_000n && size <= 2_000n) ws.add('w0');
    log.cosigned.set(size, ws);
  }
  for (const [from, expected] of [[1n, 2_000n], [1_500n, 2_000n], [2_001n, 99_990n], [99_991n, 100_000n]] as const) {
    const lookups = new Map<string, number>();
    assert.equal(searched(log, from, 4096, false, lookups), expected, `from ${from}`);
    assert.equal(lookups.get('scan'), undefined, `from ${from}: nothing scanned`);
    const total = [...lookups.values()].reduce((a, b) => a + b, 0);
    assert.ok(total <= 30, `from ${from}: ${total} lookups (${JSON.stringify([...lookups])})`);
  }
});

/** `log` written to a new log file through LogDb, as a log stores checkpoints and cosignatures. */
function written(dir: string, name: string, log: Log): string {
  const path = join(dir, name);
  const db = new LogDb(path, 'normal');
  try {
    for (const size of log.checkpoints) db.addCheckpoint(size, `example.com/log\n${size}\nroot\n\n`, 0);
    for (const [size, ws] of log.cosigned) for (const w of ws) db.addCosignature(size, w, `\u2014 ${w} sig${size}\n`, 0);
  } finally {
    db.close();
  }
  return path;
}

/** The old rule's choices on `db` (pickCheckpoint counts every row), against the new ones, for random `last`, `held` and `entry`. */
function assertSameChoices(db: LogDb, rnd: () => number, label: string): void {
  for (let k = 0; k < 12; k++) {
    const last = BigInt(Math.floor(rnd() * 90));
    const held = rnd() < 0.5 ? 0n : BigInt(Math.floor(rnd() * 90));
    const old = pickCheckpoint(db, 'c.size > ? AND c.size >= ?', 'c.n DESC, c.size DESC', last, held);
    assert.deepEqual(bestCheckpoint(db, held > last ? held : last + 1n), old, `${label}: last ${last}, held ${held}`);
    const [entry, below] = [BigInt(Math.floor(rnd() * 90)), BigInt(Math.floor(rnd() * 100))];
    assert.deepEqual(firstCosignedCheckpoint(db, entry, below), pickCheckpoint(db, 'c.size > ? AND c.size < ? AND c.n > 0', 'c.size', entry, below), `${label}: first cosigned above ${entry} below ${below}`);
  }
}

test('a SQLite log chooses the checkpoint the old rule chose: with the index, without it (an earlier version\'s file, read-only), and read-only with it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-choice-'));
  try {
    const rnd = random(11);
    for (let round = 0; round < 36; round++) {
      const pattern = PATTERNS[round % PATTERNS.length]!;
      const path = written(dir, `log-${round}.db`, randomLog(rnd, 1 + Math.floor(rnd() * 80), pattern));
      const db = new LogDb(path, 'normal');
      try {
        assertSameChoices(db, rnd, `${pattern} log ${round}, writable`);
        db.db.exec('DROP INDEX cosignatures_by_witness');
      } finally {
        db.close();
      }
      // Read-only, the schema is not applied: the index stays dropped, as in a log an earlier version wrote.
      for (const label of ['read-only, no index', 'read-only, index made again']) {
        const ro = new LogDb(path, 'normal', true);
        try {
          assertSameChoices(ro, rnd, `${pattern} log ${round}, ${label}`);
        } finally {
          ro.close();
        }
        new LogDb(path, 'normal').close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log whose cosignatures table is declared otherwise is counted row by row, as before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-choice-'));
  try {
    const path = written(dir, 'log.db', { checkpoints: [3n, 5n, 8n], cosigned: new Map() });
    const db = new LogDb(path, 'normal');
    try {
      // No key: the same witness thrice under a size counts thrice.
      db.db.exec(`DROP TABLE cosignatures; CREATE TABLE cosignatures (size INTEGER NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL, received INTEGER NOT NULL);
        CREATE INDEX cosignatures_by_witness ON cosignatures (witness, size);
        INSERT INTO cosignatures VALUES (3, 'w1', 'a', 0), (3, 'w1', 'b', 0), (3, 'w1', 'c', 0), (5, 'w1', 'c', 0), (5, 'w2', 'd', 0), (8, 'w3', 'e', 0)`);
    } finally {
      db.close();
    }
    const ro = new LogDb(path, 'normal', true);
    try {
      assert.equal(bestCheckpoint(ro, 1n)?.size, pickCheckpoint(ro, 'c.size >= ?', 'c.n DESC, c.size DESC', 1n)?.size);
      assert.equal(bestCheckpoint(ro, 1n)?.size, 3n, 'three rows under 3 (one witness, no key), two under 5');
    } finally {
      ro.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a writable open indexes the cosignatures by witness while they are few (a new log at once), never a large table a log made before the index holds (its writers would wait)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-witness-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const indexed = (db: LogDb): boolean => db.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'cosignatures_by_witness'").get() !== undefined;
  const fresh = new LogDb(join(dir, 'new.db'));
  assert.equal(indexed(fresh), true, 'a new log');
  fresh.close();
  const old = new LogDb(join(dir, 'old.db'));
  old.db.exec('DROP INDEX cosignatures_by_witness');
  const insert = old.db.prepare("INSERT INTO cosignatures (size, witness, line, received) VALUES (?, 'w', 'l', 0)");
  old.db.transaction(() => { for (let i = 1; i <= WITNESS_INDEX_MAX_ROWS + 1; i++) insert.run(i); })();
  old.close();
  const reopened = new LogDb(join(dir, 'old.db'));
  assert.equal(indexed(reopened), false, 'past the bound: left as it is');
  reopened.db.exec('DELETE FROM cosignatures WHERE size > 10');
  reopened.close();
  const small = new LogDb(join(dir, 'old.db'));
  assert.equal(indexed(small), true, 'within the bound: indexed on open');
  small.close();
});
