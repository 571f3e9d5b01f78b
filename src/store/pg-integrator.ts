/**
 * The integrator of a PostgreSQL log: the one process that adds sequenced entries to the
 * Merkle tree and signs checkpoints. One at a time: it holds a session-level advisory lock
 * on its own connection (released by the server when that connection ends, so a killed
 * integrator's successor takes over), and on taking over it bumps `log_state.epoch`. Every
 * write it makes is conditional on that epoch (fencing) and on the state it read
 * (compare-and-swap): an integrator deposed while it slept can never advance the tree or
 * publish a checkpoint, so two can never fork the log (Sunlight's CAS on the checkpoint,
 * Tessera's single integrator).
 * @see docs/fleet.md; RFC 9162 §2.1
 */
import pg from 'pg';
import { AttestError } from '../errors.js';
import { leafHash } from '../log/hash.js';
import { appendNodes, rootAt, type NodeReader, type StoredNode } from '../log/tree.js';
import { nodeKey } from '../log/async-nodes.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { publishedEntry } from '../log/opening.js';
import type { PgLog } from './pg-log.js';
import { storeIo } from './pg-log.js';

/** The advisory lock key of the integrator ("mcp-attest" in ASCII, folded into a bigint). */
const LOCK_KEY = '7306813489436938612';
/** Most entries integrated in one step. */
const MAX_STEP = 16_384;

/** Signs a checkpoint body (C2SP signed note) with the log key; `origin` is the checkpoint's first line. */
export interface CheckpointSigner { origin: string; sign(text: string): Promise<string> }

/** What one step did: the tree size after it, and the checkpoint size it published (null: none new). */
export interface StepResult { integrated: bigint; checkpoint: bigint | null }

/** The roots of the perfect subtrees of a tree of `size` leaves: the nodes appending a leaf reads (RFC 9162 §2.1.2). */
export function compactRange(size: bigint): Array<[number, bigint]> {
  const out: Array<[number, bigint]> = [];
  for (let level = 63; level >= 0; level--) if (((size >> BigInt(level)) & 1n) === 1n) out.push([level, (size >> BigInt(level)) - 1n]);
  return out;
}

/**
 * The nodes appending `leaves` (leaf hashes, in order) to a tree of `size` leaves completes,
 * and the new root; `edge` holds the compact range of the tree of `size` (key `level/index`).
 */
export function integrateLeaves(size: bigint, leaves: Uint8Array[], edge: Map<string, Uint8Array>): { nodes: StoredNode[]; root: Uint8Array } {
  const read: NodeReader = (level, index) => {
    const h = edge.get(nodeKey(level, index));
    if (h === undefined) throw new AttestError('ERR_STORE_CORRUPT', `Merkle node ${nodeKey(level, index)} is not stored`);
    return h;
  };
  const nodes: StoredNode[] = [];
  let n = size;
  for (const leaf of leaves) {
    for (const node of appendNodes(n, leaf, read)) {
      nodes.push(node);
      edge.set(nodeKey(node.level, node.index), node.hash);
    }
    n++;
  }
  return { nodes, root: rootAt(n, read) };
}

/** The integrator (see the module comment). Start with {@link Integrator.take}. */
export class Integrator {
  private constructor(private readonly log: PgLog, private readonly client: pg.Client, readonly epoch: bigint, private readonly signer: CheckpointSigner) {}

  /**
   * Become the integrator of `log` (whose connection string is `url`), signing with
   * `signer`; null when another process is the integrator now. Throws `ERR_STORE_IO`.
   */
  static async take(log: PgLog, url: string, signer: CheckpointSigner): Promise<Integrator | null> {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined); // a lost connection is a lost lock: the next step reports it
    try {
      await client.connect();
      const got = (await client.query('SELECT pg_try_advisory_lock($1::bigint) AS got', [LOCK_KEY])).rows[0].got === true;
      if (!got) {
        await client.end();
        return null;
      }
      const epoch = BigInt((await client.query('UPDATE mcp_attest.log_state SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch')).rows[0].epoch);
      return new Integrator(log, client, epoch, signer);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw storeIo('cannot take the integrator lock', e);
    }
  }

  /**
   * Integrate the entries sequenced since the last step (at most 16,384), then sign and
   * publish a checkpoint of the new tree. Throws `ERR_INTEGRATOR_DEPOSED` when another
   * integrator took over (nothing of this step is published), `ERR_STORE_IO`.
   */
  async step(): Promise<StepResult> {
    const c = this.client;
    try {
      const s = (await c.query('SELECT next_idx, integrated, checkpoint_size, epoch FROM mcp_attest.log_state WHERE id = 1')).rows[0];
      if (BigInt(s.epoch) !== this.epoch) throw deposed(this.epoch, s.epoch);
      const [from, next] = [BigInt(s.integrated), BigInt(s.next_idx)];
      const to = next - from > BigInt(MAX_STEP) ? from + BigInt(MAX_STEP) : next;
      let integrated = from;
      if (to > from) integrated = await this.integrate(from, to);
      const checkpoint = integrated > BigInt(s.checkpoint_size) ? await this.publish(BigInt(s.checkpoint_size), integrated) : null;
      return { integrated, checkpoint };
    } catch (e) {
      throw storeIo('integration failed', e);
    }
  }

  /** Add entries [from, to) to the tree, with compare-and-swap on the integrated size and the epoch; returns the new size. */
  private async integrate(from: bigint, to: bigint): Promise<bigint> {
    const edge = await this.log.fetchNodes(compactRange(from));
    const leaves: Uint8Array[] = [];
    let expect = from;
    for await (const [index, bytes, salt] of this.log.entries(from, to)) {
      if (index !== expect) throw new AttestError('ERR_STORE_CORRUPT', `entry ${expect} is missing below the sequenced size`, { index: expect });
      leaves.push(leafHash(publishedEntry(bytes, salt)));
      expect++;
    }
    if (expect !== to) throw new AttestError('ERR_STORE_CORRUPT', `entry ${expect} is missing below the sequenced size`, { index: expect });
    const { nodes, root } = integrateLeaves(from, leaves, edge);
    const c = this.client;
    await c.query('BEGIN');
    try {
      await c.query('INSERT INTO mcp_attest.nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING',
        [nodes.map((n) => n.level), nodes.map((n) => n.index.toString()), nodes.map((n) => Buffer.from(n.hash))]);
      const r = await c.query('UPDATE mcp_attest.log_state SET integrated = $1, root = $2 WHERE id = 1 AND integrated = $3 AND epoch = $4', [to.toString(), Buffer.from(root), from.toString(), this.epoch.toString()]);
      if (r.rowCount !== 1) throw deposed(this.epoch, null);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    return to;
  }

  /** Sign a checkpoint of `size` and publish it, by compare-and-swap from `previous`. */
  private async publish(previous: bigint, size: bigint): Promise<bigint> {
    const root = await this.log.withNodes((read) => rootAt(size, read));
    const note = await this.signer.sign(formatCheckpoint({ origin: this.signer.origin, size, rootHash: root, extensions: [] }));
    const c = this.client;
    await c.query('BEGIN');
    try {
      const r = await c.query('UPDATE mcp_attest.log_state SET checkpoint_size = $1 WHERE id = 1 AND checkpoint_size = $2 AND epoch = $3 AND integrated >= $1', [size.toString(), previous.toString(), this.epoch.toString()]);
      if (r.rowCount !== 1) throw deposed(this.epoch, null);
      await c.query('INSERT INTO mcp_attest.checkpoints (size, note, created) VALUES ($1, $2, $3)', [size.toString(), note, Math.floor(Date.now() / 1000)]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    return size;
  }

  /** Give up the role (the lock goes with the connection). */
  async release(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

function deposed(mine: bigint, now: unknown): AttestError {
  return new AttestError('ERR_INTEGRATOR_DEPOSED', 'another integrator took over: nothing of this step is published', { expected: mine.toString(), found: now === null ? undefined : String(now) });
}
