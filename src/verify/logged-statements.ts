/**
 * Session statements as a log or bundle holds them, made ready for a session's check
 * (verify/session.ts): parsed once, with their digests, an agent's many statements sharing
 * one signer object. Read by RecordChecker (verify/records.ts) as it folds a log, and
 * by a session receipt's verification (verify/session-receipt.ts).
 * @see docs/session.md
 */
import type { KnownEntry, SignatureVerdict } from './session.js';
import type { Statement, StatementSigner } from '../receipt/session.js';
import { sha256Tagged } from '../bytes/digest.js';

/** A session statement as a log or bundle holds it: its entry's index, the statement's JCS text, and its signature's verdict from its entry's facts, if checked there. */
export interface LoggedStatement { index: bigint; text: string; signed?: SignatureVerdict }

/**
 * A logged statement parsed, with its digest and verdict, for a session's check
 * (verify/session.ts): the text is the canonical form of a statement the strict record
 * decoder accepted, so `JSON.parse` gives that statement back exactly (JCS writes no
 * duplicate member, no lone surrogate, and only safe integers here), and its digest is that
 * of the text.
 */
export function knownEntry(e: LoggedStatement): KnownEntry {
  const entry: KnownEntry = { index: e.index, statement: JSON.parse(e.text) as Statement, digest: sha256Tagged(e.text) };
  if (e.signed !== undefined) entry.signed = e.signed;
  return entry;
}

/** `e`'s signer object made `signer` when they are equal (one object for an agent's many statements); returns the one it has. */
export function sharedSigner(e: KnownEntry, signer: StatementSigner | null): StatementSigner {
  const s = e.statement.signer;
  if (signer === null || signer.id !== s.id || signer.alg !== s.alg || signer.keyId !== s.keyId) return s;
  e.statement.signer = signer;
  return signer;
}

/**
 * The statements of one session kept whole ({@link RecordChecker} without `checkSessions`:
 * a session receipt's), parsed, to check them; `list` is emptied as it is read, each text
 * let go once parsed.
 */
export function sessionEntries(list: LoggedStatement[]): KnownEntry[] {
  const out: KnownEntry[] = [];
  for (let k = 0; k < list.length; k++) {
    out.push(knownEntry(list[k]!));
    (list as Array<LoggedStatement | undefined>)[k] = undefined;
  }
  list.length = 0;
  return out;
}
