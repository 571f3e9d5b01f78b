/**
 * `mcp-attest log integrate`: the integrator process of a fleet's PostgreSQL log
 * (store/pg-integrator.ts). It waits on standby while another holds the role, steps while
 * entries arrive, pauses `intervalMs` when there are none, and on SIGTERM or SIGINT takes a
 * last step and gives the role up. Losing the role (deposed, the connection lost) sends it
 * back to standby; nothing it signs after that is ever published.
 * @see docs/fleet.md
 */
import { loadIdentity, loadLogKey } from '../store/identity.js';
import { parseVerifierKey } from '../log/vkey.js';
import { ed25519NoteSigner, signNote } from '../log/note-sign.js';
import { PgLog } from '../store/pg-log.js';
import { Integrator, type CheckpointSigner } from '../store/pg-integrator.js';
import { isAttestError } from '../errors.js';
import { CliExit, EXIT_USAGE, err, out } from './output.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The data directory's log key as a checkpoint signer (its origin is the log's). */
async function signerOf(home: string): Promise<CheckpointSigner> {
  const identity = loadIdentity(home);
  const vkey = parseVerifierKey(identity.log.vkey);
  const signer = ed25519NoteSigner(vkey.name, await loadLogKey(home), vkey.publicKey);
  return { origin: identity.log.origin, sign: (text) => signNote(text, [signer]) };
}

/** Run the integrator (see the module comment); `once`: one step, then exit. Throws `ERR_STORE_IO` when the log cannot be opened. */
export async function integrateLoop(home: string, url: string, intervalMs: number, once: boolean): Promise<void> {
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new CliExit(EXIT_USAGE, '--interval-ms takes a whole number of milliseconds');
  const signer = await signerOf(home);
  const log = await PgLog.open(url, loadIdentity(home).log.entries ? { entries: loadIdentity(home).log.entries! } : {});
  let stopping = false;
  const stop = (): void => void (stopping = true);
  process.once('SIGTERM', stop).once('SIGINT', stop);
  let role: Integrator | null = null;
  let standby = false;
  try {
    for (;;) {
      role ??= await Integrator.take(log, url, signer);
      if (role === null) {
        if (once) throw new CliExit(EXIT_USAGE, 'another integrator holds the role');
        if (!standby) err('mcp-attest: standby: another process is the integrator');
        standby = true;
        if (stopping) return;
        await sleep(1000);
        continue;
      }
      standby = false;
      try {
        const r = await role.step();
        if (r.checkpoint !== null) out(`checkpoint ${r.checkpoint}`);
        if (once || (stopping && r.checkpoint === null)) return;
        if (r.checkpoint === null) await sleep(intervalMs);
      } catch (e) {
        err(`mcp-attest: integrator role lost: ${(e as Error).message}${isAttestError(e) ? ` (${e.code})` : ''}`);
        await role.release();
        role = null;
        if (once) throw e;
        await sleep(intervalMs);
      }
    }
  } finally {
    await role?.release();
    await log.close();
  }
}
