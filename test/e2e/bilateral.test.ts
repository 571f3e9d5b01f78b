/**
 * Both proxies together, real processes: SDK client -> client proxy -> gatekeeper -> a real
 * npm MCP server. Allowed calls return what the server returns; each call carries two
 * independent signatures (the agent's attestation, the gatekeeper's response receipt) and
 * both logs verify. Plus: capability negotiation, a tool definition that changes between
 * two `tools/list` calls, policy reload on SIGHUP, and startup errors for a bad policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { EVERYTHING, ROOT, RawPeer, cli, codes, connectDirect, connectProxied, exportTrust, initializeRequest, logShow, rawServer, scope, stripReceipt, verify, waitCheckpointed, waitFor } from './helpers.js';
import { agentKey, assertEchoed, assertRefused, attest, callWith, connectGated, gatekeeperArgs, serverHome, writePolicy } from './gate-helpers.js';

const RESPONSE_KEY = 'dev.mcp-attest/response-receipt';
const CHANGING = join(ROOT, 'test/fixtures/changing-tools-server.mjs');

/** Homes, trust files and a policy trusting the client home's issuer (no fixed fingerprint). */
function chain(s: ReturnType<typeof scope>, extra: Record<string, unknown> = {}) {
  for (const h of [s.home, serverHome(s)]) assert.equal(cli(['init', '--home', h]).status, 0);
  const clientTrust = exportTrust(s.home, join(s.dir, 'client-trust.json'));
  const serverTrust = exportTrust(serverHome(s), join(s.dir, 'server-trust.json'));
  const policy = join(s.dir, 'policy.yaml');
  writeFileSync(policy, `version: 1\ntrustFiles: [client-trust.json]\n${Object.entries(extra).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
  return { clientTrust, serverTrust, policy };
}

test('client proxy -> gatekeeper -> server-everything: same results as direct, two signatures per call, both logs verify', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { clientTrust, serverTrust, policy } = chain(s);
  const gated = await connectProxied(s, gatekeeperArgs(s, policy), ['--trust', serverTrust, '--response-receipts', 'require']);
  const direct = await connectDirect(s);
  // The gatekeeper advertises the extension, with its key-derived fingerprint.
  const ext = (gated.client.getServerCapabilities() as { extensions?: Record<string, { required: boolean; serverFingerprint: string }> }).extensions?.['attestation/tool-call'];
  assert.equal(ext?.required, true);
  assert.match(ext?.serverFingerprint ?? '', /^sha256:[0-9a-f]{64}$/);

  for (const [name, args] of [['echo', { message: 'two signatures' }], ['get-sum', { a: 40, b: 2 }]] as const) {
    const g = (await gated.client.callTool({ name, arguments: args })) as CallToolResult;
    const d = (await direct.client.callTool({ name, arguments: args })) as CallToolResult;
    const { [RESPONSE_KEY]: receipt, ...restMeta } = (g._meta ?? {}) as Record<string, unknown>;
    assert.equal((receipt as { version?: number } | undefined)?.version, 1, 'the gatekeeper signed a response receipt');
    assert.deepEqual(stripReceipt({ ...g, _meta: restMeta }), d);
  }
  await gated.client.close();
  const both = join(s.dir, 'both.json');
  const merged = cli(['trust', 'merge', clientTrust, serverTrust]);
  writeFileSync(both, merged.stdout);
  await waitCheckpointed(s.home);
  await waitCheckpointed(serverHome(s));
  for (const home of [s.home, serverHome(s)]) {
    const { status, report } = verify(home, both);
    assert.equal(status, 0, JSON.stringify(report.findings));
    assert.equal(report.calls, 2);
  }
  // The client's log holds the gatekeeper's receipts as it verified them.
  const { entries } = await waitCheckpointed(s.home);
  const responses = entries.filter((e) => e['type'] === 'mcp-attest/response-receipt@1');
  assert.equal(responses.length, 2);
  assert.ok(responses.every((r) => r['code'] === null));
  // Without the gatekeeper's key, the client log still verifies, and says what it could not re-check.
  const alone = verify(s.home, clientTrust);
  assert.equal(alone.status, 0);
  assert.equal(codes(alone.report, 'notice').filter((c) => c === 'NOTE_RESPONSE_RECEIPT').length, 2);
});

test('a response receipt that does not verify is withheld under --response-receipts require, passed with a warning under warn', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { clientTrust, policy } = chain(s);
  // The client trusts itself only, not the gatekeeper: its receipts cannot verify.
  const strict = await connectProxied(s, gatekeeperArgs(s, policy), ['--trust', clientTrust, '--response-receipts', 'require']);
  await assert.rejects(strict.client.callTool({ name: 'echo', arguments: { message: 'x' } }), /response withheld/);
  await strict.client.close();
  const lenient = await connectProxied(s, gatekeeperArgs(s, policy), ['--trust', clientTrust]);
  const r = (await lenient.client.callTool({ name: 'echo', arguments: { message: 'y' } })) as CallToolResult;
  assert.deepEqual(r.content, [{ type: 'text', text: 'Echo: y' }]);
  assert.match(lenient.stderr(), /warning: the response receipt did not verify/);
  await lenient.client.close();
  const { entries } = await waitCheckpointed(s.home);
  assert.deepEqual(entries.filter((e) => e['type'] === 'mcp-attest/response-receipt@1').map((e) => e['code']), ['ERR_KEY_UNAVAILABLE', 'ERR_KEY_UNAVAILABLE']);
  // The withheld response was still recorded: both calls have receipts, the log verifies.
  const { status, report } = verify(s.home, clientTrust);
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.receipts, report.inFlight], [2, 0]);
});

test('capability negotiation: the client proxy attaches attestations only when the upstream asks, or with --attach always', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const { client } = await connectProxied(s, raw.argv);
  await client.callTool({ name: 'meta', arguments: {} });
  const line = raw.received().find((l) => l.includes('"tools/call"'))!;
  assert.equal((JSON.parse(line) as { params: { _meta?: Record<string, unknown> } }).params._meta?.['attestation'], undefined);
  // Still attested and logged: the record is the proxy's job whatever goes on the wire.
  const { entries } = await waitCheckpointed(s.home);
  assert.equal(entries.filter((e) => e['type'] === 'mcp-attest/attestation@1').length, 1);
});

test('a tool whose definition changes between two tools/list calls is pinned, reported, refused, and shown by tools diff', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const { client, stderr } = await connectGated(s, policy, [CHANGING]);
  const before = await client.listTools();
  const transfer = { amount: 10, to: 'acct-1' };
  const ok = await callWith(client, 'transfer', transfer, await attest(agent.signer, 'transfer', transfer));
  assert.notEqual(ok.isError, true);
  await callWith(client, 'mutate', {}, await attest(agent.signer, 'mutate', {}));
  const after = await client.listTools();
  assert.notDeepEqual(after.tools.find((x) => x.name === 'transfer'), before.tools.find((x) => x.name === 'transfer'));
  await waitFor('change reported', () => /tool transfer changed since it was pinned/.test(stderr()));
  assertRefused(await callWith(client, 'transfer', transfer, await attest(agent.signer, 'transfer', transfer)), 'tool_mismatch', 'ERR_TOOL_CHANGED');
  assert.notEqual((await callWith(client, 'echo', { message: 'e' }, await attest(agent.signer, 'echo', { message: 'e' }))).isError, true);
  const diff = cli(['tools', 'diff', '--home', serverHome(s)]);
  assert.equal(diff.status, 1, diff.stderr);
  assert.match(diff.stdout, /transfer/);
  assert.match(diff.stdout, /\/description/);
  assert.match(diff.stdout, /attacker@example\.com/);
  // --tool names one pinned tool; a name nothing pinned is a usage error, not "no changes".
  assert.equal(cli(['tools', 'diff', '--home', serverHome(s), '--tool', 'transfer']).status, 1);
  const nosuch = cli(['tools', 'diff', '--home', serverHome(s), '--tool', 'transfr']);
  assert.equal(nosuch.status, 2);
  assert.match(nosuch.stderr, /no tool transfr is pinned/);
  // The operator accepts the new definition: calls go through again.
  assert.equal(cli(['tools', 'accept', 'transfer', '--home', serverHome(s)]).status, 0);
  assert.notEqual((await callWith(client, 'transfer', transfer, await attest(agent.signer, 'transfer', transfer))).isError, true);
  assert.equal(cli(['tools', 'diff', '--home', serverHome(s)]).status, 0);
  // tools list: a column per field, each as wide as its longest value (server pin keys are long).
  const list = cli(['tools', 'list', '--home', serverHome(s)]);
  assert.equal(list.status, 0, list.stderr);
  const [head, ...lines] = list.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.split(/ +/)[1]).sort(), ['echo', 'mutate', 'transfer']);
  for (const col of ['TOOL', 'STATUS', 'DIGEST']) {
    const at = head!.indexOf(col);
    for (const l of lines) assert.ok(l[at - 1] === ' ' && l[at] !== ' ', `${col} at ${at} in\n${list.stdout}`);
  }
});

test('the client proxy hides a changed tool from tools/list under --tool-changes hide', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const { client } = await connectProxied(s, [CHANGING], ['--tool-changes', 'hide']);
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), ['echo', 'mutate', 'transfer']);
  await client.callTool({ name: 'mutate', arguments: {} });
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), ['echo', 'mutate']);
  await assert.rejects(client.callTool({ name: 'transfer', arguments: { amount: 1, to: 'x' } }), /changed since it was pinned/);
});

test('SIGHUP reloads the policy between calls; a bad policy is a startup error naming every problem', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const agent = await agentKey();
  const policy = writePolicy(s, [agent.issuer]);
  const { client, transport, stderr } = await connectGated(s, policy);
  const msg = { message: 'before' };
  assertEchoed(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'before');
  writePolicy(s, [agent.issuer], { tools: { echo: { deny: true } } });
  process.kill(transport.pid!, 'SIGHUP');
  await waitFor('reload', () => /policy reloaded/.test(stderr()));
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'tool_mismatch', 'ERR_TOOL_DENIED');
  // A broken file on reload keeps the policy in force.
  writeFileSync(policy, '{"version": 1, "tools": ');
  process.kill(transport.pid!, 'SIGHUP');
  await waitFor('rejected reload', () => /policy not reloaded/.test(stderr()));
  assertRefused(await callWith(client, 'echo', msg, await attest(agent.signer, 'echo', msg)), 'tool_mismatch', 'ERR_TOOL_DENIED');

  const bad = join(s.dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nmaxTtlSeconds: -5\nissuers:\n  - {iss: x, alg: HS512, keyId: k}\ntools:\n  t: {requireCapability: false}\n');
  const r = cli(['proxy', '--role', 'server', '--policy', bad, '--home', serverHome(s), '--', process.execPath, EVERYTHING]);
  assert.equal(r.status, 2, r.stderr);
  for (const path of ['.maxTtlSeconds', '.issuers[0].alg', '.tools["t"].requireCapability']) assert.ok(r.stderr.includes(path), `${path} in ${r.stderr}`);
});

test('a task through both proxies: the task handle and the task\'s result are receipted on each side, the result naming the handle\'s receipt; both logs verify', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const { clientTrust, serverTrust, policy } = chain(s);
  const peer = RawPeer.proxy(s, gatekeeperArgs(s, policy), ['--trust', serverTrust, '--response-receipts', 'require']);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'simulate-research-query', arguments: { topic: 'receipts' }, task: { ttl: 60_000 } } });
  const handle = (JSON.parse(await peer.response(1)) as { result: { task: { taskId: string } } }).result;
  peer.send({ jsonrpc: '2.0', id: 2, method: 'tasks/result', params: { taskId: handle.task.taskId } });
  const result = (JSON.parse(await peer.response(2, 30_000)) as { result: CallToolResult }).result;
  assert.match(JSON.stringify(result.content), /Research/);
  assert.equal((result._meta?.[RESPONSE_KEY] as { outcomeDerived?: { taskReceiptDigest?: string } } | undefined)?.outcomeDerived?.taskReceiptDigest?.slice(0, 7), 'sha256:', 'the gatekeeper\'s receipt is the task\'s result');
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0, peer.stderr);
  const both = join(s.dir, 'both.json');
  writeFileSync(both, cli(['trust', 'merge', clientTrust, serverTrust]).stdout);
  for (const home of [s.home, serverHome(s)]) {
    await waitCheckpointed(home);
    const rows = logShow(home);
    assert.deepEqual(rows.map((r) => [r.status, r.task_result_idx !== null]), [['executed', true]], home);
    const { status, report } = verify(home, both);
    assert.equal(status, 0, JSON.stringify(report.findings));
  }
});
