/**
 * The mcp-attest vector format (docs/vectors.md): one JSON file per case, with the input
 * exactly as a verifier receives it, the verifier's inputs (test keys, time, server, tool,
 * runtime value, reference contents, policy switches) and the expected verdict per
 * dimension. Shared by the generator (scripts/gen-vectors.ts) and the runner
 * (test/own-vectors.ts).
 */

/** Dimensions in the order a verifier evaluates them (SEP-2787 §"Verification Rules"). */
export const ATTESTATION_DIMENSIONS = ['canonicalization', 'schema', 'algorithm', 'signature', 'ttl', 'server', 'tool', 'args_commitment'] as const;
/** Receipt dimensions, in order. */
export const RECEIPT_DIMENSIONS = ['canonicalization', 'schema', 'signature', 'back_link', 'result_commitment'] as const;

/** `uses` tag: the case relies on EdDSA envelopes, an mcp-attest extension to SEP-2787. */
export const EDDSA = 'mcp-attest:EdDSA';

/** A key the verifier trusts for (iss, alg, secretVersion): an SPKI PEM or a raw secret in hex. */
export interface VectorKey {
  iss: string;
  alg: string;
  secretVersion: string;
  publicKeyPem?: string;
  secretHex?: string;
}

/** What the verifier is given besides the envelope. Absent members are not evaluated. */
export interface VectorVerifier {
  keys: VectorKey[];
  acceptedAlgs: string[];
  /** Verification time, POSIX seconds (ttl dimension). */
  at?: number;
  skewSeconds?: number;
  maxExpSeconds?: number;
  serverFingerprint?: string;
  toolName?: string;
  /** Runtime `arguments` (attestations) or tool result (receipts). */
  runtime?: unknown;
  /** Content behind reference URIs, base64 (RFC 4648 §4). */
  refs?: Record<string, string>;
  /** The attestation a receipt answers (back_link dimension). */
  attestation?: unknown;
  redacted?: 'accept' | 'refuse';
  requireLowS?: boolean;
}

/** `pass`, `skip`, or the error code of a failure. */
export type Outcome = 'pass' | 'skip' | `ERR_${string}`;

/** The expected verdict. */
export interface VectorExpected {
  verdict: 'accept' | 'reject';
  /** Every evaluated dimension, in order; a dimension not listed is not evaluated. */
  checks: Record<string, Outcome>;
  /** SEP-2787 `reason` a server returns (null when accepted; attestations only). */
  reason?: string | null;
  /** Wire shape (attestations). */
  shape?: 'vector' | 'sep-text' | null;
  /** Index of the `toolCalls` entry the verifier selected. */
  toolCallIndex?: number | null;
  /** true identity match, false redacted projection, null not applicable. */
  projectionMatch?: boolean | null;
  /** Per key in `verifier.keys`: `ok`, or the code its import fails with. */
  keys?: string[];
}

/** One vector file. Exactly one of `envelope` (a JSON value) and `envelopeText` (exact text). */
export interface VectorFile {
  name: string;
  desc: string;
  kind: 'attestation' | 'receipt';
  /** mcp-attest conventions beyond SEP-2787 and the Vaara receipt that the case relies on (see docs/vectors.md). */
  uses?: string[];
  envelope?: unknown;
  envelopeText?: string;
  verifier: VectorVerifier;
  expected: VectorExpected;
}

/**
 * SEP-2787 `reason` for a failed dimension's code (docs/verification-codes.md). Failures
 * before the signature step that the SEP has no word for map to `signature_invalid`.
 */
export function reasonOf(code: string): string {
  const table: Record<string, string> = {
    ERR_KEY_UNAVAILABLE: 'key_unavailable', ERR_TTL_EXPIRED: 'expired', ERR_TTL_NOT_YET_VALID: 'expired', ERR_TIME_INVALID: 'expired',
    ERR_SERVER_MISMATCH: 'server_mismatch', ERR_TOOL_MISMATCH: 'tool_mismatch', ERR_ARGS_COMMITMENT_MISMATCH: 'args_commitment_mismatch',
    ERR_ARGS_REDACTED: 'args_commitment_mismatch', ERR_NONCE_REPLAY: 'nonce_replay', ERR_ATTESTATION_REQUIRED: 'attestation_required',
  };
  return table[code] ?? 'signature_invalid';
}
