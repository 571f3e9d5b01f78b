/**
 * Issue a SEP-2787 request attestation for one `tools/call`, in one of two emission
 * profiles (docs/attestation.md):
 * - `vector` (default): vector shape, version 1; arguments committed by the hash-only
 *   identity projection (`hash`) or the identity projection (`identity`);
 * - `sep-text`: the SEP text's shape; arguments committed by an `argsRef` naming the
 *   content-addressed evidence (`hash`) or by an `argsProjection` of JCS(arguments) (`identity`).
 * @see SEP-2787 §"Envelope"; docs/attestation.md
 */
import { nonceText } from '../bytes/random.js';
import { canonicalize, type CanonicalMemo } from '../jcs/index.js';
import { evidenceArgsRef, hashOnlyCommitment, identityCommitment } from '../envelope/commitment.js';
import { signEnvelope, type Signer } from '../envelope/sign.js';
import { formatTimestamp } from '../envelope/time.js';
import type { Attestation, AttestationShape, IssuerAsserted, PlannerDeclared, UnsignedAttestation } from './schema.js';

/** Inputs for one attestation. */
export interface AttestationInput {
  /** Tool name from `params.name`. */
  tool: string;
  /** `params.arguments`; absent arguments are committed as `{}`. */
  args: unknown;
  serverFingerprint: string;
  intent: string;
  requestedCapability?: string;
  /** Issuance time, POSIX seconds. */
  now: number;
  /** Validity in seconds (default 300, the SEP's recommended maximum). */
  expSeconds?: number;
  /**
   * 16 random bytes; the nonce is their base64url. Default: fresh ones from the runtime's
   * CSPRNG (bytes/random.ts). Given ones must be as fresh and unpredictable: a verifier
   * refuses a nonce it has seen (replay), and the log names the call by it. Other than 16
   * bytes: `ERR_USAGE`.
   */
  nonceBytes?: Uint8Array;
  /** `hash` (default: arguments stay local) or `identity` (disclosed in the log). */
  commitment?: 'hash' | 'identity';
  /** Emission profile (wire shape); default `vector`. */
  profile?: AttestationShape;
}

/** The unsigned body of an attestation for `input`, in its profile's shape (`memo`: see {@link issueAttestation}); without `input.nonceBytes`, each call draws a fresh nonce. */
export function attestationBody(signer: Pick<Signer, 'alg' | 'iss' | 'sub' | 'keyId'>, input: AttestationInput, memo?: CanonicalMemo): UnsignedAttestation {
  const args = input.args === undefined ? {} : input.args;
  const issuerAsserted: IssuerAsserted = {
    alg: signer.alg, iss: signer.iss, sub: signer.sub, secretVersion: signer.keyId,
    iat: formatTimestamp(input.now), expSeconds: input.expSeconds ?? 300, nonce: nonceText(input.nonceBytes),
  };
  const plannerDeclared: PlannerDeclared = input.requestedCapability === undefined
    ? { intent: input.intent }
    : { intent: input.intent, requestedCapability: input.requestedCapability };
  const call = { name: input.tool, serverFingerprint: input.serverFingerprint };
  if (input.profile === 'sep-text') {
    const commitment = input.commitment === 'identity' ? { argsProjection: canonicalize(args) } : { argsRef: evidenceArgsRef(args, memo) };
    return { issuerAsserted, plannerDeclared, payloadDerived: { toolCalls: [{ ...call, ...commitment }] } };
  }
  const commitment = input.commitment === 'identity' ? identityCommitment(args) : hashOnlyCommitment(args, memo);
  return { version: 1, alg: signer.alg, issuerAsserted, plannerDeclared, payloadDerived: { toolCalls: [{ ...call, args: commitment }] } };
}

/**
 * Build and sign an attestation (see {@link attestationBody}); lowercase hex signature. With
 * `memo`, the canonical texts written (the arguments', the envelope's members') are kept for
 * the caller's later canonicalizations: its digest, its log record, the evidence store.
 * `input.args` must then not change while the memo is used (jcs/canonicalize.ts).
 */
export async function issueAttestation(signer: Signer, input: AttestationInput, memo?: CanonicalMemo): Promise<Attestation> {
  return signEnvelope(signer, attestationBody(signer, input, memo), memo);
}
