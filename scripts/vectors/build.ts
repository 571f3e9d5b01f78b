/**
 * Building blocks of the vector generator: pinned envelope values, unsigned bodies in both
 * SEP-2787 shapes, and `vectorCase`, which turns a case's stated expectations into a
 * {@link VectorFile}. Expectations are written by hand in the case lists; nothing here runs
 * the verifier under test.
 */
import { canonicalize } from '../../src/jcs/index.js';
import { sha256Tagged } from '../../src/bytes/digest.js';
import { ATTESTATION_DIMENSIONS, RECEIPT_DIMENSIONS, reasonOf, type Outcome, type VectorExpected, type VectorFile, type VectorVerifier } from './model.js';
import { ISS, keyIdOf, trustedKey, type TestAlg } from './keys.js';

/** Pinned issuance time of every envelope: 2026-05-26T12:00:00Z. */
export const IAT = '2026-05-26T12:00:00Z';
/** {@link IAT} in POSIX seconds. */
export const T0 = Date.parse(IAT) / 1000;
/** Server fingerprints: the one the verifier is, and another. */
export const FP1 = `sha256:${'1'.repeat(64)}`;
export const FP2 = `sha256:${'2'.repeat(64)}`;
/** Runtime arguments of the pinned call. */
export const ARGS = { path: '/archive/2024-Q3.md', recursive: false };
export const TOOL = 'delete_file';

/** Hash-only identity projection commitment (vector shape) of `value`. */
export function hashOnly(value: unknown): { projection: string; projectionDigest: string } {
  const projection = canonicalize({ digest: sha256Tagged(canonicalize(value)) });
  return { projection, projectionDigest: sha256Tagged(projection) };
}

/** A projection commitment (vector shape) over the given projection text. */
export function projectionOf(text: string): { projection: string; projectionDigest: string } {
  return { projection: text, projectionDigest: sha256Tagged(text) };
}

/** `issuerAsserted` for `alg`, with overrides. */
export function issuer(alg: TestAlg, nonce: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg, iss: ISS, sub: 'agent:vectors', secretVersion: keyIdOf(alg), iat: IAT, expSeconds: 300, nonce, ...over };
}

/** Options of the body builders. */
export interface BodyOptions {
  alg: TestAlg;
  nonce: string;
  issuer?: Record<string, unknown>;
  planner?: Record<string, unknown>;
  calls?: Record<string, unknown>[];
}

/** Unsigned vector-shape body (version 1) with one call of {@link TOOL} on {@link FP1} by default. */
export function vectorBody(o: BodyOptions): Record<string, unknown> {
  return {
    version: 1, alg: o.alg, issuerAsserted: issuer(o.alg, o.nonce, o.issuer),
    plannerDeclared: { intent: 'archive obsolete report', ...o.planner },
    payloadDerived: { toolCalls: o.calls ?? [{ name: TOOL, serverFingerprint: FP1, args: hashOnly(ARGS) }] },
  };
}

/** Unsigned SEP-text-shape body; `calls` default to one {@link TOOL} call with an identity `argsProjection`. */
export function sepBody(o: BodyOptions): Record<string, unknown> {
  return {
    issuerAsserted: issuer(o.alg, o.nonce, o.issuer),
    plannerDeclared: { intent: 'archive obsolete report', ...o.planner },
    payloadDerived: { toolCalls: o.calls ?? [{ name: TOOL, serverFingerprint: FP1, argsProjection: canonicalize(ARGS) }] },
  };
}

/** A case as written in the case lists. */
export interface CaseSpec {
  name: string;
  desc: string;
  envelope?: unknown;
  envelopeText?: string;
  /** Overrides of the default verifier inputs; `null` removes a default. */
  verifier?: { [K in keyof VectorVerifier]?: VectorVerifier[K] | null };
  /** Dimensions whose outcome is not `pass` (a code, or `skip`). */
  fails?: Record<string, Outcome>;
  /** The exact checks, when the evaluated set differs from the default rule. */
  only?: Record<string, Outcome>;
  expected?: Omit<VectorExpected, 'verdict' | 'checks' | 'reason'>;
  /** Conventions beyond the published formats the case relies on. */
  uses?: string[];
}

/** Default verifier inputs: the envelope's test key, SEP algorithms, every dimension evaluated. */
export function defaultVerifier(alg: TestAlg): VectorVerifier {
  return { keys: [trustedKey(alg)], acceptedAlgs: ['HS256', 'ES256', 'RS256'], at: T0 + 60, skewSeconds: 30, serverFingerprint: FP1, toolName: TOOL, runtime: ARGS };
}

function evaluated(kind: VectorFile['kind'], v: VectorVerifier): string[] {
  if (kind === 'receipt') return RECEIPT_DIMENSIONS.filter((d) => d !== 'back_link' || v.attestation !== undefined);
  const given: Record<string, boolean> = { ttl: v.at !== undefined, server: v.serverFingerprint !== undefined, tool: v.toolName !== undefined, args_commitment: v.runtime !== undefined };
  return ATTESTATION_DIMENSIONS.filter((d) => given[d] ?? true);
}

/** Turn a spec into a vector file with its expected verdict. */
export function vectorCase(kind: VectorFile['kind'], alg: TestAlg, spec: CaseSpec): VectorFile {
  const verifier: Record<string, unknown> = { ...(kind === 'attestation' ? defaultVerifier(alg) : { keys: [trustedKey(alg)], acceptedAlgs: ['HS256', 'ES256', 'RS256'] }) };
  for (const [k, v] of Object.entries(spec.verifier ?? {})) {
    if (v === null) delete verifier[k];
    else verifier[k] = v;
  }
  const checks: Record<string, Outcome> = spec.only ?? Object.fromEntries(evaluated(kind, verifier as unknown as VectorVerifier).map((d) => [d, spec.fails?.[d] ?? 'pass']));
  const failed = Object.values(checks).filter((o) => o.startsWith('ERR_'));
  const expected: VectorExpected = { verdict: failed.length === 0 ? 'accept' : 'reject', checks };
  if (kind === 'attestation') expected.reason = failed[0] === undefined ? null : reasonOf(failed[0]);
  Object.assign(expected, spec.expected);
  const input = spec.envelopeText === undefined ? { envelope: spec.envelope } : { envelopeText: spec.envelopeText };
  const uses = spec.uses === undefined ? {} : { uses: spec.uses };
  return { name: spec.name, desc: spec.desc, kind, ...uses, ...input, verifier: verifier as unknown as VectorVerifier, expected };
}
