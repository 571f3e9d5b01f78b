/**
 * `log status` (src/store/status.ts): size, integrated size, the latest checkpoint and its
 * age, entries not yet sealed, each configured witness's lag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { loadIdentity } from '../../src/store/identity.js';
import { formatStatus, logStatus } from '../../src/store/status.js';
import { SqliteLogStore } from '../../src/store/log-store.js';
import { recordedHome } from './log-helper.js';

test('log status: sizes, checkpoint age, unsealed entries and witness lag', async (t) => {
  const { home } = await recordedHome(t, 2);
  const db = new LogDb(homePaths(home).db);
  t.after(() => db.close());
  const cp = db.latestCheckpoint()!;
  db.addCosignature(cp.size, 'w1.example', `\u2014 w1.example ${Buffer.alloc(76, 7).toString('base64')}\n`, 0);
  db.setWitnessSize('w2.example', 2n);
  db.append((i) => new TextEncoder().encode(`{"not":"checked here","index":"${i}"}`));
  const created = Number((db.db.prepare('SELECT created FROM checkpoints WHERE size = ?').get(cp.size) as { created: number }).created);
  const s = await logStatus(new SqliteLogStore(db), loadIdentity(home).log.origin, ['w1.example', 'w2.example'], created + 7);
  assert.deepEqual(s, {
    origin: loadIdentity(home).log.origin, driver: 'sqlite', entries: 'private', size: '6', integrated: '6', unsealed: '1',
    checkpoint: { size: '5', created, ageSeconds: 7, cosignatures: 1 },
    witnesses: [{ name: 'w1.example', size: '5', lag: '0' }, { name: 'w2.example', size: '2', lag: '3' }],
  });
  assert.match(formatStatus(s), /checkpoint {2}5, 7 s ago, 1 cosignatures\nunsealed {4}1\nwitness {5}w1\.example at 5 \(lag 0\)\nwitness {5}w2\.example at 2 \(lag 3\)$/);
});
