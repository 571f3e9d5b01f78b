/**
 * Commitments to tool arguments and tool results, in the vector shape of SEP-2787
 * (`args` / `resultCommitment`): the projection form `{projection, projectionDigest}` or the
 * reference form `{ref, digest, canonicalization}`.
 *
 * Forms, and how a commitment is checked against the runtime value (SEP notes §6):
 * - hash-only identity: `projection` is JCS of `{"digest": "sha256:<hex(SHA-256(JCS(v)))>"}`;
 *   checks `v` without disclosing it. mcp-attest emits this form by default.
 * - identity projection: `projection` is JCS(v) itself.
 * - redacted projection: any other projection; accepted with `projectionMatch: false`.
 * - reference: `digest` = `sha256:` + hex(SHA-256(bytes)) of content a caller-supplied
 *   resolver returns for `ref`, and those bytes must equal JCS(v).
 * Absent arguments: a `tools/call` without `arguments` is committed as `{}` (normative here).
 */
import { equalBytes, utf8 } from '../bytes/index.js';
import { sha256Tagged, TAGGED_DIGEST } from '../bytes/digest.js';
import { canonicalBytes, canonicalize, parseJson } from '../jcs/index.js';
import { fail, pass, skip, type Check } from './report.js';
import type { ErrorCode } from '../errors.js';

/** A commitment in the projection form. */
export interface ProjectionCommitment {
  projection: string;
  projectionDigest: string;
}

/** A commitment in the reference form. */
export interface RefCommitment {
  ref: string;
  digest: string;
  canonicalization?: 'jcs';
}

export type Commitment = ProjectionCommitment | RefCommitment;

/** Fetches the bytes behind a `ref`; null when it cannot. No network unless the caller adds it. */
export type RefResolver = (ref: string) => Promise<Uint8Array | null>;

/** Hash-only identity projection of `value` (the default; the value stays local). */
export function hashOnlyCommitment(value: unknown): ProjectionCommitment {
  const projection = canonicalize({ digest: sha256Tagged(canonicalBytes(value)) });
  return { projection, projectionDigest: sha256Tagged(projection) };
}

/** Identity projection: the JCS text of `value` itself (discloses the value). */
export function identityCommitment(value: unknown): ProjectionCommitment {
  const projection = canonicalize(value);
  return { projection, projectionDigest: sha256Tagged(projection) };
}

/** Result of checking a commitment: a check plus whether the projection matched. */
export interface CommitmentResult {
  check: Check;
  /** true identity/hash-only match, false redacted, null for refs or failures. */
  projectionMatch: boolean | null;
  kind: 'hash_only' | 'identity' | 'redacted' | 'ref' | 'unknown';
}

function hashOnlyDigest(projection: string): string | null {
  try {
    const p = parseJson(projection);
    if (p === null || typeof p !== 'object' || Array.isArray(p)) return null;
    const keys = Object.keys(p);
    const d = (p as Record<string, unknown>)['digest'];
    return keys.length === 1 && typeof d === 'string' && d.startsWith('sha256:') ? d : null;
  } catch {
    return null;
  }
}

/**
 * Check `commitment` against the runtime value. `runtime === undefined` skips the check
 * (after the projection's self-digest is checked). Fails with `code` (the caller's:
 * `ERR_ARGS_COMMITMENT_MISMATCH` or `ERR_RESULT_COMMITMENT_MISMATCH`).
 */
export async function checkCommitment(
  dimension: string,
  code: ErrorCode,
  commitment: Record<string, unknown>,
  runtime: unknown,
  resolve?: RefResolver,
): Promise<CommitmentResult> {
  const miss = (message: string, kind: CommitmentResult['kind'], expected?: unknown, found?: unknown): CommitmentResult =>
    ({ check: fail(dimension, code, message, { expected, found }), projectionMatch: null, kind });
  if (typeof commitment['ref'] === 'string') {
    if (runtime === undefined) return { check: skip(dimension, 'no runtime value given'), projectionMatch: null, kind: 'ref' };
    const bytes = resolve ? await resolve(commitment['ref']).catch(() => null) : null;
    if (bytes === null) return miss('reference could not be resolved', 'ref');
    const digest = sha256Tagged(bytes);
    if (digest !== commitment['digest']) return miss('reference digest mismatch', 'ref', commitment['digest'], digest);
    if (!equalBytes(bytes, canonicalBytes(runtime))) return miss('referenced content differs from runtime value', 'ref');
    return { check: pass(dimension, 'reference'), projectionMatch: null, kind: 'ref' };
  }
  const projection = commitment['projection'];
  if (typeof projection !== 'string') return miss('no projection or ref', 'unknown');
  const selfDigest = sha256Tagged(projection);
  if (selfDigest !== commitment['projectionDigest']) return miss('projectionDigest does not match projection', 'unknown', commitment['projectionDigest'], selfDigest);
  if (runtime === undefined) return { check: skip(dimension, 'no runtime value given'), projectionMatch: null, kind: 'unknown' };
  const hashOnly = hashOnlyDigest(projection);
  if (hashOnly !== null) {
    const found = sha256Tagged(canonicalBytes(runtime));
    if (!TAGGED_DIGEST.test(hashOnly) || hashOnly !== found) return miss('digest does not match runtime value', 'hash_only', hashOnly, found);
    return { check: pass(dimension, 'hash-only identity'), projectionMatch: true, kind: 'hash_only' };
  }
  if (equalBytes(utf8(projection), canonicalBytes(runtime))) {
    return { check: pass(dimension, 'identity projection'), projectionMatch: true, kind: 'identity' };
  }
  return { check: pass(dimension, 'redacted projection (not complete)'), projectionMatch: false, kind: 'redacted' };
}
