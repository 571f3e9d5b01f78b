/**
 * Verify a SEP-2787 request attestation, dimension by dimension, in the SEP order:
 * canonicalization (strict parse) -> schema -> algorithm -> signature -> ttl -> server ->
 * tool -> args_commitment. Every dimension that can be evaluated is, and each is reported;
 * the verdict is ok only when none failed. Replay (nonce) state is the caller's: this
 * function has no state, no clock (`now` is an input) and no I/O.
 * @see SEP-2787 §"Verification Rules"
 */
import { AttestError, isAttestError, type ErrorCode } from '../errors.js';
import { parseJson, type CanonicalMemo, type JsonValue } from '../jcs/index.js';
import { fromUtf8 } from '../bytes/index.js';
import { assertAllowed, getAlgorithm, SEP2787_ALGS, type AlgName } from '../keys/algorithms.js';
import { signingInput, verifyHexSignature, type KeyResolver } from '../envelope/signature.js';
import { checkCommitment, checkSepCommitment, type CommitmentResult, type RefResolver } from '../envelope/commitment.js';
import { allPassed, fail, failFrom, pass, skip, type Check } from '../envelope/report.js';
import { isObject } from '../envelope/schema.js';
import { parseTimestamp } from '../envelope/time.js';
import { attestationShape, validateAttestation, type Attestation, type AttestationShape } from './schema.js';

/** Largest attestation accepted, in bytes of JSON text. */
export const MAX_ATTESTATION_BYTES = 64 * 1024;

/** Inputs of {@link verifyAttestation}. */
export interface AttestationVerifyOptions {
  /** Trusted keys by (iss, alg, secretVersion). */
  keys: KeyResolver;
  /** Algorithms this verifier accepts (default: HS256, ES256, RS256). */
  acceptedAlgs?: readonly AlgName[];
  /** Verification time, POSIX seconds; when absent the TTL is not checked (a logged record). */
  now?: number;
  /** Clock skew in seconds (default 30, SEP-2787). */
  skewSeconds?: number;
  /** Largest `expSeconds` accepted (default: no cap). */
  maxExpSeconds?: number;
  /** This server's fingerprint: selects the `toolCalls` entry (server dimension). */
  serverFingerprint?: string;
  /** The `tools/call` name (tool dimension). */
  toolName?: string;
  /** Runtime arguments to check the commitment against; `{}` when the call had none. */
  args?: unknown;
  /** Resolves `ref` / `argsRef` commitments (no resolver: every reference fails). */
  resolve?: RefResolver;
  /** A redacted projection passes (`accept`, default, reported by `projectionMatch: false`) or fails `ERR_ARGS_REDACTED`. */
  redacted?: 'accept' | 'refuse';
  /** ES256: refuse high-S signatures (`s > n/2`). Default false: SEP-2787 has no low-S rule and a published vector is high-S. */
  requireLowS?: boolean;
  /** Canonical texts of the envelope the caller wrote already (its digest): reused for the signing input (jcs/canonicalize.ts). */
  memo?: CanonicalMemo;
}

/** The verdict: every check, the parsed attestation (null if unparseable), the entry used. */
export interface AttestationVerdict {
  ok: boolean;
  checks: Check[];
  /** The wire shape, null when the input is not a JSON object. */
  shape: AttestationShape | null;
  /** The attestation when it passed the schema, else null. */
  attestation: Attestation | null;
  toolCallIndex: number | null;
  /** true identity match, false redacted projection, null not evaluated or a pure reference. */
  projectionMatch: boolean | null;
  /** The commitment form checked (`hash_only`, `identity`, `redacted`, `ref`; `unknown` when it could not be classified), null when not checked. */
  commitmentKind: CommitmentResult['kind'] | null;
}

/** Parse attestation input (text, bytes, or an already-parsed value) strictly. */
function toValue(input: string | Uint8Array | JsonValue): JsonValue {
  if (input instanceof Uint8Array) {
    if (input.length > MAX_ATTESTATION_BYTES) throw new AttestError('ERR_JSON_TOO_LARGE', 'attestation too large');
    input = fromUtf8(input);
  }
  return typeof input === 'string' ? parseJson(input, { floats: 'reject', maxBytes: MAX_ATTESTATION_BYTES, maxDepth: 16 }) : input;
}

/**
 * Algorithm dimension: `issuerAsserted.alg` is in the table and accepted; a top-level `alg`
 * (required in the vector shape, foreign to the SEP-text shape) must equal it.
 */
function checkAlgorithm(a: Record<string, unknown>, accepted: readonly AlgName[]): { check: Check; alg: AlgName | null } {
  const issuer = isObject(a['issuerAsserted']) ? a['issuerAsserted'] : {};
  const compareTopAlg = Object.prototype.hasOwnProperty.call(a, 'alg') || attestationShape(a) === 'vector';
  if (compareTopAlg && a['alg'] !== issuer['alg']) {
    return { check: fail('algorithm', 'ERR_ALG_DOWNGRADE', 'top-level alg differs from issuerAsserted.alg', { expected: issuer['alg'], found: a['alg'] }), alg: null };
  }
  try {
    const alg = getAlgorithm(issuer['alg']).name;
    assertAllowed(alg, accepted);
    return { check: pass('algorithm', alg), alg };
  } catch (e) {
    return { check: failFrom('algorithm', e, 'ERR_ALG_UNSUPPORTED'), alg: null };
  }
}

async function checkSignature(a: Record<string, unknown>, alg: AlgName | null, o: AttestationVerifyOptions): Promise<Check> {
  if (alg === null) return fail('signature', 'ERR_SIGNATURE_INVALID', 'no acceptable algorithm to verify with');
  const issuer = a['issuerAsserted'] as Record<string, unknown>;
  const { iss, secretVersion: keyId } = issuer;
  if (typeof iss !== 'string' || typeof keyId !== 'string') return fail('signature', 'ERR_SCHEMA', 'iss and secretVersion must be strings to select a key');
  const query = { iss, alg, keyId };
  const key = await o.keys(query).catch(() => null);
  if (key === null) return fail('signature', 'ERR_KEY_UNAVAILABLE', `no trusted key for issuer ${JSON.stringify(iss.slice(0, 200))}, alg ${alg} and secretVersion ${JSON.stringify(keyId.slice(0, 100))}`, { found: query });
  let input: Uint8Array;
  try {
    input = signingInput(a, o.memo);
  } catch (e) {
    return failFrom('signature', e, 'ERR_SIGNATURE_INVALID');
  }
  const ok = await verifyHexSignature(alg, key, input, a['signature'], { requireLowS: o.requireLowS === true });
  return ok ? pass('signature', `${alg} ${query.keyId}`) : fail('signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed');
}

/**
 * TTL dimension: `iat - skew <= now <= iat + expSeconds + skew` (seconds). A `now` or `skew`
 * that is not a finite number (skew also >= 0) fails `ERR_TIME_INVALID`: a bad clock never passes.
 */
export function checkTtl(issuer: Record<string, unknown>, now: number, skew: number, maxExp?: number): Check {
  if (!Number.isFinite(now) || !Number.isFinite(skew) || skew < 0) return fail('ttl', 'ERR_TIME_INVALID', 'verification time or skew is not a finite number', { found: { now, skew } });
  let iat: number;
  try {
    iat = parseTimestamp(issuer['iat'], '.issuerAsserted.iat');
  } catch (e) {
    return failFrom('ttl', e, 'ERR_TIME_INVALID');
  }
  const exp = issuer['expSeconds'];
  if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < 0) return fail('ttl', 'ERR_SCHEMA', 'expSeconds is not a non-negative integer');
  if (maxExp !== undefined && exp > maxExp) return fail('ttl', 'ERR_TTL_EXPIRED', 'expSeconds above the policy maximum', { expected: maxExp, found: exp });
  if (now < iat - skew) return fail('ttl', 'ERR_TTL_NOT_YET_VALID', 'iat is in the future beyond the skew', { expected: `>= ${iat - skew}`, found: now });
  if (now > iat + exp + skew) return fail('ttl', 'ERR_TTL_EXPIRED', 'attestation expired', { expected: `<= ${iat + exp + skew}`, found: now });
  return pass('ttl');
}

/**
 * Pick the toolCalls entry: among the entries for this server (server dimension) the one
 * naming the tool, else the first; with no server given, the only entry or the one naming
 * the tool. The tool dimension is skipped when no entry is for this server (the server
 * dimension already failed).
 */
function selectCall(a: Record<string, unknown>, o: AttestationVerifyOptions, checks: Check[]): number | null {
  const calls = (isObject(a['payloadDerived']) && Array.isArray(a['payloadDerived']['toolCalls']) ? a['payloadDerived']['toolCalls'] : []) as unknown[];
  let candidates = calls.map((c, i) => [c, i] as const).filter(([c]) => isObject(c));
  if (o.serverFingerprint !== undefined) {
    candidates = candidates.filter(([c]) => (c as Record<string, unknown>)['serverFingerprint'] === o.serverFingerprint);
    checks.push(candidates.length > 0 ? pass('server') : fail('server', 'ERR_SERVER_MISMATCH', 'no toolCalls entry for this server', { expected: o.serverFingerprint }));
    if (candidates.length === 0) {
      if (o.toolName !== undefined) checks.push(skip('tool', 'no toolCalls entry for this server'));
      return null;
    }
  }
  const named = o.toolName === undefined ? undefined : candidates.find(([c]) => (c as Record<string, unknown>)['name'] === o.toolName);
  const chosen = named ?? (o.serverFingerprint !== undefined || calls.length === 1 ? candidates[0] : undefined);
  if (o.toolName !== undefined) {
    const name = chosen === undefined ? undefined : (chosen[0] as Record<string, unknown>)['name'];
    checks.push(name === o.toolName ? pass('tool') : fail('tool', 'ERR_TOOL_MISMATCH', 'tool name differs', { expected: name, found: o.toolName }));
  }
  return chosen === undefined ? null : chosen[1];
}

/** Args-commitment dimension for the selected entry, in the entry's shape; never throws. */
async function checkArgs(a: Record<string, unknown>, index: number | null, o: AttestationVerifyOptions): Promise<CommitmentResult> {
  const code = 'ERR_ARGS_COMMITMENT_MISMATCH';
  const call = index === null ? null : (a['payloadDerived'] as { toolCalls: unknown[] }).toolCalls[index];
  if (!isObject(call)) {
    const serverFailed = o.serverFingerprint !== undefined && index === null;
    const check = serverFailed ? skip('args_commitment', 'no toolCalls entry for this server') : fail('args_commitment', code, 'no toolCalls entry to check the arguments against');
    return { check, projectionMatch: null, kind: 'unknown' };
  }
  try {
    const r = attestationShape(a) === 'vector'
      ? await checkCommitment('args_commitment', code, isObject(call['args']) ? call['args'] : {}, o.args, o.resolve)
      : await checkSepCommitment('args_commitment', code, call, o.args, o.resolve);
    // A verified reference proves the whole arguments; only a projection alone can be incomplete.
    if (r.projectionMatch === false && r.kind !== 'ref' && o.redacted === 'refuse') {
      return { ...r, check: fail('args_commitment', 'ERR_ARGS_REDACTED', 'redacted projection refused by policy') };
    }
    return r;
  } catch (e) {
    // E.g. runtime arguments JCS cannot encode: still this dimension's code, the cause in `found`.
    return { check: fail('args_commitment', code, 'arguments cannot be committed to', { found: isAttestError(e) ? e.code : 'error' }), projectionMatch: null, kind: 'unknown' };
  }
}

/**
 * Verify an attestation in either wire shape. Never throws for bad input: every failure is
 * a check with a code (see docs/verification-codes.md).
 */
export async function verifyAttestation(input: string | Uint8Array | JsonValue, o: AttestationVerifyOptions): Promise<AttestationVerdict> {
  const checks: Check[] = [];
  let shape: AttestationShape | null = null;
  const verdict = (attestation: Attestation | null, toolCallIndex: number | null, r?: CommitmentResult): AttestationVerdict =>
    ({ ok: allPassed(checks), checks, shape, attestation, toolCallIndex, projectionMatch: r?.projectionMatch ?? null, commitmentKind: r?.kind ?? null });
  let value: JsonValue;
  try {
    value = toValue(input);
    checks.push(pass('canonicalization'));
  } catch (e) {
    checks.push(failFrom('canonicalization', e, 'ERR_JSON_SYNTAX'));
    return verdict(null, null);
  }
  const problems = validateAttestation(value);
  checks.push(problems.length === 0 ? pass('schema') : fail('schema', 'ERR_SCHEMA', problems.join('; '), { found: problems }));
  if (!isObject(value)) return verdict(null, null);
  const a = value as Record<string, unknown>;
  shape = attestationShape(a);
  const { check, alg } = checkAlgorithm(a, o.acceptedAlgs ?? SEP2787_ALGS);
  checks.push(check);
  checks.push(isObject(a['issuerAsserted']) ? await checkSignature(a, alg, o) : fail('signature', 'ERR_SCHEMA', 'no issuerAsserted'));
  if (o.now !== undefined) {
    checks.push(isObject(a['issuerAsserted']) ? checkTtl(a['issuerAsserted'], o.now, o.skewSeconds ?? 30, o.maxExpSeconds) : skip('ttl', 'no issuerAsserted'));
  }
  const index = selectCall(a, o, checks);
  const parsed = problems.length === 0 ? (a as unknown as Attestation) : null;
  if (o.args === undefined) return verdict(parsed, index);
  const r = await checkArgs(a, index, o);
  checks.push(r.check);
  return verdict(parsed, index, r);
}

/**
 * The SEP-2787 `reason` for a failure code (the external vocabulary of the eight SEP
 * strings; docs/verification-codes.md). Failures the SEP has no word for (malformed
 * envelope, algorithm, canonicalization) are `signature_invalid`: the envelope cannot be
 * accepted as signed.
 */
export function sepReason(code: ErrorCode): string {
  switch (code) {
    case 'ERR_KEY_UNAVAILABLE': case 'ERR_PARTY_UNTRUSTED': case 'ERR_CREDENTIAL_UNTRUSTED': case 'ERR_CREDENTIAL_REVOKED': case 'ERR_CREDENTIAL_KEY': case 'ERR_CREDENTIAL_UNLOGGED': return 'key_unavailable';
    case 'ERR_NONCE_REPLAY': case 'ERR_LOG_DUPLICATE_NONCE': case 'ERR_NONCE_STORE_FULL': return 'nonce_replay';
    case 'ERR_TTL_EXPIRED': case 'ERR_TTL_NOT_YET_VALID': case 'ERR_TIME_INVALID': case 'ERR_CREDENTIAL_EXPIRED': case 'ERR_CREDENTIAL_NOT_YET_VALID': case 'ERR_CREDENTIAL_LATE': return 'expired';
    case 'ERR_SERVER_MISMATCH': return 'server_mismatch';
    case 'ERR_TOOL_MISMATCH': case 'ERR_TOOL_DENIED': case 'ERR_CAPABILITY_MISSING': case 'ERR_TOOL_CHANGED': case 'ERR_CREDENTIAL_SCOPE': return 'tool_mismatch';
    case 'ERR_ARGS_COMMITMENT_MISMATCH': case 'ERR_ARGS_REDACTED': case 'ERR_EVIDENCE_MISMATCH': return 'args_commitment_mismatch';
    case 'ERR_ATTESTATION_REQUIRED': return 'attestation_required';
    default: return 'signature_invalid';
  }
}

/** The SEP-2787 `reason` of a verdict: that of its first failed check in verification order, null when ok. */
export function verdictReason(v: Pick<AttestationVerdict, 'ok' | 'checks'>): string | null {
  if (v.ok) return null;
  const first = v.checks.find((c) => c.status === 'fail');
  return sepReason(first?.code ?? 'ERR_SIGNATURE_INVALID');
}
