/**
 * What `verify` tells a counterparty about the calls themselves: the calls of a small
 * verified bundle, one line each (tool, outcome, times), and `--require-receipts`, under
 * which a call without its receipt fails instead of being a notice.
 * @see docs/bundle.md "Verification, in order"; docs/cli.md (verify)
 */
import { openBundle } from '../bundle/format.js';
import { addToCalls, type CallRow } from '../store/calls.js';
import { error, type Finding } from '../verify/findings.js';

/** Most calls a bundle's report lists one by one (a range bundle of thousands is summed up, not listed). */
export const MAX_LISTED_CALLS = 100;

/**
 * The calls of the bundle `text` (already verified: its records are those the report
 * checked), as `log show` lists them (store/calls.ts): call id, tool, server, outcome, times.
 * Read again from the text: only for a bundle of at most {@link MAX_LISTED_CALLS} calls.
 */
export function bundleCalls(text: string): CallRow[] {
  const calls = new Map<string, CallRow>();
  for (const e of openBundle(text).entries()) addToCalls(calls, e.index, e.bytes);
  return [...calls.values()];
}

/** One line per call, for the text report: `call ID  TOOL  OUTCOME  STARTED -> COMPLETED`. */
export function callLines(rows: CallRow[]): string[] {
  return rows.map((r) => {
    const outcome = r.receipt_idx === null ? 'no receipt in this bundle' : `${r.status ?? '?'}${r.reason ? ` (${r.reason})` : ''}${r.task_result_idx !== null ? ' [task]' : ''}`;
    return `  call ${r.call_id}  ${r.tool ?? '?'}  ${outcome}${r.started ? `  ${r.started}` : ''}${r.completed ? ` -> ${r.completed}` : ''}`;
  });
}

/**
 * `--require-receipts`: each call without its receipt (`NOTE_IN_FLIGHT`: in flight in a log,
 * or left out of a bundle) becomes `ERR_RECEIPT_MISSING`, an error, with its entry and
 * message; returns the findings and whether they still verify. A counterparty who must see
 * every outcome asks for this: an operator could otherwise leave out a refused or failed
 * call's receipt and the bundle would still verify.
 */
export function requireReceipts(findings: Finding[]): { findings: Finding[]; ok: boolean } {
  const out = findings.map((f) => (f.code === 'NOTE_IN_FLIGHT' ? { ...error('ERR_RECEIPT_MISSING', `${f.message} (--require-receipts)`), ...(f.index !== undefined ? { index: f.index } : {}), ...(f.more !== undefined ? { more: f.more } : {}) } : f));
  return { findings: out, ok: !out.some((f) => f.severity === 'error') };
}
