/**
 * The integrator of a PostgreSQL log: the one process that adds sequenced entries to the
 * Merkle tree and signs checkpoints. One at a time, elected through the state row alone: a
 * process takes the role by bumping `log_state.epoch` and naming its own database session
 * (`holder`, its backend pid) with a lease (`lease_until`, on the database server's clock),
 * which only succeeds when the lease has run out (an integrator that gave the role up, or
 * one alive but frozen, a stopped process or a paused VM, whose session lives on) or the
 * named session is gone (a killed integrator's successor takes over at once). Each step
 * renews the lease. A holder not named (an integrator of schema v4, during an upgrade) is
 * waited out by its lease. Every write the integrator makes is conditional on its epoch (fencing)
 * and on the state it read (compare-and-swap): an integrator deposed while it slept can
 * never advance the tree or publish a checkpoint, so two can never fork the log (Sunlight's
 * CAS on the checkpoint, Tessera's single integrator). Only a role that may update the
 * state row can take part: a writer cannot take or block the role (schema v5; before, an
 * advisory lock any role could queue on).
 * @see docs/fleet.md; RFC 9162 §2.1
 */
import pg from 'pg';
import { AttestError } from '../errors.js';
import { leafHash } from '../log/hash.js';
import { appendNodes, consistencyProof, rootAt, type NodeReader, type StoredNode } from '../log/tree.js';
import { verifyConsistency } from '../log/proof.js';
import { nodeKey } from '../log/async-nodes.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { equalBytes } from '../bytes/index.js';
import type { PgLog } from './pg-log.js';
import { connectionConfig, storeIo } from './pg-connect.js';
import { COMMITMENT_BYTES, COMMITMENT_TAG } from '../log/opening.js';
import { CompactRoots } from '../log/compact-range.js';

/** Most entries integrated in one step. */
const MAX_STEP = 16_384;

/** Signs a checkpoint body (C2SP signed note) with the log key; `origin` is the checkpoint's first line. */
export interface CheckpointSigner { origin: string; sign(text: string): Promise<string> }

/**
 * The integrator's own memory of the last tree it signed, kept outside the database (a file
 * in its data directory): before signing, the database's tree must extend it, so a database
 * restored from an older backup (or altered) and grown again can never make this key sign a
 * second history. `root` is 32 bytes.
 */
export interface SignedTreeMemory { last(): { size: bigint; root: Uint8Array } | null; remember(size: bigint, root: Uint8Array): void }

/** What one step did: the tree size after it, and the checkpoint size it published (null: none new). */
export interface StepResult { integrated: bigint; checkpoint: bigint | null }

/** A consistency proof that could not be made for want of a stored node: none (it fails to verify); any other error is thrown. */
function noProof(e: unknown): Uint8Array[] {
  if (e instanceof AttestError && e.code === 'ERR_STORE_CORRUPT') return [];
  throw e;
}

/**
 * `ERR_USAGE` when `log` was made for another origin than `origin` (`log_state.origin`, set
 * by the owner with entry 0: the wrong data directory would sign it with its key);
 * `ERR_STORE_CORRUPT` when its latest checkpoint names another origin; `ERR_STORE_IO`.
 */
export async function checkOrigin(log: PgLog, origin: string): Promise<void> {
  const made = (await log.pool.query('SELECT origin FROM mcp_attest.log_state WHERE id = 1')).rows[0]?.origin;
  if (typeof made === 'string' && made !== origin) {
    throw new AttestError('ERR_USAGE', `this fleet's log was made for the data directory of origin ${made.slice(0, 200)} (the owner's first log status --home DIR --store URL), not this one's (${origin}): integrate with that data directory, whose key signs it`, { expected: made.slice(0, 200), found: origin });
  }
  const latest = await log.latestCheckpoint();
  if (latest !== null && !latest.note.startsWith(`${origin}\n`)) {
    throw new AttestError('ERR_STORE_CORRUPT', `this log's checkpoints name another origin than ${origin}: integrate with the data directory holding its log key`, { expected: origin });
  }
}

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
  const read = edgeReader(edge);
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

/** A reader of the nodes in `edge` (key `level/index`); `ERR_STORE_CORRUPT` for one not there. */
function edgeReader(edge: Map<string, Uint8Array>): NodeReader {
  return (level, index) => {
    const h = edge.get(nodeKey(level, index));
    if (h === undefined) throw new AttestError('ERR_STORE_CORRUPT', `Merkle node ${nodeKey(level, index)} is not stored`);
    return h;
  };
}

/** The integrator (see the module comment). Start with {@link Integrator.take}. */
export class Integrator {
  /** When this integrator last published a checkpoint (ms since the epoch; 0: never). */
  private lastCheckpoint = 0;
  /** When this integrator last renewed its lease (ms since the epoch, its own clock). */
  private renewed = performance.now();
  /**
   * The tree this process knows is made of the entries: computed by its own integration, or
   * recomputed from the entries (once when it starts, or after another hand wrote the tree).
   * A stored root is trusted, to integrate from or to sign, only when it is this one.
   */
  private known: { size: bigint; root: Uint8Array } | null = null;

  private constructor(private readonly log: PgLog, private readonly client: pg.Client, readonly epoch: bigint, private readonly signer: CheckpointSigner, private readonly o: { checkpointMs: number; leaseMs: number; memory?: SignedTreeMemory | undefined }) {}

  /**
   * Become the integrator of `log` (whose connection string is `url`), signing with
   * `signer` a checkpoint at most every `checkpointMs` (default 1,000), holding a lease of
   * `leaseMs` (default 10,000) renewed as it steps; null when another process is the
   * integrator now: its session is alive and its lease has not run out. Throws
   * `ERR_USAGE` for a role that may not update the state row (a writer's), `ERR_STORE_IO`,
   * `ERR_STORE_CORRUPT` when the log has no state row or its latest checkpoint names another
   * origin than `signer`'s (the wrong data directory).
   */
  static async take(log: PgLog, url: string, signer: CheckpointSigner, o: { checkpointMs?: number; leaseMs?: number; memory?: SignedTreeMemory } = {}): Promise<Integrator | null> {
    await checkOrigin(log, signer.origin);
    const client = new pg.Client(connectionConfig(url));
    client.on('error', () => undefined); // a lost connection is a lost role: the next step reports it
    try {
      await client.connect();
      const leaseMs = o.leaseMs ?? 10_000;
      // One statement: of two standbys racing, the second finds the first's live session named and its lease fresh.
      const r = await client.query(`UPDATE mcp_attest.log_state s SET epoch = epoch + 1, lease_until = now() + $1::bigint * interval '1 millisecond', holder = pg_backend_pid()
        WHERE id = 1 AND (s.lease_until < now() OR (s.holder IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.holder))) RETURNING epoch`, [leaseMs]);
      if (r.rows.length === 1) return new Integrator(log, client, BigInt(r.rows[0].epoch), signer, { checkpointMs: o.checkpointMs ?? 1000, leaseMs, memory: o.memory });
      const state = await client.query('SELECT 1 FROM mcp_attest.log_state WHERE id = 1');
      if (state.rows.length !== 1) throw new AttestError('ERR_STORE_CORRUPT', 'the PostgreSQL log has no state row');
      await client.end();
      return null;
    } catch (e) {
      await client.end().catch(() => undefined);
      if ((e as { code?: string }).code === '42501') throw new AttestError('ERR_USAGE', `this database role may not take the integrator's role (${(e as Error).message}): integrate as a role with docs/fleet.md's fleet_integrator grants`);
      throw storeIo('cannot take the integrator role', e);
    }
  }

  /**
   * Integrate the entries sequenced since the last step (at most 16,384), and when the last
   * checkpoint is `checkpointMs` old, sign and publish one of the tree (its root as computed
   * here from the entries, never read back). Throws `ERR_INTEGRATOR_DEPOSED` when another
   * integrator took over (nothing of this step is published), `ERR_STORE_CORRUPT` when the
   * stored tree is not the one its root says (a node altered) or does not extend the last
   * tree this integrator's memory says it signed (a rolled-back database), `ERR_STORE_IO`.
   */
  async step(): Promise<StepResult> {
    const c = this.client;
    try {
      await this.renew();
      // The counter read, never locked: a writer holding its row does not stall integration.
      const s = (await c.query('SELECT (SELECT next_idx FROM mcp_attest.counter WHERE id = 1) AS next_idx, integrated, root, checkpoint_size, epoch FROM mcp_attest.log_state WHERE id = 1')).rows[0];
      if (s === undefined) throw new AttestError('ERR_STORE_CORRUPT', 'the PostgreSQL log has no state row');
      if (BigInt(s.epoch) !== this.epoch) throw deposed(this.epoch, s.epoch);
      const [from, next, cp] = [BigInt(s.integrated), BigInt(s.next_idx), BigInt(s.checkpoint_size)];
      const to = next - from > BigInt(MAX_STEP) ? from + BigInt(MAX_STEP) : next;
      let tree: { size: bigint; root: Uint8Array } = { size: from, root: new Uint8Array(s.root as Buffer) };
      await this.checkKnown(tree);
      if (to > from) tree = this.known = await this.integrate(from, to, tree.root);
      await this.renew(); // a long integration must not let the lease run out before the checkpoint
      const due = Date.now() - this.lastCheckpoint >= this.o.checkpointMs;
      const checkpoint = tree.size > cp && due ? await this.publish(cp, tree.size, tree.root) : null;
      return { integrated: tree.size, checkpoint };
    } catch (e) {
      throw storeIo('integration failed', e);
    }
  }

  /**
   * Check that the stored tree (its size and root) is made of the entries, unless it is the one
   * this process computed: its root recomputed from every entry below its size (once for a new
   * integrator; reading the published entries, ~32 bytes of hashing each). Throws
   * `ERR_STORE_CORRUPT` when it is not: tree nodes and a root written by hand, which this
   * integrator would otherwise extend and sign.
   */
  private async checkKnown(tree: { size: bigint; root: Uint8Array }): Promise<void> {
    if (this.known !== null && this.known.size === tree.size && equalBytes(this.known.root, tree.root)) return;
    const leaves = new CompactRoots(new Set([tree.size]));
    let expect = 0n;
    for await (const [index, data] of this.log.publishedEntries(0n, tree.size)) {
      if (index !== expect) break;
      leaves.appendLeafHash(leafHash(data));
      // A long log: the lease renewed as it goes (due a third of the way through it), so no standby takes over meanwhile.
      if (++expect % BigInt(MAX_STEP) === 0n) await this.renew();
    }
    if (expect !== tree.size) throw new AttestError('ERR_STORE_CORRUPT', `entry ${expect} is missing below the integrated size ${tree.size}`, { index: expect });
    if (!equalBytes(leaves.rootAt(tree.size), tree.root)) throw new AttestError('ERR_STORE_CORRUPT', `the stored root of the tree of ${tree.size} entries is not the root of the entries: the tree was written by hand; refusing to extend or sign it`, { index: tree.size });
    this.known = tree;
  }

  /**
   * Add entries [from, to) to the tree, after checking the stored compact range makes the
   * stored root; compare-and-swap on the integrated size and the epoch. Returns the new tree.
   */
  private async integrate(from: bigint, to: bigint, storedRoot: Uint8Array): Promise<{ size: bigint; root: Uint8Array }> {
    const edge = await this.log.fetchNodes(compactRange(from));
    if (!equalBytes(rootAt(from, edgeReader(edge)), storedRoot)) throw new AttestError('ERR_STORE_CORRUPT', `the stored Merkle nodes of the tree of ${from} entries do not make its stored root`, { index: from });
    const leaves: Uint8Array[] = [];
    let expect = from;
    // A private log publishes commitments only: clear text written by hand is never signed into it.
    const commitments = (await this.log.mode()) === 'private';
    // The entries as published (never their openings: the integrator has no use for them).
    for await (const [index, data] of this.log.publishedEntries(from, to)) {
      if (index !== expect) throw new AttestError('ERR_STORE_CORRUPT', `entry ${expect} is missing below the sequenced size`, { index: expect });
      if (commitments && index > 0n && (data.length !== COMMITMENT_BYTES || data[0] !== COMMITMENT_TAG)) throw new AttestError('ERR_STORE_CORRUPT', `entry ${index} of a private log is not a commitment: it is not integrated`, { index });
      leaves.push(leafHash(data));
      expect++;
    }
    if (expect !== to) throw new AttestError('ERR_STORE_CORRUPT', `entry ${expect} is missing below the sequenced size`, { index: expect });
    const { nodes, root } = integrateLeaves(from, leaves, edge);
    const c = this.client;
    // One statement, its own transaction: the state row (which sequencing also takes) is held for the server's work and the commit only.
    // A node already stored for these positions can only have been written by hand: refused (unique key), and nothing of the statement stays.
    let r: pg.QueryResult;
    try {
      r = await c.query(`WITH swap AS (UPDATE mcp_attest.log_state SET integrated = $1, root = $2 WHERE id = 1 AND integrated = $3 AND epoch = $4 RETURNING 1),
        ins AS (INSERT INTO mcp_attest.nodes (level, idx, hash) SELECT * FROM unnest($5::smallint[], $6::bigint[], $7::bytea[]) WHERE EXISTS (SELECT 1 FROM swap) RETURNING 1)
        SELECT (SELECT count(*) FROM swap) AS swapped, (SELECT count(*) FROM ins) AS nodes`,
      [to.toString(), Buffer.from(root), from.toString(), this.epoch.toString(), nodes.map((n) => n.level), nodes.map((n) => n.index.toString()), nodes.map((n) => Buffer.from(n.hash))]);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new AttestError('ERR_STORE_CORRUPT', 'a Merkle node of entries not yet integrated is already stored: the nodes table was written by hand', { index: from });
      throw e;
    }
    if (Number(r.rows[0].swapped) !== 1) throw deposed(this.epoch, null);
    return { size: to, root };
  }

  /** Sign a checkpoint of `size` whose root is `root`, and publish it by compare-and-swap from `previous`. */
  private async publish(previous: bigint, size: bigint, root: Uint8Array): Promise<bigint> {
    const last = this.o.memory?.last() ?? null;
    // The tree signed now must extend the one remembered: a consistency proof between the two roots (RFC 9162 §2.1.4), not
    // the root at its size recomputed from stored nodes, which altered nodes could make agree while the new root comes from others.
    // A proof that cannot be made (a node missing: ERR_STORE_CORRUPT) proves nothing; the database away is thrown as it is.
    if (last !== null && last.size > 0n && (size < last.size || !verifyConsistency(last.size, size, last.root, root, await this.log.withNodes((read) => consistencyProof(last.size, size, read)).catch(noProof)))) {
      throw new AttestError('ERR_STORE_CORRUPT', `the log's tree does not extend the tree of ${last.size} entries this data directory signed: the database was rolled back or altered; refusing to sign a second history`, { index: last.size });
    }
    // Remembered before it is signed: a crash after the signature cannot leave it forgotten (the entries never change, so a successor's tree extends it too).
    this.o.memory?.remember(size, root);
    const note = await this.signer.sign(formatCheckpoint({ origin: this.signer.origin, size, rootHash: root, extensions: [] }));
    const c = this.client;
    // One statement: the swap and the checkpoint row commit together, or neither.
    const r = await c.query(`WITH swap AS (UPDATE mcp_attest.log_state SET checkpoint_size = $1 WHERE id = 1 AND checkpoint_size = $2 AND epoch = $3 AND integrated >= $1 RETURNING 1),
      ins AS (INSERT INTO mcp_attest.checkpoints (size, note, created) SELECT $1::bigint, $4::text, $5::bigint WHERE EXISTS (SELECT 1 FROM swap) RETURNING 1)
      SELECT (SELECT count(*) FROM swap) AS swapped, (SELECT count(*) FROM ins) AS inserted`, [size.toString(), previous.toString(), this.epoch.toString(), note, Math.floor(Date.now() / 1000)]);
    if (Number(r.rows[0].swapped) !== 1) throw deposed(this.epoch, null);
    this.lastCheckpoint = Date.now();
    return size;
  }

  /** Renew the lease when a third of it has passed; `ERR_INTEGRATOR_DEPOSED` when another took over. */
  private async renew(): Promise<void> {
    if (performance.now() - this.renewed < this.o.leaseMs / 3) return;
    const at = performance.now();
    const r = await this.client.query('UPDATE mcp_attest.log_state SET lease_until = now() + $1::bigint * interval \'1 millisecond\' WHERE id = 1 AND epoch = $2', [this.o.leaseMs, this.epoch.toString()]);
    if (r.rowCount !== 1) throw deposed(this.epoch, null);
    this.renewed = at;
  }

  /** Give up the role: a standby may take it at once (its lease ended; a session ended holds nothing either). */
  async release(): Promise<void> {
    await this.client.query("UPDATE mcp_attest.log_state SET holder = NULL, lease_until = now() - interval '1 second' WHERE id = 1 AND epoch = $1", [this.epoch.toString()]).catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

function deposed(mine: bigint, now: unknown): AttestError {
  return new AttestError('ERR_INTEGRATOR_DEPOSED', 'another integrator took over: nothing of this step is published', { expected: mine.toString(), found: now === null ? undefined : String(now) });
}
