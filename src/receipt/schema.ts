/**
 * The execution receipt (vector shape of the published receipt vectors, Vaara v0.70.0),
 * with two documented mcp-attest extensions: `outcomeDerived.reason`, a code from
 * {@link OUTCOME_REASONS} saying why a call errored (tool error, JSON-RPC error, or never
 * answered), and `outcomeDerived.taskReceiptDigest`, which makes the receipt a task's
 * result. Closed schema otherwise. See docs/receipt.md.
 */
import { checkCommitmentSchema, checkObject, type ObjectSchema } from '../envelope/schema.js';
import type { Commitment } from '../envelope/commitment.js';
import type { AlgName } from '../keys/algorithms.js';

/** What happened to the call. */
export type OutcomeStatus = 'executed' | 'refused' | 'errored';

/**
 * Why a call errored or was refused (mcp-attest extension): `tool_error` (result with
 * `isError: true`), `jsonrpc_error` (an error response), `attestation_refused` (the server
 * refused the attestation), `input_required` (an interim 2026-07-28 result: the client
 * retries with a new request), `task_created` (a task-augmented call's result is a task
 * handle, `{task: {taskId, …}}`: the tool's own result comes later, through `tasks/result`), `upstream_exited` / `client_disconnected` / `shutdown` (no
 * answer ever arrived: the call is unanswered), `cancelled` (the client cancelled it; with a
 * result commitment when an answer arrived anyway, without one when none did),
 * `response_refused` (an answer arrived that the relay would not relay: not strict JSON-RPC,
 * or over the message cap; the result committed to is
 * `{"refusedResponse":{"code","size","digest"}}`, the digest of its bytes as received,
 * docs/wire.md), `connection_lost` (an HTTP upstream's response stream ended without an
 * answer: unanswered, docs/http.md).
 */
export const OUTCOME_REASONS = ['tool_error', 'jsonrpc_error', 'attestation_refused', 'input_required', 'task_created', 'upstream_exited', 'client_disconnected', 'shutdown', 'cancelled', 'response_refused', 'connection_lost'] as const;
export type OutcomeReason = (typeof OUTCOME_REASONS)[number];

/** Reasons that mean no response was received (when the receipt commits to no result). */
export const UNANSWERED_REASONS: readonly OutcomeReason[] = ['upstream_exited', 'client_disconnected', 'shutdown', 'cancelled', 'connection_lost'];

/** A signed execution receipt. */
export interface Receipt {
  version: 1;
  alg: AlgName;
  backLink: { attestationDigest: string; attestationNonce: string };
  receiptAsserted: { alg: AlgName; iat: string; iss: string; nonce: string; secretVersion: string; sub: string };
  outcomeDerived: {
    status: OutcomeStatus;
    /** `YYYY-MM-DDTHH:MM:SSZ`. */
    completedAt: string;
    resultCommitment?: Commitment;
    decisionDigest?: string;
    reason?: OutcomeReason;
    /**
     * A task's result (mcp-attest extension): `sha256:` hex of the JCS of the receipt that
     * answered the same call with a task handle (reason `task_created`); this receipt says
     * what `tasks/result` brought back for that task.
     */
    taskReceiptDigest?: string;
  };
  signature: string;
}

export type UnsignedReceipt = Omit<Receipt, 'signature'>;

const TOP: ObjectSchema = {
  version: ['integer', true], alg: ['string', true], backLink: ['object', true], receiptAsserted: ['object', true],
  outcomeDerived: ['object', true], signature: ['hex', true], pqSignature: ['object', false],
};
const BACK: ObjectSchema = { attestationDigest: ['digest', true], attestationNonce: ['nonempty', true], fallbackProjection: ['string', false] };
const ASSERTED: ObjectSchema = {
  alg: ['string', true], iat: ['timestamp', true], iss: ['nonempty', true], nonce: ['nonempty', true],
  secretVersion: ['nonempty', true], sub: ['nonempty', true], sigSuite: ['string', false],
};
const OUTCOME: ObjectSchema = {
  status: ['string', true], completedAt: ['timestamp', true], resultCommitment: ['object', false],
  decisionDigest: ['digest', false], reason: ['string', false], taskReceiptDigest: ['digest', false],
};

/** Validate a receipt against the closed schema; returns every problem (empty when valid). */
export function validateReceipt(value: unknown): string[] {
  const problems: string[] = [];
  const top = checkObject(value, TOP, '', problems);
  if (!top) return problems;
  if (typeof top['version'] === 'number' && top['version'] !== 1) problems.push('.version: must be 1');
  checkObject(top['backLink'], BACK, '.backLink', problems);
  checkObject(top['receiptAsserted'], ASSERTED, '.receiptAsserted', problems);
  const outcome = checkObject(top['outcomeDerived'], OUTCOME, '.outcomeDerived', problems);
  if (outcome) {
    if (!['executed', 'refused', 'errored'].includes(outcome['status'] as string)) problems.push('.outcomeDerived.status: unknown status');
    if (outcome['reason'] !== undefined && !(OUTCOME_REASONS as readonly unknown[]).includes(outcome['reason'])) problems.push('.outcomeDerived.reason: unknown reason');
    if (outcome['taskReceiptDigest'] !== undefined && outcome['reason'] === 'task_created') problems.push('.outcomeDerived.taskReceiptDigest: a task\'s result is not another task handle');
    if (outcome['resultCommitment'] !== undefined) {
      if (outcome['status'] === 'refused') problems.push('.outcomeDerived.resultCommitment: a refused call has no result');
      checkCommitmentSchema(outcome['resultCommitment'], '.outcomeDerived.resultCommitment', problems);
    }
  }
  return problems;
}
