/**
 * The client side of a bilateral receipt: the gatekeeper signs a response receipt into
 * `result._meta["dev.mcp-attest/response-receipt"]`; the client-side proxy verifies it
 * against its trust policy (signature under a trusted issuer, back link to the attestation
 * it attached, commitment to the result it received) before releasing the response
 * (docs/gate-policy.md "Bilateral receipts").
 */
import type { ErrorCode } from '../errors.js';
import type { AlgName } from '../keys/algorithms.js';
import type { KeyResolver } from '../envelope/signature.js';
import { isObject } from '../envelope/schema.js';
import type { Attestation } from '../attestation/schema.js';
import { verifyReceipt } from '../receipt/verify.js';
import { RESPONSE_RECEIPT_META_KEY, committedResult } from '../gate/wire.js';
import type { RpcMessage } from './message.js';
import { isAttestationRefusal } from './relay.js';

/** `warn`: a missing or bad receipt is logged and reported, the response passes; `require`: it is withheld. */
export type ResponseReceiptMode = 'warn' | 'require';

/**
 * The check's outcome: the receipt found (logged when it is an object), the failure code
 * (null when it verified), and whether the response must be withheld.
 */
export interface ResponseReceiptCheck {
  receipt: Record<string, unknown> | null;
  code: ErrorCode | null;
  refuse: boolean;
  message: string;
}

/** Verifies gatekeeper response receipts under one trust policy. */
export class ResponseReceiptChecker {
  /** `keys` null: no trust policy was given, so no receipt can verify (`ERR_KEY_UNAVAILABLE`). */
  constructor(private readonly keys: KeyResolver | null, private readonly acceptedAlgs: readonly AlgName[], private readonly mode: ResponseReceiptMode) {}

  /** Check the response `msg` to a call that carried `attestation`. Never throws. */
  async check(attestation: Attestation, msg: RpcMessage): Promise<ResponseReceiptCheck> {
    const result = msg.result;
    // An error response or a SEP refusal answers no executed call: nothing to sign.
    if (!isObject(result) || isAttestationRefusal(result)) return { receipt: null, code: null, refuse: false, message: 'no receipt expected' };
    const meta = isObject(result['_meta']) ? result['_meta'] : {};
    const receipt = meta[RESPONSE_RECEIPT_META_KEY];
    if (!isObject(receipt)) return this.failed(null, 'ERR_RESPONSE_RECEIPT', receipt === undefined ? 'the response carries no response receipt' : 'the response receipt is not an object');
    if (this.keys === null) return this.failed(receipt, 'ERR_KEY_UNAVAILABLE', 'no trust policy to verify the response receipt (--trust)');
    const v = await verifyReceipt(receipt as never, { keys: this.keys, acceptedAlgs: this.acceptedAlgs, attestation, result: committedResult(result) });
    const bad = v.checks.find((c) => c.status === 'fail');
    if (v.ok) return { receipt, code: null, refuse: false, message: 'response receipt verified' };
    return this.failed(receipt, bad?.code ?? 'ERR_RESPONSE_RECEIPT', `the response receipt did not verify (${bad?.dimension ?? 'receipt'}: ${bad?.message ?? ''})`);
  }

  /** For a call to an upstream that did not advertise the extension: a failure under `require` (no gatekeeper signs), else null (nothing to check). */
  unadvertised(): ResponseReceiptCheck | null {
    return this.mode === 'require' ? this.failed(null, 'ERR_RESPONSE_RECEIPT', 'the upstream did not advertise attestation/tool-call: no response receipt to require') : null;
  }

  /** The receipt was checked but could not be logged (`why`): a failure, so `require` withholds the response. */
  failedToLog(why: string): ResponseReceiptCheck {
    return this.failed(null, 'ERR_RESPONSE_RECEIPT', `the response receipt could not be logged (${why})`);
  }

  private failed(receipt: Record<string, unknown> | null, code: ErrorCode, message: string): ResponseReceiptCheck {
    process.stderr.write(`mcp-attest: ${this.mode === 'require' ? 'refused' : 'warning'}: ${message} (${code})\n`);
    return { receipt, code, refuse: this.mode === 'require', message };
  }
}
