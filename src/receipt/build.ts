/**
 * Issue an execution receipt bound to the attestation it answers.
 * `backLink.attestationDigest` = `sha256:` + hex(SHA-256(JCS(attestation))) over the whole
 * attestation including its signature; `backLink.attestationNonce` = its nonce.
 * @see docs/receipt.md; SEP-2787 notes §7
 */
import { nonceText } from '../bytes/random.js';
import { sha256Tagged } from '../bytes/digest.js';
import { canonicalBytes, type CanonicalMemo } from '../jcs/index.js';
import { hashOnlyCommitment } from '../envelope/commitment.js';
import { signEnvelope, type Signer } from '../envelope/sign.js';
import { formatTimestamp } from '../envelope/time.js';
import type { OutcomeReason, OutcomeStatus, Receipt, UnsignedReceipt } from './schema.js';

/** The back-link digest of an attestation: `sha256:` + hex(SHA-256(JCS(attestation))) (`memo`: texts already written). */
export function attestationDigest(attestation: unknown, memo?: CanonicalMemo): string {
  return sha256Tagged(canonicalBytes(attestation, memo));
}

/** A receipt's digest, as a task's result names it: `sha256:` + hex(SHA-256(JCS(receipt))), over the whole receipt including its signature. */
export function receiptDigest(receipt: unknown, memo?: CanonicalMemo): string {
  return sha256Tagged(canonicalBytes(receipt, memo));
}

/** Inputs for one receipt. */
export interface ReceiptInput {
  /** The attestation answered (its whole signed object). */
  attestation: { issuerAsserted: { nonce: string } };
  status: OutcomeStatus;
  reason?: OutcomeReason;
  /** The value committed to (JSON-RPC `result`, or `{error}`), hash-only. Omit for none. */
  result?: unknown;
  /** For a task's result (`tasks/result`): the digest of the receipt that answered the call with the task handle ({@link receiptDigest}). */
  taskReceiptDigest?: string;
  /** Completion time, POSIX seconds. */
  now: number;
  /** 16 random bytes, the receipt's nonce (base64url). Default: fresh ones from the runtime's CSPRNG (bytes/random.ts); other than 16 bytes: `ERR_USAGE`. */
  nonceBytes?: Uint8Array;
}

/**
 * Build and sign a receipt. With `memo` (the one the attestation was issued with, if kept),
 * canonical texts already written are reused and the new ones kept for the caller (the
 * receipt's log record, the result in the evidence store). `input.result` and the
 * attestation must then not change while the memo is used (jcs/canonicalize.ts).
 */
export async function issueReceipt(signer: Signer, input: ReceiptInput, memo?: CanonicalMemo): Promise<Receipt> {
  const outcome: UnsignedReceipt['outcomeDerived'] = { status: input.status, completedAt: formatTimestamp(input.now) };
  if (input.result !== undefined && input.status !== 'refused') outcome.resultCommitment = hashOnlyCommitment(input.result, memo);
  if (input.reason !== undefined) outcome.reason = input.reason;
  if (input.taskReceiptDigest !== undefined) outcome.taskReceiptDigest = input.taskReceiptDigest;
  const unsigned: UnsignedReceipt = {
    version: 1,
    alg: signer.alg,
    backLink: { attestationDigest: attestationDigest(input.attestation, memo), attestationNonce: input.attestation.issuerAsserted.nonce },
    receiptAsserted: {
      alg: signer.alg, iat: formatTimestamp(input.now), iss: signer.iss, nonce: nonceText(input.nonceBytes),
      secretVersion: signer.keyId, sub: signer.sub,
    },
    outcomeDerived: outcome,
  };
  return signEnvelope(signer, unsigned, memo);
}
