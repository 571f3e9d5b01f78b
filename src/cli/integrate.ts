/**
 * `mcp-attest log integrate`: the integrator process of a fleet's PostgreSQL log
 * (store/pg-integrator.ts). It waits on standby while another holds the role, steps while
 * entries arrive, pauses `intervalMs` when there are none, and on SIGTERM or SIGINT takes a
 * last step and gives the role up. Losing the role (deposed, the connection lost) sends it
 * back to standby; nothing it signs after that is ever published. After each checkpoint it
 * publishes, a witnessing round (store/witnessing.ts) submits it to the data directory's
 * witnesses (`witnesses.json`), one round at a time and never awaited by integration: a slow
 * or absent witness does not hold the log back.
 * @see docs/fleet.md
 */
import { loadIdentity, loadLogKey } from '../store/identity.js';
import { parseVerifierKey } from '../log/vkey.js';
import { ed25519NoteSigner, signNote } from '../log/note-sign.js';
import { PgLog } from '../store/pg-log.js';
import { Integrator, type CheckpointSigner } from '../store/pg-integrator.js';
import { isAttestError } from '../errors.js';
import { loadWitnesses } from '../store/witnesses.js';
import { witnessLatest, type WitnessResult } from '../store/witnessing.js';
import { CliExit, EXIT_USAGE, err, out } from './output.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The data directory's log key as a checkpoint signer (its origin is the log's). */
async function signerOf(home: string): Promise<CheckpointSigner> {
  const identity = loadIdentity(home);
  const vkey = parseVerifierKey(identity.log.vkey);
  const signer = ed25519NoteSigner(vkey.name, await loadLogKey(home), vkey.publicKey);
  return { origin: identity.log.origin, sign: (text) => signNote(text, [signer]) };
}

/** Run the integrator (see the module comment); `once`: one step, then exit. Throws `ERR_STORE_IO` when the log cannot be opened, `ERR_STORE_CORRUPT` when its state cannot be trusted. */
export async function integrateLoop(home: string, url: string, o: { intervalMs: number; checkpointMs: number; leaseMs: number; witnessTimeoutMs: number; once: boolean }): Promise<void> {
  for (const [k, v] of [['--interval-ms', o.intervalMs], ['--checkpoint-ms', o.checkpointMs], ['--lease-ms', o.leaseMs], ['--witness-timeout', o.witnessTimeoutMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new CliExit(EXIT_USAGE, `${k} takes a whole number of milliseconds`);
  }
  const signer = await signerOf(home);
  const entries = loadIdentity(home).log.entries;
  const log = await PgLog.open(url, entries ? { entries } : {});
  let stopping = false;
  const stop = (): void => void (stopping = true);
  process.once('SIGTERM', stop).once('SIGINT', stop);
  let role: Integrator | null = null;
  let backoff = o.intervalMs;
  let round: Promise<void> | null = null;
  const witness = (): void => {
    const witnesses = loadWitnesses(home);
    if (round !== null || witnesses.length === 0) return;
    round = witnessLatest(log.witnessing(), witnesses, { timeoutMs: o.witnessTimeoutMs })
      .then(reportRound, (e: unknown) => err(`mcp-attest: integrator: witnessing round failed: ${(e as Error).message}`))
      .finally(() => (round = null));
  };
  try {
    while (!stopping || role !== null) {
      try {
        role = role ?? await take(log, url, signer, o, stopping);
        if (role === null) {
          if (o.once) throw new CliExit(EXIT_USAGE, 'another integrator holds the role');
          await sleep(Math.min(1000, o.leaseMs / 2));
          continue;
        }
        const r = await role.step();
        backoff = o.intervalMs;
        if (r.checkpoint !== null) {
          out(`checkpoint ${r.checkpoint}`);
          witness();
        }
        if (o.once || stopping) return;
        if (r.checkpoint === null) await sleep(o.intervalMs);
      } catch (e) {
        // A state that cannot be trusted is not retried; anything else (the database away, the role lost) is, with backoff.
        if (e instanceof CliExit || isAttestError(e, 'ERR_STORE_CORRUPT') || o.once) throw e;
        err(`mcp-attest: integrator: ${(e as Error).message}${isAttestError(e) ? ` (${e.code})` : ''}; retrying in ${backoff} ms`);
        await role?.release();
        role = null;
        if (stopping) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  } finally {
    await round;
    await role?.release();
    await log.close();
  }
}

/** One line per witness that cosigned; a refusal or an alarm on stderr. */
function reportRound(results: WitnessResult[]): void {
  for (const r of results) {
    if (r.status === 'cosigned') out(`witness ${r.witness} cosigned ${r.size}`);
    else if (r.status !== 'already') err(`mcp-attest: integrator: witness ${r.witness} at ${r.size}: ${r.status}${r.message === undefined ? '' : `: ${r.message}`}`);
  }
}

let announced = false;

/** Try to become the integrator; null (after saying `standby` once) while another is. */
async function take(log: PgLog, url: string, signer: CheckpointSigner, o: { checkpointMs: number; leaseMs: number }, stopping: boolean): Promise<Integrator | null> {
  if (stopping) return null;
  const role = await Integrator.take(log, url, signer, { checkpointMs: o.checkpointMs, leaseMs: o.leaseMs });
  if (role === null && !announced) err('mcp-attest: standby: another process is the integrator');
  announced = role === null;
  return role;
}
