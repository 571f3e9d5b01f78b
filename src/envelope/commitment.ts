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
 * SEP-text shape (`argsRef {uri, digest}` with base64url digest, `argsProjection`): see
 * {@link checkSepCommitment}.
 * Absent arguments: a `tools/call` without `arguments` is committed as `{}` (normative here).
 */
import { equalBytes, toBase64Url, toHex, utf8 } from '../bytes/index.js';
import { sha256, sha256Tagged, TAGGED_DIGEST } from '../bytes/digest.js';
import { canonicalBytes, canonicalize, parseJson, type CanonicalMemo } from '../jcs/index.js';
import { fail, pass, skip, type Check } from './report.js';
import { isObject } from './schema.js';
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

/**
 * The UTF-8 bytes of JCS(`value`) and their SHA-256 (32 bytes). With `memo`, a container's
 * are kept there and given again for it: a commitment and the evidence store keeping the
 * value encode and hash it once. Same errors as `canonicalize` (`ERR_JSON_*`).
 * @see RFC 8785 §3.2.4; FIPS 180-4
 */
export function canonicalDigest(value: unknown, memo?: CanonicalMemo): { bytes: Uint8Array; digest: Uint8Array } {
  const container = memo !== undefined && typeof value === 'object' && value !== null;
  const known = container ? memo.hashed.get(value) : undefined;
  if (known !== undefined) return known;
  const bytes = canonicalBytes(value, memo);
  const hashed = { bytes, digest: sha256(bytes) };
  if (container) memo.hashed.set(value, hashed);
  return hashed;
}

/** Hash-only identity projection of `value` (the default; the value stays local). `memo`: keeps JCS(value) and its digest for the caller (its evidence store: {@link canonicalDigest}). */
export function hashOnlyCommitment(value: unknown, memo?: CanonicalMemo): ProjectionCommitment {
  // JCS of `{"digest": "sha256:<hex>"}`, written out: one member, and nothing in it to escape.
  const projection = `{"digest":"sha256:${toHex(canonicalDigest(value, memo).digest)}"}`;
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
  /** true identity/hash-only match, false redacted, null for a reference alone or a failure (a SEP-text reference beside a projection reports the projection). */
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
    const check = await checkReference(dimension, code, commitment['ref'], commitment['digest'], sha256Tagged, runtime, resolve);
    return { check, projectionMatch: null, kind: 'ref' };
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

/** URI prefix of content-addressed evidence: `mcp-attest://evidence/sha256/<64 lowercase hex>`. */
export const EVIDENCE_URI_PREFIX = 'mcp-attest://evidence/sha256/';

/**
 * SEP-text `argsRef` for `value`: `uri` names the evidence by the hex SHA-256 of JCS(value)
 * (the bytes mcp-attest keeps in its evidence store); `digest` = base64url(SHA-256(JCS(value))).
 * `memo`: as {@link canonicalDigest}.
 */
export function evidenceArgsRef(value: unknown, memo?: CanonicalMemo): { uri: string; digest: string } {
  const hash = canonicalDigest(value, memo).digest;
  return { uri: EVIDENCE_URI_PREFIX + toHex(hash), digest: toBase64Url(hash) };
}

/**
 * A resolver for content-addressed evidence URIs whose content the caller already holds
 * (e.g. a gatekeeper holding the runtime arguments): returns the candidate whose SHA-256
 * matches the hex in `mcp-attest://evidence/sha256/<hex>`, else null. Sound because the
 * address is the content's digest; any other URI is not resolved.
 */
export function contentAddressedResolver(candidates: readonly Uint8Array[]): RefResolver {
  return async (uri) => {
    if (!uri.startsWith(EVIDENCE_URI_PREFIX)) return null;
    const hex = uri.slice(EVIDENCE_URI_PREFIX.length);
    return candidates.find((c) => toHex(sha256(c)) === hex) ?? null;
  };
}

/**
 * A reference: the resolver's bytes for `uri` must have `encode(bytes)` = `digest` and equal
 * JCS(runtime). No resolver, a resolver error or null: the reference fails.
 */
async function checkReference(
  dimension: string, code: ErrorCode, uri: string, digest: unknown, encode: (b: Uint8Array) => string, runtime: unknown, resolve?: RefResolver,
): Promise<Check> {
  const bytes = resolve ? await resolve(uri).catch(() => null) : null;
  if (bytes === null) return fail(dimension, code, 'reference could not be resolved', { found: uri });
  const found = encode(bytes);
  if (found !== digest) return fail(dimension, code, 'reference digest mismatch', { expected: digest, found });
  if (!equalBytes(bytes, canonicalBytes(runtime))) return fail(dimension, code, 'referenced content differs from runtime value');
  return pass(dimension, 'reference');
}

const base64UrlDigest = (bytes: Uint8Array): string => toBase64Url(sha256(bytes));

/**
 * Check a SEP-text `toolCalls` entry's commitment (`argsRef` and/or `argsProjection`)
 * against the runtime value (SEP-2787 §"payloadDerived"; spec notes §6):
 * - `argsRef`: the resolver's bytes for `uri` must hash (base64url SHA-256) to `digest` and
 *   equal JCS(runtime); no resolver or an unresolvable URI fails.
 * - `argsProjection`: strictly parsed, then JCS(projection) = JCS(runtime) is an identity
 *   match, anything else a **redacted** projection (`projectionMatch: false`, passes here;
 *   the caller's policy may refuse it). An unparseable projection fails.
 * Both present: both are checked. Fails with `code`.
 */
export async function checkSepCommitment(
  dimension: string,
  code: ErrorCode,
  call: Record<string, unknown>,
  runtime: unknown,
  resolve?: RefResolver,
): Promise<CommitmentResult> {
  const hasRef = 'argsRef' in call;
  const hasProjection = typeof call['argsProjection'] === 'string';
  if (!hasRef && !hasProjection) return { check: fail(dimension, code, 'neither argsRef nor argsProjection'), projectionMatch: null, kind: 'unknown' };
  if (runtime === undefined) return { check: skip(dimension, 'no runtime value given'), projectionMatch: null, kind: hasRef ? 'ref' : 'unknown' };
  if (hasRef) {
    const ref = call['argsRef'];
    const check = isObject(ref) && typeof ref['uri'] === 'string'
      ? await checkReference(dimension, code, ref['uri'], ref['digest'], base64UrlDigest, runtime, resolve)
      : fail(dimension, code, 'argsRef is malformed');
    if (check.status === 'fail' || !hasProjection) return { check, projectionMatch: null, kind: 'ref' };
  }
  let projected: Uint8Array;
  try {
    projected = canonicalBytes(parseJson(call['argsProjection'] as string));
  } catch {
    return { check: fail(dimension, code, 'argsProjection is not strict JSON'), projectionMatch: null, kind: 'unknown' };
  }
  const kind = hasRef ? 'ref' : 'identity';
  if (equalBytes(projected, canonicalBytes(runtime))) return { check: pass(dimension, 'identity projection'), projectionMatch: true, kind };
  return { check: pass(dimension, 'redacted projection (not complete)'), projectionMatch: false, kind: hasRef ? 'ref' : 'redacted' };
}
