/**
 * Faults around the proxy: the upstream dies mid-call, the client goes away mid-call, two
 * proxies append to one home at once, the proxy is killed with SIGKILL. In every case the
 * log must stay verifiable and hold everything that was acknowledged, and a call that got
 * no answer must be recorded as unanswered (or stay visibly in flight), never as executed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  EVERYTHING, RECEIPT_KEY, RawPeer, cli, codes, connectProxied, exportTrust, initializeRequest, logShow, rawServer, readLog,
  scope, verify, waitCheckpointed, waitFor,
} from './helpers.js';

import { receiptDigest } from '../../src/receipt/build.js';

type Ref = { callId: string; attestationIndex: string; receiptIndex: string };
const refOf = (r: unknown): Ref => ((r as CallToolResult)._meta as Record<string, Ref>)[RECEIPT_KEY]!;

test('upstream crashes mid-call: the client is answered that no answer came and why, then sees the close; the call is receipted upstream_exited', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const { client } = await connectProxied(s, raw.argv);
  let closed = false;
  client.onclose = () => (closed = true);
  await client.callTool({ name: 'meta', arguments: {} });
  await assert.rejects(client.callTool({ name: 'crash', arguments: {} }), (e: Error & { code?: number; data?: unknown }) => {
    assert.equal(e.code, -32005);
    assert.deepEqual(e.data, { code: 'ERR_UPSTREAM', reason: 'upstream_exited' });
    return true;
  });
  await waitFor('the close', () => closed);

  await waitCheckpointed(s.home, 4);
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['meta', 'executed', null], ['crash', 'errored', 'upstream_exited']]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.size, report.checkpointSize, report.calls, report.receipts, report.unanswered, report.inFlight], ['5', '5', 2, 2, 1, 0]);
  assert.deepEqual(report.findings.map((f) => [f.code, f.index]), [['NOTE_UNANSWERED', '4'], ['NOTE_UNWITNESSED', undefined]]);
});

test('the proxy exits as its upstream did: its exit code, or 128 + the signal that ended it (as a shell reports)', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  for (const [tool, code] of [['crash', 1], ['killed', 137]] as const) {
    const peer = RawPeer.proxy(s, raw.argv);
    peer.send(initializeRequest(0));
    await peer.response(0);
    peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {} } });
    assert.equal(await peer.exited, code, `${tool}: ${peer.stderr}`);
  }
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['crash', 'errored', 'upstream_exited'], ['killed', 'errored', 'upstream_exited']]);
});

test('a SIGTERM with a call pending: the call is receipted shutdown and answered -32005 before the proxy exits', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', id: 'h', method: 'tools/call', params: { name: 'hang', arguments: {} } });
  await waitFor('the hang call upstream', () => raw.received().some((l) => l.includes('"hang"')));
  peer.proc.kill('SIGTERM');
  assert.equal(await peer.exited, 0, peer.stderr);
  assert.deepEqual(JSON.parse(await peer.response('h')), { jsonrpc: '2.0', id: 'h', error: { code: -32005, message: 'mcp-attest: no answer came before the relay ended (shutdown)', data: { code: 'ERR_UPSTREAM', reason: 'shutdown' } } });
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['hang', 'errored', 'shutdown']]);
});

test('upstream answers and exits at once: everything it wrote is relayed, the call is receipted executed', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const NOTES = 200;
  const peer = RawPeer.proxy(s, raw.argv);
  peer.send(initializeRequest(0));
  await peer.response(0);
  // ~200 KB written before the answer: more than a pipe holds when the upstream's exit is seen.
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'last', arguments: { notes: NOTES } } });
  assert.equal(await peer.exited, 0, peer.stderr);
  const got = peer.lines.map((l) => JSON.parse(l) as { id?: number; method?: string; result?: CallToolResult });
  assert.equal(got.filter((m) => m.method === 'notifications/message').length, NOTES);
  assert.equal(got.find((m) => m.id === 1)?.result?.content[0]?.type, 'text');
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['last', 'executed', null]]);
});

test('output written after the upstream exited (by a process it left holding the pipe) is still relayed; a request meanwhile is answered, not forwarded', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const note = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'after the exit' } };
  const late = join(s.dir, 'late.cjs');
  // Holds the pipe 300 ms longer after writing, for the request below.
  writeFileSync(late, `setTimeout(() => process.stdout.write(${JSON.stringify(JSON.stringify(note) + '\n')}), 200); setTimeout(() => {}, 500);`);
  // The upstream starts a process that inherits its stdout, and exits at once.
  const wrapper = join(s.dir, 'wrapper.cjs');
  writeFileSync(wrapper, `require('node:child_process').spawn(process.execPath, [${JSON.stringify(late)}], { stdio: ['ignore', 'inherit', 'inherit'] }).unref();`);
  const peer = RawPeer.proxy(s, [wrapper]);
  await peer.line('the late notification', (m) => m['method'] === 'notifications/message');
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'meta', arguments: {} } });
  const answer = JSON.parse(await peer.response(1)) as { error?: { code: number; message: string } };
  assert.equal(answer.error?.code, -32005);
  assert.match(answer.error.message, /upstream exited/);
  assert.equal(await peer.exited, 0, peer.stderr);
  assert.deepEqual(peer.lines.map((l) => JSON.parse(l) as unknown)[0], note);
  assert.deepEqual(logShow(s.home), [], 'the call was not recorded');
});

test('client disconnects while a call is pending: the call is receipted client_disconnected, and answered so while the client still reads', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const { client } = await connectProxied(s, raw.argv);
  await client.callTool({ name: 'meta', arguments: {} });
  const pending = client.callTool({ name: 'hang', arguments: {} });
  const outcome = pending.then(() => 'answered', (e: Error) => e.message);
  await waitFor('the hang call upstream', () => raw.received().some((l) => l.includes('"hang"')));
  await client.close();
  // The client closed its end but still reads until the proxy exits: it is told why no answer came.
  assert.match(await outcome, /-32005: mcp-attest: no answer came before the relay ended \(client_disconnected\)/);

  await waitCheckpointed(s.home, 4);
  assert.deepEqual(logShow(s.home).map((r) => [r.tool, r.status, r.reason]), [['meta', 'executed', null], ['hang', 'errored', 'client_disconnected']]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.calls, report.receipts, report.unanswered, report.inFlight], [2, 2, 1, 0]);
  assert.deepEqual(codes(report, 'notice'), ['NOTE_UNANSWERED', 'NOTE_UNWITNESSED']);
});

test('two proxies append to one home at once: nothing lost, the log verifies', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const CALLS = 30;
  // Initialized first: this test is about concurrent appends (concurrent first runs are
  // test/unit/init-home.test.ts's).
  assert.equal(cli(['init', '--home', s.home]).status, 0);
  const clients = await Promise.all([connectProxied(s, [EVERYTHING]), connectProxied(s, [EVERYTHING])]);
  const refs = await Promise.all(clients.map(async ({ client }, c) => {
    const out: Ref[] = [];
    for (let i = 0; i < CALLS; i++) out.push(refOf(await client.callTool({ name: 'echo', arguments: { message: `client ${c} call ${i}` } })));
    return out;
  }));
  await Promise.all(clients.map(({ client }) => client.close()));

  const { entries } = await waitCheckpointed(s.home, 2 * CALLS * 2);
  const all = refs.flat();
  assert.equal(new Set(all.map((r) => r.callId)).size, 2 * CALLS);
  const indices = all.flatMap((r) => [Number(r.attestationIndex), Number(r.receiptIndex)]).sort((a, b) => a - b);
  assert.deepEqual(indices, [...Array(2 * CALLS * 2).keys()].map((i) => i + 1), 'every acknowledged entry sits at its own index (after the parameters entry)');
  for (const r of all) {
    assert.equal(entries[Number(r.attestationIndex)]!['callId'], r.callId);
    assert.equal(entries[Number(r.receiptIndex)]!['callId'], r.callId);
    assert.equal(entries[Number(r.receiptIndex)]!['attestationIndex'], r.attestationIndex);
  }
  entries.forEach((e, i) => assert.equal(e['index'], String(i)));
  const first = refs[0]!.map((r) => Number(r.attestationIndex));
  assert.notEqual(first[first.length - 1]! - first[0]!, 2 * (CALLS - 1), 'the two sessions interleaved their appends');

  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.size, report.checkpointSize, report.calls, report.receipts, report.unanswered, report.inFlight],
    [String(4 * CALLS + 1), String(4 * CALLS + 1), 2 * CALLS, 2 * CALLS, 0, 0]);
  assert.deepEqual(report.findings.map((f) => f.code), ['NOTE_UNWITNESSED'], 'nothing but that no witness vouches (a trust export without witnesses)');
});

test('proxy killed with SIGKILL: what was acknowledged is in the log, it verifies, a new session continues it', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const raw = rawServer(s);
  const peer = RawPeer.proxy(s, raw.argv, ['--checkpoint-ms', '2000']);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const acked: Ref[] = [];
  for (let id = 1; id <= 3; id++) {
    peer.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'meta', arguments: { n: id } } });
    acked.push(refOf((JSON.parse(await peer.response(id)) as { result: unknown }).result));
  }
  await waitCheckpointed(s.home, 6);
  // A fourth call is attested (durably, before it is forwarded) but never answered; the
  // kill comes well inside the 2 s checkpoint window, so no checkpoint covers it.
  peer.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'hang', arguments: {} } });
  await waitFor('the hang call upstream', () => raw.received().some((l) => l.includes('"hang"')));
  peer.proc.kill('SIGKILL');
  assert.equal(await peer.exited, null);
  await waitFor('the upstream to exit', () => raw.pid() !== null && !isAlive(raw.pid()!));

  const { entries } = readLog(s.home);
  assert.equal(entries.length, 8, 'the parameters entry and 7 records');
  for (const r of acked) assert.equal(entries[Number(r.receiptIndex)]!['callId'], r.callId);
  assert.equal(entries[7]!['tool'], 'hang');
  const trust = exportTrust(s.home);
  // Entry 7 was appended after the last checkpoint: nothing seals it yet, so verify fails
  // with that one error (the entries themselves verify) until the operator seals the log.
  const after = verify(s.home, trust);
  assert.equal(after.status, 1, JSON.stringify(after.report.findings));
  assert.deepEqual([after.report.size, after.report.checkpointSize, after.report.calls, after.report.receipts, after.report.inFlight], ['8', '7', 4, 3, 1]);
  assert.deepEqual(after.report.findings.map((f) => [f.severity, f.code, f.index]), [['notice', 'NOTE_IN_FLIGHT', '7'], ['error', 'ERR_LOG_UNCHECKPOINTED', undefined], ['notice', 'NOTE_UNWITNESSED', undefined]]);
  assert.deepEqual(logShow(s.home).map((r) => r.status), ['executed', 'executed', 'executed', null]);
  const copy = join(s.dir, 'sealed');
  cpSync(s.home, copy, { recursive: true });
  assert.equal(cli(['log', 'checkpoint', '--home', copy]).status, 0);
  const sealed = verify(copy, trust);
  assert.equal(sealed.status, 0, JSON.stringify(sealed.report.findings));
  assert.equal(sealed.report.checkpointSize, '8');

  // A new session on the same home appends after the killed one and checkpoints everything.
  const next = RawPeer.proxy(s, raw.argv);
  next.send({ jsonrpc: '2.0', id: 'again', method: 'tools/call', params: { name: 'meta', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } });
  assert.equal(refOf((JSON.parse(await next.response('again')) as { result: unknown }).result).attestationIndex, '8');
  next.proc.stdin.end();
  assert.equal(await next.exited, 0);
  const final = verify(s.home, trust);
  assert.equal(final.status, 0, JSON.stringify(final.report.findings));
  assert.deepEqual([final.report.size, final.report.checkpointSize, final.report.calls, final.report.receipts, final.report.inFlight], ['10', '10', 5, 4, 1]);
  assert.deepEqual(final.report.findings.map((f) => [f.code, f.index]), [['NOTE_IN_FLIGHT', '7'], ['NOTE_UNWITNESSED', undefined]]);
});

/** True while `pid` runs (a zombie awaiting its reaper counts as gone). */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('a task-augmented call (server-everything): the task handle is receipted errored task_created; the first tasks/result is receipted as the task\'s result, naming that receipt; the log and the call\'s bundle verify', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const peer = RawPeer.proxy(s, [EVERYTHING]);
  peer.send(initializeRequest(0));
  await peer.response(0);
  peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'simulate-research-query', arguments: { topic: 'receipts' }, task: { ttl: 60_000 } } });
  const handle = (JSON.parse(await peer.response(1)) as { result: { task?: { taskId?: unknown }; content?: unknown } }).result;
  assert.equal(typeof handle.task?.taskId, 'string', JSON.stringify(handle));
  assert.equal(handle.content, undefined);
  // tasks/result waits for the task to finish (a few seconds of simulated research).
  peer.send({ jsonrpc: '2.0', id: 2, method: 'tasks/result', params: { taskId: handle.task!.taskId } });
  const result = (JSON.parse(await peer.response(2, 30_000)) as { result: CallToolResult }).result;
  assert.match(JSON.stringify(result.content), /Research/);
  assert.equal(refOf(result).receiptIndex, '3', 'the proxy names the task result\'s receipt');
  // Fetched again: relayed, not receipted a second time.
  peer.send({ jsonrpc: '2.0', id: 3, method: 'tasks/result', params: { taskId: handle.task!.taskId } });
  await peer.response(3, 30_000);
  peer.proc.stdin.end();
  await peer.exited;
  const rows = logShow(s.home);
  assert.deepEqual(rows.map((r) => [r.tool, r.status, r.reason, r.receipt_idx, r.task_result_idx]), [['simulate-research-query', 'executed', null, 2, 3]]);
  const receipts = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/receipt@1').map((e) => e['receipt'] as { outcomeDerived: Record<string, unknown> });
  assert.equal(receipts.length, 2);
  assert.equal(receipts[0]!.outcomeDerived['reason'], 'task_created');
  assert.equal(receipts[1]!.outcomeDerived['taskReceiptDigest'], receiptDigest(receipts[0]));
  const trust = exportTrust(s.home);
  const { status, report } = verify(s.home, trust);
  assert.equal(status, 0, JSON.stringify(report.findings));
  // The call's bundle carries both receipts, and verifies offline.
  const file = join(s.dir, 'task.bundle.json');
  const made = cli(['bundle', '--home', s.home, '--call', rows[0]!.call_id, '--out', file]);
  assert.equal(made.status, 0, made.stderr);
  const bundled = verify(file, trust);
  assert.equal(bundled.status, 0, JSON.stringify(bundled.report.findings));
  assert.equal(bundled.report.receipts, 2);
});
