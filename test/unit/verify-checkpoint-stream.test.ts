/**
 * A log's checkpoints checked as the tree grows (verify/checkpoints.ts `CheckpointStream`):
 * read one at a time from the store, in size order, they give exactly the report of the
 * whole list in any order, for a log intact, with an entry changed (the checkpoints after it
 * inconsistent, the latest's root a mismatch), with a note's signature broken, and truncated;
 * each note is read only once the tree has reached the size of the one before; a row stored
 * under another size, after a larger one, cannot be checked and is ERR_CHECKPOINT_INCONSISTENT;
 * a store that breaks mid-way leaves no statement open; the note the report rests on is handed
 * over as read and checked.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import '../../src/platform/node.js';
import { initHome, loadIdentity, trustPolicyOf } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { sequentialFacts, verifyLog, type FactsSource } from '../../src/verify/log.js';
import { policyKeyResolver, type TrustPolicy } from '../../src/verify/policy.js';
import { tempDir } from './log-helper.js';
import { isAttestError } from '../../src/errors.js';

const FP = `sha256:${'11'.repeat(32)}`;

/** A data directory of 12 calls (25 entries) with a checkpoint after every 3 calls; its policy. */
async function checkpointedHome(t: TestContext): Promise<{ home: string; policy: TrustPolicy }> {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 60_000 });
  for (let i = 0; i < 12; i++) {
    const { attestation, callId, index } = await r.attest({ tool: 'echo', args: { i }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { i } });
    if (i % 3 === 2) await r.checkpoint();
  }
  await r.close();
  return { home, policy: trustPolicyOf(loadIdentity(home)) };
}

/** A copy of the home's log at `name`, changed by `edit`. */
function editedLog(home: string, name: string, edit: (db: Database.Database) => void): string {
  const path = join(home, '..', name);
  copyFileSync(homePaths(home).db, path);
  const db = new Database(path);
  edit(db);
  db.close();
  return path;
}

/** The report of the log at `path`, its checkpoints read one at a time from the store (with the sizes they are stored under, as `verify` reads them), or as an array of notes in reverse. */
async function reportOf(path: string, policy: TrustPolicy, streamed: boolean): Promise<unknown> {
  const db = new LogDb(path, 'full', true);
  try {
    const notes = streamed ? db.checkpointRows() : db.checkpoints().map((c) => c.note).reverse();
    return await verifyLog({ entries: db.entries(), checkpoints: notes, sealed: 'erased' }, policy, policyKeyResolver(policy));
  } finally {
    db.close();
  }
}

const codes = (r: unknown): string[] => (r as { findings: Array<{ code: string; severity: string }> }).findings.filter((f) => f.severity === 'error').map((f) => f.code);

test('checkpoints read one at a time from the store give the report of the whole list in any order, intact and tampered', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const sizes = new LogDb(homePaths(home).db, 'full', true);
  assert.deepEqual(sizes.checkpoints().map((c) => c.size), [7n, 13n, 19n, 25n]);
  sizes.close();
  const cases: Array<[string, string, string[]]> = [
    ['intact', homePaths(home).db, []],
    // Entry 15's record changed (a space after it): the checkpoints at 19 and 25 no longer match; 25 is the latest.
    ['entry', editedLog(home, 'entry.db', (db) => db.prepare("UPDATE entries SET record = CAST(CAST(record AS TEXT) || ' ' AS BLOB) WHERE idx = 15").run()), ['ERR_OPENING_MISMATCH', 'ERR_CHECKPOINT_INCONSISTENT', 'ERR_LOG_ROOT_MISMATCH']],
    ['signature', editedLog(home, 'sig.db', (db) => {
      const { note } = db.prepare('SELECT note FROM checkpoints WHERE size = 13').get() as { note: string };
      const line = note.indexOf('\n\n\u2014 ') + 2;
      const at = note.lastIndexOf(' ', note.indexOf('\n', line)) + 12; // a character of the log's signature, past its key hash
      db.prepare('UPDATE checkpoints SET note = ? WHERE size = 13').run(note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1));
    }), ['ERR_CHECKPOINT_SIGNATURE_INVALID']],
    ['truncated', editedLog(home, 'trunc.db', (db) => db.prepare('DELETE FROM entries WHERE idx >= 22').run()), ['ERR_LOG_TRUNCATED']],
  ];
  for (const [name, path, expected] of cases) {
    const streamed = await reportOf(path, policy, true);
    assert.deepEqual(streamed, await reportOf(path, policy, false), `${name}: the reports differ`);
    for (const code of expected) assert.ok(codes(streamed).includes(code), `${name}: ${codes(streamed).join(', ')}`);
    if (expected.length === 0) assert.deepEqual(codes(streamed), [], name);
  }
});

test('each checkpoint note is read only once the tree has reached the size of the one before', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const db = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => db.close());
  let folded = 0;
  const counted: FactsSource = async function* (entries, p, keys) {
    for await (const f of sequentialFacts(entries, p, keys)) {
      folded++;
      yield f;
    }
  };
  const readAt: number[] = [];
  const notes = (function* () {
    for (const c of db.checkpointRows()) {
      readAt.push(folded);
      yield c.note;
    }
  })();
  const r = await verifyLog({ entries: db.entries(), checkpoints: notes, sealed: 'erased' }, policy, policyKeyResolver(policy), undefined, counted);
  assert.equal(r.ok, true, JSON.stringify(r.findings));
  // The first note is read before any entry; each next one once the entries up to the last note's size are folded.
  assert.deepEqual(readAt, [0, 7, 13, 19]);
});

test('a checkpoint row stored under another size, after a larger one, cannot be checked: ERR_CHECKPOINT_INCONSISTENT', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const path = editedLog(home, 'moved.db', (db) => db.prepare('UPDATE checkpoints SET size = 20 WHERE size = 7').run());
  const r = await reportOf(path, policy, true);
  assert.deepEqual(codes(r), ['ERR_CHECKPOINT_INCONSISTENT'], JSON.stringify((r as { findings: unknown[] }).findings));
  assert.equal(((await reportOf(path, policy, false)) as { ok: boolean }).ok, true, 'the notes themselves are sound');
});

test('a checkpoint row stored under a smaller size is named with both sizes, and the notes after it are still compared, not blamed', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  // Rows in stored order: 7, 8 (the note of 19), 13, 25.
  const path = editedLog(home, 'relabelled.db', (db) => db.prepare('UPDATE checkpoints SET size = 8 WHERE size = 19').run());
  const r = (await reportOf(path, policy, true)) as { findings: Array<{ code: string; expected?: unknown; found?: unknown }>; checkpointSize: string };
  assert.deepEqual(r.findings.map((f) => [f.code, f.expected, f.found]), [['ERR_CHECKPOINT_INCONSISTENT', '8', '19'], ['NOTE_UNWITNESSED', undefined, undefined]]);
  assert.equal(r.checkpointSize, '25');
  // The note of 13 after it is compared: a wrong root there is still found, as that note's.
  const forged = editedLog(home, 'relabelled-forged.db', (db) => {
    db.prepare('UPDATE checkpoints SET size = 8 WHERE size = 19').run();
    db.prepare("UPDATE entries SET record = CAST(CAST(record AS TEXT) || ' ' AS BLOB) WHERE idx = 10").run();
  });
  const f = (await reportOf(forged, policy, true)) as { findings: Array<{ code: string; message: string }> };
  assert.ok(f.findings.some((x) => x.code === 'ERR_CHECKPOINT_INCONSISTENT' && x.message.includes('at size 13 is inconsistent')), JSON.stringify(f.findings));
});

test('rows stored under another size are reported where they come, after the comparisons before them, and a hostile size is shown quoted and cut, never in the message', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const path = editedLog(home, 'copies.db', (db) => {
    db.prepare("UPDATE entries SET record = CAST(CAST(record AS TEXT) || ' ' AS BLOB) WHERE idx = 10").run();
    // The note of 7 copied under sizes past the tree's end, and under a text size (an untyped column).
    db.exec('CREATE TABLE kept AS SELECT * FROM checkpoints; DROP TABLE checkpoints; CREATE TABLE checkpoints (size, note TEXT NOT NULL, created INTEGER NOT NULL); INSERT INTO checkpoints SELECT * FROM kept; DROP TABLE kept');
    const note = (db.prepare('SELECT note FROM checkpoints WHERE size = 7').get() as { note: string }).note;
    for (let k = 0; k < 5; k++) db.prepare('INSERT INTO checkpoints VALUES (?, ?, 0)').run(BigInt(1000 + k), note);
    db.prepare('INSERT INTO checkpoints VALUES (?, ?, 0)').run(`\u001b[2K${'x'.repeat(100)}`, note);
  });
  const r = (await reportOf(path, policy, true)) as { findings: Array<{ code: string; message: string; expected?: unknown }> };
  const moved = r.findings.filter((f) => f.message.includes('stored under another size'));
  assert.deepEqual(moved.map((f) => f.expected), ['1000', '1001', '1002', '1003', '1004', JSON.stringify(`\u001b[2K${'x'.repeat(100)}`.slice(0, 40))]);
  assert.ok(r.findings.every((f) => !f.message.includes('\u001b')), 'no stored text in a message');
  const at13 = r.findings.findIndex((f) => f.message.includes('at size 13 is inconsistent'));
  assert.ok(at13 >= 0 && at13 < r.findings.indexOf(moved[0]!), JSON.stringify(r.findings.map((f) => f.message)));
});

test('a store that breaks while its entries are read leaves no statement open: the error is the store\'s, and the log closes', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const path = editedLog(home, 'corrupt.db', (db) => db.prepare("UPDATE entries SET data = 'text' WHERE idx = 15").run());
  const db = new LogDb(path, 'full', true);
  const notes = (function* () { for (const c of db.checkpointRows()) yield c.note; })();
  await assert.rejects(verifyLog({ entries: db.entries(), checkpoints: notes, sealed: 'erased' }, policy, policyKeyResolver(policy)), (e: unknown) => isAttestError(e, 'ERR_STORE_CORRUPT'));
  db.close();
});

test('the note the report rests on is handed over as it was read and checked (what --state keeps), and only when one opened', async (t) => {
  const { home, policy } = await checkpointedHome(t);
  const db = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => db.close());
  const anchors: string[] = [];
  const notes = (function* () { for (const c of db.checkpointRows()) yield c.note; })();
  const r = await verifyLog({ entries: db.entries(), checkpoints: notes, sealed: 'erased', onAnchor: (n) => anchors.push(n) }, policy, policyKeyResolver(policy));
  assert.equal(r.checkpointSize, '25');
  assert.deepEqual(anchors, [db.checkpoints().at(-1)!.note]);
  const { policy: stranger } = await checkpointedHome(t);
  const none: string[] = [];
  const u = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note), sealed: 'erased', onAnchor: (n) => none.push(n) }, stranger, policyKeyResolver(stranger));
  assert.equal(u.checkpoint, null);
  assert.deepEqual(none, []);
});
