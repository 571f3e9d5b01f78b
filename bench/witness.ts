/**
 * Bench sections on witnessing and bundles:
 *
 * 5. Witness round trip: a real `mcp-attest witness serve` process on loopback; per round
 *    the log appends one entry, signs a checkpoint, and `witnessLatest` submits it (HTTP
 *    request, the witness's signature and consistency checks, its fsynced state update, its
 *    cosignature, our check of that cosignature, our store of it). Timed per round; cosigned
 *    checkpoints per second is rounds / wall time, sequentially from one log.
 * 6. Receipt bundles of 1, 100 and 10,000 calls (2 entries each) from one recorded log:
 *    size in bytes, and offline verification time in process (`verifyBundle`: parse,
 *    checkpoint and cosignature, every inclusion proof, every signature), median of runs.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { initHome, loadIdentity } from '../src/store/identity.js';
import { Recorder } from '../src/proxy/recorder.js';
import { witnessLatest } from '../src/store/witnessing.js';
import { buildBundle, selectEntries } from '../src/store/bundle-build.js';
import { formatBundle } from '../src/bundle/format.js';
import { verifyBundle } from '../src/verify/bundle.js';
import { policyKeyResolver } from '../src/verify/policy.js';
import { trustPolicyOf } from '../src/store/identity.js';
import { summarize, toRow, type Row, type Summary } from './stats.js';

const FINGERPRINT = 'sha256:' + '11'.repeat(32);

/** Append `n` attested and receipted echo calls (numbered from `from`) through `r`. */
export async function appendCalls(r: Recorder, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const { attestation, callId, index } = await r.attest({ tool: 'echo', args: { i }, intent: 'bench', server: { name: 'bench', fingerprint: FINGERPRINT }, requestDigest: FINGERPRINT });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { content: [{ type: 'text', text: `echo ${i}` }] } });
  }
}

async function startWitness(cli: string, dir: string, log: string): Promise<{ url: string; name: string; vkey: string; stop(): void }> {
  const proc = spawn(process.execPath, [cli, 'witness', 'serve', '--home', join(dir, 'witness'), '--listen', '127.0.0.1:0', '--log', log], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const found = /^witness (\S+) listening on (\S+) vkey (\S+)$/m.exec(out);
      if (found) resolve(found);
    });
    proc.on('exit', (code) => reject(new Error(`witness exited ${code}`)));
  });
  return { name: m[1]!, url: m[2]!, vkey: m[3]!, stop: () => proc.kill('SIGTERM') };
}

/** Section 5: `rounds` checkpoints, each submitted to one witness and cosigned. */
export async function benchWitness(cli: string, dir: string, rounds: number): Promise<Row> {
  const home = join(dir, 'witnessed');
  await initHome(home);
  const id = loadIdentity(home);
  const w = await startWitness(cli, dir, `${id.log.origin}=${id.log.vkey}`);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 1e9, evidence: false });
  try {
    const times: number[] = [];
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      await appendCalls(r, i, 1);
      await r.checkpoint();
      const t0 = performance.now();
      const [res] = await witnessLatest(r.db, [{ name: w.name, vkey: w.vkey, url: w.url }]);
      times.push(performance.now() - t0);
      if (res?.status !== 'cosigned') throw new Error(`bench: witness answered ${res?.status} ${res?.message ?? ''}`);
    }
    return toRow('submit + cosign, per checkpoint', times, performance.now() - start);
  } finally {
    await r.close();
    w.stop();
  }
}

/** One bundle size's result. */
export interface BundleRow extends Summary { calls: number; bytes: number; format: string; entryBytes: number }

/**
 * Section 6: bundles of each size in `sizes` (calls) from one log of max(sizes) calls, in the
 * form the CLI makes (one call: bundle@1, a proof per entry; more: bundle@2, one shared
 * proof), beside the bytes of the entries themselves.
 */
export async function benchBundles(dir: string, sizes: number[], runs: number): Promise<BundleRow[]> {
  const home = join(dir, 'bundled');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 1e9, evidence: false });
  await appendCalls(r, 0, Math.max(...sizes));
  await r.checkpoint();
  const policy = trustPolicyOf(loadIdentity(home));
  const rows: BundleRow[] = [];
  try {
    for (const calls of sizes) {
      const bundle = buildBundle(r.db, selectEntries(r.db, { range: [0n, BigInt(2 * calls - 1)] }), [], calls > 1);
      const text = formatBundle(bundle);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const report = await verifyBundle(text, policy, policyKeyResolver(policy));
        times.push(performance.now() - t0);
        if (!report.ok) throw new Error(`bench: bundle of ${calls} calls did not verify: ${JSON.stringify(report.findings.slice(0, 3))}`);
      }
      const entryBytes = bundle.entries.reduce((n, e) => n + e.bytes.length, 0);
      rows.push({ calls, bytes: Buffer.byteLength(text), format: calls > 1 ? '@2' : '@1', entryBytes, ...summarize(times) });
    }
    return rows;
  } finally {
    await r.close();
  }
}

