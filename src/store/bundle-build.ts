/**
 * Building a receipt bundle from the SQLite log: the selected entries with their inclusion
 * proofs against one checkpoint covering them all, and consistency proofs from the sizes a
 * recipient already holds (`--since`).
 *
 * The checkpoint: among the stored checkpoints that cover every selected entry, the one with
 * the most witness cosignatures, the largest on a tie.
 * @see src/bundle/format.ts; docs/bundle.md
 */
import { AttestError } from '../errors.js';
import { MAX_BUNDLE_BYTES, MAX_BUNDLE_ENTRIES, type Bundle } from '../bundle/format.js';
import { callEntryIndexes } from './calls.js';
import { multiInclusionProof } from '../log/multiproof.js';
import { COMMITMENT_TAG } from '../log/opening.js';
import type { LogDb } from './log-db.js';
import { NOTE_COLUMN, sizesOf } from './note-rows.js';
import type { CheckpointSource } from './bundle-identity.js';
import { bestCheckpointSearch, firstCosignedSearch, type FirstLookup } from './checkpoint-choice.js';
import { sqliteLookups, tablesAsWritten } from './checkpoint-lookups.js';

/**
 * The most bytes of entries a bundle is built from: a bundle file holds at most
 * `MAX_BUNDLE_BYTES` (bundle/format.ts, what a verifier reads), and an entry written as a
 * JSON string takes more than its bytes.
 */
export const MAX_BUNDLE_ENTRY_BYTES = MAX_BUNDLE_BYTES / 2;

/** `ERR_USAGE`: the selection makes a bundle larger than a verifier reads. */
export function tooLarge(): AttestError {
  return new AttestError('ERR_USAGE', `the selected entries make a bundle larger than ${MAX_BUNDLE_BYTES / 2 ** 20} MiB, which no verifier reads: bundle a smaller range, or fewer calls`);
}

/** What to put in a bundle. */
export type Selection = { calls: string[] } | { range: [bigint, bigint] };

/** Indexes of every entry of call `callId`; throws `ERR_USAGE` when the log has none. */
function callEntries(db: LogDb, callId: string): bigint[] {
  const out = callEntryIndexes(db, callId);
  if (out.length === 0) throw new AttestError('ERR_USAGE', `no call ${callId} in the log`);
  return out;
}

/**
 * `indexes` (ascending) with, in a v2 log (`mode`: the log's, store/log-store.ts), entry 0 first: its parameters entry, what every
 * other entry's form must be (docs/log-format.md), so no verifier of a bundle or session
 * receipt has to take the log's format on trust.
 */
export function withParameters(mode: string | null, indexes: bigint[]): bigint[] {
  return (mode === 'private' || mode === 'public') && indexes[0] !== 0n ? [0n, ...indexes] : indexes;
}

/** The selected entry indexes, ascending and unique, {@link withParameters}. Throws `ERR_USAGE` for an unknown call or a bad range. */
export function selectEntries(db: LogDb, s: Selection): bigint[] {
  return withParameters(db.mode(), selected(db, s));
}

/**
 * The indexes of `range` (inclusive) in a log of `size` entries. Throws `ERR_USAGE` when it is
 * not within the log, or holds more entries than a bundle may (bundle/format.ts; entry 0 counted).
 */
export function rangeIndexes([a, b]: [bigint, bigint], size: bigint): bigint[] {
  if (a > b) throw new AttestError('ERR_USAGE', `range ${a}..${b}: its first entry comes after its last (A..B, A <= B)`);
  if (b >= size) throw new AttestError('ERR_USAGE', `range ${a}..${b} is not within the log (0..${size - 1n})`);
  if (b - a + 1n >= BigInt(MAX_BUNDLE_ENTRIES)) throw new AttestError('ERR_USAGE', `range ${a}..${b}: a bundle holds fewer than ${MAX_BUNDLE_ENTRIES} entries of a range (with entry 0, at most ${MAX_BUNDLE_ENTRIES}): bundle it in parts`);
  const out: bigint[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

function selected(db: LogDb, s: Selection): bigint[] {
  if ('range' in s) return rangeIndexes(s.range, db.size());
  const all = new Set(s.calls.flatMap((c) => callEntries(db, c)));
  return [...all].sort((x, y) => (x < y ? -1 : 1));
}

/** The entry at `index` as a bundle carries it: a private entry opened, its record and salt (log/opening.ts). Throws `ERR_USAGE` for an erased one. */
function openedEntry(db: LogDb, index: bigint): { bytes: Uint8Array; salt?: Uint8Array } {
  const entry = db.presentEntry(index);
  if (entry[0] !== COMMITMENT_TAG) return { bytes: entry };
  const o = db.opening(index);
  if (o === null) throw new AttestError('ERR_USAGE', `entry ${index} is erased: it cannot be opened in a bundle (bundle the ranges on either side of it, or the calls you need with --call)`);
  return { bytes: o.record, salt: o.salt };
}

/** How many signature lines a stored checkpoint note carries: the log's own, then each cosignature. */
export function signatureLines(note: string): number {
  return note.split('\n\u2014 ').length - 1;
}

/**
 * The checkpoint of `db` that `where` (SQL over checkpoint `c`, `?` bound to `args`) picks
 * first in `order`, with its cosignature lines; null when none. Chosen in SQL, the notes
 * unread, but every checkpoint `where` admits counted: {@link bestCheckpoint} and
 * {@link firstCosignedCheckpoint} read fewer, and use this only for a file whose tables are
 * not as mcp-attest makes them. `c.n` (in `where` and `order`) is a checkpoint's number of
 * stored cosignatures.
 */
export function pickCheckpoint(db: LogDb, where: string, order: string, ...args: bigint[]): { size: bigint; note: string } | null {
  const n = db.cosigned() ? '(SELECT count(*) FROM cosignatures s WHERE s.size = c.size)' : '0';
  const row = db.statement(`SELECT size, ${NOTE_COLUMN} FROM (SELECT size, note, ${n} AS n FROM checkpoints c) AS c WHERE ${where} ORDER BY ${order} LIMIT 1`).safeIntegers(true).get(...args) as { size: unknown; note: unknown } | undefined;
  if (row === undefined) return null;
  const [size] = sizesOf([row]);
  return { size: size!, note: String(row.note) + db.cosignatureLines(size!).join('') };
}

/** The note of the checkpoint stored at `size` with its cosignature lines; null when there is none. */
function checkpointAt(db: LogDb, size: bigint): { size: bigint; note: string } | null {
  const row = db.statement(`SELECT size, ${NOTE_COLUMN} FROM checkpoints WHERE size = ?`).safeIntegers(true).get(size) as { size: unknown; note: unknown } | undefined;
  if (row === undefined) return null;
  const [at] = sizesOf([row]);
  return { size: at!, note: String(row.note) + db.cosignatureLines(at!).join('') };
}

/**
 * The checkpoint of size at least `from` with the most cosignatures, the largest on a tie,
 * with its cosignature lines; null when none is that large. Chosen without reading every
 * checkpoint (a log checkpointed every second holds 86,400 more a day): see
 * store/checkpoint-choice.ts.
 */
export function bestCheckpoint(db: LogDb, from: bigint): { size: bigint; note: string } | null {
  if (!db.cosigned() || !tablesAsWritten(db)) return pickCheckpoint(db, 'c.size >= ?', 'c.n DESC, c.size DESC', from);
  const top = (db.statement('SELECT max(size) AS s FROM checkpoints WHERE size >= ?').safeIntegers(true).get(from) as { s: unknown }).s;
  if (top === null) return null;
  if (typeof top !== 'bigint') return pickCheckpoint(db, 'c.size >= ?', 'c.n DESC, c.size DESC', from);
  const lookups = sqliteLookups(db, from);
  const search = bestCheckpointSearch(top, lookups.count(top).n);
  let step = search.next();
  while (step.done !== true) step = search.next(lookups.answer(step.value));
  return checkpointAt(db, step.value);
}

/**
 * The smallest checkpoint above `entry` and below `below` with a cosignature; null when none
 * (store/checkpoint-choice.ts `firstCosignedSearch`).
 */
export function firstCosignedCheckpoint(db: LogDb, entry: bigint, below: bigint): { size: bigint; note: string } | null {
  if (!db.cosigned()) return null;
  if (!tablesAsWritten(db)) return pickCheckpoint(db, 'c.size > ? AND c.size < ? AND c.n > 0', 'c.size', entry, below);
  const min = (sql: string, ...args: unknown[]): unknown => (db.statement(sql).safeIntegers(true).get(...args) as { s: unknown }).s;
  const answer = (l: FirstLookup): unknown => {
    switch (l.kind) {
      case 'cosignedAfter': return min('SELECT min(size) AS s FROM cosignatures WHERE size > ? AND size < ?', l.after, below);
      case 'checkpointFrom': return min('SELECT min(size) AS s FROM checkpoints WHERE size >= ? AND size < ?', l.from, below);
      case 'cosignedAt': return db.statement('SELECT 1 FROM cosignatures WHERE size = ?').get(l.size) !== undefined;
    }
  };
  const search = firstCosignedSearch(entry);
  let step = search.next();
  while (step.done !== true) step = search.next(answer(step.value));
  return step.value === null ? null : checkpointAt(db, sizesOf([{ size: step.value }])[0]!);
}

/** The best checkpoint covering index `last` and at least `held` entries (the largest the recipient holds): most cosignatures, then largest. */
function chooseCheckpoint(db: LogDb, last: bigint, held: bigint): { size: bigint; note: string } {
  const best = bestCheckpoint(db, held > last ? held : last + 1n);
  if (best !== null) return best;
  if (held > last) {
    const size = db.size();
    throw new AttestError('ERR_USAGE', `--since ${held}: no checkpoint of the log is that large (a consistency proof reaches a checkpoint from a smaller size): ${held > size ? `the log holds ${size} entries: check the size` : 'run "mcp-attest log checkpoint"'}`);
  }
  throw new AttestError('ERR_USAGE', `no checkpoint covers entry ${last} yet: run "mcp-attest log checkpoint"`);
}

/** The {@link CheckpointSource} of `db` (store/bundle-identity.ts). */
export function sqliteCheckpoints(db: LogDb): CheckpointSource {
  return {
    firstCosigned: async (entry, below) => firstCosignedCheckpoint(db, entry, below),
    consistencyProof: async (size1, size2) => db.consistencyProof(size1, size2),
  };
}

/**
 * Build the bundle of `indexes` (ascending). `since` lists tree sizes the recipient holds a
 * checkpoint for; a consistency proof from each (below the chosen checkpoint's size) is
 * included. `shared`: one multi-leaf inclusion proof for all entries (bundle@2) instead of
 * a path per entry (bundle@1). The checkpoint is the best covering the entries and every
 * `since` size. Throws `ERR_USAGE` when nothing is selected or no checkpoint covers them
 * (a `since` size past the log's largest checkpoint included: it was silently dropped).
 */
export function buildBundle(db: LogDb, indexes: bigint[], since: bigint[] = [], shared = false): Bundle {
  if (indexes.length === 0) throw new AttestError('ERR_USAGE', 'nothing selected');
  const cp = chooseCheckpoint(db, indexes[indexes.length - 1]!, since.reduce((a, b) => (b > a ? b : a), 0n));
  let bytes = 0;
  const entries = indexes.map((index) => {
    const opened = openedEntry(db, index);
    if ((bytes += opened.bytes.length) > MAX_BUNDLE_ENTRY_BYTES) throw tooLarge();
    return { index, ...opened, proof: shared ? [] : db.inclusionProof(index, cp.size) };
  });
  const consistency = [...new Set(since)].filter((m) => m > 0n && m < cp.size).map((m) => ({ size: m, proof: db.consistencyProof(m, cp.size) }));
  const bundle: Bundle = { checkpoint: cp.note, entries, consistency };
  if (shared) bundle.proof = multiInclusionProof(indexes, cp.size, db.read);
  return bundle;
}
