/**
 * The verify page's sentences on what a code means (src/page/explain.ts): a fork is told as a
 * fork, never as a badly signed checkpoint; a bundle's missing receipt may have been left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explain } from '../../src/page/explain.js';

test('a fork, a rollback and a missing consistency proof each have their own sentence, not the generic checkpoint or log one', () => {
  const generic = [explain('ERR_CHECKPOINT_SOMETHING'), explain('ERR_LOG_SOMETHING')];
  for (const code of ['ERR_CHECKPOINT_INCONSISTENT', 'ERR_LOG_ROLLBACK', 'ERR_CONSISTENCY_MISSING']) assert.ok(!generic.includes(explain(code)), code);
  assert.match(explain('ERR_CHECKPOINT_INCONSISTENT'), /two different histories.*fork.*Keep both files/);
  assert.match(explain('NOTE_IN_FLIGHT'), /left out/);
  assert.match(explain('NOTE_UNWITNESSED'), /operator alone vouches/);
});
