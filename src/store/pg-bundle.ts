/**
 * Building a receipt bundle from a fleet's PostgreSQL log (`mcp-attest bundle --store URL`),
 * as store/bundle-build.ts does from SQLite: the selected entries, opened, with entry 0 in a
 * v2 log; one inclusion proof shared by all (bundle@2) or one per entry (bundle@1) against
 * the stored checkpoint covering them with the most cosignatures (the largest on a tie); and
 * consistency proofs from the sizes the recipient holds. The Merkle nodes are the integrator's
 * (every complete subtree, up to the integrated size that every checkpoint is within).
 *
 * A private entry is bundled opened, and in a fleet only the log's owner reads openings
 * (docs/fleet.md "Roles"): another role is refused with `ERR_USAGE`. The calls of the log
 * (`log show --store`) are read the same way. Rows are read as hostile,
 * cut past their limits as store/pg-log.ts reads them.
 * @see docs/bundle.md; docs/fleet.md
 */
import { AttestError } from '../errors.js';
import { MAX_BUNDLE_ENTRIES, type Bundle, type BundleEntry } from '../bundle/format.js';
import { utf8 } from '../bytes/index.js';
import { decodeRecord } from '../records/record.js';
import { inclusionProof, consistencyProof } from '../log/tree.js';
import { multiInclusionProof } from '../log/multiproof.js';
import { cutColumn, entryBytes } from './entry-row.js';
import { NOTE_COLUMN, boundedLinesSql, sizesOf } from './note-rows.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { parseNote } from '../log/note.js';
import { MAX_BUNDLE_ENTRY_BYTES, rangeIndexes, tooLarge, withParameters, type Selection } from './bundle-build.js';
import type { CheckpointSource } from './bundle-identity.js';
import { bestCheckpointSearch, firstCosignedSearch, type FirstLookup, type Size } from './checkpoint-choice.js';
import { pgLookups } from './pg-lookups.js';
import type { PgLog } from './pg-log.js';
import { addToCalls, type CallRow } from './calls.js';

/** Rows per statement: of a call id's byte search (indexes only), and of entries read. */
const PAGE = 2048;
/** Entries a call id's search reads and decodes at once (each up to 64 KiB: a writer may plant large ones). */
const SEARCH_READ = 128;

/** The database's "permission denied" as what it means here: the bundle needs the owner's role. */
function ownerOnly(e: unknown): never {
  if ((e as { code?: string }).code === '42501') throw new AttestError('ERR_USAGE', "this reads the fleet's private entries opened, and only the log's owner reads openings (docs/fleet.md \"Roles\"): run it with the owner's URL");
  throw e;
}

/**
 * Indexes of the entries of call `callId`: a byte search for its canonical `"callId":"..."`
 * member, each match decoded and kept only when the record's own `callId` is it. Matches are
 * read a page at a time, and none is refused for their number: entries a writer planted with
 * the bytes nested elsewhere slow the search (one pass over the log), never stop it.
 */
async function callIndexes(log: PgLog, callId: string): Promise<bigint[]> {
  const needle = Buffer.from(utf8(`"callId":${JSON.stringify(callId)}`));
  const out: bigint[] = [];
  for (let after = -1n; ;) {
    const page = (await log.pool.query(`SELECT idx FROM mcp_attest.entries WHERE idx > $1 AND position($2 in coalesce(record, data)) > 0 ORDER BY idx LIMIT ${PAGE}`,
      [after.toString(), needle]).catch(ownerOnly)).rows.map((r) => BigInt(r.idx));
    if (page.length === 0) break;
    for (let k = 0; k < page.length; k += SEARCH_READ) {
      for (const { index, bytes } of await readEntries(log, page.slice(k, k + SEARCH_READ))) {
        try {
          const rec = decodeRecord(bytes);
          if ('callId' in rec && rec.callId === callId) out.push(index);
        } catch {
          // Not a record: `verify` reports it; it names no call.
        }
      }
    }
    if (out.length > MAX_BUNDLE_ENTRIES) throw new AttestError('ERR_USAGE', `call ${callId} has more entries than a bundle holds`);
    after = page[page.length - 1]!;
  }
  if (out.length === 0) throw new AttestError('ERR_USAGE', `no call ${callId} in the log`);
  return out;
}

/** Every call of the fleet's log, oldest first (store/calls.ts), read as its owner (`ERR_USAGE` for another role of a private log). */
export async function fleetCalls(log: PgLog): Promise<CallRow[]> {
  const calls = new Map<string, CallRow>();
  try {
    for await (const [index, bytes] of log.entries(0n, await log.size())) addToCalls(calls, index, bytes);
  } catch (e) {
    ownerOnly(e);
  }
  return [...calls.values()];
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

/**
 * The entries at `indexes` (ascending, at most {@link PAGE}) as a bundle carries them: one
 * with an opening (a private entry: its salt and record) opened, any other as it is published;
 * `ERR_STORE_CORRUPT` for one missing.
 */
async function readEntries(log: PgLog, indexes: bigint[]): Promise<Array<Omit<BundleEntry, 'proof'>>> {
  const r = await log.pool.query(`SELECT idx, ${cutColumn('data')}, ${cutColumn('salt')}, ${cutColumn('record')} FROM mcp_attest.entries WHERE idx = ANY($1::bigint[]) ORDER BY idx`,
    [indexes.map(String)]).catch(ownerOnly);
  if (r.rows.length !== indexes.length) throw new AttestError('ERR_STORE_CORRUPT', 'an entry of the selection is missing from the log');
  return r.rows.map((row) => {
    const [data, salt, record] = [entryBytes(row.data, row.idx), entryBytes(row.salt, row.idx), entryBytes(row.record, row.idx)];
    if (data === null) throw new AttestError('ERR_STORE_CORRUPT', 'an entry row is not bytes', { found: String(row.idx) });
    // Its opening, not its first byte, says what an entry is: a public log takes any clear bytes, a 0x01 first too.
    return salt !== null && record !== null ? { index: BigInt(row.idx), bytes: record, salt } : { index: BigInt(row.idx), bytes: data };
  });
}

/** {@link readEntries} of any number of `indexes`, refused (`ERR_USAGE`) once their bytes pass what a bundle file may hold. */
async function openedEntries(log: PgLog, indexes: bigint[]): Promise<Array<Omit<BundleEntry, 'proof'>>> {
  const out: Array<Omit<BundleEntry, 'proof'>> = [];
  let bytes = 0;
  for (let k = 0; k < indexes.length; k += PAGE) {
    for (const e of await readEntries(log, indexes.slice(k, k + PAGE))) {
      bytes += e.bytes.length;
      if (bytes > MAX_BUNDLE_ENTRY_BYTES) throw tooLarge();
      out.push(e);
    }
  }
  return out;
}

/** The checkpoint stored at `size` with its cosignature lines, read as hostile (its note must be of that size); null when there is none. */
async function checkpointAt(log: PgLog, size: bigint): Promise<{ size: bigint; note: string } | null> {
  const row = (await log.pool.query(`SELECT size, ${NOTE_COLUMN} FROM mcp_attest.checkpoints WHERE size = $1`, [size.toString()])).rows[0];
  if (row === undefined) return null;
  const lines = (await log.pool.query(boundedLinesSql('size = $1'), [size.toString()])).rows.map((l) => String(l.line));
  const note = String(row.note) + lines.join('');
  // A row is hostile: its note must be a checkpoint of the size it is stored under (the codes of the parsers otherwise).
  if (parseCheckpoint(parseNote(note).text).size !== size) throw new AttestError('ERR_STORE_CORRUPT', `the checkpoint stored under size ${size} is of another size`, { index: size });
  return { size, note };
}

/**
 * The size of the checkpoint of size at least `from` with the most cosignatures, the largest
 * on a tie; null when none is that large. The search of store/checkpoint-choice.ts, a witness
 * at a time where `mcp_attest.cosignatures` has an index on `(witness, size)`
 * (store/pg-lookups.ts); without one, every cosignature row from `from` up is counted, in one
 * statement.
 */
export async function fleetBestSize(log: PgLog, from: bigint): Promise<bigint | null> {
  const top = (await log.pool.query('SELECT max(size) AS s FROM mcp_attest.checkpoints WHERE size >= $1', [from.toString()])).rows[0]?.s;
  if (top === null || top === undefined) return null;
  const [size] = sizesOf([{ size: top }]);
  const lookups = pgLookups(log, from);
  const search = bestCheckpointSearch(size!, (await lookups.count(size!)).n);
  let step = search.next();
  while (step.done !== true) step = search.next(await lookups.answer(step.value));
  return step.value;
}

/**
 * The size of the smallest checkpoint above `entry` and below `below` with a cosignature; null
 * when none (store/checkpoint-choice.ts `firstCosignedSearch`).
 */
export async function fleetFirstCosignedSize(log: PgLog, entry: bigint, below: bigint): Promise<bigint | null> {
  const q = async (sql: string, ...args: Size[]): Promise<bigint | null> => {
    const v = (await log.pool.query(sql, args.map(String))).rows[0]?.s;
    return v === null || v === undefined ? null : sizesOf([{ size: v }])[0]!;
  };
  const answer = async (l: FirstLookup): Promise<unknown> => {
    switch (l.kind) {
      case 'cosignedAfter': return q('SELECT min(size) AS s FROM mcp_attest.cosignatures WHERE size > $1 AND size < $2', l.after, below);
      case 'checkpointFrom': return q('SELECT min(size) AS s FROM mcp_attest.checkpoints WHERE size >= $1 AND size < $2', l.from, below);
      case 'cosignedAt': return (await q('SELECT size AS s FROM mcp_attest.cosignatures WHERE size = $1 LIMIT 1', l.size)) !== null;
    }
  };
  const search = firstCosignedSearch(entry);
  let step = search.next();
  while (step.done !== true) step = search.next(await answer(step.value));
  return step.value as bigint | null;
}

/** The {@link CheckpointSource} of the fleet's log (store/bundle-identity.ts). */
export function fleetCheckpoints(log: PgLog): CheckpointSource {
  return {
    firstCosigned: async (entry, below) => {
      const size = await fleetFirstCosignedSize(log, entry, below);
      return size === null ? null : checkpointAt(log, size);
    },
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
  const best = await fleetBestSize(log, held > last ? held : last + 1n);
  const cp = best === null ? null : await checkpointAt(log, best);
  if (cp === null) throw new AttestError('ERR_USAGE', held > last ? `--since ${held}: no checkpoint of the log is that large (a consistency proof reaches a checkpoint from a smaller size): check the size` : `no checkpoint covers entry ${last} yet: the fleet's integrator (mcp-attest log integrate) signs one within a second of integrating it`);
  const opened = await openedEntries(log, indexes);
  const entries = await Promise.all(opened.map(async (e) => ({ ...e, proof: shared ? [] : await log.withNodes((read) => inclusionProof(e.index, cp.size, read)) })));
  const consistency = await Promise.all([...new Set(since)].filter((m) => m > 0n && m < cp.size).map(async (m) => ({ size: m, proof: await log.withNodes((read) => consistencyProof(m, cp.size, read)) })));
  const bundle: Bundle = { checkpoint: cp.note, entries, consistency };
  if (shared) bundle.proof = await log.withNodes((read) => multiInclusionProof(indexes, cp.size, read));
  return bundle;
}
