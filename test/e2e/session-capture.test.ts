/**
 * Evidence from real calls: tool calls relayed by `mcp-attest proxy` join a receipt session
 * (`--session ID`, or per call `params._meta["dev.mcp-attest/session"]`). A session is started
 * in-process (SessionHome), calls go through real proxy processes over the official SDK
 * client to `server-everything` and to a fixture server with odd tool names, then the
 * session is sealed, exported and verified offline: each captured call is an action naming
 * its tool, whose attestation and receipt records travel in the receipt. Also: `--session`
 * with an unknown or sealed session is a usage error; a bad per-call session or one sealed
 * meanwhile never breaks the call; a receipt missing a captured call's record fails with
 * `ERR_SESSION_CALL_MISSING`. Every receipt path links: answered, errored, cancelled, and
 * unanswered when the client goes away; the request reaches the upstream with its `_meta`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SessionHome } from '../../src/store/session-export.js';
import { initHome, loadIdentity } from '../../src/store/identity.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { verifySessionReceipt, type SessionReceiptReport } from '../../src/verify/session-receipt.js';
import { ATTESTATION_RECORD, RECEIPT_RECORD, decodeRecord } from '../../src/records/record.js';
import type { SessionReceipt } from '../../src/bundle/session-receipt.js';
import { EVERYTHING, RECEIPT_KEY, ROOT, RawPeer, cli, connectProxied, initializeRequest, rawServer, readLog, scope, type Scope } from './helpers.js';

const SESSION_KEY = 'dev.mcp-attest/session';
const ODD_SERVER = join(ROOT, 'test/e2e/fixtures/odd-names-server.mjs');
const SLASH_TOOL = 'ns/slash-tool';
const LONG_TOOL = `long-${'x'.repeat(315)}`;

/** The receipt reference the proxy adds to a result. */
interface Ref { callId: string; attestationIndex: string; receiptIndex: string }

function refOf(r: { _meta?: unknown }): Ref {
  const ref = (r._meta as Record<string, Ref> | undefined)?.[RECEIPT_KEY];
  assert.ok(ref, 'receipt reference');
  return ref;
}

/** Initialize the scope's home and start a session (with `reported` agent-reported actions); returns its id. */
async function startSession(s: Scope, reported: string[]): Promise<string> {
  await initHome(s.home);
  const h = await SessionHome.open(s.home);
  try {
    const { sessionId } = h.sessions.start({ task: 'e2e: capture real calls', delegator: 'user:e2e' });
    for (const name of reported) h.sessions.action(sessionId, { name, summary: 'reported by the agent' });
    return sessionId;
  } finally {
    await h.close();
  }
}

/** Seal (unless sealed), export and verify the session in-process. */
async function sealAndVerify(home: string, sessionId: string): Promise<{ receipt: SessionReceipt; text: string; report: SessionReceiptReport }> {
  const h = await SessionHome.open(home);
  let out: { receipt: SessionReceipt; text: string };
  try {
    h.sessions.seal(sessionId);
    out = await h.exportReceipt(sessionId, { witness: false });
  } finally {
    await h.close();
  }
  return { ...out, report: await verifyText(home, out.text) };
}

function verifyText(home: string, text: string): Promise<SessionReceiptReport> {
  const policy = trustPolicyOf(loadIdentity(home));
  return verifySessionReceipt(text, policy, policyKeyResolver(policy));
}

/** The receipt's entries by index: record type and, for attestations, the tool. */
function entriesOf(receipt: SessionReceipt): Map<string, { type: string; tool: string | null }> {
  // Entry 0, the log's parameters entry, is no call record.
  return new Map(receipt.bundle.entries.filter((e) => e.index !== 0n).map((e) => {
    const r = decodeRecord(e.bytes) as { type: string; tool?: string };
    return [e.index.toString(), { type: r.type, tool: r.tool ?? null }];
  }));
}

/** Each captured call's attestation and receipt records are entries of the receipt. */
function assertCarried(receipt: SessionReceipt, calls: Array<{ tool: string; ref: Ref }>): void {
  const entries = entriesOf(receipt);
  for (const { tool, ref } of calls) {
    assert.deepEqual(entries.get(ref.attestationIndex), { type: ATTESTATION_RECORD, tool }, `${tool.slice(0, 20)}: attestation record`);
    assert.equal(entries.get(ref.receiptIndex)?.type, RECEIPT_RECORD, `${tool.slice(0, 20)}: receipt record`);
  }
}

test('calls through proxy --session and per-call _meta join the session; the receipt verifies', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const sessionId = await startSession(s, ['plan the work']);

  const a = await connectProxied(s, [EVERYTHING], ['--session', sessionId, '--checkpoint-ms', '200']);
  const echo = await a.client.callTool({ name: 'echo', arguments: { message: 'one' } });
  const sum = await a.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: one' }]);
  await a.client.close();

  // A second proxy without --session: the call names the session itself; bad ones warn only.
  const b = await connectProxied(s, [EVERYTHING]);
  const viaMeta = await b.client.callTool({ name: 'echo', arguments: { message: 'three' }, _meta: { [SESSION_KEY]: sessionId } });
  const plain = await b.client.callTool({ name: 'echo', arguments: { message: 'no session' } });
  const malformed = await b.client.callTool({ name: 'echo', arguments: { message: 'bad id' }, _meta: { [SESSION_KEY]: 'ses_nope' } });
  const unknown = await b.client.callTool({ name: 'echo', arguments: { message: 'unknown id' }, _meta: { [SESSION_KEY]: `ses_${'A'.repeat(22)}` } });
  for (const r of [viaMeta, plain, malformed, unknown]) refOf(r); // attested, forwarded and receipted as usual
  assert.deepEqual(unknown.content, [{ type: 'text', text: 'Echo: unknown id' }]);
  await b.client.close();
  const warnings = b.stderr().split('\n').filter((l) => l.includes('joins no session'));
  assert.equal(warnings.length, 2, b.stderr());
  assert.ok(warnings.every((l) => l.includes('ERR_SESSION_UNKNOWN')), b.stderr());

  const captured = [{ tool: 'echo', ref: refOf(echo) }, { tool: 'get-sum', ref: refOf(sum) }, { tool: 'echo', ref: refOf(viaMeta) }];
  const { receipt, text, report } = await sealAndVerify(s.home, sessionId);
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.dimensions.sealCompleteness, 'pass');
  assert.equal(report.dimensions.agentSignature, 'pass');
  assert.deepEqual(report.session!.actions.map((x) => [x.seq, x.name, x.call]), [[1, 'plan the work', null], [2, 'echo', 'echo'], [3, 'get-sum', 'get-sum'], [4, 'echo', 'echo']]);
  assertCarried(receipt, captured);
  // The calls that joined no session are not in the receipt.
  const carried = entriesOf(receipt);
  for (const r of [plain, malformed, unknown]) assert.equal(carried.has(refOf(r).attestationIndex), false);

  // A captured call's receipt record removed from the receipt: the action's call is missing.
  const json = JSON.parse(text) as { entries: Array<{ index: string }> };
  json.entries = json.entries.filter((e) => e.index !== refOf(sum).receiptIndex);
  const cut = await verifyText(s.home, JSON.stringify(json));
  assert.equal(cut.ok, false);
  assert.equal(cut.dimensions.sealCompleteness, 'fail');
  assert.ok(cut.findings.some((f) => f.code === 'ERR_SESSION_CALL_MISSING'), JSON.stringify(cut.findings));

  // A sealed session takes no more calls: --session naming it is a usage error.
  const sealed = cli(['proxy', '--home', s.home, '--session', sessionId, '--', process.execPath, EVERYTHING]);
  assert.equal(sealed.status, 2, sealed.stderr);
  assert.match(sealed.stderr, /ERR_SESSION_SEALED/);
});

test('tools named with a slash and with 320 characters are captured; a session sealed meanwhile only warns', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const sessionId = await startSession(s, []);
  const p = await connectProxied(s, [ODD_SERVER], ['--session', sessionId]);
  const listed = (await p.client.listTools()).tools.map((x) => x.name);
  assert.deepEqual(listed, [SLASH_TOOL, LONG_TOOL]);
  const slash = await p.client.callTool({ name: SLASH_TOOL, arguments: { message: 'a' } });
  const long = await p.client.callTool({ name: LONG_TOOL, arguments: { message: 'b' } });
  assert.deepEqual(slash.content, [{ type: 'text', text: 'ns/slash-tool: a' }]);

  // Sealed while the proxy runs: the next call still goes through, and joins nothing.
  const h = await SessionHome.open(s.home);
  h.sessions.seal(sessionId);
  await h.close();
  const after = await p.client.callTool({ name: SLASH_TOOL, arguments: { message: 'late' } });
  assert.deepEqual(after.content, [{ type: 'text', text: 'ns/slash-tool: late' }]);
  refOf(after);
  await p.client.close();
  assert.match(p.stderr(), /joins no session, --session "ses_[^"]+": ERR_SESSION_SEALED/);

  const { receipt, report } = await sealAndVerify(s.home, sessionId);
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.dimensions.sealCompleteness, 'pass');
  assert.deepEqual(report.session!.actions.map((x) => [x.name, x.call]), [[SLASH_TOOL, SLASH_TOOL], [LONG_TOOL, LONG_TOOL]]);
  assertCarried(receipt, [{ tool: SLASH_TOOL, ref: refOf(slash) }, { tool: LONG_TOOL, ref: refOf(long) }]);
  assert.equal(entriesOf(receipt).has(refOf(after).attestationIndex), false);
});

test('proxy --session with an unknown or malformed session id exits 2 naming the code; a malformed one before the upstream is spawned', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  await initHome(s.home);
  for (const id of [`ses_${'B'.repeat(22)}`, 'not-a-session']) {
    const r = cli(['proxy', '--home', s.home, '--session', id, '--', process.execPath, EVERYTHING]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--session .*ERR_SESSION_UNKNOWN/);
  }
  // An upstream that leaves a mark as soon as it runs: none is left for a malformed id.
  const mark = join(s.dir, 'spawned');
  const marking = cli(['proxy', '--home', s.home, '--session', 'ses_short', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(mark)}, ''); setInterval(() => {}, 1000)`]);
  assert.equal(marking.status, 2, marking.stderr);
  assert.match(marking.stderr, /--session "ses_short": ERR_SESSION_UNKNOWN/);
  assert.equal(existsSync(mark), false, 'the upstream was spawned');
  const server = cli(['proxy', '--home', s.home, '--role', 'server', '--policy', 'p.yaml', '--session', `ses_${'B'.repeat(22)}`, '--', process.execPath, EVERYTHING]);
  assert.equal(server.status, 2, server.stderr);
  assert.match(server.stderr, /--session is for --role client/);
});

test('errored, cancelled and unanswered calls join the session too; the session key reaches the upstream', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const sessionId = await startSession(s, []);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv, ['--session', sessionId]);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fail', arguments: {} } });
  assert.equal((JSON.parse(await peer.response(1)) as { error: { message: string } }).error.message, 'boom');
  const meta = { [SESSION_KEY]: sessionId, other: 1 };
  peer.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'meta', arguments: {}, _meta: meta } });
  const seen = JSON.parse(await peer.response(2)) as { result: { structuredContent: { seen: unknown } } };
  assert.deepEqual(seen.result.structuredContent.seen, meta, 'the relay leaves the session key in the request');
  peer.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'hang', arguments: {} } });
  peer.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'hang', arguments: {} } });
  peer.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } });
  // The client goes away with two calls unanswered: both are receipted at shutdown, and linked.
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0, peer.stderr);

  const receipts = readLog(s.home).entries.filter((e) => e['type'] === RECEIPT_RECORD).map((e) => (e['receipt'] as { outcomeDerived: { status: string; reason?: string } }).outcomeDerived);
  assert.deepEqual(receipts.map((o) => `${o.status}/${o.reason ?? '-'}`), ['errored/jsonrpc_error', 'executed/-', 'errored/cancelled', 'errored/client_disconnected']);
  const { report } = await sealAndVerify(s.home, sessionId);
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.dimensions.sealCompleteness, 'pass');
  assert.deepEqual(report.session!.actions.map((x) => x.call), ['fail', 'meta', 'hang', 'hang']);
});
