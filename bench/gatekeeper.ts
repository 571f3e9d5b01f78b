/**
 * The gatekeeper over stdio (real processes, real server-everything, real SDK client):
 *
 * - `direct, attested`: client -> server, every call carrying a pre-signed attestation in
 *   `_meta.attestation` (the server ignores it): the baseline, so the difference to the
 *   next rows is the gatekeeper's cost alone (signing happens before the run, not timed);
 * - `gatekeeper, durability full|normal`: client -> `mcp-attest proxy --role server` ->
 *   server, the same kind of attestations, policy trusting the bench key, fixed
 *   fingerprint, response receipts on; every call must be allowed and carry a receipt;
 * - the full chain: client -> `mcp-attest proxy` (its own key, `--response-receipts
 *   require`, trusting the gatekeeper's key) -> gatekeeper (trusting the client proxy's key)
 *   -> server, against a plain direct row: two proxies and bilateral receipts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAgent, signBatch, writeBenchPolicy } from './agent.js';
import { measureStdio, type StdioRun } from './stdio.js';
import { summarize, type Row, type Summary } from './stats.js';

/** Where the bench's processes are and how many calls each run makes. */
export interface BenchSetup {
  /** `dist/cli/main.cjs`. */
  cli: string;
  /** server-everything's entry point. */
  server: string;
  /** A scratch directory (removed by the caller). */
  dir: string;
  warmup: number;
  calls: number;
}

/** The three gatekeeper rows and what signing one attestation cost the agent (ms). */
export interface GatekeeperResult {
  rows: Row[];
  signing: Summary;
}

/** Durability modes measured (`full`: fsync per append; `normal`: survives process crashes only). */
export const DURABILITIES = ['full', 'normal'] as const;

/** Run `mcp-attest ARGS` to completion; returns stdout. Throws on a non-zero exit. */
function runCli(s: BenchSetup, args: string[]): string {
  const r = spawnSync(process.execPath, [s.cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`bench: mcp-attest ${args.join(' ')} exited ${String(r.status ?? r.signal)}: ${r.stderr}`);
  return r.stdout;
}

/** argv (after `node`) of a gatekeeper in front of server-everything. */
function gatekeeperArgs(s: BenchSetup, policy: string, home: string, durability: string): string[] {
  return [s.cli, 'proxy', '--role', 'server', '--policy', policy, '--home', home, '--durability', durability, '--', process.execPath, s.server];
}

/**
 * Direct with attestations, then the gatekeeper in both durability modes. A fresh batch
 * of attestations is signed right before each run (so none nears its 300 s expiry) and a
 * fresh data directory is used per run.
 */
export async function benchGatekeeper(s: BenchSetup): Promise<GatekeeperResult> {
  const agent = createAgent();
  const dir = join(s.dir, 'gatekeeper');
  mkdirSync(dir, { recursive: true });
  const policy = writeBenchPolicy(dir, [agent.issuer]);
  const signMs: number[] = [];
  const runWith = async (): Promise<StdioRun> => {
    const batch = await signBatch(agent, s.warmup + s.calls);
    signMs.push(...batch.signMs);
    return { warmup: s.warmup, calls: s.calls, attestations: batch.attestations };
  };
  const rows = [await measureStdio('direct, attested', process.execPath, [s.server], await runWith())];
  for (const d of DURABILITIES) {
    const run = { ...await runWith(), expectReceipt: true };
    rows.push(await measureStdio(`gatekeeper, durability ${d}`, process.execPath, gatekeeperArgs(s, policy, join(dir, `home-${d}`), d), run));
  }
  return { rows, signing: summarize(signMs) };
}

/**
 * Client proxy -> gatekeeper -> server, both proxies in durability `d`, fresh homes: the
 * client proxy attests with its own key (attached because the gatekeeper advertises the
 * extension) and withholds any response whose receipt does not verify.
 */
async function benchChainRun(s: BenchSetup, d: string): Promise<Row> {
  const dir = join(s.dir, `chain-${d}`);
  const [agentHome, serverHome] = [join(dir, 'agent'), join(dir, 'server')];
  mkdirSync(dir, { recursive: true });
  runCli(s, ['init', '--home', agentHome]);
  runCli(s, ['init', '--home', serverHome]);
  writeFileSync(join(dir, 'agent-trust.json'), runCli(s, ['trust', 'export', '--home', agentHome]));
  writeFileSync(join(dir, 'server-trust.json'), runCli(s, ['trust', 'export', '--home', serverHome]));
  const policy = writeBenchPolicy(dir, [], ['agent-trust.json']);
  const args = [
    s.cli, 'proxy', '--home', agentHome, '--trust', join(dir, 'server-trust.json'), '--response-receipts', 'require', '--durability', d,
    '--', process.execPath, ...gatekeeperArgs(s, policy, serverHome, d),
  ];
  return measureStdio(`client proxy -> gatekeeper, durability ${d}`, process.execPath, args, { warmup: s.warmup, calls: s.calls, expectReceipt: true });
}

/** The full chain in both durability modes (compare with the plain direct row). */
export async function benchChain(s: BenchSetup): Promise<Row[]> {
  const rows: Row[] = [];
  for (const d of DURABILITIES) rows.push(await benchChainRun(s, d));
  return rows;
}
