/**
 * `mcp-attest serve`: the receipt-session MCP server, spawned as a real process and driven
 * with the official SDK v1 client over stdio. The client lists the tools first, so it
 * validates every `structuredContent` (error results included) against the advertised
 * output schemas. Covers the tool list and annotations, a full record-seal-verify round
 * with the resources, a restart after SIGKILL mid-session, coded error results, declared
 * approvals and party-signed ones, and the final checkpoint on shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, ROOT, RawPeer, connect, initializeRequest, readLog, scope, waitFor, type Scope } from './helpers.js';
import { loadIdentity, loadIssuerSigner } from '../../src/store/identity.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import { policyKeyResolver, type TrustPolicy } from '../../src/verify/policy.js';
import { verifySessionReceipt } from '../../src/verify/session-receipt.js';
import { MAX_NAME_CHARS, SESSION_ID, policyDocDigest, type Target } from '../../src/receipt/session.js';
import { signStatementSync, type StatementBody } from '../../src/receipt/session-build.js';
import { partyFromPem, partySigner } from '../../src/store/party-key.js';
import { nowSeconds } from '../../src/envelope/time.js';

const POLICY = 'Refunds up to 100 EUR need no approval.\nLarger ones need approver:alice.\n';
const OTHER_POLICY = 'Refunds need no approval.\n';

/** Start `mcp-attest serve --home` with an SDK client that has listed the tools (so it validates structured output). */
async function serve(s: Scope) {
  const c = await connect(s, process.execPath, [CLI, 'serve', '--home', s.home]);
  const errors: Error[] = [];
  const previous = c.transport.onerror;
  c.transport.onerror = (e) => {
    errors.push(e);
    previous?.(e);
  };
  const { tools } = await c.client.listTools();
  return { ...c, tools, errors };
}

type Data = Record<string, unknown>;

async function call(client: Client, name: string, args: Data): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** Call a tool that must succeed; returns its structured content. */
async function ok(client: Client, name: string, args: Data): Promise<Data> {
  const r = await call(client, name, args);
  assert.ok(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Data;
}

/** Call a tool that must fail with `code`, as an error result: text `CODE: ...` and structured `{code, message}`. */
async function fails(client: Client, name: string, args: Data, code: string): Promise<void> {
  const r = await call(client, name, args);
  assert.equal(r.isError, true, `${name} should fail with ${code}`);
  const first = r.content[0];
  assert.ok(first?.type === 'text' && first.text.startsWith(`${code}: `), `${name}: ${JSON.stringify(r.content)}`);
  assert.equal((r.structuredContent as Data)['code'], code);
  assert.equal(typeof (r.structuredContent as Data)['message'], 'string');
}

async function readText(client: Client, uri: string): Promise<{ text: string; mimeType: string | undefined }> {
  const { contents } = await client.readResource({ uri });
  const c = contents[0] as { text: string; mimeType?: string };
  return { text: c.text, mimeType: c.mimeType };
}

const EXPECTED_TOOLS: Record<string, { readOnly: boolean; destructive: boolean; idempotent: boolean; required: string[] }> = {
  start_session: { readOnly: false, destructive: false, idempotent: false, required: ['task', 'delegator'] },
  record_action: { readOnly: false, destructive: false, idempotent: false, required: ['sessionId', 'name'] },
  record_approval: { readOnly: false, destructive: false, idempotent: false, required: ['sessionId'] },
  record_counterparty_confirmation: { readOnly: false, destructive: false, idempotent: false, required: ['sessionId'] },
  finalize_session: { readOnly: false, destructive: false, idempotent: true, required: ['sessionId'] },
  verify_session: { readOnly: true, destructive: false, idempotent: true, required: ['sessionId'] },
  attach_approval: { readOnly: false, destructive: false, idempotent: false, required: ['sessionId'] },
  attach_counterparty_confirmation: { readOnly: false, destructive: false, idempotent: false, required: ['sessionId'] },
};

test('tools/list: every session tool with its annotations, input and output schemas', async (t) => {
  const s = scope(t);
  const { tools } = await serve(s);
  assert.deepEqual(tools.map((x) => x.name), Object.keys(EXPECTED_TOOLS), 'all eight, in workflow order');
  for (const tool of tools) {
    const want = EXPECTED_TOOLS[tool.name]!;
    assert.ok(tool.title && tool.description && tool.description.length > 80, `${tool.name}: title and description`);
    assert.deepEqual(tool.annotations, { title: tool.title, readOnlyHint: want.readOnly, destructiveHint: want.destructive, idempotentHint: want.idempotent, openWorldHint: false }, tool.name);
    const input = tool.inputSchema as { type: string; properties: Record<string, { description?: string }>; required?: string[]; additionalProperties?: boolean };
    assert.equal(input.type, 'object');
    assert.deepEqual([...(input.required ?? [])].sort(), [...want.required].sort(), `${tool.name}: required inputs`);
    assert.equal(input.additionalProperties, false, `${tool.name}: unknown arguments are refused`);
    for (const [k, p] of Object.entries(input.properties)) assert.ok(p.description, `${tool.name}.${k} has a description`);
    const output = tool.outputSchema as { anyOf?: Array<{ required: string[] }> } | undefined;
    assert.ok(output?.anyOf?.some((a) => a.required.join() === 'code,message'), `${tool.name}: the output schema admits the error shape`);
  }
  const byName = new Map(tools.map((x) => [x.name, x]));
  assert.deepEqual(Object.keys((byName.get('record_approval')!.inputSchema as { properties: Data }).properties).sort(), ['approval', 'declared', 'sessionId']);
  assert.deepEqual(Object.keys((byName.get('attach_counterparty_confirmation')!.inputSchema as { properties: Data }).properties).sort(), ['attachment', 'declared', 'sessionId']);
  assert.deepEqual(Object.keys((byName.get('start_session')!.inputSchema as { properties: Data }).properties).sort(), ['delegator', 'policy', 'policyDigest', 'task']);
});

test('record-seal-verify: three actions, policy binding checked, resources readable and the receipt verifies in-process', async (t) => {
  const s = scope(t);
  const { client, received, errors } = await serve(s);
  const started = await call(client, 'start_session', { task: 'refund order 1234', delegator: 'user:carol', policy: POLICY });
  const start = started.structuredContent as Data;
  const id = start['sessionId'] as string;
  assert.match(id, SESSION_ID);
  assert.equal(start['policyDigest'], policyDocDigest(POLICY));
  const text = started.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
  assert.ok(text.includes(`mcp-attest proxy --session ${id}`) && text.includes('_meta["dev.mcp-attest/session"]'), text);

  const longName = `vendor.example/tools/${'a/b'.repeat(993)}`;
  assert.ok(longName.length >= 3000 && longName.length <= MAX_NAME_CHARS);
  const evidence = { order: 1234, amount: { value: 42.5, currency: 'EUR' }, lines: [1, 'two', null, true] };
  const a1 = await ok(client, 'record_action', { sessionId: id, name: 'payments/refund', summary: 'refunded 42.50 EUR' });
  const a2 = await ok(client, 'record_action', { sessionId: id, name: longName });
  const a3 = await ok(client, 'record_action', { sessionId: id, name: 'notify', evidence });
  assert.deepEqual([a1['seq'], a2['seq'], a3['seq']], [1, 2, 3]);

  const seal = await ok(client, 'finalize_session', { sessionId: id });
  assert.equal(seal['actionCount'], 3);
  assert.equal(seal['alreadySealed'], false);
  const again = await ok(client, 'finalize_session', { sessionId: id });
  assert.deepEqual({ ...again, alreadySealed: false }, seal, 'finalizing twice returns the same seal');
  assert.equal(again['alreadySealed'], true);

  const good = await ok(client, 'verify_session', { sessionId: id, policy: POLICY });
  assert.equal(good['ok'], true, JSON.stringify(good['findings']));
  assert.equal(good['level'], 'sealed');
  assert.equal(good['actionCount'], 3);
  const dims = good['dimensions'] as Data;
  for (const d of ['integrity', 'agentSignature', 'sealCompleteness', 'policyBinding']) assert.equal(dims[d], 'pass', d);
  const bad = await ok(client, 'verify_session', { sessionId: id, policy: OTHER_POLICY });
  assert.equal(bad['ok'], false);
  assert.equal((bad['dimensions'] as Data)['policyBinding'], 'fail');
  assert.ok((bad['findings'] as Array<{ code: string }>).some((f) => f.code === 'ERR_POLICY_DOC_MISMATCH'));

  const list = JSON.parse((await readText(client, 'mcp-attest://sessions')).text) as Data[];
  assert.deepEqual(list.map((x) => [x['sessionId'], x['task'], x['delegator'], x['actionCount'], x['sealed']]), [[id, 'refund order 1234', 'user:carol', 3, true]]);
  const state = JSON.parse((await readText(client, `mcp-attest://sessions/${id}`)).text) as { actions: Data[]; seal: Data; start: Data };
  assert.deepEqual(state.actions.map((x) => [x['seq'], x['name'], x['digest'], x['index']]), [
    [1, 'payments/refund', a1['actionDigest'], a1['index']], [2, longName, a2['actionDigest'], a2['index']], [3, 'notify', a3['actionDigest'], a3['index']],
  ]);
  assert.equal(state.seal['digest'], seal['sealDigest']);
  assert.equal(state.start['index'], start['index']);
  const receipt = await readText(client, `mcp-attest://sessions/${id}/receipt`);
  assert.equal(receipt.mimeType, 'application/json');
  const policy = trustPolicyOf(loadIdentity(s.home));
  const report = await verifySessionReceipt(receipt.text, policy, policyKeyResolver(policy), { policyDocDigest: policyDocDigest(POLICY) });
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.level, 'sealed');
  assert.equal(report.session?.actions.length, 3);

  const { resources } = await client.listResources();
  for (const uri of ['mcp-attest://sessions', `mcp-attest://sessions/${id}`, `mcp-attest://sessions/${id}/receipt`]) assert.ok(resources.some((r) => r.uri === uri), uri);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((r) => r.uriTemplate).sort(), ['mcp-attest://sessions/{sessionId}', 'mcp-attest://sessions/{sessionId}/receipt']);
  assert.deepEqual(errors, [], 'stdout carried only protocol messages');
  assert.ok(received.every((m) => m['jsonrpc'] === '2.0'));
});

test('restart mid-session: the server is SIGKILLed after one action, a new one continues the chain', async (t) => {
  const s = scope(t);
  const first = await serve(s);
  const id = (await ok(first.client, 'start_session', { task: 'migrate', delegator: 'user:dan' }))['sessionId'] as string;
  assert.equal((await ok(first.client, 'record_action', { sessionId: id, name: 'db/backup' }))['seq'], 1);
  const pid = first.transport.pid;
  assert.ok(pid !== null);
  let closed = false;
  first.client.onclose = () => (closed = true);
  process.kill(pid, 'SIGKILL');
  await waitFor('the killed server to be gone', () => closed);

  const second = await serve(s);
  const seqs = [];
  for (const name of ['db/migrate', 'db/verify']) seqs.push((await ok(second.client, 'record_action', { sessionId: id, name }))['seq']);
  assert.deepEqual(seqs, [2, 3]);
  assert.equal((await ok(second.client, 'finalize_session', { sessionId: id }))['actionCount'], 3);
  const v = await ok(second.client, 'verify_session', { sessionId: id });
  assert.equal(v['ok'], true, JSON.stringify(v['findings']));
  assert.equal(v['actionCount'], 3);
  assert.equal((v['dimensions'] as Data)['sealCompleteness'], 'pass');
});

test('errors are tool results with codes, and the server keeps answering', async (t) => {
  const s = scope(t);
  const { client } = await serve(s);
  const sealed = (await ok(client, 'start_session', { task: 't', delegator: 'user:e' }))['sessionId'] as string;
  await ok(client, 'record_action', { sessionId: sealed, name: 'x' });
  await ok(client, 'finalize_session', { sessionId: sealed });
  await fails(client, 'record_action', { sessionId: sealed, name: 'y' }, 'ERR_SESSION_SEALED');
  await fails(client, 'record_approval', { sessionId: sealed, declared: { party: 'approver:a', seq: 1 } }, 'ERR_SESSION_SEALED');

  const empty = (await ok(client, 'start_session', { task: 't', delegator: 'user:e' }))['sessionId'] as string;
  await fails(client, 'finalize_session', { sessionId: empty }, 'ERR_SESSION_EMPTY');
  for (const bad of ['ses_AAAAAAAAAAAAAAAAAAAAAA', '../../etc', 'ses_../../../../etc/pass', '']) {
    await fails(client, 'record_action', { sessionId: bad, name: 'x' }, 'ERR_SESSION_UNKNOWN');
    await fails(client, 'verify_session', { sessionId: bad }, 'ERR_SESSION_UNKNOWN');
  }
  await fails(client, 'attach_approval', { sessionId: empty, declared: { party: 'approver:a', seq: 1 } }, 'ERR_SESSION_UNSEALED');
  await fails(client, 'start_session', { task: 't', delegator: 'd', policy: 'p', policyDigest: policyDocDigest('p') }, 'ERR_USAGE');

  await fails(client, 'record_action', { sessionId: empty, name: `a/${'x'.repeat(MAX_NAME_CHARS)}` }, 'ERR_SESSION_MALFORMED');
  let deep: unknown = 'bottom';
  for (let i = 0; i < 200; i++) deep = [deep];
  await fails(client, 'record_action', { sessionId: empty, name: 'deep', evidence: deep }, 'ERR_JSON_TOO_DEEP');
  await fails(client, 'record_action', { sessionId: empty, name: 'big', evidence: { blob: 'x'.repeat(1024 * 1024 + 1) } }, 'ERR_JSON_TOO_LARGE');
  await fails(client, 'record_approval', { sessionId: empty, declared: { party: 'approver:a', seq: 7 } }, 'ERR_APPROVAL_TARGET');
  await fails(client, 'record_approval', { sessionId: empty }, 'ERR_USAGE');
  for (const uri of ['mcp-attest://sessions/..%2F..%2Fetc', 'mcp-attest://sessions/ses_AAAAAAAAAAAAAAAAAAAAAA/receipt']) {
    await assert.rejects(client.readResource({ uri }), (e: unknown) => e instanceof McpError && e.code === -32002, uri);
  }

  // Still answering, and nothing was recorded by the failed calls.
  assert.equal((await ok(client, 'record_action', { sessionId: empty, name: 'after' }))['seq'], 1);
  assert.equal((await client.listTools()).tools.length, 8);
});

test('declared approval and confirmations: recorded, and reported as declared, never as a pass', async (t) => {
  const s = scope(t);
  const { client } = await serve(s);
  const id = (await ok(client, 'start_session', { task: 'pay invoice', delegator: 'user:f' }))['sessionId'] as string;
  await ok(client, 'record_action', { sessionId: id, name: 'payments/prepare' });
  await ok(client, 'record_action', { sessionId: id, name: 'payments/send' });
  const approval = await ok(client, 'record_approval', { sessionId: id, declared: { party: 'approver:alice', seq: 2, note: 'ok by phone' } });
  assert.equal(approval['status'], 'declared');
  await ok(client, 'record_counterparty_confirmation', { sessionId: id, declared: { party: 'vendor:acme', seq: 2, decision: 'confirmed' } });
  await ok(client, 'finalize_session', { sessionId: id });
  await ok(client, 'attach_counterparty_confirmation', { sessionId: id, declared: { party: 'vendor:acme' } });

  const v = await ok(client, 'verify_session', { sessionId: id });
  const dims = v['dimensions'] as Data;
  assert.equal(dims['approvals'], 'declared');
  assert.equal(dims['counterparty'], 'declared');
  assert.equal(v['ok'], true, JSON.stringify(v['findings']));
  assert.equal(v['level'], 'sealed');
  const approvals = v['approvals'] as Data[];
  assert.deepEqual(approvals.map((p) => [p['party'], p['target'], p['status']]), [['approver:alice', 2, 'declared']]);
  assert.deepEqual((v['confirmations'] as Data[]).map((p) => [p['target'], p['status']]), [[2, 'declared'], ['seal', 'declared']]);
  const state = JSON.parse((await readText(client, `mcp-attest://sessions/${id}`)).text) as { approvals: Data[]; confirmations: Data[] };
  assert.equal(state.approvals[0]!['declared'], true);
  assert.equal(state.confirmations.length, 2);
});

test('party-signed approval and confirmation: logged once, verified under a given trust policy', async (t) => {
  const s = scope(t);
  const { client } = await serve(s);
  const id = (await ok(client, 'start_session', { task: 'refund', delegator: 'user:g' }))['sessionId'] as string;
  const action = await ok(client, 'record_action', { sessionId: id, name: 'payments/refund' });
  const alicePem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const bobPem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const sign = (pem: string, party: string, kind: 'approval' | 'confirmation', target: Target, decision: string) =>
    signStatementSync(partySigner(pem, party), id, nowSeconds(), { kind, party, declared: false, target, decision } as StatementBody, party);
  const approval = sign(alicePem, 'approver:alice', 'approval', { seq: 1, actionDigest: action['actionDigest'] as string }, 'approved');

  const first = await ok(client, 'record_approval', { sessionId: id, approval });
  assert.deepEqual([first['status'], first['already']], ['signed', false]);
  const twice = await ok(client, 'record_approval', { sessionId: id, approval });
  assert.deepEqual([twice['index'], twice['already']], [first['index'], true]);
  const agent = loadIssuerSigner(s.home, loadIdentity(s.home));
  const selfSigned = signStatementSync(agent, id, nowSeconds(), { kind: 'approval', party: 'approver:me', declared: false, target: { seq: 1, actionDigest: action['actionDigest'] }, decision: 'approved' } as StatementBody, 'approver:me');
  await fails(client, 'record_approval', { sessionId: id, approval: selfSigned }, 'ERR_APPROVER_IS_AGENT');

  const seal = await ok(client, 'finalize_session', { sessionId: id });
  const confirmation = sign(bobPem, 'vendor:bob', 'confirmation', { sealDigest: seal['sealDigest'] as string }, 'confirmed');
  await fails(client, 'attach_approval', { sessionId: id, attachment: confirmation }, 'ERR_USAGE');
  assert.equal((await ok(client, 'attach_counterparty_confirmation', { sessionId: id, attachment: confirmation }))['status'], 'signed');

  const trust: TrustPolicy = {
    version: 1, issuers: [], logs: [], witnesses: [], quorum: 0, acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30,
    parties: [partyFromPem(alicePem, 'approver:alice', ['approver']), partyFromPem(bobPem, 'vendor:bob', ['counterparty'])],
  };
  const v = await ok(client, 'verify_session', { sessionId: id, trustPolicy: JSON.stringify(trust) });
  assert.equal(v['ok'], true, JSON.stringify(v['findings']));
  assert.deepEqual([(v['dimensions'] as Data)['approvals'], (v['dimensions'] as Data)['counterparty']], ['pass', 'pass']);
  const untrusted = await ok(client, 'verify_session', { sessionId: id });
  assert.notEqual((untrusted['dimensions'] as Data)['approvals'], 'pass', 'without the party keys the approval does not count');
  await fails(client, 'verify_session', { sessionId: id, trustPolicy: '{"version":2}' }, 'ERR_POLICY_INVALID');
});

test('shutdown: end of input and SIGTERM both exit 0 after a final checkpoint covering every entry', async (t) => {
  const s = scope(t);
  for (const how of ['stdin', 'SIGTERM'] as const) {
    const home = join(s.dir, how);
    const peer = new RawPeer(spawn(process.execPath, [CLI, 'serve', '--home', home], { cwd: ROOT, stdio: 'pipe' }));
    s.defer(async () => {
      if (peer.proc.exitCode === null && peer.proc.signalCode === null) peer.proc.kill('SIGKILL');
      await peer.exited;
    });
    peer.send(initializeRequest(0));
    await peer.response(0);
    peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'start_session', arguments: { task: 't', delegator: 'user:h' } } });
    const id = (JSON.parse(await peer.response(1)) as { result: { structuredContent: { sessionId: string } } }).result.structuredContent.sessionId;
    peer.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'record_action', arguments: { sessionId: id, name: 'x' } } });
    await peer.response(2);
    if (how === 'stdin') peer.proc.stdin.end();
    else peer.proc.kill('SIGTERM');
    assert.equal(await peer.exited, 0, peer.stderr);
    const log = readLog(home);
    assert.equal(log.records, 2);
    assert.equal(log.checkpoints.at(-1)?.size, 3, `${how}: the last checkpoint covers both records (and the parameters entry)`);
    assert.ok(peer.lines.every((l) => (JSON.parse(l) as { jsonrpc?: string }).jsonrpc === '2.0'), 'stdout carried only protocol messages');
  }
});
