/**
 * What `verify` tells a counterparty about the calls of a bundle (src/cli/verify-calls.ts):
 * each call's tool and outcome, and, with `--require-receipts`, a call whose receipt was
 * left out fails rather than being a notice. Real proxy, real server-everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVERYTHING, cli, connectProxied, exportTrust, logShow, scope } from './helpers.js';

test('a bundle\'s calls are listed with tool and outcome; a receipt left out is a notice, and with --require-receipts a failure', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { client } = await connectProxied(s, [EVERYTHING]);
  await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
  await client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
  await client.close();
  const [echo, missing] = logShow(s.home);
  assert.ok(echo && missing);
  const trust = exportTrust(s.home);
  const both = join(s.dir, 'both.bundle.json');
  assert.equal(cli(['bundle', '--home', s.home, '--call', echo.call_id, '--call', missing.call_id, '--out', both]).status, 0);
  const text = cli(['verify', both, '--trust', trust]);
  assert.equal(text.status, 0, text.stdout);
  assert.match(text.stdout, new RegExp(`\\n  call ${echo.call_id}  echo  executed  \\S+ -> \\S+\\n`));
  assert.match(text.stdout, new RegExp(`\\n  call ${missing.call_id}  no-such-tool  ${missing.status}`));
  const json = JSON.parse(cli(['verify', both, '--trust', trust, '--json']).stdout) as { callList: Array<{ call_id: string; tool: string; status: string }> };
  assert.deepEqual(json.callList.map((c) => [c.call_id, c.tool, c.status]), [[echo.call_id, 'echo', 'executed'], [missing.call_id, 'no-such-tool', missing.status]]);

  // One call's bundle (a proof per entry) without its receipt still verifies: the operator chose what to hand over.
  const one = join(s.dir, 'one.bundle.json');
  assert.equal(cli(['bundle', '--home', s.home, '--call', missing.call_id, '--out', one]).status, 0);
  const bundle = JSON.parse(readFileSync(one, 'utf8')) as { entries: Array<{ index: string }> };
  bundle.entries = bundle.entries.filter((e) => e.index !== String(missing.receipt_idx));
  const cut = join(s.dir, 'cut.bundle.json');
  writeFileSync(cut, JSON.stringify(bundle));
  const lax = cli(['verify', cut, '--trust', trust]);
  assert.equal(lax.status, 0, lax.stdout);
  assert.match(lax.stdout, /note  NOTE_IN_FLIGHT .* has no receipt in this bundle/);
  assert.match(lax.stdout, new RegExp(`\\n  call ${missing.call_id}  no-such-tool  no receipt in this bundle`));
  const strict = cli(['verify', cut, '--trust', trust, '--require-receipts']);
  assert.equal(strict.status, 1, strict.stdout);
  assert.match(strict.stdout, /^FAILED  bundle /);
  assert.match(strict.stdout, new RegExp(`FAIL  ERR_RECEIPT_MISSING \\[entry ${missing.attestation_idx}\\] .*has no receipt in this bundle \\(--require-receipts\\)`));
  assert.equal(cli(['verify', one, '--trust', trust, '--require-receipts']).status, 0, 'the whole bundle passes the strict check');
});
