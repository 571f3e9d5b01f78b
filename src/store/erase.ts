/**
 * Erasure of one call from a private log (docs/log-format.md "Erasure"): the salts and
 * records of its entries are deleted, and its payloads from the evidence store unless a
 * record still kept names them too. The commitments stay, so the tree, every checkpoint and
 * every cosignature stay valid; the erased entries can never be opened again (a bundle of
 * them is refused, `verify` reports them as `NOTE_ERASED`). A public or v1 log cannot erase:
 * its records are its entries.
 */
import { AttestError } from '../errors.js';
import { fromUtf8, utf8 } from '../bytes/index.js';
import { callEntryIndexes } from './calls.js';
import { EvidenceStore } from './evidence.js';
import type { LogDb } from './log-db.js';

/** What an erasure removed: entries opened no more, payloads deleted. */
export interface Erased { entries: bigint[]; payloads: number }

/** The hex digests (`sha256:<hex>`) a record names: the payloads it commits to, among others. */
function digestsIn(record: Uint8Array): Set<string> {
  return new Set([...fromUtf8(record).matchAll(/sha256:([0-9a-f]{64})/g)].map((m) => m[1]!));
}

/**
 * Erase call `callId` from the writable private log `db`, and its payloads from the evidence
 * store at `evidencePath` (attached to the log's connection). Throws `ERR_USAGE` when the log
 * has no such call (or it is erased already) or its entries are public, `ERR_STORE_IO`.
 */
export function eraseCall(db: LogDb, evidencePath: string, callId: string): Erased {
  if (db.mode() !== 'private') throw new AttestError('ERR_USAGE', 'this log\'s entries are public (a v1 log, or made with --public-log): a record is its entry and cannot be erased without breaking the tree');
  const entries = callEntryIndexes(db, callId);
  if (entries.length === 0) throw new AttestError('ERR_USAGE', `no call ${callId} with entries still opened in the log`);
  const named = new Set<string>();
  for (const i of entries) for (const h of digestsIn(db.record(i)!)) named.add(h);
  // A payload another kept record names (the same arguments in another call) stays.
  const own = new Set(entries);
  const orphaned = [...named].filter((h) => !namedElsewhere(db, h, own));
  // Payloads first: a crash in between leaves the call's records, and the erase can run again.
  const evidence = new EvidenceStore(evidencePath, false, db.db);
  let payloads: number;
  try {
    payloads = evidence.erase(orphaned);
  } finally {
    db.db.exec('DETACH DATABASE evidence');
  }
  db.erase(entries);
  return { entries, payloads };
}

/** Whether a record outside `own` names the digest `hex`. */
function namedElsewhere(db: LogDb, hex: string, own: Set<bigint>): boolean {
  for (const [i] of db.recordsContaining(utf8(hex))) if (!own.has(i)) return true;
  return false;
}
