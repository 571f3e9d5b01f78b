/**
 * The SEP-2787 request attestation in its two wire shapes, as closed schemas and types:
 * - the **vector shape** (`version: 1`, top-level `alg`, `toolCalls[].args` commitment): the
 *   shape of every published vector and mcp-attest's default emission profile;
 * - the **SEP-text shape** (no top-level `version`/`alg`; `toolCalls[].argsRef {uri,
 *   digest}` with a base64url digest and/or `argsProjection`; optional `plannerRef`).
 * The shape is decided by one rule: a top-level `version` member selects the vector shape,
 * its absence the SEP-text shape. Unknown members are schema problems in both shapes.
 * See docs/attestation.md for the byte-level profiles.
 * @see SEP-2787 (PR #2787 head cdae11e4) §"Envelope"; vectors PR #2789 `test-vectors/sep-2787/v0/`
 */
import { checkCommitmentSchema, checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import type { Commitment } from '../envelope/commitment.js';
import type { AlgName } from '../keys/algorithms.js';

/** `issuerAsserted`: who signed, when, for how long, with which key (same in both shapes). */
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
  /** SEP-text shape only: opaque join key to the planner's trace, passed through. */
  plannerRef?: string;
}

/** One entry of `payloadDerived.toolCalls`, vector shape. */
export interface ToolCall {
  name: string;
  /** Identity of the server the call is for (see docs/attestation.md). */
  serverFingerprint: string;
  args: Commitment;
}

/** SEP-text `argsRef`: `digest` = base64url(SHA-256(resolved content)), no padding. */
export interface ArgsRef {
  uri: string;
  digest: string;
}

/** One entry of `payloadDerived.toolCalls`, SEP-text shape: at least one of `argsRef`, `argsProjection`. */
export interface SepToolCall {
  name: string;
  serverFingerprint: string;
  argsRef?: ArgsRef;
  /** JSON text of a projection of the arguments. */
  argsProjection?: string;
}

/** A signed attestation, vector shape, `version` 1. */
export interface VectorAttestation {
  version: 1;
  alg: AlgName;
  issuerAsserted: IssuerAsserted;
  plannerDeclared: PlannerDeclared;
  payloadDerived: { toolCalls: ToolCall[] };
  signature: string;
}

/** A signed attestation, SEP-text shape. */
export interface SepTextAttestation {
  issuerAsserted: IssuerAsserted;
  plannerDeclared: PlannerDeclared;
  payloadDerived: { toolCalls: SepToolCall[] };
  signature: string;
}

/** A signed attestation in either wire shape. */
export type Attestation = VectorAttestation | SepTextAttestation;

/** The wire shapes (and emission profiles) mcp-attest knows. */
export type AttestationShape = 'vector' | 'sep-text';

/** An attestation before signing. */
export type UnsignedAttestation = Omit<VectorAttestation, 'signature'> | Omit<SepTextAttestation, 'signature'>;

const ISSUER: ObjectSchema = {
  alg: ['string', true], iss: ['nonempty', true], sub: ['nonempty', true], secretVersion: ['nonempty', true],
  iat: ['timestamp', true], expSeconds: ['count', true], nonce: ['nonempty', true],
};
const PAYLOAD: ObjectSchema = { toolCalls: ['array', true] };
const BLOCKS = { issuerAsserted: ['object', true], plannerDeclared: ['object', true], payloadDerived: ['object', true], signature: ['hex', true] } as const;

interface ShapeSchema {
  top: ObjectSchema;
  planner: ObjectSchema;
  call: ObjectSchema;
  /** Extra rules for one toolCalls entry (its commitment). */
  commitment(call: Record<string, unknown>, path: string, problems: string[]): void;
}

const SHAPES: Record<AttestationShape, ShapeSchema> = {
  vector: {
    top: { version: ['integer', true], alg: ['string', true], ...BLOCKS },
    planner: { intent: ['nonempty', true], requestedCapability: ['string', false] },
    call: { name: ['nonempty', true], serverFingerprint: ['nonempty', true], args: ['object', true] },
    commitment(call, path, problems) {
      if (isObject(call['args'])) checkCommitmentSchema(call['args'], `${path}.args`, problems);
    },
  },
  'sep-text': {
    top: { ...BLOCKS },
    planner: { intent: ['nonempty', true], requestedCapability: ['string', false], plannerRef: ['string', false] },
    call: { name: ['nonempty', true], serverFingerprint: ['nonempty', true], argsRef: ['object', false], argsProjection: ['string', false] },
    commitment(call, path, problems) {
      if (!('argsRef' in call) && !('argsProjection' in call)) problems.push(`${path}: neither argsRef nor argsProjection`);
      if (isObject(call['argsRef'])) checkObject(call['argsRef'], { uri: ['nonempty', true], digest: ['digest64', true] }, `${path}.argsRef`, problems);
    },
  },
};

/** The shape of a parsed envelope: `version` present selects the vector shape. */
export function attestationShape(value: unknown): AttestationShape {
  return isObject(value) && Object.prototype.hasOwnProperty.call(value, 'version') ? 'vector' : 'sep-text';
}

/**
 * Validate an attestation against the closed schema of its shape ({@link attestationShape}).
 * Returns every problem as `path: reason` (empty when valid). Unknown members anywhere are
 * problems: they would otherwise be signed-over but unmodelled, or dropped and "verified".
 */
export function validateAttestation(value: unknown): string[] {
  const shape = SHAPES[attestationShape(value)];
  const problems: string[] = [];
  const top = checkObject(value, shape.top, '', problems);
  if (!top) return problems;
  if ('version' in top && top['version'] !== 1 && typeof top['version'] === 'number') problems.push('.version: must be 1');
  checkObject(top['issuerAsserted'], ISSUER, '.issuerAsserted', problems);
  checkObject(top['plannerDeclared'], shape.planner, '.plannerDeclared', problems);
  const payload = checkObject(top['payloadDerived'], PAYLOAD, '.payloadDerived', problems);
  const calls = payload?.['toolCalls'];
  if (Array.isArray(calls)) {
    if (calls.length === 0) problems.push('.payloadDerived.toolCalls: empty');
    calls.forEach((c, i) => {
      const path = `.payloadDerived.toolCalls[${i}]`;
      const call = checkObject(c, shape.call, path, problems);
      if (call) shape.commitment(call, path, problems);
    });
  }
  return problems;
}
