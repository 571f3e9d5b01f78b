/**
 * Section 7 of `npm run bench`: receipt sessions. (a) `record_action` through the real
 * `mcp-attest serve` over stdio with the SDK client (sign, append with fsync, answer), per
 * call, beside its limit measured in the same run: the same action appended in process
 * (full durability, answered once durable) plus one SDK round trip over stdio to a tool that
 * records nothing (server-everything's `echo`); (b) receipts of sessions of 10, 100 and 1,000 actions: export time, size and offline
 * verification (in process, median of 5).
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { initHome, loadIdentity } from '../src/store/identity.js';
import { SessionHome } from '../src/store/session-export.js';
import { trustPolicyOf } from '../src/store/identity.js';
import { policyKeyResolver } from '../src/verify/policy.js';
import { verifySessionReceipt } from '../src/verify/session-receipt.js';
import { summarize, timedRow, type Row, type Summary } from './stats.js';

/** (a): `actions` timed `record_action` calls after `warmup`, one session, full durability. */
export async function benchRecordAction(cli: string, dir: string, warmup: number, actions: number): Promise<Row> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'serve', '--home', join(dir, 'serve')] }));
  try {
    const start = await client.callTool({ name: 'start_session', arguments: { task: 'bench', delegator: 'bench' } });
    const sessionId = (start.structuredContent as { sessionId: string }).sessionId;
    return await timedRow('record_action via mcp-attest serve (stdio, fsync per action)', warmup, actions, async (i) => {
      const r = await client.callTool({ name: 'record_action', arguments: { sessionId, name: `step/${i}`, evidence: { i } } });
      if (r.isError) throw new Error(`bench: record_action failed: ${JSON.stringify(r.content)}`);
    });
  } finally {
    await client.close();
  }
}

/**
 * (a)'s limit, in two parts: the same action appended in process to a data directory of its
 * own (full durability: commit and fdatasync, resolved once durable by the same sync serve
 * answers after, `durable(true)`), and
 * an SDK client's `tools/call` round trip over stdio to `server` (server-everything's `echo`).
 */
export async function benchRecordActionLimit(dir: string, server: string, warmup: number, actions: number): Promise<{ inProcess: Row; roundTrip: Row }> {
  const home = join(dir, 'sessions-limit');
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'full' });
  let inProcess: Row;
  try {
    const { sessionId } = h.sessions.start({ task: 'bench', delegator: 'bench' });
    inProcess = await timedRow('the same action in process (append, fdatasync)', warmup, actions, async (i) => {
      h.sessions.action(sessionId, { name: `step/${i}`, evidence: { i } });
      await h.recorder.durable(true); // as serve answers: synced at the end of the loop's turn
    });
  } finally {
    await h.close();
  }
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [server] }));
  try {
    const roundTrip = await timedRow('SDK client -> echo tool over stdio (no store)', warmup, actions, (i) => client.callTool({ name: 'echo', arguments: { message: `step/${i}` } }));
    return { inProcess, roundTrip };
  } finally {
    await client.close();
  }
}

/** One row of (b). */
export interface SessionReceiptRow extends Summary { actions: number; bytes: number; exportMs: number }

/** (b): a sealed session of each size in `sizes`, exported and verified `runs` times. */
export async function benchSessionReceipts(dir: string, sizes: number[], runs: number): Promise<SessionReceiptRow[]> {
  const home = join(dir, 'sessions');
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'normal', checkpointMs: 1e9 });
  const policy = trustPolicyOf(loadIdentity(home));
  const rows: SessionReceiptRow[] = [];
  try {
    for (const n of sizes) {
      const { sessionId } = h.sessions.start({ task: `bench ${n}`, delegator: 'bench' });
      for (let i = 1; i <= n; i++) h.sessions.action(sessionId, { name: `step/${i}`, evidence: { i } });
      h.sessions.seal(sessionId);
      const e0 = performance.now();
      const { text } = await h.exportReceipt(sessionId, { witness: false });
      const exportMs = performance.now() - e0;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = await verifySessionReceipt(text, policy, policyKeyResolver(policy));
        times.push(performance.now() - t0);
        if (!r.ok) throw new Error(`bench: session of ${n} actions did not verify: ${JSON.stringify(r.findings.slice(0, 3))}`);
      }
      rows.push({ actions: n, bytes: Buffer.byteLength(text), exportMs, ...summarize(times) });
    }
    return rows;
  } finally {
    await h.close();
  }
}
