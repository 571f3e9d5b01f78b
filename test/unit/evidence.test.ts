/**
 * The evidence store attached to the log's connection: a recorded call's arguments and
 * result are kept by the digest their commitments carry, and committed with the log entry
 * in one transaction: when the evidence cannot be written the entry is not appended (the
 * call fails before anything is forwarded), and when the entry cannot be, no evidence stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import '../../src/platform/node.js';
import { initHome } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { EvidenceStore } from '../../src/store/evidence.js';
import { canonicalBytes } from '../../src/jcs/index.js';
import { sha256 } from '../../src/bytes/digest.js';
import { toHex } from '../../src/bytes/index.js';

const FP = `sha256:${'11'.repeat(32)}`;
const call = { tool: 'echo', args: { message: 'kept' }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP };

test('arguments and result are kept by the digest of their JCS bytes', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-attest-evidence-'));
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const result = { content: [{ type: 'text', text: 'Echo: kept' }] };
  const { attestation, callId, index } = await r.attest(call);
  await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result });
  await r.close();
  const store = new EvidenceStore(homePaths(home).evidence, true);
  for (const v of [call.args, result]) assert.deepEqual(store.get(toHex(sha256(canonicalBytes(v)))), canonicalBytes(v));
  store.close();
});

test('evidence that cannot be written stops the append: the log does not grow', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-attest-evidence-'));
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  await r.attest(call);
  const size = r.db.size();
  const ev = new Database(homePaths(home).evidence);
  ev.exec("CREATE TRIGGER refuse BEFORE INSERT ON evidence BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  ev.close();
  await assert.rejects(r.attest({ ...call, args: { message: 'not kept' } }), /disk full/);
  assert.equal(r.db.size(), size);
  await r.close();
});

test('an append that fails keeps no evidence of its call: both commit together or neither', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-attest-evidence-'));
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal' });
  const args = { message: 'never logged' };
  await assert.rejects(r.attest({ ...call, args, requestDigest: 'x'.repeat(70_000) }), (e: unknown) => (e as { code?: string }).code === 'ERR_ENTRY_TOO_LARGE');
  assert.equal(r.db.size(), 1n, 'only the parameters entry');
  assert.equal(r.evidence?.get(toHex(sha256(canonicalBytes(args)))), null);
  await r.close();
});
