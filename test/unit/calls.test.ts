/**
 * The calls of a log derived from its entries (src/store/calls.ts): what `log show` lists and
 * what a bundle by call id selects, with nothing written beside the entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { callEntryIndexes, listCalls } from '../../src/store/calls.js';
import { tempDir } from './log-helper.js';

const server = { name: 'files', fingerprint: 'sha256:' + '11'.repeat(32) };
const digest = 'sha256:' + '22'.repeat(32);

for (const entries of ['private', 'public'] as const) test(`calls come from the entries (${entries} log): answered, unanswered and in flight, with their indexes; a call is found by id only in its own records`, async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home, { entries });
  const o = 1; // entry 0 is the log's parameters entry
  const r = await Recorder.open(home, { durability: 'normal' });
  const a = await r.attest({ tool: 'read', args: { path: '/a' }, intent: 'test', server, requestDigest: digest });
  // B's tool name spells A's record member: a byte match the decoder must throw out.
  const b = await r.attest({ tool: `"callId":"${a.callId}"`, args: {}, intent: 'test', server, requestDigest: digest });
  const c = await r.attest({ tool: 'write', args: {}, intent: 'test', server, requestDigest: digest });
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { ok: true } });
  await r.receipt({ callId: c.callId, attestation: c.attestation, attestationIndex: c.index, status: 'errored', reason: 'connection_lost' });
  await r.close();
  const db = new LogDb(homePaths(home).db, 'full', true);
  t.after(() => db.close());
  assert.equal((db.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'calls'").get() as { n: number }).n, 0, 'no calls table is written');
  const rows = listCalls(db);
  assert.deepEqual(rows.map((x) => [x.call_id, x.attestation_idx, x.receipt_idx, x.tool, x.status, x.reason]), [
    [a.callId, o, o + 3, 'read', 'executed', null],
    [b.callId, o + 1, null, `"callId":"${a.callId}"`, null, null],
    [c.callId, o + 2, o + 4, 'write', 'errored', 'connection_lost'],
  ]);
  assert.equal(rows[0]!.started, a.attestation.issuerAsserted.iat);
  assert.equal(rows[0]!.server, 'files');
  assert.deepEqual(callEntryIndexes(db, a.callId), [1n, 4n]);
  assert.deepEqual(callEntryIndexes(db, b.callId), [2n]);
  assert.deepEqual(callEntryIndexes(db, 'no-such-call'), []);
});
