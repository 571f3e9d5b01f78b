/**
 * The one error type of mcp-attest. Every failure a caller can act on carries a stable
 * string `code` (public API, listed in {@link ErrorCode}); messages are for people and may
 * change. Data goes in fields (`expected`, `found`, `path`, `index`), not in the message.
 * Security failures keep bland messages ("signature verification failed").
 */

/**
 * Every stable error code, grouped by area (`ERR_<AREA>_<CONDITION>`). Each is explained,
 * with the SEP-2787 `reason` it maps to, in docs/verification-codes.md.
 */
export const ERROR_CODES = [
  // bytes/
  'ERR_ENCODING_INVALID',
  // jcs/: strict I-JSON parsing and RFC 8785 canonicalization
  'ERR_JSON_SYNTAX',
  'ERR_JSON_DUPLICATE_KEY',
  'ERR_JSON_LONE_SURROGATE',
  'ERR_JSON_NUMBER',
  'ERR_JSON_FLOAT',
  'ERR_JSON_TOO_DEEP',
  'ERR_JSON_TOO_LARGE',
  'ERR_JSON_VALUE',
  // keys/
  'ERR_ALG_UNSUPPORTED',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_KEY_INVALID',
  'ERR_KEY_UNAVAILABLE',
  'ERR_KEY_EXISTS',
  'ERR_KEY_EXPOSED',
  // attestation/ and receipt/
  'ERR_SCHEMA',
  'ERR_ALG_DOWNGRADE',
  'ERR_SIGNATURE_INVALID',
  'ERR_TTL_EXPIRED',
  'ERR_TTL_NOT_YET_VALID',
  'ERR_TIME_INVALID',
  'ERR_ARGS_COMMITMENT_MISMATCH',
  'ERR_ARGS_REDACTED',
  'ERR_NONCE_REPLAY',
  'ERR_ATTESTATION_REQUIRED',
  'ERR_RESULT_COMMITMENT_MISMATCH',
  'ERR_BACK_LINK_MISMATCH',
  'ERR_SERVER_MISMATCH',
  'ERR_TOOL_MISMATCH',
  // gate/: the server-side gatekeeper and its policy
  'ERR_NONCE_STORE_FULL',
  'ERR_TOOL_DENIED',
  'ERR_CAPABILITY_MISSING',
  'ERR_TOOL_CHANGED',
  'ERR_RESPONSE_RECEIPT',
  // log/: RFC 6962 proofs, C2SP notes and checkpoints
  'ERR_PROOF_INVALID',
  'ERR_PROOF_RANGE',
  'ERR_NOTE_MALFORMED',
  'ERR_NOTE_UNVERIFIED',
  'ERR_NOTE_SIGNATURE_INVALID',
  'ERR_VKEY_MALFORMED',
  'ERR_CHECKPOINT_MALFORMED',
  'ERR_TILE_PATH',
  // verify/: log and trust-policy verification
  'ERR_POLICY_INVALID',
  'ERR_ENTRY_MALFORMED',
  'ERR_ENTRY_TOO_LARGE',
  'ERR_LOG_ENTRY_MISSING',
  'ERR_LOG_ENTRY_REORDERED',
  'ERR_LOG_TRUNCATED',
  'ERR_LOG_UNCHECKPOINTED',
  'ERR_LOG_DUPLICATE_NONCE',
  'ERR_LOG_ROOT_MISMATCH',
  'ERR_LOG_TILE_MISMATCH',
  'ERR_CHECKPOINT_MISSING',
  'ERR_CHECKPOINT_UNTRUSTED',
  'ERR_CHECKPOINT_SIGNATURE_INVALID',
  'ERR_CHECKPOINT_INCONSISTENT',
  'ERR_CHECKPOINT_ORIGIN',
  'ERR_RECEIPT_ORPHAN',
  'ERR_RECEIPT_DUPLICATE',
  'ERR_RECEIPT_MISSING',
  // witnesses, bundles, split view (issue 5)
  'ERR_COSIGNATURE_INVALID',
  'ERR_QUORUM_NOT_MET',
  'ERR_LOG_ROLLBACK',
  'ERR_CONSISTENCY_MISSING',
  'ERR_BUNDLE_MALFORMED',
  'ERR_INCLUSION_INVALID',
  'ERR_WITNESS_REQUEST_MALFORMED',
  'ERR_WITNESS_UNREACHABLE',
  'ERR_WITNESS_REFUSED',
  'ERR_WITNESS_CONFLICT',
  // receipt sessions (issue 6)
  'ERR_SESSION_MALFORMED',
  'ERR_SESSION_UNKNOWN',
  'ERR_SESSION_SEALED',
  'ERR_SESSION_UNSEALED',
  'ERR_SESSION_EMPTY',
  'ERR_SESSION_CHAIN_BROKEN',
  'ERR_SESSION_INCOMPLETE',
  'ERR_SESSION_SIGNER',
  'ERR_SESSION_CALL_MISSING',
  'ERR_POLICY_DOC_MISMATCH',
  'ERR_APPROVAL_TARGET',
  'ERR_APPROVER_IS_AGENT',
  'ERR_PARTY_UNTRUSTED',
  'ERR_EVIDENCE_MISMATCH',
  // store/, proxy/, cli/
  'ERR_STORE_IO',
  'ERR_PUBLISH_CONFLICT',
  'ERR_OPENING_MISMATCH',
  'ERR_ENTRY_UNOPENED',
  'ERR_INTEGRATOR_DEPOSED',
  'ERR_STORE_CORRUPT',
  'ERR_HOME_MISSING',
  'ERR_USAGE',
  'ERR_UPSTREAM',
  'ERR_INPUT_NOT_REGULAR',
  'ERR_INPUT_TOO_LARGE',
  'ERR_VERIFY_WORKER',
  'ERR_CRYPTO_UNAVAILABLE',
  // identity/ (docs/identity.md)
  'ERR_CREDENTIAL_MALFORMED',
  'ERR_CREDENTIAL_UNTRUSTED',
  'ERR_CREDENTIAL_WIDENED',
  'ERR_CREDENTIAL_UNLOGGED',
  'ERR_CREDENTIAL_REVOKED',
  'ERR_CREDENTIAL_EXPIRED',
  'ERR_CREDENTIAL_NOT_YET_VALID',
  'ERR_CREDENTIAL_KEY',
  'ERR_CREDENTIAL_SCOPE',
  'ERR_CREDENTIAL_LATE',
  // proxy/ wire (docs/wire.md)
  'ERR_WIRE_MALFORMED',
  'ERR_WIRE_AMBIGUOUS',
  'ERR_WIRE_TOO_LARGE',
  'ERR_WIRE_ID_IN_USE',
  'ERR_WIRE_UNSOLICITED',
  'ERR_WIRE_TOO_MANY_PENDING',
  // proxy/ HTTP upstreams and gateway/ (docs/http.md, docs/gateway.md)
  'ERR_CONFIG_INVALID',
  'ERR_UPSTREAM_HTTP',
  'ERR_GATEWAY_UNAUTHENTICATED',
  'ERR_GATEWAY_HOST',
  'ERR_GATEWAY_ORIGIN',
  'ERR_GATEWAY_RATE_LIMITED',
  'ERR_GATEWAY_BUSY',
  'ERR_GATEWAY_TOO_LARGE',
  'ERR_GATEWAY_HEADER_MISMATCH',
  'ERR_GATEWAY_BAD_REQUEST',
  'ERR_GATEWAY_SESSION',
  'ERR_GATEWAY_TOOL_DENIED',
] as const;

/** A stable error code (public API). */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Optional structured data carried by an {@link AttestError}. */
export interface ErrorDetail {
  /** What the check expected (a digest, a size, a name). */
  expected?: unknown;
  /** What it found instead. */
  found?: unknown;
  /** JSON path (`.a.b[0]`) or file path the error refers to. */
  path?: string;
  /** Log entry index, when the error concerns one entry. */
  index?: bigint | number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base error with a stable {@link ErrorCode}. Thrown by protocol functions; primitives
 * return booleans instead.
 */
export class AttestError extends Error {
  readonly code: ErrorCode;
  readonly expected?: unknown;
  readonly found?: unknown;
  readonly path?: string;
  readonly index?: bigint | number;

  constructor(code: ErrorCode, message: string, detail: ErrorDetail = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'AttestError';
    this.code = code;
    if (detail.expected !== undefined) this.expected = detail.expected;
    if (detail.found !== undefined) this.found = detail.found;
    if (detail.path !== undefined) this.path = detail.path;
    if (detail.index !== undefined) this.index = detail.index;
  }
}

/** True when `e` is an {@link AttestError}, optionally with the given code. */
export function isAttestError(e: unknown, code?: ErrorCode): e is AttestError {
  return e instanceof AttestError && (code === undefined || e.code === code);
}
