/**
 * Building a receipt bundle from a fleet's PostgreSQL log (`mcp-attest bundle --store URL`),
 * as store/bundle-build.ts does from SQLite: the selected entries, opened, with entry 0 in a
 * v2 log; one inclusion proof shared by all (bundle@2) or one per entry (bundle@1) against
 * the stored checkpoint covering them with the most cosignatures (the largest on a tie); and
 * consistency proofs from the sizes the recipient holds. The Merkle nodes are the integrator's
 * (every complete subtree, up to the integrated size that every checkpoint is within).
 *
 * A private entry is bundled opened, and in a fleet only the log's owner reads openings
 * (docs/fleet.md "Roles"): another role is refused with `ERR_USAGE`. Rows are read as hostile,
 * cut past their limits as store/pg-log.ts reads them.
 * @see docs/bundle.md; docs/fleet.md
 */
import { AttestError } from '../errors.js';
import type { Bundle, BundleEntry } from '../bundle/format.js';
import { utf8 } from '../bytes/index.js';
import { decodeRecord } from '../records/record.js';
import { inclusionProof, consistencyProof } from '../log/tree.js';
import { multiInclusionProof } from '../log/multiproof.js';
import { COMMITMENT_TAG } from '../log/opening.js';
import { cutColumn, entryBytes } from './entry-row.js';
import { NOTE_COLUMN, boundedLinesSql, sizesOf } from './note-rows.js';
import { rangeIndexes, withParameters, type Selection } from './bundle-build.js';
import type { CheckpointSource } from './bundle-identity.js';
import type { PgLog } from './pg-log.js';

/** Most rows a call id's byte search reads (a call has a handful of entries). */
const MAX_CALL_ROWS = 4096;
/** Most entries read in one statement. */
const CHUNK = 2048;

/** The database's "permission denied" as what it means here: the bundle needs the owner's role. */
function ownerOnly(e: unknown): never {
  if ((e as { code?: string }).code === '42501') throw new AttestError('ERR_USAGE', "a fleet's bundle carries its private entries opened, and only the log's owner reads openings (docs/fleet.md \"Roles\"): run it with the owner's URL");
  throw e;
}

/** Indexes of the entries of call `callId`: a byte search for its canonical `"callId":"..."` member, each match decoded and kept when the record's own `callId` is it. */
async function callIndexes(log: PgLog, callId: string): Promise<bigint[]> {
  const r = await log.pool.query(`SELECT idx, ${cutColumn('data')}, ${cutColumn('record')} FROM mcp_attest.entries WHERE position($1 in coalesce(record, data)) > 0 ORDER BY idx LIMIT ${MAX_CALL_ROWS + 1}`,
    [Buffer.from(utf8(`"callId":${JSON.stringify(callId)}`))]).catch(ownerOnly);
  if (r.rows.length > MAX_CALL_ROWS) throw new AttestError('ERR_USAGE', `more than ${MAX_CALL_ROWS} entries name call ${callId}: bundle a range instead`);
  const out: bigint[] = [];
  for (const row of r.rows) {
    const bytes = entryBytes(row.record, row.idx) ?? entryBytes(row.data, row.idx);
    try {
      const rec = bytes === null ? null : decodeRecord(bytes);
      if (rec !== null && 'callId' in rec && rec.callId === callId) out.push(BigInt(row.idx));
    } catch {
      // Not a record: `verify` reports it; it names no call.
    }
  }
  if (out.length === 0) throw new AttestError('ERR_USAGE', `no call ${callId} in the log`);
  return out;
}

/** The selected entry indexes of the fleet's log, ascending and unique, with entry 0 first in a v2 log. Throws `ERR_USAGE` for an unknown call, a bad range, a role not the owner's. */
export async function selectFleetEntries(log: PgLog, s: Selection): Promise<bigint[]> {
  let picked: bigint[];
  if ('range' in s) picked = rangeIndexes(s.range, await log.size());
  else {
    const all = new Set<bigint>();
    for (const c of new Set(s.calls)) for (const i of await callIndexes(log, c)) all.add(i);
    picked = [...all].sort((x, y) => (x < y ? -1 : 1));
  }
  return withParameters(await log.mode(), picked);
}

/** The entries at `indexes` (ascending) as a bundle carries them: a commitment opened (its record and salt), else the entry itself. */
async function openedEntries(log: PgLog, indexes: bigint[]): Promise<Array<Omit<BundleEntry, 'proof'>>> {
  const out: Array<Omit<BundleEntry, 'proof'>> = [];
  for (let k = 0; k < indexes.length; k += CHUNK) {
    const chunk = indexes.slice(k, k + CHUNK);
    const r = await log.pool.query(`SELECT idx, ${cutColumn('data')}, ${cutColumn('salt')}, ${cutColumn('record')} FROM mcp_attest.entries WHERE idx = ANY($1::bigint[]) ORDER BY idx`,
      [chunk.map(String)]).catch(ownerOnly);
    if (r.rows.length !== chunk.length) throw new AttestError('ERR_STORE_CORRUPT', 'an entry of the selection is missing from the log');
    for (const row of r.rows) {
      const [data, salt, record] = [entryBytes(row.data, row.idx), entryBytes(row.salt, row.idx), entryBytes(row.record, row.idx)];
      if (data === null) throw new AttestError('ERR_STORE_CORRUPT', 'an entry row is not bytes', { found: String(row.idx) });
      const index = BigInt(row.idx);
      if (data[0] !== COMMITMENT_TAG || index === 0n) out.push({ index, bytes: data });
      else if (salt !== null && record !== null) out.push({ index, bytes: record, salt });
      else throw new AttestError('ERR_STORE_CORRUPT', `entry ${index} is a commitment with no opening`, { index });
    }
  }
  return out;
}

/** The checkpoint `where` picks first in `order` (SQL over `c`, whose `n` counts its cosignatures; `$1`, `$2` bound to `args`), with its cosignature lines; null when none. */
async function pick(log: PgLog, where: string, order: string, args: bigint[]): Promise<{ size: bigint; note: string } | null> {
  const row = (await log.pool.query(`SELECT size, ${NOTE_COLUMN} FROM (SELECT size, note, (SELECT count(*) FROM mcp_attest.cosignatures s WHERE s.size = c.size) AS n
    FROM mcp_attest.checkpoints c) AS c WHERE ${where} ORDER BY ${order} LIMIT 1`, args.map(String))).rows[0];
  if (row === undefined) return null;
  const [size] = sizesOf([row]);
  const lines = (await log.pool.query(boundedLinesSql('size = $1'), [size!.toString()])).rows.map((l) => String(l.line));
  return { size: size!, note: String(row.note) + lines.join('') };
}

/** The {@link CheckpointSource} of the fleet's log (store/bundle-identity.ts). */
export function fleetCheckpoints(log: PgLog): CheckpointSource {
  return {
    firstCosigned: (entry, below) => pick(log, 'c.size > $1 AND c.size < $2 AND c.n > 0', 'c.size', [entry, below]),
    consistencyProof: (size1, size2) => log.withNodes((read) => consistencyProof(size1, size2, read)),
  };
}

/**
 * Build the bundle of `indexes` (ascending) of the fleet's log, as store/bundle-build.ts
 * `buildBundle` does: `since`, the sizes the recipient holds; `shared`, bundle@2. Throws
 * `ERR_USAGE` when nothing is selected or no checkpoint covers the entries and every `since`
 * size, `ERR_STORE_CORRUPT` for a row or node the log should hold and does not, `ERR_STORE_IO`.
 */
export async function buildFleetBundle(log: PgLog, indexes: bigint[], since: bigint[] = [], shared = false): Promise<Bundle> {
  if (indexes.length === 0) throw new AttestError('ERR_USAGE', 'nothing selected');
  const last = indexes[indexes.length - 1]!;
  const held = since.reduce((a, b) => (b > a ? b : a), 0n);
  const cp = await pick(log, 'c.size > $1 AND c.size >= $2', 'c.n DESC, c.size DESC', [last, held]);
  if (cp === null) throw new AttestError('ERR_USAGE', held > last ? `--since ${held}: no checkpoint of the log is that large (a consistency proof reaches a checkpoint from a smaller size): check the size` : `no checkpoint covers entry ${last} yet: the fleet's integrator (mcp-attest log integrate) signs one within a second of integrating it`);
  const opened = await openedEntries(log, indexes);
  const entries = await Promise.all(opened.map(async (e) => ({ ...e, proof: shared ? [] : await log.withNodes((read) => inclusionProof(e.index, cp.size, read)) })));
  const consistency = await Promise.all([...new Set(since)].filter((m) => m > 0n && m < cp.size).map(async (m) => ({ size: m, proof: await log.withNodes((read) => consistencyProof(m, cp.size, read)) })));
  const bundle: Bundle = { checkpoint: cp.note, entries, consistency };
  if (shared) bundle.proof = await log.withNodes((read) => multiInclusionProof(indexes, cp.size, read));
  return bundle;
}
