/**
 * The witness decisions (src/witness/witness.ts) over a real SQLite state
 * (src/witness/state.ts), in-process: every status of the C2SP tlog-witness table
 * (transparency-log.md §7) from a real request, cosignatures that verify with the witness
 * vkey, state that survives reopening, a forked log refused and never cosigned, idempotent
 * retries, key rotation, concurrent requests, the monitoring view, and the HTTP server's
 * 500, 408 and HEAD answers (in-process; the rest of HTTP is in test/e2e/witness.test.ts).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../src/bytes/digest.js';
import { toBase64, toHex, utf8 } from '../../src/bytes/index.js';
import { isAttestError } from '../../src/errors.js';
import { formatCheckpoint } from '../../src/log/checkpoint.js';
import { cosignatureVerifier, parseCosignature } from '../../src/log/cosignature.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { EMPTY_ROOT } from '../../src/log/hash.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { ed25519NoteVerifier, openNote, parseNote } from '../../src/log/note.js';
import { ed25519NoteSigner, importEd25519Seed, signNote, type NoteSigner } from '../../src/log/note-sign.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../src/log/vkey.js';
import { formatAddCheckpointRequest, MAX_ADD_CHECKPOINT_BYTES, TLOG_SIZE_CONTENT_TYPE } from '../../src/witness/protocol.js';
import { peerOf, startWitnessServer } from '../../src/witness/server.js';
import { WitnessState } from '../../src/witness/state.js';
import { Witness, type WitnessDecision, type WitnessResponse } from '../../src/witness/witness.js';

const ORIGIN = 'example.com/test-log';
const NAME = 'witness.example/w1';
const NOW = 1_800_000_000n;

/** A fresh Ed25519 key as a note signer (type 0x01) and its vkey. */
async function logKey(name: string): Promise<{ signer: NoteSigner; vkey: string }> {
  const { privateKey, publicKey } = await importEd25519Seed(crypto.getRandomValues(new Uint8Array(32)));
  return { signer: ed25519NoteSigner(name, privateKey, publicKey), vkey: formatVerifierKey(name, SIG_TYPE_ED25519, publicKey) };
}

/** One history of a log: a tree of entries `<tag>-<i>`, checkpoints signed by `signer`. */
class TestLog {
  readonly tree = new MemoryTree();
  constructor(readonly signer: NoteSigner, readonly tag: string, readonly origin = ORIGIN) {}

  grow(size: number): this {
    while (this.tree.size < BigInt(size)) this.tree.append(utf8(`${this.tag}-${this.tree.size}`));
    return this;
  }

  text(size: bigint): string {
    return formatCheckpoint({ origin: this.origin, size, rootHash: this.tree.root(size), extensions: [] });
  }

  checkpoint(size: bigint, signers: NoteSigner[] = [this.signer]): Promise<string> {
    return signNote(this.text(size), signers);
  }

  /** A request old -> size with the right proof (none when old is 0 or old = size), unless `proof` is given. */
  async request(old: bigint, size: bigint, proof?: Uint8Array[]): Promise<string> {
    const p = proof ?? (old === 0n || old === size ? [] : this.tree.consistencyProof(old, size));
    return formatAddCheckpointRequest({ oldSize: old, proof: p, checkpointNote: await this.checkpoint(size) });
  }
}

interface Setup { witness: Witness; state: WitnessState; vkey: string; log: TestLog; logVkey: string; decisions: WitnessDecision[]; path: string; open(): Witness }

async function setup(t: TestContext, extraLogKeys: string[] = []): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-witness-'));
  const path = join(dir, 'witness.db');
  const states: WitnessState[] = [];
  t.after(() => {
    for (const s of states) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { privateKey, publicKey } = await importEd25519Seed(crypto.getRandomValues(new Uint8Array(32)));
  const vkey = formatVerifierKey(NAME, SIG_TYPE_COSIGNATURE_V1, publicKey);
  const lk = await logKey(ORIGIN);
  const decisions: WitnessDecision[] = [];
  const open = (): Witness => {
    const state = new WitnessState(path);
    states.push(state);
    return new Witness({
      name: NAME, signer: cosignatureSigner(NAME, privateKey, publicKey, () => NOW),
      logs: new Map([[ORIGIN, [lk.vkey, ...extraLogKeys]]]), state, onDecision: (d) => decisions.push({ ...d }),
    });
  };
  const witness = open();
  return { witness, state: states[0]!, vkey, log: new TestLog(lk.signer, 'a'), logVkey: lk.vkey, decisions, path, open };
}

/** Assert a 200 whose body is one cosignature line verifying on `note` with the witness vkey. */
async function assertCosigned(r: WitnessResponse, note: string, vkey: string): Promise<void> {
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body.split('\n').length, 2, 'one line, LF-terminated');
  const opened = await openNote(note + r.body, [cosignatureVerifier(vkey)]);
  assert.equal(opened.verified.length, 1);
  assert.equal(opened.verified[0]!.name, NAME);
  assert.equal(parseCosignature(opened.verified[0]!.signature).timestamp, NOW);
}

function assertRefused(r: WitnessResponse, status: number): void {
  assert.equal(r.status, status, r.body);
  assert.ok(!r.body.includes('\u2014'), 'no signature line in a refusal');
}

/** The note with one signature byte (not the key ID) of its last line changed. */
function corruptSignature(note: string): string {
  const start = note.lastIndexOf('\n', note.length - 2) + 1;
  const at = note.indexOf(' ', start + 2) + 1 + 12;
  return note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1);
}

const sizeOf = (s: WitnessState): bigint | undefined => s.latest(ORIGIN)?.size;

test('0 -> 5, then 5 -> 9 with a consistency proof: cosigned, cosignatures verify, state advances', async (t) => {
  const { witness, state, vkey, log } = await setup(t);
  log.grow(9);
  await assertCosigned(await witness.addCheckpoint(await log.request(0n, 5n)), await log.checkpoint(5n), vkey);
  assert.equal(sizeOf(state), 5n);
  await assertCosigned(await witness.addCheckpoint(await log.request(5n, 9n)), await log.checkpoint(9n), vkey);
  const stored = state.latest(ORIGIN)!;
  assert.equal(stored.size, 9n);
  assert.deepEqual(stored.rootHash, log.tree.root(9n));
  assert.equal(stored.note, await log.checkpoint(9n));
});

test('every status of the table, each from a real request; refusals change nothing', async (t) => {
  const { witness, state, log, logVkey, decisions } = await setup(t);
  log.grow(8);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 4n))).status, 200);
  const before = state.latest(ORIGIN);
  const other = await logKey('example.com/other-log');
  const stranger = await logKey(ORIGIN); // same name as the log key, another key: not trusted
  const bad = corruptSignature(await log.checkpoint(8n));
  await assert.rejects(openNote(bad, [ed25519NoteVerifier(logVkey)]), (e: unknown) => isAttestError(e, 'ERR_NOTE_SIGNATURE_INVALID'));
  const req = (old: bigint, note: string, proof: Uint8Array[] = []): string => formatAddCheckpointRequest({ oldSize: old, proof, checkpointNote: note });
  const cases: Array<[string, string, number]> = [
    ['malformed body', 'old 04\n\nx\n', 400],
    ['unknown origin', req(0n, await new TestLog(other.signer, 'o', 'example.com/other-log').grow(1).checkpoint(1n)), 404],
    ['signed by an untrusted key only', req(4n, await log.checkpoint(8n, [stranger.signer]), log.tree.consistencyProof(4n, 8n)), 403],
    ['a trusted key whose signature fails', req(4n, bad, log.tree.consistencyProof(4n, 8n)), 403],
    ['malformed checkpoint text', req(4n, await signNote(`${ORIGIN}\n08\n${toBase64(log.tree.root(8n))}\n`, [log.signer])), 400],
    ['old > size', await log.request(5n, 4n, []), 400],
    ['old is not the stored size', await log.request(2n, 8n), 409],
    ['old = size, roots differ', req(4n, await new TestLog(log.signer, 'fork').grow(4).checkpoint(4n)), 422],
    ['old = size with a non-empty proof', await log.request(4n, 4n, [log.tree.root(1n)]), 422],
    ['a proof that does not verify', await log.request(4n, 8n, log.tree.consistencyProof(4n, 8n).map((h, i) => (i === 0 ? sha256(h) : h))), 422],
    ['a proof of the wrong length', await log.request(4n, 8n, []), 422],
  ];
  for (const [name, body, status] of cases) {
    const r = await witness.addCheckpoint(body);
    assertRefused(r, status);
    if (status === 409) {
      assert.equal(r.body, '4\n', name);
      assert.equal(r.contentType, TLOG_SIZE_CONTENT_TYPE, name);
    } else {
      assert.match(r.contentType, /^text\/plain/, name);
    }
    assert.deepEqual(state.latest(ORIGIN), before, `${name}: state unchanged`);
  }
  assert.deepEqual(decisions.slice(1).map((d) => d.status), cases.map(([, , s]) => s), 'one decision logged per request');
  const conflict = decisions.find((d) => d.status === 409)!;
  assert.deepEqual({ ...conflict, reason: '' }, { origin: ORIGIN, oldSize: 2n, size: 8n, status: 409, reason: '' });
});

test('422 on a fresh origin: size 0 with another root; old 0 with a non-empty proof', async (t) => {
  const { witness, state, log } = await setup(t);
  log.grow(5);
  const zero = await signNote(`${ORIGIN}\n0\n${toBase64(log.tree.root(1n))}\n`, [log.signer]);
  assertRefused(await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0n, proof: [], checkpointNote: zero })), 422);
  assertRefused(await witness.addCheckpoint(await log.request(0n, 5n, [log.tree.root(1n)])), 422);
  assert.equal(state.latest(ORIGIN), null, 'nothing stored');
});

test('the empty tree is cosigned (old 0, size 0, SHA-256("") root), then any size follows from old 0', async (t) => {
  const { witness, state, vkey, log } = await setup(t);
  log.grow(3);
  const empty = await signNote(formatCheckpoint({ origin: ORIGIN, size: 0n, rootHash: EMPTY_ROOT, extensions: [] }), [log.signer]);
  await assertCosigned(await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0n, proof: [], checkpointNote: empty })), empty, vkey);
  assert.equal(sizeOf(state), 0n);
  await assertCosigned(await witness.addCheckpoint(await log.request(0n, 3n)), await log.checkpoint(3n), vkey);
});

test('state survives closing and reopening the database', async (t) => {
  const { witness, state, vkey, log, open } = await setup(t);
  log.grow(10);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 6n))).status, 200);
  state.close();
  const again = open();
  const r = await again.addCheckpoint(await log.request(0n, 10n));
  assertRefused(r, 409);
  assert.equal(r.body, '6\n');
  await assertCosigned(await again.addCheckpoint(await log.request(6n, 10n)), await log.checkpoint(10n), vkey);
});

test('a fork (same origin and key, another history) is refused and never cosigned', async (t) => {
  const { witness, state, log } = await setup(t);
  log.grow(8);
  const fork = new TestLog(log.signer, 'fork').grow(12);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 4n))).status, 200);
  assert.equal((await witness.addCheckpoint(await log.request(4n, 8n))).status, 200);
  const kept = state.latest(ORIGIN);
  assertRefused(await witness.addCheckpoint(await fork.request(8n, 8n)), 422); // same size, other root
  assertRefused(await witness.addCheckpoint(await fork.request(8n, 12n)), 422); // the fork's own proof
  assertRefused(await witness.addCheckpoint(await fork.request(0n, 12n)), 409);
  assertRefused(await witness.addCheckpoint(await fork.request(4n, 12n)), 409);
  assert.deepEqual(state.latest(ORIGIN), kept);
});

test('re-submitting the cosigned checkpoint with old = size is cosigned again (idempotent retry)', async (t) => {
  const { witness, state, vkey, log } = await setup(t);
  log.grow(5);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 5n))).status, 200);
  const kept = state.latest(ORIGIN);
  for (let i = 0; i < 2; i++) await assertCosigned(await witness.addCheckpoint(await log.request(5n, 5n)), await log.checkpoint(5n), vkey);
  assert.deepEqual(state.latest(ORIGIN)?.rootHash, kept?.rootHash);
  assert.equal(sizeOf(state), 5n);
});

test('key rotation: every configured key of an origin is accepted; unknown signature lines are ignored', async (t) => {
  const rotated = await logKey(ORIGIN);
  const { witness, vkey, log } = await setup(t, [rotated.vkey]);
  log.grow(6);
  const stranger = await logKey('example.com/someone-else');
  const both = await log.checkpoint(3n, [stranger.signer, rotated.signer]);
  await assertCosigned(await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0n, proof: [], checkpointNote: both })), both, vkey);
  const byOld = await log.checkpoint(6n);
  const r = await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 3n, proof: log.tree.consistencyProof(3n, 6n), checkpointNote: byOld }));
  await assertCosigned(r, byOld, vkey);
});

test('concurrent requests with the same old: exactly one is cosigned, the others get 409 with its size', async (t) => {
  const { witness, state, log } = await setup(t);
  log.grow(20);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 10n))).status, 200);
  const sizes = [11n, 12n, 13n, 14n, 15n, 16n];
  const bodies = await Promise.all(sizes.map((s) => log.request(10n, s)));
  const answers = await Promise.all(bodies.map((b) => witness.addCheckpoint(b)));
  const won = answers.flatMap((a, i) => (a.status === 200 ? [sizes[i]!] : []));
  assert.equal(won.length, 1);
  for (const a of answers.filter((x) => x.status !== 200)) {
    assert.equal(a.status, 409);
    assert.equal(a.body, `${won[0]}\n`);
  }
  assert.equal(sizeOf(state), won[0]);
});

test('monitoring view: the latest cosigned note with a fresh cosignature; null for an unknown origin', async (t) => {
  const { witness, vkey, log, logVkey } = await setup(t);
  log.grow(7);
  const hash = toHex(sha256(utf8(ORIGIN)));
  assert.equal(await witness.latestCheckpoint(hash), null);
  const first = await witness.addCheckpoint(await log.request(0n, 7n));
  assert.equal(first.status, 200);
  // The log retries with the note it got back (already carrying this witness's line).
  const cosigned = (await log.checkpoint(7n)) + first.body;
  assert.equal((await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 7n, proof: [], checkpointNote: cosigned }))).status, 200);
  // Anyone may resend the public checkpoint with lines of keys this witness does not know
  // (here another witness's name and a garbage signature): accepted, and never republished.
  const junk = `\u2014 witness.example/w2 ${toBase64(new Uint8Array(76).fill(9))}\n`;
  const poisoned = (await log.checkpoint(7n)) + junk.repeat(3);
  assert.equal((await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 7n, proof: [], checkpointNote: poisoned }))).status, 200);
  const note = (await witness.latestCheckpoint(hash))!;
  assert.equal(note.includes('witness.example/w2'), false, 'only the log signatures it verified are kept');
  assert.equal(parseNote(note).text, log.text(7n));
  assert.equal(parseNote(note).signatures.length, 2, 'the log signature and one cosignature (an older one is replaced)');
  await openNote(note, [ed25519NoteVerifier(logVkey)]);
  const opened = await openNote(note, [cosignatureVerifier(vkey)]);
  assert.equal(parseCosignature(opened.verified[0]!.signature).timestamp, NOW);
  assert.equal(await witness.latestCheckpoint(toHex(sha256(utf8('example.com/nope')))), null);
});

test('the state refuses a write that rolls back or swaps the root (ERR_LOG_ROLLBACK), and commits nothing then', async (t) => {
  const { witness, state, log, path } = await setup(t);
  log.grow(6);
  assert.equal((await witness.addCheckpoint(await log.request(0n, 6n))).status, 200);
  const kept = state.latest(ORIGIN)!;
  const rollback = { origin: ORIGIN, size: 5n, rootHash: log.tree.root(5n), note: 'x' };
  const swap = { origin: ORIGIN, size: 6n, rootHash: sha256(utf8('other')), note: 'x' };
  for (const write of [rollback, swap]) {
    assert.throws(() => state.update(ORIGIN, () => ({ result: null, write })), (e: unknown) => isAttestError(e, 'ERR_LOG_ROLLBACK'));
  }
  const second = new WitnessState(path); // another connection sees the same committed state
  t.after(() => second.close());
  assert.deepEqual(second.latest(ORIGIN), kept);
});

test('HTTP server: 500 on a handler exception (and it keeps serving), 408 on a body that never arrives, HEAD on the monitoring path', async (t) => {
  const { witness, state, log } = await setup(t);
  log.grow(3);
  const errors: unknown[] = [];
  const server = await startWitnessServer(witness, { host: '127.0.0.1', port: 0, readTimeoutMs: 200, onError: (e) => errors.push(e) });
  t.after(() => server.close());
  assert.equal((await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: await log.request(0n, 3n) })).status, 200);
  const head = await fetch(`${server.url}/${toHex(sha256(utf8(ORIGIN)))}/checkpoint`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  // A body announced but never sent: 408 once the read timeout passes, connection closed.
  const reply = await new Promise<string>((resolve, reject) => {
    const { port } = new URL(server.url);
    const sock = connect(Number(port), '127.0.0.1', () => sock.write('POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 100\r\n\r\nold 0\n'));
    let got = '';
    sock.on('data', (c) => (got += c.toString()));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 408 /);
  state.close(); // every later state access throws
  const failed = await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: await log.request(3n, 3n) });
  assert.equal(failed.status, 500);
  assert.equal(await failed.text(), 'internal error\n');
  assert.equal(errors.length, 1);
  assert.equal((await fetch(`${server.url}/nope`)).status, 404, 'still serving');
});

test('HTTP server: request bodies share one memory budget: past it 503 Retry-After, closed; the bytes are freed when a body is answered or its sender leaves', async (t) => {
  const { witness, log } = await setup(t);
  log.grow(3);
  const server = await startWitnessServer(witness, { host: '127.0.0.1', port: 0, maxBufferedBytes: 1 << 20, maxBufferedBytesPerPeer: 1 << 20 });
  t.after(() => server.close());
  const { port } = new URL(server.url);
  // A sender that stalls after 900,000 bytes of a body announced whole.
  const stalled = connect(Number(port), '127.0.0.1', () => stalled.write(`POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: ${MAX_ADD_CHECKPOINT_BYTES}\r\n\r\n${'a'.repeat(900_000)}`));
  stalled.on('error', () => undefined);
  let stalledReply = '';
  stalled.on('data', (c: Buffer) => (stalledReply += c.toString()));
  const junk = (n: number) => fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: 'a'.repeat(n) });
  // A probe is answered (400: not a request) until the two no longer fit: then the one whose
  // bytes came last is refused (the probe, or, when the probe's bytes were read first, the stalled body).
  let busy: Response | undefined;
  for (let i = 0; i < 200 && busy === undefined && stalledReply === ''; i++) {
    const r = await junk(200_000);
    if (r.status === 503) busy = r;
    else assert.equal(r.status, 400);
  }
  if (busy !== undefined) {
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal(busy.headers.get('connection'), 'close');
    assert.equal(await busy.text(), 'witness busy: too many request bodies in flight\n');
  } else {
    for (let i = 0; i < 250 && !stalledReply.endsWith('in flight\n'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(stalledReply, /^HTTP\/1\.1 503 /, 'a body past the budget is refused');
    assert.match(stalledReply, /\r\nRetry-After: 1\r\n/i);
    assert.match(stalledReply, /\r\nConnection: close\r\n/i);
  }
  // The stalled sender leaves (or was refused): its bytes are freed.
  if (!stalled.closed) await new Promise<void>((resolve) => stalled.once('close', () => resolve()).destroy());
  for (let i = 0; i < 200 && (await junk(800_000)).status === 503; i++) await new Promise((r) => setTimeout(r, 10));
  // Answered bodies are freed too: together these are past the budget, one after another they fit.
  for (let i = 0; i < 3; i++) assert.equal((await junk(800_000)).status, 400);
  assert.equal((await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: await log.request(0n, 3n) })).status, 200);
});

test('HTTP server: one peer cannot take the whole body budget: its own share is refused past an eighth, another peer is still read', async (t) => {
  const { witness } = await setup(t);
  const server = await startWitnessServer(witness, { host: '127.0.0.1', port: 0, maxBufferedBytes: 1 << 20 });
  t.after(() => server.close());
  const port = Number(new URL(server.url).port);
  // A raw request from `from` (any 127/8 address reaches the loopback server); resolves with the status line.
  const post = (from: string, body: string, declared = body.length) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress: from }, () => sock.write(`POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: ${declared}\r\n\r\n${body}`));
    sock.on('error', () => undefined);
    let got = '';
    const reply = new Promise<string>((resolve) => {
      sock.on('data', (c) => {
        got += c.toString();
        if (got.includes('\r\n')) resolve(got.split('\r\n', 1)[0]!);
      });
      sock.on('close', () => resolve(got));
    });
    return { sock, reply };
  };
  const stalled = post('127.0.0.2', 'a'.repeat(100_000), 900_000); // within its share (128 KiB): kept reading
  t.after(() => stalled.sock.destroy());
  // The same peer again: past its share, whichever body came last is refused.
  const again = post('127.0.0.2', 'a'.repeat(100_000));
  const first = await Promise.race([again.reply, stalled.reply]);
  assert.match(first, /^HTTP\/1\.1 503 /, 'a peer past its share');
  // Another peer is read as ever: its body parsed (400: not a request), not refused.
  const other = post('127.0.0.3', 'a'.repeat(100_000));
  assert.match(await other.reply, /^HTTP\/1\.1 400 /);
  other.sock.destroy();
  again.sock.destroy();
});

test('peerOf: an IPv4 address (v4-mapped too) is its own peer; IPv6 addresses share their /64', () => {
  assert.equal(peerOf('192.0.2.7'), '192.0.2.7');
  assert.equal(peerOf('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(peerOf('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(peerOf('2001:0DB8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
  assert.equal(peerOf('::1'), '0:0:0:0::/64');
  assert.equal(peerOf('2001:db8::'), '2001:db8:0:0::/64');
  assert.equal(peerOf(undefined), '');
});
