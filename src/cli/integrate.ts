/**
 * `mcp-attest log integrate`: the integrator process of a fleet's PostgreSQL log
 * (store/pg-integrator.ts). It waits on standby while another holds the role, steps while
 * entries arrive, pauses `intervalMs` when there are none, and on SIGTERM or SIGINT takes a
 * last step and gives the role up. Losing the role (deposed, the connection lost) sends it
 * back to standby; nothing it signs after that is ever published. After each checkpoint it
 * publishes, a witnessing round (store/witnessing.ts) submits it to the data directory's
 * witnesses (`witnesses.json`), one round at a time and never awaited by integration: a slow
 * or absent witness does not hold the log back. Before anything is signed the data
 * directory is claimed as a fleet's (cli/fleet-home.ts): its key signs one history.
 * @see docs/fleet.md
 */
import { existsSync } from 'node:fs';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { writeSynced } from '../store/synced.js';
import { AttestError, isAttestError } from '../errors.js';
import { fromHex, toHex } from '../bytes/index.js';
import { loadIdentity, loadLogKey } from '../store/identity.js';
import { parseVerifierKey } from '../log/vkey.js';
import { ed25519NoteSigner, signNote } from '../log/note-sign.js';
import { PgLog } from '../store/pg-log.js';
import { checkOrigin, Integrator, type CheckpointSigner, type SignedTreeMemory } from '../store/pg-integrator.js';
import { loadWitnesses } from '../store/witnesses.js';
import { WitnessBackoff, witnessLatest, type WitnessResult } from '../store/witnessing.js';
import { CliExit, EXIT_USAGE, err, out } from './output.js';
import { checkFleetHome, claimFleetHome } from './fleet-home.js';
import { homePaths } from '../store/home.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The data directory's log key as a checkpoint signer (its origin is the log's). */
async function signerOf(home: string): Promise<CheckpointSigner> {
  const identity = loadIdentity(home);
  const vkey = parseVerifierKey(identity.log.vkey);
  const signer = ed25519NoteSigner(vkey.name, await loadLogKey(home, identity), vkey.publicKey);
  return { origin: identity.log.origin, sign: (text) => signNote(text, [signer]) };
}

/**
 * The last tree this data directory's key signed as a fleet's integrator, in
 * `<home>/integrator-signed.json` (`{"size": "<decimal>", "root": "<hex>"}`), replaced
 * through a synced temp file and a rename (store/synced.ts). `ERR_STORE_CORRUPT` for a file
 * that does not parse.
 */
export function fileMemory(home: string): SignedTreeMemory {
  const path = homePaths(home).integratorSigned;
  return {
    last() {
      if (!existsSync(path)) return null;
      try {
        const v = JSON.parse(readRegularFile(path, MAX_CONFIG_FILE_BYTES, { what: 'integrator-signed.json' }).toString('utf8')) as { size?: unknown; root?: unknown };
        if (typeof v.size !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(v.size) || typeof v.root !== 'string' || !/^[0-9a-f]{64}$/.test(v.root)) throw new Error('not {"size", "root"}');
        return { size: BigInt(v.size), root: fromHex(v.root) };
      } catch (e) {
        throw new AttestError('ERR_STORE_CORRUPT', `${path}: ${(e as Error).message}`, { path });
      }
    },
    remember(size, root) {
      writeSynced(path, `${JSON.stringify({ size: size.toString(), root: toHex(root) })}\n`);
    },
  };
}

/** Run the integrator (see the module comment); `once`: one step, then exit. Throws `ERR_STORE_IO` when the log cannot be opened, `ERR_STORE_CORRUPT` when its state cannot be trusted, `CliExit` (exit 2) for a data directory with a log of its own (cli/fleet-home.ts). */
export async function integrateLoop(home: string, url: string, o: { intervalMs: number; checkpointMs: number; leaseMs: number; witnessTimeoutMs: number; once: boolean }): Promise<void> {
  for (const [k, v] of [['--interval-ms', o.intervalMs], ['--checkpoint-ms', o.checkpointMs], ['--lease-ms', o.leaseMs], ['--witness-timeout', o.witnessTimeoutMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new CliExit(EXIT_USAGE, `${k} takes a whole number of milliseconds`);
  }
  // An idle integrator renews at its steps: they must come well within the lease.
  if (o.intervalMs * 4 > o.leaseMs) throw new CliExit(EXIT_USAGE, '--lease-ms must be at least four times --interval-ms');
  const signer = await signerOf(home);
  const entries = loadIdentity(home).log.entries;
  const log = await PgLog.open(url);
  const memory = fileMemory(home);
  try {
    // The fleet's log is this key's (no other origin signed it) before the data directory is claimed for it; once
    // claimed it stays so, whatever fails later (another integrator, the database away).
    await checkOrigin(log, signer.origin);
    const mode = await log.mode();
    if (entries !== undefined && mode !== null && mode !== 'v1' && mode !== entries) throw new CliExit(EXIT_USAGE, `this data directory keeps a ${entries} log, and the fleet's log is ${mode}: integrate it with the data directory it was made for`);
    const logId = await log.logId();
    // As the owner, on an empty log (one role for all): its format and origin are this data directory's, once it is known fit
    // (checked before it is marked, so an integrator refused here leaves the directory unmarked).
    if (entries !== undefined && mode === null) {
      checkFleetHome(home, logId);
      await log.initialize(entries, signer.origin);
    }
    claimFleetHome(home, url, memory, logId);
  } catch (e) {
    await log.close();
    throw e;
  }
  await run(log, home, url, signer, memory, o);
}

/** The integrator's loop on the opened `log` (see the module comment); the log is closed when it ends. */
async function run(log: PgLog, home: string, url: string, signer: CheckpointSigner, memory: SignedTreeMemory, o: { intervalMs: number; checkpointMs: number; leaseMs: number; witnessTimeoutMs: number; once: boolean }): Promise<void> {
  let stopping = false;
  const stop = (): void => void (stopping = true);
  process.once('SIGTERM', stop).once('SIGINT', stop);
  let role: Integrator | null = null;
  let backoff = o.intervalMs;
  const rounds = witnessRounds(log, home, o.witnessTimeoutMs);
  try {
    while (!stopping || role !== null) {
      try {
        if (role === null && (role = await take(log, url, signer, { ...o, memory }, stopping)) !== null) rounds.kick(); // what the last holder left unwitnessed
        if (role === null) {
          if (o.once) throw new CliExit(EXIT_USAGE, 'another integrator holds the role');
          await sleep(Math.min(1000, o.leaseMs / 2));
          continue;
        }
        const r = await role.step();
        backoff = o.intervalMs;
        if (r.checkpoint !== null) {
          out(`checkpoint ${r.checkpoint}`);
          rounds.kick();
        }
        if (o.once || stopping) return;
        if (r.checkpoint === null) await sleep(o.intervalMs);
      } catch (e) {
        // A state that cannot be trusted is not retried; anything else (the database away, the role lost) is, with backoff.
        if (e instanceof CliExit || isAttestError(e, 'ERR_STORE_CORRUPT') || isAttestError(e, 'ERR_USAGE') || o.once) throw e;
        err(`mcp-attest: integrator: ${(e as Error).message}${isAttestError(e) ? ` (${e.code})` : ''}; retrying in ${backoff} ms`);
        await role?.release();
        role = null;
        if (stopping) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  } finally {
    if (role !== null) {
      await role.release(); // first: a slow witness must not hold the role
      err('mcp-attest: integrator: gave the role up');
    }
    await rounds.drain();
    await log.close();
  }
}

/**
 * Witnessing rounds of the latest checkpoint, one at a time: `kick()` starts one, or, while
 * one runs, one more after it (a checkpoint signed meanwhile is not left unwitnessed). A
 * failing witness is asked again only after a pause (WitnessBackoff). Nothing here throws:
 * a bad `witnesses.json` or a failed round is reported on stderr.
 */
function witnessRounds(log: PgLog, home: string, timeoutMs: number): { kick(): void; drain(): Promise<void> } {
  let round: Promise<void> | null = null;
  let again = false;
  const backoff = new WitnessBackoff(1000);
  let retry: NodeJS.Timeout | null = null;
  const run = async (): Promise<void> => {
    do {
      again = false;
      try {
        const witnesses = backoff.due(loadWitnesses(home));
        if (witnesses.length > 0) {
          const results = await witnessLatest(log.witnessing(), witnesses, { timeoutMs });
          backoff.after(results);
          reportRound(results);
        }
        // A paused witness is asked again when its pause ends, also if no new checkpoint comes.
        const due = backoff.nextDue();
        if (due !== null && retry === null) retry = setTimeout(() => { retry = null; kick(); }, Math.max(0, due - Date.now())).unref();
      } catch (e) {
        err(`mcp-attest: integrator: witnessing round failed: ${(e as Error).message}`);
      }
    } while (again);
  };
  const kick = (): void => {
    if (round !== null) return void (again = true);
    round = run().finally(() => (round = null));
  };
  return {
    kick,
    drain: async () => {
      again = false;
      if (retry !== null) clearTimeout(retry);
      await round;
    },
  };
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
async function take(log: PgLog, url: string, signer: CheckpointSigner, o: { checkpointMs: number; leaseMs: number; memory: SignedTreeMemory }, stopping: boolean): Promise<Integrator | null> {
  if (stopping) return null;
  const role = await Integrator.take(log, url, signer, o);
  if (role === null && !announced) err('mcp-attest: standby: another process is the integrator');
  if (role !== null) err(`mcp-attest: integrator: took the role (epoch ${role.epoch})`);
  announced = role === null;
  return role;
}
