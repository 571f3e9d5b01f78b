/**
 * A data directory records to one log (src/proxy/log-home.ts, docs/fleet.md): one whose own
 * SQLite log holds calls is not switched to a fleet's log (its calls would be split between
 * two logs: `log migrate` moves them first); a fresh one, or one whose log holds only its
 * parameters entry, is claimed for the fleet, and then refuses a log of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { claimForFleet, refuseMoved } from '../../src/proxy/log-home.js';
import { markMoved } from '../../src/store/synced.js';
import { isAttestError } from '../../src/errors.js';
import { recordCalls, tempDir } from './log-helper.js';
import { Recorder } from '../../src/proxy/recorder.js';

const URL_ = 'postgres://writer@db.example/mcp_attest';
/** The fleet's log as a claim sees it: its size, and its random name. */
const fleet = (size: bigint, id = 'log-a'): { size: bigint; id: string } => ({ size, id });

test('a data directory whose own log holds calls is not claimed for a fleet\'s log; a fresh one, or one holding only its parameters entry, is', async (t) => {
  const used = join(tempDir(t), 'used');
  await initHome(used);
  await recordCalls(used, 1);
  assert.throws(() => claimForFleet(used, URL_, fleet(0n)), (e) => isAttestError(e, 'ERR_USAGE') && /split them between two logs/.test((e as Error).message) && /log migrate/.test((e as Error).message));
  assert.equal(existsSync(homePaths(used).moved), false, 'nothing marked');

  const fresh = join(tempDir(t), 'fresh');
  await initHome(fresh);
  new LogDb(homePaths(fresh).db, 'normal', false, { entries: 'private' }).close(); // its parameters entry only
  claimForFleet(fresh, URL_, fleet(0n));
  assert.equal(existsSync(homePaths(fresh).moved), true);
  assert.throws(() => refuseMoved(fresh), (e) => isAttestError(e, 'ERR_USAGE'), 'a log of its own is then refused');

  // A log.db of no bytes (a crash while it was created) holds no calls.
  const empty = join(tempDir(t), 'empty');
  await initHome(empty);
  writeFileSync(homePaths(empty).db, '');
  claimForFleet(empty, URL_, fleet(0n));
  assert.equal(existsSync(homePaths(empty).moved), true);
});

test('a local recorder and a fleet\'s claim starting at the same moment never split the calls: a recorder opened before the claim finds it under the log\'s write lock before its first call, and appends nothing', async (t) => {
  const home = join(tempDir(t), 'raced');
  await initHome(home);
  const local = await Recorder.open(home, { durability: 'normal' }); // past its start-up check: nothing marked yet
  t.after(() => local.close());
  const call = { tool: 'echo', args: {}, intent: 'test', server: { name: 's', fingerprint: 'sha256:' + '11'.repeat(32) }, requestDigest: 'sha256:' + '22'.repeat(32) };
  // Its first append fails (a record past 65,535 bytes): the check it passed stays armed for the next one.
  await assert.rejects(local.attest({ ...call, tool: 'x'.repeat(70_000) }), (e) => isAttestError(e, 'ERR_ENTRY_TOO_LARGE'));
  claimForFleet(home, URL_, fleet(1n)); // its log holds no call yet: claimed
  await assert.rejects(local.attest(call), (e) => isAttestError(e, 'ERR_USAGE') && /moved to a fleet's log/.test((e as Error).message));
  await assert.rejects(local.attest(call), (e) => isAttestError(e, 'ERR_USAGE'), 'and every later call');
  const db = new LogDb(homePaths(home).db, 'normal', true);
  assert.equal(db.size(), 1n, 'its parameters entry only: no call recorded here');
  db.close();

  // The other order: the call committed first, the claim refuses and takes its mark back.
  const first = join(tempDir(t), 'first');
  await initHome(first);
  await recordCalls(first, 1);
  assert.throws(() => claimForFleet(first, URL_, fleet(1n)), (e) => isAttestError(e, 'ERR_USAGE'));
  assert.equal(existsSync(homePaths(first).moved), false, 'the mark is taken back');
  refuseMoved(first);

  // A mark already there (another claim not finished, or one that crashed) is not taken for a move: the log is still read, and the mark, not this claim's, stays.
  const moved = homePaths(first).moved;
  assert.equal(markMoved(moved, URL_, 0n), true);
  assert.equal(markMoved(moved, URL_, 9n), false, 'a mark is never replaced');
  assert.throws(() => claimForFleet(first, URL_, fleet(1n)), (e) => isAttestError(e, 'ERR_USAGE') && /split them between two logs/.test((e as Error).message));
  assert.equal(existsSync(moved), true, 'another\'s mark is left');
  // One `log migrate` made, naming every entry it moved: the claim stands for the fleet's log holding them, not another database, nor one holding fewer.
  rmSync(moved);
  const db2 = new LogDb(homePaths(first).db, 'normal', true);
  const size = db2.size();
  db2.close();
  markMoved(moved, URL_, size);
  assert.throws(() => claimForFleet(first, 'postgres://writer@db.example/another', fleet(size)), (e) => isAttestError(e, 'ERR_USAGE') && /another fleet's log/.test((e as Error).message));
  assert.throws(() => claimForFleet(first, URL_, fleet(size - 1n)), (e) => isAttestError(e, 'ERR_USAGE') && /did not commit there/.test((e as Error).message));
  claimForFleet(first, 'postgres://other-user:pw@localhost:5432/mcp_attest', fleet(size)); // the same database under another host name and user
  assert.equal(existsSync(moved), true);
  // A marker naming its log by its random name: another fleet's log of the same database name is refused, the same log anywhere is not.
  rmSync(moved);
  markMoved(moved, URL_, size, 'log-a');
  assert.throws(() => claimForFleet(first, 'postgres://writer@fleet-b.example:6543/mcp_attest', fleet(size + 5n, 'log-b')), (e) => isAttestError(e, 'ERR_USAGE') && /another fleet's log/.test((e as Error).message));
  assert.throws(() => claimForFleet(first, 'postgres://writer@db.example/copy_of_it', fleet(size, 'log-a')), (e) => isAttestError(e, 'ERR_USAGE'), 'a copy keeps the log\'s name, not its database\'s');
  claimForFleet(first, 'postgres://writer@failover.example:5433/mcp_attest', fleet(size, 'log-a'));
});
