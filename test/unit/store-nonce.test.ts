/**
 * The replay store (src/store/nonce-store.ts): a nonce is accepted once per issuer, kept
 * until its own window closes (iat + expSeconds + skew), never evicted while live (a full
 * store refuses), persists across reopening, and is accepted exactly once when several
 * processes race on the same file.
 */
import { runScript } from './child.js';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NonceStore, PURGE_RUN } from '../../src/store/nonce-store.js';

const T = 1_800_000_000;

function storePath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-nonce-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nonces.db');
}

test('a nonce is accepted once per issuer; another issuer\'s same nonce is a different pair', (t) => {
  const s = new NonceStore(storePath(t));
  t.after(() => s.close());
  assert.equal(s.record('issuer://a', 'n1', T + 330, T), 'recorded');
  assert.equal(s.record('issuer://a', 'n1', T + 330, T + 1), 'replay');
  assert.equal(s.record('issuer://b', 'n1', T + 330, T + 1), 'recorded');
  assert.equal(s.size(), 2);
});

test('a nonce is remembered until its own window closes, measured from its iat, then purged', (t) => {
  const s = new NonceStore(storePath(t));
  t.after(() => s.close());
  const closes = T + 300 + 30; // iat + expSeconds + skew
  assert.equal(s.record('i', 'n', closes, T + 200), 'recorded');
  assert.equal(s.record('i', 'n', closes, closes), 'replay', 'still live at the last second of the window');
  assert.equal(s.record('i', 'other', closes + 100, closes + 1), 'recorded');
  assert.equal(s.size(), 1, 'the closed pair was purged');
  assert.equal(s.record('i', 'n', closes, closes + 1), 'recorded', 'after the window the TTL check refuses it anyway');
});

test('a full store fails closed: no live nonce is evicted; space returns only as windows close', (t) => {
  const s = new NonceStore(storePath(t), { maxEntries: 2 });
  t.after(() => s.close());
  assert.equal(s.record('i', 'a', T + 100, T), 'recorded');
  assert.equal(s.record('i', 'b', T + 200, T), 'recorded');
  assert.equal(s.record('i', 'c', T + 300, T + 50), 'full');
  assert.equal(s.record('i', 'a', T + 100, T + 50), 'replay', 'a stays recorded');
  assert.equal(s.size(), 2);
  assert.equal(s.record('i', 'c', T + 300, T + 101), 'recorded', 'a expired and was purged');
  assert.equal(s.record('i', 'b', T + 200, T + 101), 'replay');
});

test('a record purges at most PURGE_RUN expired pairs, oldest first; an expired pair not purged yet is absent', (t) => {
  const s = new NonceStore(storePath(t));
  t.after(() => s.close());
  for (let k = 0; k < 100; k++) assert.equal(s.record('i', `n${k}`, T + 10 + k, T), 'recorded');
  assert.equal(s.record('i', 'fresh', T + 1000, T + 200), 'recorded');
  assert.equal(s.size(), 100 - PURGE_RUN + 1, 'a few purged with the record, not every expired pair');
  assert.equal(s.record('i', 'n99', T + 1000, T + 200), 'recorded', 'its window closed (T + 109): recorded again though not purged yet');
  assert.equal(s.record('i', 'n0', T + 1000, T + 200), 'recorded', 'purged: recorded again');
  assert.equal(s.record('i', 'fresh', T + 1000, T + 201), 'replay', 'a live pair is still a replay');
});

test('a store full of pairs some of which expired records a new one: purging frees their slots first', (t) => {
  const s = new NonceStore(storePath(t), { maxEntries: 20 });
  t.after(() => s.close());
  for (let k = 0; k < 20; k++) assert.equal(s.record('i', `n${k}`, k < 5 ? T + 10 : T + 1000, T), 'recorded');
  assert.equal(s.record('i', 'new', T + 1000, T + 1), 'full', 'no pair expired yet');
  assert.equal(s.record('i', 'new', T + 1000, T + 11), 'recorded', 'five expired: purged, one slot taken');
  assert.equal(s.size(), 16);
});

test('accepted nonces survive closing and reopening the store', (t) => {
  const path = storePath(t);
  const first = new NonceStore(path);
  assert.equal(first.record('i', 'n', T + 330, T), 'recorded');
  first.close();
  const second = new NonceStore(path);
  t.after(() => second.close());
  assert.equal(second.record('i', 'n', T + 330, T + 10), 'replay');
  assert.equal(second.size(), 1);
});

test('non-integer times are a usage error, not a silent record', (t) => {
  const s = new NonceStore(storePath(t));
  t.after(() => s.close());
  assert.throws(() => s.record('i', 'n', Number.NaN, T), { code: 'ERR_USAGE' });
  assert.throws(() => s.record('i', 'n', T + 1.5, T), { code: 'ERR_USAGE' });
  assert.equal(s.size(), 0);
});

test('six processes racing on one file: the same nonce is recorded exactly once', async (t) => {
  const path = storePath(t);
  new NonceStore(path).close();
  const url = new URL('../../src/store/nonce-store.ts', import.meta.url).href;
  const script = `import { NonceStore } from ${JSON.stringify(url)};
const s = new NonceStore(${JSON.stringify(path)});
const out = [];
for (let i = 0; i < 50; i++) out.push(s.record('i', 'n' + i, ${T + 330}, ${T}));
s.close();
process.stdout.write(JSON.stringify(out));`;
  const run = (): Promise<string[]> => runScript<string[]>(script);
  const results = await Promise.all(Array.from({ length: 6 }, run));
  for (let i = 0; i < 50; i++) {
    const outcomes = results.map((r) => r[i]);
    assert.equal(outcomes.filter((o) => o === 'recorded').length, 1, `n${i}: ${outcomes.join(',')}`);
    assert.equal(outcomes.filter((o) => o === 'replay').length, 5);
  }
  const s = new NonceStore(path);
  t.after(() => s.close());
  assert.equal(s.size(), 50);
});
