/**
 * Issue a SEP-2787 request attestation (vector shape, version 1) for one `tools/call`.
 * Arguments are committed by the hash-only identity projection unless asked otherwise.
 * @see SEP-2787; docs/attestation.md
 */
import { toBase64Url } from '../bytes/index.js';
import { hashOnlyCommitment, identityCommitment } from '../envelope/commitment.js';
import { signEnvelope, type Signer } from '../envelope/sign.js';
import { formatTimestamp } from '../envelope/time.js';
import type { Attestation, UnsignedAttestation } from './schema.js';

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
  /** 16 random bytes; the nonce is their base64url. */
  nonceBytes: Uint8Array;
  /** `hash` (default: arguments stay local) or `identity` (disclosed in the log). */
  commitment?: 'hash' | 'identity';
}

/** Build and sign an attestation. */
export async function issueAttestation(signer: Signer, input: AttestationInput): Promise<Attestation> {
  const args = input.args === undefined ? {} : input.args;
  const unsigned: UnsignedAttestation = {
    version: 1,
    alg: signer.alg,
    issuerAsserted: {
      alg: signer.alg, iss: signer.iss, sub: signer.sub, secretVersion: signer.keyId,
      iat: formatTimestamp(input.now), expSeconds: input.expSeconds ?? 300, nonce: toBase64Url(input.nonceBytes),
    },
    plannerDeclared: input.requestedCapability === undefined
      ? { intent: input.intent }
      : { intent: input.intent, requestedCapability: input.requestedCapability },
    payloadDerived: {
      toolCalls: [{
        name: input.tool, serverFingerprint: input.serverFingerprint,
        args: input.commitment === 'identity' ? identityCommitment(args) : hashOnlyCommitment(args),
      }],
    },
  };
  return signEnvelope(signer, unsigned);
}
