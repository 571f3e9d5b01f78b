/**
 * Findings of a log verification: each with a stable code, the entry index it concerns,
 * and expected vs found. `error` findings fail the verification; `notice` findings inform
 * (a call still in flight or never answered, self-trust).
 */
import type { ErrorCode } from '../errors.js';
import type { Check } from '../envelope/report.js';

/** One finding. `index` is a decimal string (log indices are uint64). */
export interface Finding {
  severity: 'error' | 'notice';
  code: ErrorCode | 'NOTE_UNANSWERED' | 'NOTE_IN_FLIGHT' | 'NOTE_SELF_TRUST' | 'NOTE_RESPONSE_RECEIPT' | 'NOTE_OUTSIDE_BUNDLE' | 'NOTE_WITNESS'
    | 'NOTE_POLICY_UNCHECKED' | 'NOTE_UNLOGGED' | 'NOTE_SESSION_OPEN' | 'NOTE_PARTY_UNCHECKED' | 'NOTE_SESSION_UNCHECKED' | 'NOTE_REJECTED' | 'NOTE_REFUSED_INPUT'
    | 'NOTE_ERASED' | 'NOTE_SEALED' | 'NOTE_REVOCATION_UNTRUSTED' | 'NOTE_IDENTITY_STALE' | 'NOTE_IDENTITY_UNGATED';
  message: string;
  index?: string;
  expected?: unknown;
  found?: unknown;
}

/** An error finding from a failed check of an entry. */
export function fromCheck(check: Check, index: bigint, what: string): Finding {
  const f: Finding = { severity: 'error', code: check.code ?? 'ERR_ENTRY_MALFORMED', message: `${what} ${check.dimension}: ${check.message ?? 'failed'}`, index: index.toString() };
  if (check.expected !== undefined) f.expected = check.expected;
  if (check.found !== undefined) f.found = check.found;
  return f;
}

/** An error finding. */
export function error(code: Finding['code'], message: string, detail: { index?: bigint; expected?: unknown; found?: unknown } = {}): Finding {
  const f: Finding = { severity: 'error', code, message };
  if (detail.index !== undefined) f.index = detail.index.toString();
  if (detail.expected !== undefined) f.expected = detail.expected;
  if (detail.found !== undefined) f.found = detail.found;
  return f;
}

/** A notice finding. */
export function notice(code: Finding['code'], message: string, index?: bigint): Finding {
  return index === undefined ? { severity: 'notice', code, message } : { severity: 'notice', code, message, index: index.toString() };
}

/** What a log or a bundle verification reports besides its own counts: ok when there is no error finding. */
export interface VerifySummary {
  ok: boolean;
  /** The checkpoint the verification rests on: origin, size (decimal), root (base64); null when none verified. */
  checkpoint: { origin: string; size: string; rootHash: string } | null;
  /** Listed witnesses whose cosignature on that checkpoint verified; timestamps in POSIX seconds. */
  witnesses: Array<{ name: string; timestamp: string }>;
  calls: number;
  receipts: number;
  unanswered: number;
  inFlight: number;
  /** Gatekeeper logs: calls refused, and calls allowed without an attestation (policy `required: false`). */
  refused: number;
  unattested: number;
  findings: Finding[];
}

/**
 * Insert `items` into `findings` at `at`, in place (a checker may hold the array), for any
 * number of items: spreading a hostile bundle's or log's findings into one call's arguments
 * throws past ~125,000 of them (V8's argument limit).
 */
export function insertFindings(findings: Finding[], at: number, items: Iterable<Finding>): void {
  const rest = findings.splice(at);
  for (const f of items) findings.push(f);
  for (const f of rest) findings.push(f);
}
