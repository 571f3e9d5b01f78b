/**
 * The SEP-2787 request attestation in the vector shape (the shape of every published
 * vector, and the profile mcp-attest emits): closed schema and TypeScript types.
 * See docs/attestation.md for the byte-level profile.
 * @see SEP-2787 (PR #2787), vectors PR #2789 `test-vectors/sep-2787/v0/`
 */
import { checkCommitmentSchema, checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import type { Commitment } from '../envelope/commitment.js';
import type { AlgName } from '../keys/algorithms.js';

/** `issuerAsserted`: who signed, when, for how long, with which key. */
export interface IssuerAsserted {
  alg: AlgName;
  iss: string;
  sub: string;
  /** Key id used to select the verification key (RFC 7638 thumbprint for our keys). */
  secretVersion: string;
  /** Issuance time, `YYYY-MM-DDTHH:MM:SSZ`. */
  iat: string;
  /** Validity in seconds after `iat` (integer). */
  expSeconds: number;
  /** Unique per attestation; 16 random bytes base64url when mcp-attest issues it. */
  nonce: string;
}

/** `plannerDeclared`: the declared intent (an unverified claim of the planner). */
export interface PlannerDeclared {
  intent: string;
  requestedCapability?: string;
}

/** One entry of `payloadDerived.toolCalls`. */
export interface ToolCall {
  name: string;
  /** Identity of the server the call is for (see docs/attestation.md). */
  serverFingerprint: string;
  args: Commitment;
}

/** A signed attestation, vector shape, `version` 1. */
export interface Attestation {
  version: 1;
  alg: AlgName;
  issuerAsserted: IssuerAsserted;
  plannerDeclared: PlannerDeclared;
  payloadDerived: { toolCalls: ToolCall[] };
  signature: string;
}

/** An attestation before signing. */
export type UnsignedAttestation = Omit<Attestation, 'signature'>;

const TOP: ObjectSchema = {
  version: ['integer', true], alg: ['string', true], issuerAsserted: ['object', true],
  plannerDeclared: ['object', true], payloadDerived: ['object', true], signature: ['hex', true],
};
const ISSUER: ObjectSchema = {
  alg: ['string', true], iss: ['nonempty', true], sub: ['nonempty', true], secretVersion: ['nonempty', true],
  iat: ['timestamp', true], expSeconds: ['integer', true], nonce: ['nonempty', true],
};
const PLANNER: ObjectSchema = { intent: ['nonempty', true], requestedCapability: ['string', false] };
const PAYLOAD: ObjectSchema = { toolCalls: ['array', true] };
const CALL: ObjectSchema = { name: ['nonempty', true], serverFingerprint: ['nonempty', true], args: ['object', true] };
/**
 * Validate an attestation against the closed vector-shape schema. Returns every problem
 * (empty when valid). Unknown members anywhere are problems: they would otherwise be
 * signed-over but unmodelled, or dropped and "verified".
 */
export function validateAttestation(value: unknown): string[] {
  const problems: string[] = [];
  const top = checkObject(value, TOP, '', problems);
  if (!top) return problems;
  if (top['version'] !== 1 && typeof top['version'] === 'number') problems.push('.version: must be 1');
  checkObject(top['issuerAsserted'], ISSUER, '.issuerAsserted', problems);
  checkObject(top['plannerDeclared'], PLANNER, '.plannerDeclared', problems);
  const payload = checkObject(top['payloadDerived'], PAYLOAD, '.payloadDerived', problems);
  const calls = payload?.['toolCalls'];
  if (Array.isArray(calls)) {
    if (calls.length === 0) problems.push('.payloadDerived.toolCalls: empty');
    calls.forEach((c, i) => {
      const call = checkObject(c, CALL, `.payloadDerived.toolCalls[${i}]`, problems);
      if (call && isObject(call['args'])) checkCommitmentSchema(call['args'], `.payloadDerived.toolCalls[${i}].args`, problems);
    });
  }
  return problems;
}
