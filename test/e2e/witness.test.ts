/**
 * `mcp-attest witness serve` as real processes, spoken to over HTTP with fetch (C2SP
 * tlog-witness add-checkpoint): the happy path with cosignatures that verify, every refusal
 * status, restarts after SIGTERM and SIGKILL that keep the state (a stale `old` still gets
 * 409, a fork is still refused), concurrent submissions (exactly one wins), two processes
 * sharing one new home, an oversized body, and a witness killed in the middle of a request.
 * Build first: npx tsc -p tsconfig.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseNote } from '../../src/log/note.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { MAX_ADD_CHECKPOINT_BYTES, TLOG_SIZE_CONTENT_TYPE } from '../../src/witness/protocol.js';
import { cli, scope, waitFor } from './helpers.js';
import { assertCosigned, latest, newLogKey, post, startWitness, stopWitness, TestLog } from './witness-helpers.js';

const ORIGIN = 'example.com/e2e-log';

async function newLog(tag = 'a'): Promise<{ log: TestLog; flag: string }> {
  const key = await newLogKey(ORIGIN);
  return { log: new TestLog(ORIGIN, key.signer, tag), flag: `${ORIGIN}=${key.vkey}` };
}

/** The tree size of the checkpoint served by the monitoring endpoint. */
async function servedSize(url: string): Promise<bigint> {
  const a = await latest(url, ORIGIN);
  assert.equal(a.status, 200, a.body);
  return parseCheckpoint(parseNote(a.body).text).size;
}

test('0 -> n, then n -> m with a proof: cosigned, the cosignatures verify; the monitoring endpoint serves the latest', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(9);
  const w = await startWitness(s, s.home, [flag]);
  assert.match(w.name, /^witness\.local\/[0-9a-f-]{36}$/);
  await assertCosigned(await post(w.url, await log.request(0n, 5n)), await log.checkpoint(5n), w.vkey);
  await assertCosigned(await post(w.url, await log.request(5n, 9n)), await log.checkpoint(9n), w.vkey);
  const served = await latest(w.url, ORIGIN);
  assert.equal(served.status, 200);
  assert.equal(served.contentType, 'text/plain; charset=utf-8');
  assert.equal(parseNote(served.body).text, parseNote(await log.checkpoint(9n)).text);
  await assertCosigned({ ...served, body: served.body.slice(served.body.lastIndexOf('\u2014')) }, await log.checkpoint(9n), w.vkey);
  assert.equal((await latest(w.url, 'example.com/never-seen')).status, 404);
  const key = cli(['witness', 'key', '--home', s.home]);
  assert.equal(key.status, 0, key.stderr);
  assert.equal(key.stdout.trim(), w.vkey, '`witness key` prints the vkey the server announced');
  assert.match(w.stderr(), /origin="example\.com\/e2e-log" old=5 size=9 status=200/);
});

test('refusals over HTTP: 404, 403, 400, 409 (size body, text/x.tlog.size), 422, 413, bad UTF-8, 405; the witness keeps serving', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(8);
  const w = await startWitness(s, s.home, [flag]);
  assert.equal((await post(w.url, await log.request(0n, 4n))).status, 200);
  const other = await newLogKey('example.com/other');
  assert.equal((await post(w.url, await new TestLog('example.com/other', other.signer, 'o').grow(2).request(0n, 2n))).status, 404);
  // An origin of the requester's choosing reaches the decision line bounded, its bidi override escaped.
  const spoof = `example.com/x\u202e status=200 cosigned${'y'.repeat(5000)}`;
  assert.equal((await post(w.url, await new TestLog(spoof, other.signer, 's').grow(2).request(0n, 2n))).status, 404);
  await waitFor('the decision line', () => w.stderr().includes('example.com/x\\u202e status=200 cosigned'));
  assert.ok(w.stderr().split('\n').every((l) => l.length < 400 && !l.includes('\u202e')), 'no line past 400 characters, no raw override');
  const impostor = new TestLog(ORIGIN, (await newLogKey(ORIGIN)).signer, 'a').grow(8);
  assert.equal((await post(w.url, await impostor.request(4n, 8n))).status, 403);
  assert.equal((await post(w.url, await log.request(6n, 5n, []))).status, 400);
  const stale = await post(w.url, await log.request(2n, 8n));
  assert.equal(stale.status, 409);
  assert.equal(stale.body, '4\n');
  assert.equal(stale.contentType, TLOG_SIZE_CONTENT_TYPE);
  const badProof = log.tree.consistencyProof(4n, 8n).map((h) => h.map((x, i) => (i === 0 ? x ^ 1 : x)));
  assert.equal((await post(w.url, await log.request(4n, 8n, badProof))).status, 422);
  assert.equal((await post(w.url, new Uint8Array(MAX_ADD_CHECKPOINT_BYTES + 1).fill(0x61))).status, 413);
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if ((sent += chunk.length) > 4 * MAX_ADD_CHECKPOINT_BYTES) c.close();
      else c.enqueue(chunk);
    },
  });
  const chunked = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
  assert.equal(chunked.status, 413, 'a streamed body without Content-Length is cut at the cap too');
  await chunked.text();
  const invalid = new TextEncoder().encode(await log.request(4n, 8n));
  invalid[invalid.length - 20] = 0xff;
  assert.equal((await post(w.url, invalid)).status, 400);
  assert.equal((await fetch(`${w.url}/add-checkpoint`)).status, 405);
  assert.equal((await fetch(`${w.url}/nope`, { method: 'POST', body: 'x' })).status, 404);
  await assertCosigned(await post(w.url, await log.request(4n, 8n)), await log.checkpoint(8n), w.vkey);
});

test('restart after SIGTERM and after SIGKILL: the state is kept, a stale old gets 409, the fork is still refused', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(12);
  const fork = new TestLog(ORIGIN, log.signer, 'fork').grow(12);
  const first = await startWitness(s, s.home, [flag]);
  assert.equal((await post(first.url, await log.request(0n, 4n))).status, 200);
  assert.equal((await post(first.url, await log.request(4n, 8n))).status, 200);
  assert.equal(await stopWitness(first, 'SIGTERM'), 0, 'graceful shutdown exits 0');
  const second = await startWitness(s, s.home, [flag]);
  assert.equal(second.vkey, first.vkey, 'same key after a restart');
  const stale = await post(second.url, await log.request(4n, 12n));
  assert.deepEqual([stale.status, stale.body], [409, '8\n']);
  assert.equal((await post(second.url, await fork.request(8n, 8n))).status, 422);
  assert.equal((await post(second.url, await fork.request(8n, 12n))).status, 422);
  assert.equal((await post(second.url, await log.request(8n, 10n))).status, 200);
  assert.equal(await stopWitness(second, 'SIGKILL'), null);
  const third = await startWitness(s, s.home, [flag]);
  const again = await post(third.url, await log.request(8n, 12n));
  assert.deepEqual([again.status, again.body], [409, '10\n']);
  assert.equal((await post(third.url, await fork.request(10n, 12n))).status, 422);
  assert.equal((await post(third.url, await fork.request(0n, 12n))).status, 409);
  await assertCosigned(await post(third.url, await log.request(10n, 12n)), await log.checkpoint(12n), third.vkey);
});

test('concurrent submissions with the same old to one witness: exactly one 200, the rest 409; the stored state is the winner', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(30);
  const w = await startWitness(s, s.home, [flag]);
  assert.equal((await post(w.url, await log.request(0n, 10n))).status, 200);
  const sizes = Array.from({ length: 12 }, (_, i) => BigInt(11 + i));
  const bodies = await Promise.all(sizes.map((n) => log.request(10n, n)));
  const answers = await Promise.all(bodies.map((b) => post(w.url, b)));
  const won = sizes.filter((_, i) => answers[i]!.status === 200);
  assert.equal(won.length, 1, `statuses: ${answers.map((a) => a.status).join(' ')}`);
  for (const a of answers.filter((x) => x.status !== 200)) assert.deepEqual([a.status, a.body], [409, `${won[0]}\n`]);
  assert.equal(await servedSize(w.url), won[0]);
  await assertCosigned(answers[sizes.indexOf(won[0]!)]!, await log.checkpoint(won[0]!), w.vkey);
});

test('two witness processes started at once on one new home: one key, both serve, they share the state', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(40);
  const [a, b] = await Promise.all([startWitness(s, s.home, [flag]), startWitness(s, s.home, [flag])]);
  assert.equal(a.vkey, b.vkey);
  assert.notEqual(a.url, b.url);
  assert.equal((await post(a.url, await log.request(0n, 5n))).status, 200);
  const seen = await post(b.url, await log.request(0n, 9n));
  assert.deepEqual([seen.status, seen.body], [409, '5\n'], 'b sees what a cosigned');
  await assertCosigned(await post(b.url, await log.request(5n, 9n)), await log.checkpoint(9n), b.vkey);
  assert.equal(await servedSize(a.url), 9n);
  // Racing across the two processes: still exactly one winner.
  const sizes = Array.from({ length: 10 }, (_, i) => BigInt(10 + i));
  const answers = await Promise.all(sizes.map(async (n, i) => post(i % 2 === 0 ? a.url : b.url, await log.request(9n, n))));
  const won = sizes.filter((_, i) => answers[i]!.status === 200);
  assert.equal(won.length, 1, `statuses: ${answers.map((x) => x.status).join(' ')}`);
  assert.ok(answers.every((x) => x.status === 200 || (x.status === 409 && x.body === `${won[0]}\n`)));
  assert.equal(await servedSize(b.url), won[0]);
});

test('killed mid-request: after a restart the state is the old or the new checkpoint, and resubmitting works', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { log, flag } = await newLog();
  log.grow(40);
  let w = await startWitness(s, s.home, [flag]);
  assert.equal((await post(w.url, await log.request(0n, 4n))).status, 200);
  let size = 4n;
  for (const delayMs of [0, 1, 3, 10]) {
    const next = size + 4n;
    const pending = post(w.url, await log.request(size, next)).catch(() => null);
    await new Promise((r) => setTimeout(r, delayMs));
    await stopWitness(w, 'SIGKILL');
    await pending;
    w = await startWitness(s, s.home, [flag]);
    const served = await latest(w.url, ORIGIN);
    assert.equal(served.status, 200);
    const stored = parseNote(served.body);
    assert.ok(stored.text === parseNote(await log.checkpoint(size)).text || stored.text === parseNote(await log.checkpoint(next)).text, `state is ${size} or ${next}: ${stored.text}`);
    const retry = await post(w.url, await log.request(size, next));
    if (retry.status === 409) {
      assert.equal(retry.body, `${next}\n`, 'the killed request was committed');
      await assertCosigned(await post(w.url, await log.request(next, next)), await log.checkpoint(next), w.vkey);
    } else {
      await assertCosigned(retry, await log.checkpoint(next), w.vkey);
    }
    assert.equal(await servedSize(w.url), next);
    size = next;
  }
});

test('CLI: bad --log values, a type 0x04 vkey as a log key, and a different --name for an existing key exit 2', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { flag } = await newLog();
  const named = cli(['witness', 'key', '--home', s.home, '--name', 'witness.test/w9']);
  assert.equal(named.status, 0, named.stderr);
  const vkey = named.stdout.trim();
  assert.match(vkey, /^witness\.test\/w9\+[0-9a-f]{8}\+B/);
  assert.equal(cli(['witness', 'key', '--home', s.home]).stdout.trim(), vkey, 'the key is kept');
  const renamed = cli(['witness', 'key', '--home', s.home, '--name', 'witness.test/other']);
  assert.equal(renamed.status, 2);
  assert.match(renamed.stderr, /named witness\.test\/w9/);
  const home2 = join(s.dir, 'h2');
  for (const bad of [[], ['--log', 'no-equals-sign'], ['--log', `${ORIGIN}=not-a-vkey`], ['--log', `${ORIGIN}=${vkey}`], ['--listen', 'localhost', '--log', flag], ['--log', flag, '--name', 'has space']]) {
    const r = cli(['witness', 'serve', '--home', home2, '--listen', '127.0.0.1:0', ...bad], 20_000);
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
  }
});

test('a witness started in a log\'s data directory (the default one, often) is warned that it is not independent; in its own, it is not', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const logHome = join(s.dir, 'log');
  assert.equal(cli(['init', '--home', logHome]).status, 0);
  const { flag } = await newLog();
  const beside = await startWitness(s, logHome, [flag]);
  assert.match(beside.stderr(), /warning: .* is a log's data directory: a witness whose key is kept beside a log's is not independent of its operator/);
  const own = await startWitness(s, join(s.dir, 'witness'), [flag]);
  assert.doesNotMatch(own.stderr(), /warning/);
});
