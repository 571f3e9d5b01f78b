/**
 * The log side of the witness protocol against witnesses that misbehave (an HTTP server in
 * the test plays the hostile witness; the real one cannot be made to lie): a planted
 * cosignature over a shifted text, an answer too large, a redirect, a 409 beyond our tree; a
 * refusal's text kept with its control characters written out; a witness that lost its state.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { utf8 } from '../../src/bytes/index.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { ed25519NoteSigner, signNote } from '../../src/log/note-sign.js';
import { formatSignatureLine } from '../../src/log/note.js';
import { formatCheckpoint } from '../../src/log/checkpoint.js';
import { EMPTY_ROOT } from '../../src/log/hash.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { submitCheckpoint } from '../../src/witness/submit.js';
import { MAX_WITNESS_BACKOFF_MS, WitnessBackoff, witnessLatest, type WitnessingLog } from '../../src/store/witnessing.js';

async function keyPair(): Promise<{ privateKey: CryptoKey; pub: Uint8Array }> {
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  return { privateKey: pair.privateKey, pub: await exportEd25519Public(pair.publicKey) };
}

async function hostile(t: TestContext, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => answer(Object.assign(req, { body }), res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A witness `name` and a log's checkpoint of size 5: its vkey, the note, and the witness's own cosignature line of it. */
async function witnessOf(name: string): Promise<{ name: string; vkey: string; note: string; honest: string }> {
  const log = await keyPair();
  const w = await keyPair();
  const note = await signNote(formatCheckpoint({ origin: 'example.com/log', size: 5n, rootHash: new Uint8Array(32).fill(9), extensions: [] }), [ed25519NoteSigner('example.com/log', log.privateKey, log.pub)]);
  const signer = cosignatureSigner(name, w.privateKey, w.pub);
  const honest = formatSignatureLine(name, signer.keyId, await signer.sign(utf8(note.slice(0, note.indexOf('\n\n') + 1))));
  return { name, vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, w.pub), note, honest };
}

test('a witness answer that shifts the note separator, is too large, redirects, or claims a larger tree is never stored as a cosignature', async (t) => {
  const log = await keyPair();
  const w = await keyPair();
  const name = 'evil.example/w';
  const vkey = formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, w.pub);
  const note = await signNote(formatCheckpoint({ origin: 'example.com/log', size: 0n, rootHash: EMPTY_ROOT, extensions: [] }), [ed25519NoteSigner('example.com/log', log.privateKey, log.pub)]);
  const signer = cosignatureSigner(name, w.privateKey, w.pub);
  // Signed over the note text *and* the log's signature line: valid if the separator moves.
  // With an empty line first, the note's last empty line moves: the "text" becomes the whole note.
  const planted = '\n' + formatSignatureLine(name, signer.keyId, await signer.sign(utf8(note)));
  const honest = formatSignatureLine(name, signer.keyId, await signer.sign(utf8(note.slice(0, note.indexOf('\n\n') + 1))));
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, string]> = [
    ['planted', (_q, res) => res.end(planted), 'ERR_WITNESS_REFUSED'],
    ['too large', (_q, res) => res.end(honest + 'x'.repeat(200_000)), 'ERR_WITNESS_UNREACHABLE'],
    ['redirect', (_q, res) => { res.writeHead(307, { location: 'http://127.0.0.1:1/add-checkpoint' }); res.end(); }, 'ERR_WITNESS_UNREACHABLE'],
    ['larger tree', (_q, res) => { res.writeHead(409, { 'content-type': 'text/x.tlog.size' }); res.end('7\n'); }, 'ERR_WITNESS_CONFLICT'],
  ];
  for (const [what, answer, code] of cases) {
    const url = await hostile(t, answer);
    const out = await submitCheckpoint({ name, vkey, url }, note, 0n, 0n, () => [], { timeoutMs: 5000 });
    assert.equal(out.ok, false, what);
    assert.equal(!out.ok && out.code, code, what);
  }
  // A refusal's words are kept for the operator, with nothing a terminal would act on.
  const refusal = await submitCheckpoint({ name, vkey, url: await hostile(t, (_q, res) => { res.writeHead(400); res.end('\u001b[2J\u001b[32mwitness OK\u0007\u202e'); }) }, note, 0n, 0n, () => []);
  assert.ok(!refusal.ok);
  assert.equal(refusal.message, `${name}: HTTP 400 \\u001b[2J\\u001b[32mwitness OK\\u0007\\u202e`);
  const url = await hostile(t, (_q, res) => res.end(honest));
  const out = await submitCheckpoint({ name, vkey, url }, note, 0n, 0n, () => []);
  assert.ok(out.ok && out.line === honest, 'the honest answer is kept');
});

test('a witness found below the size it cosigned for us (it lost its state) is an alarm: cosigned again from where it is, the alarm recorded once', async (t) => {
  const { name, vkey, note, honest } = await witnessOf('reset.example/w');
  // As a witness whose state was wiped answers: it holds nothing (409 at 0) until sent old 0.
  const olds: string[] = [];
  const url = await hostile(t, (req, res) => {
    const old = ((req as IncomingMessage & { body?: string }).body ?? '').split('\n', 1)[0]!;
    olds.push(old);
    if (old === 'old 0') return res.end(honest);
    res.writeHead(409, { 'content-type': 'text/x.tlog.size' });
    res.end('0\n');
  });
  const events: Array<{ code: string; message: string }> = [];
  const cosigned: string[] = [];
  let witnessSize = 3n;
  const store: WitnessingLog = {
    latestCheckpoint: () => ({ size: 5n, note }),
    cosignatureLines: () => cosigned,
    witnessSize: () => witnessSize,
    consistencyProof: () => [new Uint8Array(32)],
    addCosignature: (size, _w, line) => { cosigned.push(line); witnessSize = size; },
    addWitnessEvent: (e) => void events.push(e),
  };
  const [r] = await witnessLatest(store, [{ name, vkey, url }]);
  assert.deepEqual(olds, ['old 3', 'old 0'], 'retried from where the witness is');
  assert.equal(r!.status, 'ERR_WITNESS_CONFLICT');
  assert.match(r!.message!, /answered 409 at size 0, below the size 3 it had cosigned .*lost or rolled back its state/);
  assert.deepEqual(cosigned, [honest], 'its new cosignature is kept');
  assert.deepEqual(events.map((e) => e.code), ['ERR_WITNESS_CONFLICT']);
  // Once: the next round finds it cosigned.
  assert.equal((await witnessLatest(store, [{ name, vkey, url }]))[0]!.status, 'already');
  // Found below and then unreachable: still the alarm, with what followed.
  let first = true;
  const url2 = await hostile(t, (_req, res) => {
    if (first) { first = false; res.writeHead(409, { 'content-type': 'text/x.tlog.size' }); res.end('1\n'); return; }
    res.writeHead(503); res.end();
  });
  const out = await submitCheckpoint({ name, vkey, url: url2 }, note, 5n, 4n, () => [new Uint8Array(32)]);
  assert.ok(!out.ok && out.code === 'ERR_WITNESS_CONFLICT', out.ok ? 'cosigned' : out.code);
  assert.match(out.message, /below the size 4 .*; then .*HTTP 503/);
});

test('a 409\'s size is not signed: it never raises the size the log holds for the witness, so a forged one cannot make a later honest answer look like lost state', async (t) => {
  const { name, vkey, note, honest } = await witnessOf('honest.example/w');
  let forged = true;
  const url = await hostile(t, (req, res) => {
    const old = ((req as IncomingMessage & { body?: string }).body ?? '').split('\n', 1)[0]!;
    if (!forged && old === 'old 0') return res.end(honest);
    res.writeHead(409, { 'content-type': 'text/x.tlog.size' });
    res.end(forged ? '3\n' : '0\n'); // a man in the middle's 409s, then the witness's own
  });
  const sizes: bigint[] = [];
  const store: WitnessingLog = {
    latestCheckpoint: () => ({ size: 5n, note }),
    cosignatureLines: () => [],
    witnessSize: () => sizes.at(-1) ?? 0n,
    consistencyProof: () => [new Uint8Array(32)],
    addCosignature: (size) => void sizes.push(size),
    addWitnessEvent: () => undefined,
  };
  assert.equal((await witnessLatest(store, [{ name, vkey, url }]))[0]!.status, 'ERR_WITNESS_REFUSED');
  assert.deepEqual(sizes, [], 'the forged size is not kept');
  forged = false;
  assert.equal((await witnessLatest(store, [{ name, vkey, url }]))[0]!.status, 'cosigned', 'no false alarm');
  // Found below what it cosigned, then a 409 without a size: still the alarm.
  let first = true;
  const url2 = await hostile(t, (_req, res) => {
    res.writeHead(409, { 'content-type': 'text/x.tlog.size' });
    res.end(first ? '1\n' : 'x\n');
    first = false;
  });
  const out = await submitCheckpoint({ name, vkey, url: url2 }, note, 5n, 4n, () => [new Uint8Array(32)]);
  assert.ok(!out.ok && out.code === 'ERR_WITNESS_CONFLICT', out.ok ? 'cosigned' : out.code);
  assert.match(out.message, /below the size 4 .*; then .*409 without a size/);
});

test('a witness that keeps failing is asked again after a pause that doubles, up to 5 minutes; a cosignature ends it, and a conflict is never paused', () => {
  const w = (name: string) => ({ name, url: `http://${name}`, vkey: '' }) as unknown as Parameters<WitnessBackoff['due']>[0][number];
  const [a, b] = [w('a'), w('b')];
  const backoff = new WitnessBackoff(200);
  const fail = (name: string, at: number) => backoff.after([{ witness: name, size: 5n, status: 'ERR_WITNESS_UNREACHABLE' }], at);
  const due = (at: number) => backoff.due([a, b], at).map((x) => x.name);
  fail('a', 0);
  assert.deepEqual(due(199), ['b']);
  assert.deepEqual(due(200), ['a', 'b']);
  fail('a', 200);
  assert.deepEqual(due(599), ['b'], 'doubled');
  for (let i = 0; i < 30; i++) fail('a', 1000);
  assert.deepEqual(due(1000 + MAX_WITNESS_BACKOFF_MS - 1), ['b']);
  assert.deepEqual(due(1000 + MAX_WITNESS_BACKOFF_MS), ['a', 'b'], 'capped');
  backoff.after([{ witness: 'a', size: 6n, status: 'cosigned' }], 2000);
  assert.deepEqual(due(2000), ['a', 'b'], 'a cosignature ends the pause');
  fail('b', 3000);
  backoff.after([{ witness: 'b', size: 6n, status: 'ERR_WITNESS_CONFLICT' }], 3001);
  assert.deepEqual(due(3001), ['a', 'b'], 'an alarm is raised every round');
  backoff.after([{ witness: 'b', size: 7n, status: 'ERR_WITNESS_REFUSED', raced: true }], 3002);
  assert.deepEqual(due(3002), ['a', 'b'], 'a round that lost a race with a newer one: the witness is well');
  assert.equal(backoff.nextDue(), null);
  fail('a', 4000);
  fail('b', 4100);
  assert.equal(backoff.nextDue(4100), 4200, 'the first pause to end: a quiet log asks then');
  assert.equal(backoff.nextDue(4250), 4300, 'a pause that has ended is not waited for');
  assert.deepEqual(backoff.due([b], 4250).map((x) => x.name), [], 'b still paused; a, removed from the list, forgotten');
  assert.deepEqual(backoff.due([a, b], 4250).map((x) => x.name), ['a'], 'a is new again');
  assert.equal(backoff.nextDue(4300), null);
});
