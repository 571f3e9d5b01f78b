/**
 * Attestation cases about meaning: audience, tool, several toolCalls, TTL edges, algorithm
 * agreement, keys, both wire shapes, every argument-commitment form and the redaction
 * policy. Each states its expected verdict by hand (see build.ts).
 */
import { canonicalize } from '../../src/jcs/index.js';
import { sha256 } from '../../src/bytes/digest.js';
import { toBase64, toBase64Url, toHex } from '../../src/bytes/index.js';
import { ARGS, FP1, FP2, hashOnly, projectionOf, sepBody, T0, TOOL, vectorBody, vectorCase, type CaseSpec } from './build.js';
import { signWith, type TestAlg } from './keys.js';
import { EDDSA, type VectorFile } from './model.js';

const OTHER_ARGS = { path: '/keep/forever.md' };
const REDACTED = '{"path":"<redacted>"}';
const REF_URI = 'cid://blob/sha256/args-archive';
const ARGS_BYTES = new TextEncoder().encode(canonicalize(ARGS));

/** A signed vector-shape case. */
function v(alg: TestAlg, spec: Omit<CaseSpec, 'envelope'>, body: Parameters<typeof vectorBody>[0] = { alg, nonce: `nonce-${spec.name}` }): VectorFile {
  return vectorCase('attestation', alg, { ...spec, envelope: signWith(alg, vectorBody(body)), expected: { shape: 'vector', ...spec.expected } });
}

/** A signed SEP-text-shape case. */
function s(alg: TestAlg, spec: Omit<CaseSpec, 'envelope'>, calls?: Record<string, unknown>[], planner?: Record<string, unknown>): VectorFile {
  const body = sepBody({ alg, nonce: `nonce-${spec.name}`, ...(calls ? { calls } : {}), ...(planner ? { planner } : {}) });
  return vectorCase('attestation', alg, { ...spec, envelope: signWith(alg, body), expected: { shape: 'sep-text', ...spec.expected } });
}

const call = (over: Record<string, unknown>): Record<string, unknown> => ({ name: TOOL, serverFingerprint: FP1, ...over });
const argsRef = (bytes: Uint8Array, uri = REF_URI): Record<string, unknown> => ({ uri, digest: toBase64Url(sha256(bytes)) });

function meaning(): VectorFile[] {
  const two = [call({ args: hashOnly(ARGS) }), { name: 'archive_file', serverFingerprint: FP2, args: hashOnly(OTHER_ARGS) }];
  return [
    v('HS256', { name: 'valid-hs256-hash-only', desc: 'HS256, hash-only identity projection; every dimension passes', expected: { projectionMatch: true, toolCallIndex: 0 } }),
    v('ES256', { name: 'valid-es256-low-s', desc: 'ES256 (RFC 6979, low-S), hash-only identity projection', expected: { projectionMatch: true } }),
    v('RS256', { name: 'valid-rs256', desc: 'RS256 PKCS#1 v1.5, hash-only identity projection', expected: { projectionMatch: true } }),
    v('EdDSA', { name: 'valid-eddsa-extension', desc: 'EdDSA (an mcp-attest extension, not SEP-2787) accepted because the verifier lists it', verifier: { acceptedAlgs: ['EdDSA'] }, expected: { projectionMatch: true }, uses: [EDDSA] }),
    v('EdDSA', { name: 'eddsa-not-accepted-by-default', desc: 'EdDSA is not a SEP-2787 algorithm: a verifier accepting the SEP set refuses it', fails: { algorithm: 'ERR_ALG_NOT_ALLOWED', signature: 'ERR_SIGNATURE_INVALID' } }),
    v('HS256', { name: 'server-mismatch', desc: 'no toolCalls entry for this server: server fails, tool and arguments are not evaluated', verifier: { serverFingerprint: FP2 }, fails: { server: 'ERR_SERVER_MISMATCH', tool: 'skip', args_commitment: 'skip' }, expected: { toolCallIndex: null } }),
    v('HS256', { name: 'tool-mismatch', desc: 'the entry for this server names another tool', verifier: { toolName: 'read_file' }, fails: { tool: 'ERR_TOOL_MISMATCH' }, expected: { projectionMatch: true } }),
    v('HS256', { name: 'multi-call-second-server-selected', desc: 'two toolCalls; the verifier is the second server and checks the second entry', verifier: { serverFingerprint: FP2, toolName: 'archive_file', runtime: OTHER_ARGS }, expected: { toolCallIndex: 1, projectionMatch: true } }, { alg: 'HS256', nonce: 'nonce-multi-1', calls: two }),
    v('HS256', { name: 'multi-call-args-of-other-entry', desc: 'two toolCalls; the second server receives the first entry\'s arguments', verifier: { serverFingerprint: FP2, toolName: 'archive_file' }, fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' }, expected: { toolCallIndex: 1 } }, { alg: 'HS256', nonce: 'nonce-multi-2', calls: two }),
    v('HS256', { name: 'multi-call-same-server-second-tool', desc: 'two toolCalls for the same server: the entry naming the called tool is checked', verifier: { toolName: 'archive_file', runtime: OTHER_ARGS }, expected: { toolCallIndex: 1, projectionMatch: true } }, { alg: 'HS256', nonce: 'nonce-multi-4', calls: [two[0]!, { ...two[1]!, serverFingerprint: FP1 }] }),
    v('HS256', { name: 'expseconds-negative', desc: 'expSeconds -100: not a non-negative integer', fails: { schema: 'ERR_SCHEMA', ttl: 'ERR_SCHEMA' } }, { alg: 'HS256', nonce: 'nonce-negexp', issuer: { expSeconds: -100 } }),
    v('HS256', { name: 'multi-call-tool-of-other-entry', desc: 'two toolCalls; the first server is asked for the second entry\'s tool', verifier: { toolName: 'archive_file' }, fails: { tool: 'ERR_TOOL_MISMATCH' }, expected: { toolCallIndex: 0 } }, { alg: 'HS256', nonce: 'nonce-multi-3', calls: two }),
    v('HS256', { name: 'iat-future-beyond-skew', desc: 'verified 31 s before iat: beyond the 30 s skew', verifier: { at: T0 - 31 }, fails: { ttl: 'ERR_TTL_NOT_YET_VALID' } }),
    v('HS256', { name: 'ttl-edge-iat-minus-30', desc: 'verified exactly 30 s before iat: inside the skew', verifier: { at: T0 - 30 } }, { alg: 'HS256', nonce: 'nonce-edge-1' }),
    v('HS256', { name: 'ttl-edge-exp-plus-30', desc: 'verified exactly at iat + expSeconds + 30 s: inside the skew', verifier: { at: T0 + 330 } }, { alg: 'HS256', nonce: 'nonce-edge-2' }),
    v('HS256', { name: 'ttl-beyond-exp-plus-31', desc: 'verified at iat + expSeconds + 31 s: expired', verifier: { at: T0 + 331 }, fails: { ttl: 'ERR_TTL_EXPIRED' } }),
    v('HS256', { name: 'expseconds-above-policy-max', desc: 'expSeconds 3600 against a verifier capping it at 300', verifier: { maxExpSeconds: 300 }, fails: { ttl: 'ERR_TTL_EXPIRED' } }, { alg: 'HS256', nonce: 'nonce-long', issuer: { expSeconds: 3600 } }),
    v('HS256', { name: 'key-unavailable', desc: 'secretVersion names a key the verifier does not hold', fails: { signature: 'ERR_KEY_UNAVAILABLE' } }, { alg: 'HS256', nonce: 'nonce-kid', issuer: { secretVersion: 'hs256-v2' } }),
    v('HS256', { name: 'alg-not-accepted', desc: 'a correctly signed HS256 envelope to a verifier accepting ES256 only', verifier: { acceptedAlgs: ['ES256'] }, fails: { algorithm: 'ERR_ALG_NOT_ALLOWED', signature: 'ERR_SIGNATURE_INVALID' } }),
    vectorCase('attestation', 'HS256', {
      name: 'top-level-alg-mismatch-signed', desc: 'top-level alg RS256, issuerAsserted.alg HS256, HMAC valid over both: refused, never verified under either',
      envelope: signWith('HS256', { ...vectorBody({ alg: 'HS256', nonce: 'nonce-mixed-alg' }), alg: 'RS256' }),
      fails: { algorithm: 'ERR_ALG_DOWNGRADE', signature: 'ERR_SIGNATURE_INVALID' }, expected: { shape: 'vector' },
    }),
    v('HS256', { name: 'unknown-member-signed', desc: 'an extension member covered by a valid signature: the closed schema still refuses it', fails: { schema: 'ERR_SCHEMA' } }, { alg: 'HS256', nonce: 'nonce-ext', issuer: { kid: 'hs256-v1' } }),
    v('HS256', { name: 'planner-ref-in-vector-shape', desc: 'plannerRef belongs to the SEP-text shape; the vector shape refuses it', fails: { schema: 'ERR_SCHEMA' } }, { alg: 'HS256', nonce: 'nonce-pref', planner: { plannerRef: 'trace:42' } }),
    v('HS256', { name: 'absent-arguments-committed-as-empty-object', desc: 'a call without arguments is committed as {} and checked against {}', verifier: { runtime: {} }, expected: { projectionMatch: true } }, { alg: 'HS256', nonce: 'nonce-empty', calls: [call({ args: hashOnly({}) })] }),
    v('HS256', { name: 'hash-only-against-absent-arguments', desc: 'a commitment to real arguments does not match a call that sent none ({})', verifier: { runtime: {} }, fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }),
  ];
}

function vectorCommitments(): VectorFile[] {
  const ref = { ref: REF_URI, digest: `sha256:${toHex(sha256(ARGS_BYTES))}`, canonicalization: 'jcs' };
  const refs = { [REF_URI]: toBase64(ARGS_BYTES) };
  const withCall = (name: string, args: Record<string, unknown>) => ({ alg: 'HS256' as const, nonce: `nonce-${name}`, calls: [call({ args })] });
  return [
    v('HS256', { name: 'vector-identity-projection', desc: 'projection = JCS(arguments): identity', expected: { projectionMatch: true } }, withCall('id', projectionOf(canonicalize(ARGS)))),
    v('HS256', { name: 'vector-redacted-projection-accepted', desc: 'a redacted projection passes, reported as projectionMatch false', expected: { projectionMatch: false } }, withCall('red', projectionOf(REDACTED))),
    v('HS256', { name: 'vector-redacted-projection-refused', desc: 'the same redacted projection to a verifier that refuses redaction', verifier: { redacted: 'refuse' }, fails: { args_commitment: 'ERR_ARGS_REDACTED' }, expected: { projectionMatch: false } }, withCall('red2', projectionOf(REDACTED))),
    v('HS256', { name: 'vector-projection-noncanonical', desc: 'a projection equal in meaning but not JCS bytes is (by byte comparison) redacted, not identity', expected: { projectionMatch: false } }, withCall('noncanon', projectionOf('{"recursive": false, "path": "/archive/2024-Q3.md"}'))),
    v('HS256', { name: 'vector-projection-digest-wrong', desc: 'projectionDigest does not hash the projection', fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, withCall('pdig', { ...projectionOf(canonicalize(ARGS)), projectionDigest: `sha256:${'0'.repeat(64)}` })),
    v('HS256', { name: 'vector-ref-resolved', desc: 'ref form: the resolver returns JCS(arguments), the digest matches', verifier: { refs }, expected: { projectionMatch: null } }, withCall('ref', ref)),
    v('HS256', { name: 'vector-ref-content-differs', desc: 'ref form: the referenced content is not these arguments', verifier: { refs, runtime: OTHER_ARGS }, fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, withCall('ref2', ref)),
    v('HS256', { name: 'vector-ref-unresolvable', desc: 'ref form with no content for the URI: a mismatch, never a pass', fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, withCall('ref3', ref)),
  ];
}

function sepText(): VectorFile[] {
  const refs = { [REF_URI]: toBase64(ARGS_BYTES) };
  const evidence = { uri: `mcp-attest://evidence/sha256/${toHex(sha256(ARGS_BYTES))}`, digest: toBase64Url(sha256(ARGS_BYTES)) };
  return [
    s('ES256', { name: 'sep-text-args-projection-identity', desc: 'SEP-text shape, argsProjection = JCS(arguments)', expected: { projectionMatch: true } }),
    s('HS256', { name: 'sep-text-args-projection-redacted', desc: 'SEP-text argsProjection that differs from the arguments: redacted, accepted', expected: { projectionMatch: false } }, [call({ argsProjection: REDACTED })]),
    s('HS256', { name: 'sep-text-args-projection-redacted-refused', desc: 'the same, to a verifier that refuses redaction', verifier: { redacted: 'refuse' }, fails: { args_commitment: 'ERR_ARGS_REDACTED' }, expected: { projectionMatch: false } }, [call({ argsProjection: REDACTED })]),
    s('HS256', { name: 'sep-text-args-projection-not-json', desc: 'argsProjection that is not JSON text', fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, [call({ argsProjection: '{path:' })]),
    s('RS256', { name: 'sep-text-args-ref-resolved', desc: 'SEP-text argsRef with base64url digest; the resolver returns JCS(arguments)', verifier: { refs }, expected: { projectionMatch: null } }, [call({ argsRef: argsRef(ARGS_BYTES) })]),
    s('HS256', { name: 'sep-text-args-ref-evidence-uri', desc: 'argsRef naming content-addressed evidence; resolved from the runtime arguments themselves', expected: { projectionMatch: null }, uses: ['mcp-attest:evidence-uri'] }, [call({ argsRef: evidence })]),
    s('HS256', { name: 'sep-text-args-ref-content-differs', desc: 'argsRef whose content is other arguments', verifier: { refs: { [REF_URI]: toBase64(new TextEncoder().encode(canonicalize(OTHER_ARGS))) } }, fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, [call({ argsRef: argsRef(ARGS_BYTES) })]),
    s('HS256', { name: 'sep-text-args-ref-unresolvable', desc: 'argsRef with no resolver content: a mismatch', fails: { args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, [call({ argsRef: argsRef(ARGS_BYTES) })]),
    s('HS256', { name: 'sep-text-args-ref-and-projection', desc: 'both argsRef and an identity argsProjection: both checked', verifier: { refs }, expected: { projectionMatch: true } }, [call({ argsRef: argsRef(ARGS_BYTES), argsProjection: canonicalize(ARGS) })]),
    s('HS256', { name: 'sep-text-args-ref-and-redacted-projection-refuse', desc: 'a verified argsRef proves the whole arguments: a redacted argsProjection beside it is not refused', verifier: { refs, redacted: 'refuse' }, expected: { projectionMatch: false } }, [call({ argsRef: argsRef(ARGS_BYTES), argsProjection: REDACTED })]),
    s('HS256', { name: 'sep-text-args-ref-hex-digest', desc: 'argsRef digest in the vector shape\'s sha256:<hex> form: the SEP-text shape needs base64url', verifier: { refs }, fails: { schema: 'ERR_SCHEMA', args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, [call({ argsRef: { uri: REF_URI, digest: `sha256:${toHex(sha256(ARGS_BYTES))}` } })]),
    s('HS256', { name: 'sep-text-no-commitment', desc: 'a toolCalls entry with neither argsRef nor argsProjection', fails: { schema: 'ERR_SCHEMA', args_commitment: 'ERR_ARGS_COMMITMENT_MISMATCH' } }, [call({})]),
    s('HS256', { name: 'sep-text-planner-ref', desc: 'plannerRef is passed through and signed', expected: { projectionMatch: true } }, undefined, { plannerRef: 'trace://planner/run/42' }),
    s('HS256', { name: 'sep-text-vector-args-member', desc: 'a vector-shape args member inside a SEP-text envelope is unknown there', fails: { schema: 'ERR_SCHEMA' }, expected: { projectionMatch: true } }, [call({ argsProjection: canonicalize(ARGS), args: hashOnly(ARGS) })]),
    vectorCase('attestation', 'HS256', {
      name: 'sep-text-top-level-alg-equal', desc: 'a SEP-text envelope with a top-level alg equal to issuerAsserted.alg: not in the SEP-text schema',
      envelope: signWith('HS256', { alg: 'HS256', ...sepBody({ alg: 'HS256', nonce: 'nonce-sep-alg' }) }),
      fails: { schema: 'ERR_SCHEMA' }, expected: { shape: 'sep-text', projectionMatch: true },
    }),
    vectorCase('attestation', 'HS256', {
      name: 'sep-text-top-level-alg-differs', desc: 'a SEP-text envelope with a top-level alg that differs: schema and algorithm both fail',
      envelope: signWith('HS256', { alg: 'ES256', ...sepBody({ alg: 'HS256', nonce: 'nonce-sep-alg2' }) }),
      fails: { schema: 'ERR_SCHEMA', algorithm: 'ERR_ALG_DOWNGRADE', signature: 'ERR_SIGNATURE_INVALID' }, expected: { shape: 'sep-text', projectionMatch: true },
    }),
  ];
}

/** Every meaning-level attestation case. */
export function attestationCases(): VectorFile[] {
  return [...meaning(), ...vectorCommitments(), ...sepText()];
}
