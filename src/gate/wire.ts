/**
 * What the gate puts on the wire, shared by the gatekeeper proxy and the middleware:
 * the SEP-2787 refusal result, the response receipt in `result._meta`, and the capability
 * extension a gated server advertises (docs/gate-policy.md).
 */
import { fromBase64Url, toHex } from '../bytes/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import { isObject } from '../envelope/schema.js';
import type { Signer } from '../envelope/sign.js';
import type { AlgName } from '../keys/algorithms.js';
import { issueReceipt } from '../receipt/build.js';
import type { Receipt } from '../receipt/schema.js';
import type { Attestation } from '../attestation/schema.js';
import type { GatePolicy } from './policy.js';

/** SEP-2787 capability extension id (SEP-2133 `extensions`; "to be assigned upon acceptance"). */
export const ATTESTATION_EXTENSION = 'attestation/tool-call';
/** `result._meta` key of the gatekeeper's signed response receipt. */
export const RESPONSE_RECEIPT_META_KEY = 'dev.mcp-attest/response-receipt';
/** `result._meta` key of the refusal detail (our code and message) beside the SEP text. */
export const REFUSAL_META_KEY = 'dev.mcp-attest/refusal';

/**
 * The server's `extensions["attestation/tool-call"]` value: the SEP members (`algorithms`,
 * `required`, `multiServer`) plus ours, `serverFingerprint` (the audience attestations for
 * this server must name). SEP-2787 lists only HS256/ES256/RS256; EdDSA is ours.
 */
export interface AttestationExtension {
  algorithms: AlgName[];
  required: boolean;
  multiServer: boolean;
  serverFingerprint: string;
}

/**
 * A gated server's default fingerprint: `sha256:` + hex of the RFC 7638 thumbprint of the
 * key that signs its response receipts (`keyId`, base64url of that SHA-256), so the
 * audience an attestation names is the key that answers for the server. A policy's
 * `serverFingerprint` overrides it (e.g. several instances behind one identity).
 * Throws `ERR_ENCODING_INVALID` for a key id that is not base64url.
 */
export function keyFingerprint(keyId: string): string {
  return `sha256:${toHex(fromBase64Url(keyId))}`;
}

/**
 * A gateway upstream's default fingerprint (gate role): `sha256:` + hex of SHA-256 of the
 * UTF-8 of `mcp-attest gateway upstream\n<keyId>\n<name>`. One gateway key answers for every
 * upstream it gates, so the key alone would name them all: an attestation addressed to one
 * upstream would be accepted by another. The policy's `serverFingerprint` overrides it.
 */
export function upstreamFingerprint(keyId: string, name: string): string {
  return sha256Tagged(`mcp-attest gateway upstream\n${keyId}\n${name}`);
}

/**
 * The answer to a task-augmented call (`params.task`) when it is a task handle
 * (CreateTaskResult: a `task` object, no `content`): the call was accepted, its result comes
 * later (`tasks/result`). Receipted `errored`, reason `task_created`, never `executed`.
 */
export function isTaskHandle(result: unknown): boolean {
  return isObject(result) && result['content'] === undefined && isObject(result['task']);
}

/** The extension value advertised under `policy` for a server with this fingerprint. */
export function attestationExtension(policy: GatePolicy, serverFingerprint: string): AttestationExtension {
  return { algorithms: [...policy.acceptedAlgorithms], required: policy.required, multiServer: true, serverFingerprint };
}

/**
 * The `isError` tool result of a refused call (SEP-2787 "Error result"): one text block
 * holding exactly `JSON.stringify({attestationError: true, reason})`; our code and message
 * go in `_meta["dev.mcp-attest/refusal"]`, so SEP-strict clients see only the SEP shape.
 */
export function refusalResult(reason: string, code: string, message: string): Record<string, unknown> {
  return {
    content: [{ type: 'text', text: JSON.stringify({ attestationError: true, reason }) }],
    isError: true,
    _meta: { [REFUSAL_META_KEY]: { code, message } },
  };
}

/**
 * The value a response receipt commits to: the tool result as the upstream returned it,
 * with our own `_meta` key removed and an empty `_meta` dropped (so `_meta: {}` from the
 * upstream and the `_meta` the gatekeeper creates normalize alike). The
 * client computes the same from what it receives, so the receipt verifies across the hop.
 */
export function committedResult(result: unknown): unknown {
  if (!isObject(result) || !isObject(result['_meta'])) return result;
  const { [RESPONSE_RECEIPT_META_KEY]: _omit, ...meta } = result['_meta'];
  const { _meta: _drop, ...rest } = result;
  return Object.keys(meta).length === 0 ? rest : { ...rest, _meta: meta };
}

/**
 * Sign the response receipt of an allowed call: back link to the attestation (digest of
 * its whole object, nonce), outcome `executed` (or `errored` with reason `tool_error` for
 * an `isError` result, `jsonrpc_error` for an error response) and a hash-only commitment
 * to {@link committedResult} (or `{error}`), under a fresh nonce (receipt/build.ts). `now` in
 * POSIX seconds. With `taskReceiptDigest`, the answer to `tasks/result`: the task's result,
 * naming the receipt of the task handle.
 * @see docs/receipt.md; SEP-2787 notes §7
 */
export async function responseReceipt(signer: Signer, attestation: Attestation, response: { result?: unknown; error?: unknown }, now: number, task = false, taskReceiptDigest?: string): Promise<Receipt> {
  const of = taskReceiptDigest === undefined ? {} : { taskReceiptDigest };
  if (response.result === undefined) {
    return issueReceipt(signer, { attestation, status: 'errored', reason: 'jsonrpc_error', result: { error: response.error ?? null }, now, ...of });
  }
  const value = committedResult(response.result);
  if (task && isTaskHandle(value)) return issueReceipt(signer, { attestation, status: 'errored', reason: 'task_created', result: value, now });
  const isError = isObject(value) && value['isError'] === true;
  return issueReceipt(signer, { attestation, status: isError ? 'errored' : 'executed', ...(isError ? { reason: 'tool_error' as const } : {}), result: value, now, ...of });
}
