/**
 * A task's result (docs/receipt.md "Tasks"): a task-augmented call is receipted `task_created`
 * with its task handle, and the answer to `tasks/result` by a receipt naming that receipt's
 * digest (`outcomeDerived.taskReceiptDigest`). `verify` accepts one per task, naming the
 * call's own task handle receipt, and refuses one naming another receipt or none
 * (`ERR_RECEIPT_ORPHAN`) and a second one (`ERR_RECEIPT_DUPLICATE`); `log show` gives the call
 * its task's outcome; erasing a call whose task is open is refused. Real recorder, real log.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initHome, loadIdentity, trustPolicyOf } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { LogDb } from '../../src/store/log-db.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { listCalls } from '../../src/store/calls.js';
import { receiptDigest } from '../../src/receipt/build.js';
import { validateReceipt } from '../../src/receipt/schema.js';
import { verifyLog } from '../../src/verify/log.js';
import { policyKeyResolver } from '../../src/verify/policy.js';
import { tempDir } from './log-helper.js';
import { eraseCall } from '../../src/store/erase.js';
import { OpenTasks } from '../../src/proxy/tasks.js';
import type { PendingCall } from '../../src/proxy/relay-io.js';
import type { RpcMessage } from '../../src/proxy/message.js';
import type { Receipt } from '../../src/receipt/schema.js';
import { isAttestError } from '../../src/errors.js';

const server = { name: 'research', fingerprint: 'sha256:' + '11'.repeat(32) };
const digest = 'sha256:' + '22'.repeat(32);
const handle = { task: { taskId: 't-1', status: 'working', ttl: 60000, createdAt: '2026-12-07T00:00:00Z', lastUpdatedAt: '2026-12-07T00:00:00Z' } };

/** A home with one task-augmented call receipted `task_created`, then `results` receipts naming the digest each gives (null: the right one). */
async function taskLog(t: TestContext, results: Array<string | null>): Promise<string> {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const a = await r.attest({ tool: 'research', args: { topic: 'x' }, intent: 'test', server, requestDigest: digest });
  const created = await r.receiptWith({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'errored', reason: 'task_created', result: handle });
  for (const named of results) {
    await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { content: [] }, taskReceiptDigest: named ?? receiptDigest(created.receipt) });
  }
  await r.close();
  return home;
}

async function errors(home: string): Promise<string[]> {
  const db = new LogDb(homePaths(home).db, 'full', true);
  try {
    const policy = trustPolicyOf(loadIdentity(home));
    const r = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) }, policy, policyKeyResolver(policy));
    return r.findings.filter((f) => f.severity === 'error').map((f) => f.code);
  } finally {
    db.close();
  }
}

test('a task\'s result naming its task handle\'s receipt verifies, and log show gives the call the task\'s outcome', async (t) => {
  const home = await taskLog(t, [null]);
  assert.deepEqual(await errors(home), []);
  const db = new LogDb(homePaths(home).db, 'full', true);
  try {
    const [row] = listCalls(db);
    assert.deepEqual([row!.status, row!.reason, row!.receipt_idx, row!.task_result_idx], ['executed', null, 2, 3]);
  } finally {
    db.close();
  }
});

test('a task\'s result naming another receipt, or a second result for one task, fails verification', async (t) => {
  assert.deepEqual(await errors(await taskLog(t, ['sha256:' + '33'.repeat(32)])), ['ERR_RECEIPT_ORPHAN']);
  assert.deepEqual(await errors(await taskLog(t, [null, null])), ['ERR_RECEIPT_DUPLICATE']);
});

test('a call answered without a task handle has no task result to receipt', async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const a = await r.attest({ tool: 'echo', args: {}, intent: 'test', server, requestDigest: digest });
  const first = await r.receiptWith({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { content: [] } });
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { content: [] }, taskReceiptDigest: receiptDigest(first.receipt) });
  await r.close();
  assert.deepEqual(await errors(home), ['ERR_RECEIPT_ORPHAN']);
});

test('the receipt schema: a task\'s result is a digest, and never another task handle', () => {
  const receipt = (outcome: Record<string, unknown>) => ({
    version: 1, alg: 'ES256', backLink: { attestationDigest: digest, attestationNonce: 'n' },
    receiptAsserted: { alg: 'ES256', iat: '2026-12-07T00:00:00Z', iss: 'issuer://x', nonce: 'm', secretVersion: 'k', sub: 's' },
    outcomeDerived: { status: 'errored', completedAt: '2026-12-07T00:00:00Z', ...outcome }, signature: 'ab',
  });
  assert.deepEqual(validateReceipt(receipt({ reason: 'tool_error', taskReceiptDigest: digest })), []);
  assert.match(validateReceipt(receipt({ taskReceiptDigest: 'not-a-digest' })).join(), /taskReceiptDigest/);
  assert.match(validateReceipt(receipt({ reason: 'task_created', taskReceiptDigest: digest })).join(), /taskReceiptDigest: a task's result is not another task handle/);
  assert.deepEqual(validateReceipt(receipt({ reason: 'input_required', taskReceiptDigest: digest })), [], 'an interim answer is receipted as it came');
});

test('erasure of a call whose task is open is refused until its result is receipted: the result would be logged after it', async (t) => {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const a = await r.attest({ tool: 'research', args: { topic: 'x' }, intent: 'test', server, requestDigest: digest });
  const created = await r.receiptWith({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'errored', reason: 'task_created', result: handle });
  await assert.rejects(eraseCall(r.db, homePaths(home).evidence, a.callId, 1_800_000_000), (e) => isAttestError(e, 'ERR_USAGE') && /task's result is not receipted yet/.test(e.message));
  await r.receipt({ callId: a.callId, attestation: a.attestation, attestationIndex: a.index, status: 'executed', result: { content: [] }, taskReceiptDigest: receiptDigest(created.receipt) });
  await r.close();
  const eraser = await Recorder.open(home, { evidence: false });
  try {
    assert.deepEqual((await eraseCall(eraser.db, homePaths(home).evidence, a.callId, 1_800_000_000)).entries, [a.index, a.index + 1n, a.index + 2n]);
  } finally {
    await eraser.close();
  }
  assert.deepEqual(await errors(home), []);
});

test('a task id the upstream gives two calls is receipted for neither (which call its result answers cannot be told), and stderr says so; another id is unaffected', () => {
  const warnings: string[] = [];
  const tasks = new OpenTasks<PendingCall>((m) => warnings.push(m));
  const call = (callId: string) => ({ callId, attestation: {} as PendingCall['attestation'], index: 1n });
  const handleOf = (taskId: string) => ({ task: { taskId, status: 'working' } });
  const ask = (taskId: string) => ({ jsonrpc: '2.0', id: 9, method: 'tasks/result', params: { taskId } }) as unknown as RpcMessage;
  const handleReceipt = { outcomeDerived: { status: 'errored', reason: 'task_created' } } as unknown as Receipt;
  tasks.created(handleOf('t-1'), call('a'), handleReceipt);
  tasks.created(handleOf('t-1'), call('b'), handleReceipt);
  tasks.created(handleOf('t-2'), call('c'), handleReceipt);
  assert.equal(tasks.take(ask('t-1')), null);
  assert.match(warnings.join('\n'), /task "t-1" was given to call a and again to call b/);
  assert.deepEqual([tasks.take(ask('t-2'))?.callId, tasks.take(ask('t-2'))], ['c', null], 'taken once');
});
