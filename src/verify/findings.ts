/**
 * Findings of a log verification: each with a stable code, the entry index it concerns,
 * and expected vs found. `error` findings fail the verification; `notice` findings inform
 * (a call still in flight or never answered, self-trust).
 */
import type { ErrorCode } from '../errors.js';
import type { Check } from '../envelope/report.js';

/** The notices' codes: findings that fail nothing (docs/verification-codes.md lists each). */
export const NOTE_CODES = [
  'NOTE_UNANSWERED', 'NOTE_IN_FLIGHT', 'NOTE_SELF_TRUST', 'NOTE_RESPONSE_RECEIPT', 'NOTE_OUTSIDE_BUNDLE',
  'NOTE_POLICY_UNCHECKED', 'NOTE_UNLOGGED', 'NOTE_SESSION_OPEN', 'NOTE_SESSION_UNCHECKED', 'NOTE_REJECTED', 'NOTE_REFUSED_INPUT',
  'NOTE_ERASED', 'NOTE_SEALED', 'NOTE_REVOCATION_UNTRUSTED', 'NOTE_IDENTITY_STALE', 'NOTE_IDENTITY_UNGATED', 'NOTE_IDENTITY_LOG', 'NOTE_GATEKEEPER_UNDESIGNATED', 'NOTE_PARTY_IGNORED',
  'NOTE_UNWITNESSED',
] as const;

/** One finding. `index` is a decimal string (log indices are uint64). */
export interface Finding {
  severity: 'error' | 'notice';
  code: ErrorCode | (typeof NOTE_CODES)[number];
  message: string;
  index?: string;
  expected?: unknown;
  found?: unknown;
  /**
   * Set on the one finding that stands for the findings of its code not listed (past
   * {@link MAX_FINDINGS_PER_CODE}): how many there were. Its severity is theirs.
   */
  more?: number;
}

/** Longest string a finding's `expected` or `found` carries whole; a longer one is cut there and says its length. */
export const MAX_DETAIL_CHARS = 1024;

/**
 * `v` as a finding shows it: a string past {@link MAX_DETAIL_CHARS} cut there, with
 * `… (N characters)` after it (a hostile entry's value may be 64 KiB, and 1,000 findings
 * of a code may each show it); other values as they are (their sizes are bounded by the
 * schemas they passed).
 */
function shown(v: unknown): unknown {
  return typeof v === 'string' && v.length > MAX_DETAIL_CHARS ? `${v.slice(0, MAX_DETAIL_CHARS)}… (${v.length} characters)` : v;
}

/** An error finding from a failed check of an entry. */
export function fromCheck(check: Check, index: bigint, what: string): Finding {
  const f: Finding = { severity: 'error', code: check.code ?? 'ERR_ENTRY_MALFORMED', message: `${what} ${check.dimension}: ${check.message ?? 'failed'}`, index: index.toString() };
  if (check.expected !== undefined) f.expected = shown(check.expected);
  if (check.found !== undefined) f.found = shown(check.found);
  return f;
}

/** An error finding; a long string `expected` or `found` is cut ({@link MAX_DETAIL_CHARS}). */
export function error(code: Finding['code'], message: string, detail: { index?: bigint; expected?: unknown; found?: unknown } = {}): Finding {
  const f: Finding = { severity: 'error', code, message };
  if (detail.index !== undefined) f.index = detail.index.toString();
  if (detail.expected !== undefined) f.expected = shown(detail.expected);
  if (detail.found !== undefined) f.found = shown(detail.found);
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
 * Most findings of one code a report lists; the rest are counted in one last finding of
 * that code ({@link Finding.more}). A hostile log or bundle can fail every entry, and one
 * finding an entry would make the report (and the verifier's memory) grow with the input: a
 * 346 MB log of four million one-byte entries made `verify --json` fail to write its report.
 */
export const MAX_FINDINGS_PER_CODE = 1000;

/**
 * Adds findings to `out`, listing at most `max` of each code and counting the rest; a finding
 * that already stands for others (`more`) adds its count. {@link flush} then adds, for each
 * code with findings not listed, one finding of that code and severity saying how many
 * (`more`). For a checker that reports one finding an entry: its memory stays bounded.
 */
export class FindingCap {
  /** By severity and code (`error ERR_X`): a code reported at two severities is counted apart, so an error is never counted into a notice. */
  private readonly listed = new Map<string, number>();
  private readonly over = new Map<string, { severity: Finding['severity']; code: Finding['code']; more: number }>();

  constructor(readonly out: Finding[], private readonly max = MAX_FINDINGS_PER_CODE) {}

  /** Add `items`, in order. */
  push(...items: Finding[]): void {
    for (const f of items) this.add(f);
  }

  /** Add one finding. */
  add(f: Finding): void {
    const key = `${f.severity} ${f.code}`;
    const n = this.listed.get(key) ?? 0;
    if (f.more === undefined && n < this.max) {
      this.listed.set(key, n + 1);
      this.out.push(f);
      return;
    }
    const o = this.over.get(key);
    if (o === undefined) this.over.set(key, { severity: f.severity, code: f.code, more: f.more ?? 1 });
    else o.more += f.more ?? 1;
  }

  /** Add the finding of each code (and severity) with findings not listed, and forget them. */
  flush(): void {
    for (const { severity, code, more } of this.over.values()) {
      this.out.push({ severity, code, message: `${more} more ${code} finding(s) not listed (a report lists ${this.max} of each code)`, more });
    }
    this.over.clear();
  }
}

/**
 * `findings` with at most {@link MAX_FINDINGS_PER_CODE} of each code listed, in their order,
 * then one finding per code for the rest ({@link FindingCap}). The same array when nothing
 * is over the limit.
 */
export function limitFindings(findings: Finding[]): Finding[] {
  if (findings.length <= MAX_FINDINGS_PER_CODE && !findings.some((f) => f.more !== undefined)) return findings;
  const cap = new FindingCap([]);
  for (const f of findings) cap.add(f);
  cap.flush();
  return cap.out;
}

/**
 * Insert `items` into `findings` at `at`, in place (a checker may hold the array), for any
 * number of items (spreading a hostile bundle's or log's findings into one call's arguments
 * throws past ~125,000 of them: V8's argument limit); then at most
 * {@link MAX_FINDINGS_PER_CODE} of each code are listed ({@link limitFindings}).
 */
export function insertFindings(findings: Finding[], at: number, items: Iterable<Finding>): void {
  const all = findings.slice(0, at);
  for (const f of items) all.push(f);
  for (let i = at; i < findings.length; i++) all.push(findings[i]!);
  const limited = limitFindings(all);
  findings.length = 0;
  for (const f of limited) findings.push(f);
}
