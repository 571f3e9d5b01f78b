/**
 * Receipt-session statements (`mcp-attest/session-statement@1`, docs/session.md): small
 * signed JSON objects, one per log entry, that make up a receipt session. Same signing rule
 * as SEP-2787 envelopes: `signature` is lowercase hex over the JCS bytes of the statement
 * without `signature` (envelope/signature.ts). Five kinds:
 *
 * - `start`: the agent opens a session for a `task` and `delegator`, optionally bound to a
 *   policy document (`policyDigest`, `sha256:` of its bytes); `genesis` is
 *   {@link sessionGenesis}(sessionId).
 * - `action`: the agent's action number `seq` (1, 2, ...), chained by `prev` (the digest of
 *   action `seq - 1`, the genesis for the first); `evidence` commits to a JSON payload
 *   (`sha256:` of its JCS) kept in the evidence store; `call` names a tool call captured by
 *   the proxy (its attestation and receipt records, by log index and digest).
 * - `seal`: the agent closes the session: `actionCount`, `actionsDigest`
 *   ({@link actionsDigest} of the ordered action digests), `startDigest`, the log index of
 *   the start entry (`firstIndex`) and of the last action (`lastIndex`), the policy digest,
 *   and `partyCount` / `partiesDigest` over the approvals and confirmations logged before it
 *   (so none can be dropped from a receipt unnoticed).
 * - `approval` / `confirmation`: a party (approver, counterparty) approves one action, bound
 *   by its digest, or (a confirmation only) the seal. Signed with the party's own key; a
 *   `declared` one is the agent's record that the party agreed, signed by the agent and
 *   never counted as the party's signature.
 *
 * Runtime-neutral and signing-free: verifiers import this file.
 */
import { sha256Tagged } from '../bytes/digest.js';
import { AttestError } from '../errors.js';
import { canonicalBytes, type CanonicalMemo, type JsonValue } from '../jcs/index.js';
import { isAlgName, type AlgName } from '../keys/algorithms.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import { SESSION_ID } from './session-id.js';

/** The `format` member of every session statement. */
export const STATEMENT_FORMAT = 'mcp-attest/session-statement@1';
/** Kinds of statement. */
export const STATEMENT_KINDS = ['start', 'action', 'approval', 'confirmation', 'seal'] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export { SESSION_ID };
/** Most characters of an action name (a tool name may be long and contain `/`). */
export const MAX_NAME_CHARS = 8192;
/** Most characters of a task, summary or note. */
export const MAX_TEXT_CHARS = 16384;
/** Most characters of a delegator or party id. */
export const MAX_ID_CHARS = 1024;

/** Who signed a statement: the agent's issuer id (or a party's id), algorithm and key id (RFC 7638 thumbprint). */
export interface StatementSigner { id: string; alg: AlgName; keyId: string }

/** A captured tool call an action stands for: its attestation and receipt records in the log. */
export interface CallRef { tool: string; attestationIndex: string; attestationDigest: string; receiptIndex: string; receiptDigest: string }

/** What an approval or confirmation is bound to: one action (position and digest), or the seal. */
export type Target = { seq: number; actionDigest: string } | { sealDigest: string };

interface Common { format: typeof STATEMENT_FORMAT; sessionId: string; iat: string; signer: StatementSigner; signature: string }
export interface StartStatement extends Common { kind: 'start'; task: string; delegator: string; genesis: string; policyDigest?: string }
export interface ActionStatement extends Common { kind: 'action'; seq: number; prev: string; name: string; summary?: string; evidence?: string; call?: CallRef }
export interface SealStatement extends Common {
  kind: 'seal'; actionCount: number; actionsDigest: string; startDigest: string; firstIndex: string; lastIndex: string; policyDigest?: string;
  /** Approvals and confirmations logged before the seal: their count and {@link actionsDigest}-style digest, in log order. */
  partyCount: number; partiesDigest: string;
}
export interface PartyStatement extends Common {
  kind: 'approval' | 'confirmation'; party: string; declared: boolean; target: Target;
  /** `approved` / `rejected` for approvals, `confirmed` / `disputed` for confirmations. */
  decision: string; note?: string;
}
export type Statement = StartStatement | ActionStatement | SealStatement | PartyStatement;

/** Decisions allowed per party kind. */
export const DECISIONS = { approval: ['approved', 'rejected'], confirmation: ['confirmed', 'disputed'] } as const;

const COMMON: ObjectSchema = { format: ['string', true], kind: ['string', true], sessionId: ['string', true], iat: ['timestamp', true], signer: ['object', true], signature: ['hex', true] };
const KIND: Record<StatementKind, ObjectSchema> = {
  start: { task: ['string', true], delegator: ['nonempty', true], genesis: ['digest', true], policyDigest: ['digest', false] },
  action: { seq: ['count', true], prev: ['digest', true], name: ['nonempty', true], summary: ['string', false], evidence: ['digest', false], call: ['object', false] },
  seal: {
    actionCount: ['count', true], actionsDigest: ['digest', true], startDigest: ['digest', true], firstIndex: ['string', true], lastIndex: ['string', true],
    policyDigest: ['digest', false], partyCount: ['count', true], partiesDigest: ['digest', true],
  },
  approval: { party: ['nonempty', true], declared: ['boolean', true], target: ['object', true], decision: ['string', true], note: ['string', false] },
  confirmation: { party: ['nonempty', true], declared: ['boolean', true], target: ['object', true], decision: ['string', true], note: ['string', false] },
};
/** Each kind's whole schema, made once (the checker lists a schema's members once per schema object). */
const STATEMENT_SCHEMA = Object.fromEntries(Object.entries(KIND).map(([k, members]) => [k, { ...COMMON, ...members }])) as Record<StatementKind, ObjectSchema>;
const SIGNER: ObjectSchema = { id: ['nonempty', true], alg: ['string', true], keyId: ['nonempty', true] };
const CALL: ObjectSchema = { tool: ['nonempty', true], attestationIndex: ['string', true], attestationDigest: ['digest', true], receiptIndex: ['string', true], receiptDigest: ['digest', true] };
const ACTION_TARGET: ObjectSchema = { seq: ['count', true], actionDigest: ['digest', true] };
const SEAL_TARGET: ObjectSchema = { sealDigest: ['digest', true] };
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;

function tooLong(v: unknown, max: number): boolean {
  return typeof v === 'string' && v.length > max;
}

/** Kind-specific checks beyond the member types. */
function kindProblems(s: Record<string, unknown>, kind: StatementKind, problems: string[]): void {
  if (tooLong(s['task'], MAX_TEXT_CHARS) || tooLong(s['summary'], MAX_TEXT_CHARS) || tooLong(s['note'], MAX_TEXT_CHARS)) problems.push(`text longer than ${MAX_TEXT_CHARS} characters`);
  if (tooLong(s['name'], MAX_NAME_CHARS)) problems.push(`.name: longer than ${MAX_NAME_CHARS} characters`);
  if (tooLong(s['delegator'], MAX_ID_CHARS) || tooLong(s['party'], MAX_ID_CHARS)) problems.push(`id longer than ${MAX_ID_CHARS} characters`);
  if (kind === 'action') {
    if (s['seq'] === 0) problems.push('.seq: actions are numbered from 1');
    if (s['call'] !== undefined) {
      const c = checkObject(s['call'], CALL, '.call', problems);
      if (c && !(DECIMAL.test(String(c['attestationIndex'])) && DECIMAL.test(String(c['receiptIndex'])))) problems.push('.call: indexes must be decimal strings');
    }
  } else if (kind === 'seal') {
    if (!DECIMAL.test(String(s['firstIndex'])) || !DECIMAL.test(String(s['lastIndex']))) problems.push('.firstIndex/.lastIndex: decimal strings');
  } else if (kind === 'approval' || kind === 'confirmation') {
    const t = s['target'];
    if (kind === 'confirmation' && isObject(t) && 'sealDigest' in t) checkObject(t, SEAL_TARGET, '.target', problems);
    else if (checkObject(t, ACTION_TARGET, '.target', problems) && t && (t as Record<string, unknown>)['seq'] === 0) problems.push('.target.seq: actions are numbered from 1');
    if (!(DECISIONS[kind] as readonly string[]).includes(String(s['decision']))) problems.push(`.decision: one of ${DECISIONS[kind].join(', ')}`);
  }
}

/**
 * Parse a statement strictly: the closed schema of its kind (common members, signer, kind
 * members), the session id pattern, length limits. Throws `ERR_SESSION_MALFORMED` listing
 * every problem. The signature is not checked here (verify/session.ts does).
 */
export function parseStatement(value: unknown): Statement {
  const problems: string[] = [];
  const kind = isObject(value) ? value['kind'] : undefined;
  if (!isObject(value) || !STATEMENT_KINDS.includes(kind as StatementKind)) throw new AttestError('ERR_SESSION_MALFORMED', 'not a session statement (unknown kind)');
  const s = checkObject(value, STATEMENT_SCHEMA[kind as StatementKind], '', problems)!;
  if (s['format'] !== STATEMENT_FORMAT) problems.push(`.format: must be ${STATEMENT_FORMAT}`);
  if (typeof s['sessionId'] !== 'string' || !SESSION_ID.test(s['sessionId'])) problems.push('.sessionId: not a session id');
  const signer = checkObject(s['signer'], SIGNER, '.signer', problems);
  if (signer && !isAlgName(signer['alg'])) problems.push('.signer.alg: unsupported');
  if (tooLong(signer?.['id'], MAX_ID_CHARS) || tooLong(signer?.['keyId'], MAX_ID_CHARS)) problems.push('.signer: id or keyId too long');
  kindProblems(s, kind as StatementKind, problems);
  if (problems.length > 0) throw new AttestError('ERR_SESSION_MALFORMED', `${String(kind)} statement: ${problems.join('; ')}`, { found: problems });
  return value as unknown as Statement;
}

/**
 * The digest of a statement: `sha256:` + hex(SHA-256(JCS(statement))), signature included
 * (`memo`: texts to reuse and keep, jcs/canonicalize.ts). Throws the JCS codes.
 */
export function statementDigest(s: Statement | Record<string, JsonValue>, memo?: CanonicalMemo): string {
  return sha256Tagged(canonicalBytes(s, memo));
}

/** The genesis of a session's action chain: `sha256:` + hex(SHA-256("mcp-attest/session-genesis@1\n" + sessionId)). */
export function sessionGenesis(sessionId: string): string {
  return sha256Tagged(`mcp-attest/session-genesis@1\n${sessionId}`);
}

/** The digest of an ordered list of statement digests (the actions, or the parties before the seal): `sha256:` + hex(SHA-256(JCS([digest 1, ...]))). */
export function actionsDigest(actionDigests: readonly string[]): string {
  return sha256Tagged(canonicalBytes([...actionDigests]));
}

/** Largest policy document a verifier reads: 16 MiB. */
export const MAX_POLICY_DOC_BYTES = 16 * 1024 * 1024;

/** The digest of a policy document: `sha256:` + hex(SHA-256(its bytes)); text is UTF-8 encoded. */
export function policyDocDigest(doc: Uint8Array | string): string {
  return sha256Tagged(doc);
}

/** True for a statement that the agent signs (start, action, seal, and declared approvals and confirmations). */
export function isAgentStatement(s: Statement): boolean {
  return s.kind === 'start' || s.kind === 'action' || s.kind === 'seal' || s.declared;
}
