/**
 * Listing receipt sessions (store/sessions.ts `list`, what `serve`'s resources and
 * completions read): a principal's own sessions are found by the database, the latest up to
 * a limit, by id prefix; another principal's, however many, are never read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { SessionHome } from '../../src/store/session-export.js';
import { SessionOwners } from '../../src/store/session-owners.js';
import { tempDir } from './log-helper.js';

test('sessions are listed by owner, latest first cut to the limit, oldest first in order; by id prefix', async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'normal' });
  t.after(() => h.close());
  const owners = new SessionOwners(h.recorder.db.db);
  const start = (who: string | null, task: string) => h.sessions.start({ task, delegator: 'd' }, who === null ? undefined : (id) => owners.of(who).claim(id)).sessionId;
  const alice = [start('alice', 'a1'), start('alice', 'a2'), start('alice', 'a3')];
  for (let i = 0; i < 20; i++) start('bob', `b${i}`);
  start(null, 'nobody\'s');
  const store = h.sessions;
  assert.deepEqual(store.list({ owner: 'alice' }).map((r) => r.session_id), alice);
  assert.deepEqual(store.list({ owner: 'alice', limit: 2 }).map((r) => r.task), ['a2', 'a3'], 'the latest, oldest first');
  assert.equal(store.list({ owner: 'bob' }).length, 20);
  assert.equal(store.list().length, 24);
  assert.deepEqual(store.list({ owner: 'alice', prefix: alice[1]!.slice(0, 12) }).map((r) => r.session_id).includes(alice[1]!), true);
  assert.deepEqual(store.list({ owner: 'alice', prefix: alice[1]! }).map((r) => r.session_id), [alice[1]]);
  assert.deepEqual(store.list({ owner: 'carol' }), []);
});
