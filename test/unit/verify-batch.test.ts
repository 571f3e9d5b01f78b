/**
 * Signature verifications gathered and run back to back (src/platform/verify-batch.ts):
 * inside `VerifyBatcher.all` every verification waits until all the tasks are waiting, then
 * they run in a row, each settled with the direct verifier's own verdict; outside it the
 * verifier is the direct one, synchronous; a failing task or a throwing verifier leaves
 * nothing waiting. The fact source built on it (`localFacts`, installed by the Node platform
 * as a check runner) reports exactly what the per-entry path does, on an intact log and on
 * one with a bad signature, a malformed entry and two entries swapped (the workers use the
 * same batcher; test/e2e/verify-threads.test.ts holds them to one thread's reports); it is
 * the default of a log's verification, in runs of at most 256 entries, and without a runner
 * (a browser) entries are checked one after another with the same report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/platform/node.js';
import { VerifyBatcher } from '../../src/platform/verify-batch.js';
import { checkRunner, runs, useCheckRunner, type CheckRunner } from '../../src/verify/runs.js';
import { localFacts, sequentialFacts, verifyLog, type EntryInput, type FactsSource } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { LogDb } from '../../src/store/log-db.js';
import type { AlgName } from '../../src/keys/algorithms.js';
import { recordedHome } from './log-helper.js';

const KEY = {} as CryptoKey;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A direct verifier that logs each call and says true for signature `ok`. */
function fake(log: string[]): (alg: AlgName, key: CryptoKey, data: Uint8Array, sig: Uint8Array) => boolean {
  return (_alg, _key, data, sig) => {
    const d = new TextDecoder().decode(data);
    if (d === 'throw') throw new Error('verifier failed');
    log.push(`verify ${d}`);
    return new TextDecoder().decode(sig) === 'ok';
  };
}

test('inside all(), verifications wait until every task waits, then run in a row with the direct verdicts', async () => {
  const log: string[] = [];
  const b = new VerifyBatcher(fake(log));
  const task = (name: string, sig: string) => async (): Promise<string> => {
    log.push(`start ${name}`);
    await Promise.resolve(); // a task may await other things before it verifies
    const ok = await b.verify('ES256', KEY, bytes(name), bytes(sig));
    log.push(`end ${name}`);
    // A second signature of the same task is verified in a later run.
    return `${name}:${ok}:${await b.verify('ES256', KEY, bytes(`${name}2`), bytes('ok'))}`;
  };
  const out = await b.all([task('a', 'ok'), task('b', 'bad'), task('c', 'ok')]);
  assert.deepEqual(out, ['a:true', 'b:false', 'c:true'].map((s) => `${s}:true`));
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'verify a', 'verify b', 'verify c', 'end a', 'end b', 'end c', 'verify a2', 'verify b2', 'verify c2']);
  // Outside all(): the direct verifier, synchronously.
  assert.equal(b.verify('ES256', KEY, bytes('d'), bytes('ok')), true);
  assert.equal(b.verify('ES256', KEY, bytes('e'), bytes('no')), false);
});

test('a throwing verifier is a signature that does not verify; a failing task rejects all() and leaves nothing waiting', async () => {
  const log: string[] = [];
  const b = new VerifyBatcher(fake(log));
  assert.deepEqual(await b.all([() => Promise.resolve(b.verify('ES256', KEY, bytes('throw'), bytes('ok')))]), [false]);
  let late: Promise<boolean> | boolean = false;
  const failing = async (): Promise<boolean> => {
    await Promise.resolve();
    throw new Error('task failed');
  };
  const slow = async (): Promise<boolean> => {
    await new Promise((r) => setImmediate(r));
    late = b.verify('ES256', KEY, bytes('late'), bytes('ok'));
    return late;
  };
  await assert.rejects(b.all([failing, slow]), /task failed/);
  // The slow task's verification, asked for before or after all() ended, is settled.
  await new Promise((r) => setImmediate(r));
  assert.equal(await late, true);
  // Someone else's verification queued during a batch is run with it.
  let other: Promise<boolean> | boolean = false;
  await b.all([
    async () => {
      other = b.verify('ES256', KEY, bytes('other'), bytes('ok'));
      return b.verify('ES256', KEY, bytes('mine'), bytes('ok'));
    },
  ]);
  assert.equal(await other, true);
});

test('a task that throws at once rejects all() and leaves the batcher as it was; a task that waits long is verified when it asks', async () => {
  const log: string[] = [];
  const b = new VerifyBatcher(fake(log));
  const throwing = (): Promise<boolean> => {
    throw new Error('thrown at once');
  };
  await assert.rejects(b.all([() => Promise.resolve(true), throwing]), /thrown at once/);
  assert.equal(b.verify('ES256', KEY, bytes('after'), bytes('ok')), true, 'direct again, not queued forever');
  const slow = async (): Promise<boolean> => {
    await new Promise((r) => setTimeout(r, 20));
    return b.verify('ES256', KEY, bytes('slow'), bytes('ok'));
  };
  const quick = async (): Promise<boolean> => b.verify('ES256', KEY, bytes('quick'), bytes('no'));
  assert.deepEqual(await b.all([slow, quick]), [true, false]);
  assert.deepEqual(log.slice(-2), ['verify quick', 'verify slow'], 'the quick one did not wait for the slow one');
});

test('runs: in order, at most the entries and the bytes given, an oversized item alone', () => {
  const sizes = [3, 3, 3, 10, 1, 1, 1, 1, 1];
  const got = [...runs(sizes.keys(), (k) => sizes[k]!, 4, 6)].map((r) => r.map((k) => sizes[k]));
  assert.deepEqual(got, [[3, 3], [3], [10], [1, 1, 1, 1], [1]]);
  assert.deepEqual([...runs([], () => 1)], []);
  const many = [...runs(Array.from({ length: 600 }, () => 1000), (n) => n)].map((r) => r.length);
  assert.deepEqual(many, [256, 256, 88], 'the default: 256 entries');
  const big = [...runs(Array.from({ length: 600 }, () => 2048), (n) => n)].map((r) => r.length);
  assert.deepEqual(big, [128, 128, 128, 128, 88], 'the default: 256 KiB');
});

test('the batched fact sources report exactly what the per-entry path does, intact and tampered', async (t) => {
  const { home, policy } = await recordedHome(t, 150); // 301 entries: more than one batch of 256
  const db = new LogDb(join(home, 'log.db'), 'normal', true);
  const entries = [...db.entries()] as EntryInput[];
  const checkpoints = db.checkpoints().map((c) => c.note);
  db.close();
  const keys = policyKeyResolver(policy);
  const text = (k: number): string => new TextDecoder().decode(entries[k]![1]);
  const edit = (k: number, s: string): EntryInput => [entries[k]![0], bytes(s), entries[k]![2]] as EntryInput;
  const sig = text(201).indexOf('"signature":"') + 13;
  const flipped = text(201).slice(0, sig) + (text(201)[sig] === '0' ? '1' : '0') + text(201).slice(sig + 1);
  const tampered = entries.map((e, k): EntryInput => {
    if (k === 201) return edit(201, flipped);
    if (k === 277) return edit(277, '{"type":');
    if (k === 100) return entries[140]!;
    if (k === 140) return entries[100]!;
    return e;
  });
  for (const [name, list, codes] of [['intact', entries, []], ['tampered', tampered, ['ERR_SIGNATURE_INVALID', 'ERR_ENTRY_MALFORMED', 'ERR_LOG_ENTRY_REORDERED']]] as const) {
    const report = (facts: FactsSource) => verifyLog({ entries: list, checkpoints, sealed: 'erased' }, policy, keys, undefined, facts);
    const one = await report(sequentialFacts);
    assert.deepEqual(await report(localFacts), one, `${name}: the reports differ`);
    const found = new Set(one.findings.map((f) => f.code));
    for (const c of codes) assert.ok(found.has(c), `${name}: ${c} not in ${[...found].join(', ')}`);
    assert.equal(one.ok, codes.length === 0, `${name}: ${[...found].join(', ')}`);
  }
});

test('a log verified on this thread is checked through the installed runner in runs of at most 256 entries and 256 KiB; without one, one by one', async (t) => {
  const { home, policy } = await recordedHome(t, 150); // 301 entries
  const db = new LogDb(join(home, 'log.db'), 'normal', true);
  const input = { entries: [...db.entries()] as EntryInput[], checkpoints: db.checkpoints().map((c) => c.note), sealed: 'erased' as const };
  db.close();
  const keys = policyKeyResolver(policy);
  const node = checkRunner();
  assert.ok(node !== null, 'the Node platform installs a runner');
  t.after(() => useCheckRunner(node));
  const sizes: number[] = [];
  const counting: CheckRunner = (tasks) => {
    sizes.push(tasks.length);
    return node(tasks);
  };
  useCheckRunner(counting);
  const batched = await verifyLog(input, policy, keys);
  assert.equal(batched.ok, true, JSON.stringify(batched.findings));
  const expected = [...runs(input.entries, (e) => e[1].length)].map((r) => r.length);
  assert.ok(expected.length > 1 && expected.every((n) => n <= 256), expected.join(', '));
  assert.deepEqual(sizes, expected, 'the default fact source checks the log in runs(), through the runner');
  useCheckRunner(null);
  assert.deepEqual(await verifyLog(input, policy, keys), batched, 'without a runner: the same report');
  assert.deepEqual(sizes, expected, 'without a runner nothing runs through one');
});

