/**
 * One end-to-end measurement: the official SDK client over stdio to a separate process
 * (server-everything directly, or one or two `mcp-attest proxy` processes in front of it),
 * `warmup` untimed calls then `calls` timed sequential `echo` calls. An optional attestation
 * per call, signed beforehand, rides in `params._meta.attestation`. Every result is checked
 * (after its timer stopped): a refused, failed or unexpected answer aborts the bench.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Attestation } from '../src/attestation/schema.js';
import { TOOL, callArgs } from './agent.js';
import { toRow, type Row } from './stats.js';

/** `result._meta` key of the gatekeeper's response receipt. */
const RESPONSE_RECEIPT = 'dev.mcp-attest/response-receipt';

/** What one run needs besides the process to talk to. */
export interface StdioRun {
  warmup: number;
  calls: number;
  /** One per call (`warmup + calls`), signed for `echo(callArgs(i))`; absent: calls unattested. */
  attestations?: readonly Attestation[];
  /** Require the gatekeeper's response receipt in every result. */
  expectReceipt?: boolean;
}

type CallResult = Awaited<ReturnType<Client['callTool']>>;

/** Throws unless `r` is echo's answer to call `i` (and carries a response receipt when asked). */
function checkResult(path: string, i: number, r: CallResult, expectReceipt: boolean): void {
  const text = (r.content as Array<{ text?: unknown }> | undefined)?.[0]?.text;
  const receipt = (r._meta as Record<string, unknown> | undefined)?.[RESPONSE_RECEIPT];
  if (r.isError === true || text !== `Echo: ${callArgs(i).message}` || (expectReceipt && typeof receipt !== 'object')) {
    throw new Error(`bench: ${path}: call ${i} was not allowed and answered as expected: ${JSON.stringify(r).slice(0, 2000)}`);
  }
}

/** Issue call `i` (`echo(callArgs(i))`) on `client` and check its result; returns its latency in ms (the check is not timed). */
export async function timedCall(client: Client, path: string, i: number, run: Pick<StdioRun, 'attestations' | 'expectReceipt'>): Promise<number> {
  const attestation = run.attestations?.[i];
  const request = { name: TOOL, arguments: callArgs(i), ...(attestation === undefined ? {} : { _meta: { attestation } }) };
  const t = performance.now();
  const r = await client.callTool(request);
  const ms = performance.now() - t;
  checkResult(path, i, r, run.expectReceipt === true);
  return ms;
}

/** Connect to `command args`, warm up, time `run.calls` sequential calls, close. */
export async function measureStdio(path: string, command: string, args: string[], run: StdioRun): Promise<Row> {
  if (run.attestations !== undefined && run.attestations.length < run.warmup + run.calls) throw new Error(`bench: ${path}: too few attestations`);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  try {
    for (let i = 0; i < run.warmup; i++) await timedCall(client, path, i, run);
    const times: number[] = [];
    const start = performance.now();
    for (let i = run.warmup; i < run.warmup + run.calls; i++) times.push(await timedCall(client, path, i, run));
    return toRow(path, times, performance.now() - start);
  } finally {
    await client.close();
  }
}

/**
 * Start-up of each command line in `commands` (label: command and arguments): ms from the SDK
 * client's spawn to `initialize` answered (its `connect`), median of `rounds` rounds, the
 * commands taking turns within a round; each is started once first, untimed (a proxy's first
 * start initializes its data directory).
 */
export async function connectMedians(commands: Record<string, [string, string[]]>, rounds: number): Promise<Record<string, number>> {
  const once = async ([command, args]: [string, string[]]): Promise<number> => {
    const client = new Client({ name: 'bench', version: '1.0.0' });
    const t = performance.now();
    await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
    const ms = performance.now() - t;
    await client.close();
    return ms;
  };
  const times = new Map(Object.keys(commands).map((k) => [k, [] as number[]]));
  for (const c of Object.values(commands)) await once(c);
  for (let r = 0; r < rounds; r++) for (const [k, c] of Object.entries(commands)) times.get(k)!.push(await once(c));
  return Object.fromEntries([...times].map(([k, t]) => [k, t.sort((a, b) => a - b)[t.length >> 1]!]));
}
