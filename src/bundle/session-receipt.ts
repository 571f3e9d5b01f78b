/**
 * Session receipts, `mcp-attest/session-receipt@1` (docs/session.md): the one file that
 * travels between the agent, its delegator, approvers and counterparties. A receipt bundle
 * (bundle/format.ts: cosigned checkpoint, entries with inclusion proofs, consistency proofs)
 * of the session's log entries and of the calls it captured, plus what is not in the log:
 *
 * ```
 * {"format":"mcp-attest/session-receipt@1","sessionId":"ses_…",
 *  "checkpoint":"…","entries":[{"index":"…","entry":"…","proof":[…]},…],"consistency":[…],
 *  "attachments":[<approval or confirmation statement>,…],                    (optional)
 *  "evidence":[{"digest":"sha256:<hex>","value":<JSON payload>},…]}          (optional)
 * ```
 * `attachments` are approvals and confirmations signed after the export (`mcp-attest approve`,
 * `countersign`) and not yet logged; `evidence` discloses action payloads, each checked
 * against the commitment of its action.
 */
import { AttestError } from '../errors.js';
import { parseJson, type JsonValue } from '../jcs/index.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import { TAGGED_DIGEST } from '../bytes/digest.js';
import { SESSION_ID } from '../receipt/session.js';
import { asciiJson, bundleBody, bundleParts, MAX_BUNDLE_BYTES, maxContainers, type Bundle } from './format.js';

/** The `format` member of every session receipt. */
export const SESSION_RECEIPT_FORMAT = 'mcp-attest/session-receipt@1';
/** Most attachments in one receipt. */
export const MAX_ATTACHMENTS = 1024;
/** Most disclosed evidence payloads in one receipt. */
export const MAX_EVIDENCE = 4096;
/** Deepest nesting accepted (evidence payloads are arbitrary JSON). */
export const MAX_RECEIPT_DEPTH = 48;

/** A parsed session receipt (nothing verified yet; attachments are unparsed JSON). */
export interface SessionReceipt {
  sessionId: string;
  bundle: Bundle;
  attachments: JsonValue[];
  evidence: Array<{ digest: string; value: JsonValue }>;
}

const TOP: ObjectSchema = {
  format: ['string', true], sessionId: ['string', true], checkpoint: ['string', true], entries: ['array', true], consistency: ['array', false],
  attachments: ['array', false], evidence: ['array', false],
};

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_SESSION_MALFORMED', message, cause === undefined ? {} : { cause });
}

/** True when parsed JSON text is a session receipt (its `format` member), so `verify` can dispatch. */
/** How a session receipt file starts (its format member first, as `receipt export` writes it): how `verify` and the verify page tell it from a bundle. */
export const SESSION_RECEIPT_HEAD = /^\s*\{\s*"format"\s*:\s*"mcp-attest\/session-receipt@1"/;

/** True when `value` is a parsed session receipt (its `format`). */
export function isSessionReceipt(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)['format'] === SESSION_RECEIPT_FORMAT;
}

/**
 * Parse a session receipt strictly: the size limit first, our strict JSON parser (depth 48,
 * bundle/format.ts `maxContainers`),
 * the closed schema, the session id, the bundle members (bundle/format.ts), limits on
 * attachments and evidence. Throws `ERR_SESSION_MALFORMED`, `ERR_BUNDLE_MALFORMED` or
 * `ERR_JSON_*`.
 */
export function parseSessionReceipt(text: string): SessionReceipt {
  if (text.length > MAX_BUNDLE_BYTES) throw malformed('receipt larger than 256 MiB');
  const problems: string[] = [];
  const top = checkObject(parseJson(text, { maxBytes: MAX_BUNDLE_BYTES, maxDepth: MAX_RECEIPT_DEPTH, maxContainers: maxContainers(text.length) }), TOP, '', problems);
  if (!top || problems.length > 0) throw malformed(problems.join('; ') || 'not an object');
  if (top['format'] !== SESSION_RECEIPT_FORMAT) throw malformed(`format must be ${SESSION_RECEIPT_FORMAT}`);
  if (!SESSION_ID.test(top['sessionId'] as string)) throw malformed('sessionId: not a session id');
  const attachments = (top['attachments'] ?? []) as JsonValue[];
  if (attachments.length > MAX_ATTACHMENTS) throw malformed(`attachments: at most ${MAX_ATTACHMENTS}`);
  const disclosed = (top['evidence'] ?? []) as unknown[];
  if (disclosed.length > MAX_EVIDENCE) throw malformed(`evidence: at most ${MAX_EVIDENCE}`);
  const evidence = disclosed.map((x, i) => {
    // `value` is any JSON value: only the members are checked here.
    if (!isObject(x) || Object.keys(x).sort().join() !== 'digest,value' || typeof x['digest'] !== 'string' || !TAGGED_DIGEST.test(x['digest'])) throw malformed(`.evidence[${i}]: {digest: "sha256:<hex>", value}`);
    return { digest: x['digest'], value: x['value'] as JsonValue };
  });
  return { sessionId: top['sessionId'] as string, bundle: bundleParts(top), attachments, evidence };
}

/** Serialize a session receipt (one entry per line, like bundles, in ASCII when its characters outside ASCII are few: {@link asciiJson}). Throws `ERR_BUNDLE_MALFORMED` for non-UTF-8 entries. */
export function formatSessionReceipt(r: SessionReceipt): string {
  const att = r.attachments.length === 0 ? '' : `,\n"attachments":[\n${r.attachments.map((a) => JSON.stringify(a)).join(',\n')}\n]`;
  const ev = r.evidence.length === 0 ? '' : `,\n"evidence":[\n${r.evidence.map((e) => JSON.stringify(e)).join(',\n')}\n]`;
  return asciiJson(`{"format":${JSON.stringify(SESSION_RECEIPT_FORMAT)},\n"sessionId":${JSON.stringify(r.sessionId)},\n${bundleBody(r.bundle)}${att}${ev}}\n`);
}
