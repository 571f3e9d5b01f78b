/**
 * The decision alone, in process: `Gate.check` (strict parse, schema, ES256 signature under
 * the trusted key, freshness, audience, tool, argument commitment, then the nonce recorded)
 * over pre-signed attestations passed as exact JSON text, as the gatekeeper proxy passes
 * them. Replay stores: the SQLite `NonceStore` (durability full and normal, fresh file per
 * run) and `MemoryReplayStore` for reference. Sequential; every decision must be `allowed`.
 * Then the SQLite store alone in steady state ({@link benchReplaySteady}).
 */
import { join } from 'node:path';
import { Gate, MemoryReplayStore, type ReplayStore } from '../src/gate/gate.js';
import { loadGatePolicy } from '../src/gate/policy.js';
import { NonceStore } from '../src/store/nonce-store.js';
import { BENCH_FP, TOOL, callArgs, createAgent, signBatch, writeBenchPolicy } from './agent.js';
import type { BenchSetup } from './gatekeeper.js';
import { quantile, toRow, type Row } from './stats.js';
import { randomBytes } from 'node:crypto';

/** A replay store to measure and how to release it afterwards. */
interface StoreCase {
  name: string;
  open(): { store: ReplayStore; close(): void };
}

function storeCases(dir: string): StoreCase[] {
  const sqlite = (d: 'full' | 'normal'): StoreCase => ({
    name: `NonceStore (SQLite), durability ${d}`,
    open: () => {
      const store = new NonceStore(join(dir, `nonces-${d}.db`), { durability: d });
      return { store, close: () => store.close() };
    },
  });
  return [sqlite('full'), sqlite('normal'), { name: 'MemoryReplayStore', open: () => ({ store: new MemoryReplayStore(), close: () => undefined }) }];
}

/** Decide call `i` and throw unless it is allowed; returns its latency in ms. */
async function timedCheck(gate: Gate, text: string, i: number, name: string): Promise<number> {
  const args = callArgs(i);
  const t = performance.now();
  const d = await gate.check({ name: TOOL, args, attestation: text, now: Math.floor(Date.now() / 1000) });
  const ms = performance.now() - t;
  if (!d.allowed) throw new Error(`bench: Gate.check with ${name}: call ${i} refused: ${d.code}: ${d.message}`);
  return ms;
}

/**
 * Time `Gate.check` for each store over `warmup + calls` attestations signed beforehand
 * (one batch, reused: each store starts empty, so no nonce repeats within a store).
 * Rows are in milliseconds; `perSecond` is verified decisions per second.
 */
export async function benchGateCheck(s: BenchSetup): Promise<Row[]> {
  const agent = createAgent();
  const { policy, keys } = await loadGatePolicy(writeBenchPolicy(s.dir, [agent.issuer], [], 'gate-check-policy.json'));
  const texts = (await signBatch(agent, s.warmup + s.calls)).attestations.map((a) => JSON.stringify(a));
  const rows: Row[] = [];
  for (const c of storeCases(s.dir)) {
    const { store, close } = c.open();
    const gate = new Gate({ policy, keys, serverFingerprint: BENCH_FP, replay: store });
    try {
      for (let i = 0; i < s.warmup; i++) await timedCheck(gate, texts[i]!, i, c.name);
      const times: number[] = [];
      const start = performance.now();
      for (let i = s.warmup; i < s.warmup + s.calls; i++) times.push(await timedCheck(gate, texts[i]!, i, c.name));
      rows.push(toRow(c.name, times, performance.now() - start));
    } finally {
      close();
    }
  }
  return rows;
}

/** Records a simulated second and the seconds each pair stays live, for {@link benchReplaySteady}. */
export const REPLAY_RATE = 1000;
export const REPLAY_WINDOW = 300;

/**
 * The SQLite replay store in steady state, in simulated time: {@link REPLAY_RATE} records a
 * second, each live {@link REPLAY_WINDOW} s (so 300,000 live pairs), durability normal (no
 * fsync, so the store's own work shows); the records of the last 20 simulated seconds timed,
 * ms: median, p99.9 and the longest (what purging expired pairs costs one record).
 */
export function benchReplaySteady(dir: string): { median: number; p999: number; max: number } {
  const store = new NonceStore(join(dir, 'nonces-steady.db'), { durability: 'normal' });
  try {
    const times: number[] = [];
    let now = 1_800_000_000;
    for (let second = 0; second < REPLAY_WINDOW + 20; second++, now++) {
      for (let i = 0; i < REPLAY_RATE; i++) {
        const t = performance.now();
        if (store.record('issuer://bench', randomBytes(16).toString('base64url'), now + REPLAY_WINDOW, now) !== 'recorded') throw new Error('bench: a fresh nonce was not recorded');
        if (second >= REPLAY_WINDOW) times.push(performance.now() - t);
      }
    }
    times.sort((a, b) => a - b);
    return { median: quantile(times, 0.5), p999: quantile(times, 0.999), max: times[times.length - 1]! };
  } finally {
    store.close();
  }
}
