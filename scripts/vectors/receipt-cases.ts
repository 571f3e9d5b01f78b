/**
 * Execution-receipt cases no published vector covers: errored and unanswered outcomes,
 * `decisionDigest`, reference result commitments, receipts answering ES256 and SEP-text
 * attestations, unknown members, a refused receipt carrying a result, broken back links.
 */
import { canonicalize } from '../../src/jcs/index.js';
import { sha256, sha256Tagged } from '../../src/bytes/digest.js';
import { toBase64, toHex } from '../../src/bytes/index.js';
import { hashOnly, sepBody, vectorBody, vectorCase, type CaseSpec } from './build.js';
import { ISS, keyIdOf, signWith, type TestAlg } from './keys.js';
import type { VectorFile } from './model.js';

const RESULT = { content: [{ type: 'text', text: 'deleted /archive/2024-Q3.md' }] };
const ERROR_RESULT = { content: [{ type: 'text', text: 'permission denied' }], isError: true };
const RESULT_URI = 'cid://blob/sha256/result-archive';

interface ReceiptOptions {
  alg: TestAlg;
  attestation: Record<string, unknown>;
  outcome?: Record<string, unknown>;
  asserted?: Record<string, unknown>;
  back?: Record<string, unknown>;
  top?: Record<string, unknown>;
}

/** Drop members set to `undefined` (how a case removes a default member). */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A signed receipt body answering `attestation`. */
function receipt(o: ReceiptOptions): Record<string, unknown> {
  const nonce = String((o.attestation['issuerAsserted'] as Record<string, unknown>)['nonce']);
  return signWith(o.alg, {
    version: 1, alg: o.alg,
    backLink: { attestationDigest: sha256Tagged(canonicalize(o.attestation)), attestationNonce: nonce, ...o.back },
    receiptAsserted: { alg: o.alg, iat: '2026-05-26T12:00:01Z', iss: ISS, nonce: `receipt-${nonce}`, secretVersion: keyIdOf(o.alg), sub: 'server:vectors', ...o.asserted },
    outcomeDerived: defined({ status: 'executed', completedAt: '2026-05-26T12:00:01Z', resultCommitment: hashOnly(RESULT), ...o.outcome }),
    ...o.top,
  });
}

/** The `uses` tag of receipts carrying `outcomeDerived.reason`, an mcp-attest extension. */
const REASON = 'mcp-attest:outcomeDerived.reason';

function r(name: string, desc: string, o: ReceiptOptions, spec: Omit<CaseSpec, 'name' | 'desc' | 'envelope'> = {}): VectorFile {
  const uses = o.outcome !== undefined && 'reason' in o.outcome ? { uses: [REASON] } : {};
  return vectorCase('receipt', o.alg, { name, desc, envelope: receipt(o), ...uses, ...spec, verifier: { attestation: o.attestation, runtime: RESULT, ...spec.verifier } });
}

/** Every receipt case. */
export function receiptCases(): VectorFile[] {
  const hs = signWith('HS256', vectorBody({ alg: 'HS256', nonce: 'nonce-receipt-hs' }));
  const es = signWith('ES256', vectorBody({ alg: 'ES256', nonce: 'nonce-receipt-es' }));
  const sep = signWith('RS256', sepBody({ alg: 'RS256', nonce: 'nonce-receipt-sep' }));
  const other = signWith('HS256', vectorBody({ alg: 'HS256', nonce: 'nonce-receipt-hs', planner: { intent: 'another intent' } }));
  const resultBytes = new TextEncoder().encode(canonicalize(RESULT));
  const ref = { ref: RESULT_URI, digest: `sha256:${toHex(sha256(resultBytes))}`, canonicalization: 'jcs' };
  const skipResult = { fails: { result_commitment: 'skip' } } as const;
  return [
    r('receipt-executed-hash-only', 'HS256 receipt, executed, hash-only result commitment, answering an HS256 attestation', { alg: 'HS256', attestation: hs }),
    r('receipt-es256-answers-es256', 'an ES256 receipt answering an ES256 attestation', { alg: 'ES256', attestation: es }),
    r('receipt-answers-sep-text-attestation', 'the back link hashes a SEP-text attestation the same way (JCS of the whole envelope)', { alg: 'HS256', attestation: sep }),
    r('receipt-errored-tool-error', 'errored with reason tool_error, committing to the isError result', { alg: 'HS256', attestation: hs, outcome: { status: 'errored', reason: 'tool_error', resultCommitment: hashOnly(ERROR_RESULT) } }, { verifier: { runtime: ERROR_RESULT } }),
    r('receipt-errored-unanswered', 'errored with reason upstream_exited and no result commitment', { alg: 'HS256', attestation: hs, outcome: { status: 'errored', reason: 'upstream_exited', resultCommitment: undefined } }, skipResult),
    r('receipt-decision-digest', 'executed with a decisionDigest', { alg: 'HS256', attestation: hs, outcome: { decisionDigest: sha256Tagged('policy decision') } }),
    r('receipt-result-ref-resolved', 'reference result commitment, resolved to JCS(result)', { alg: 'HS256', attestation: hs, outcome: { resultCommitment: ref } }, { verifier: { refs: { [RESULT_URI]: toBase64(resultBytes) } } }),
    r('receipt-result-ref-unresolvable', 'reference result commitment with no content for the URI', { alg: 'HS256', attestation: hs, outcome: { resultCommitment: ref } }, { fails: { result_commitment: 'ERR_RESULT_COMMITMENT_MISMATCH' } }),
    r('receipt-result-mismatch', 'the committed result is not the runtime result', { alg: 'HS256', attestation: hs }, { verifier: { runtime: ERROR_RESULT }, fails: { result_commitment: 'ERR_RESULT_COMMITMENT_MISMATCH' } }),
    r('receipt-refused-with-result', 'a refused call carries no result; this one (wrongly) commits to one', { alg: 'HS256', attestation: hs, outcome: { status: 'refused', reason: 'attestation_refused' } }, { fails: { schema: 'ERR_SCHEMA' } }),
    r('receipt-unknown-member', 'a signed extension member in outcomeDerived: the closed schema refuses it', { alg: 'HS256', attestation: hs, outcome: { retries: 2 } }, { fails: { schema: 'ERR_SCHEMA' } }),
    r('receipt-unknown-reason', 'an outcome reason outside the documented list', { alg: 'HS256', attestation: hs, outcome: { status: 'errored', reason: 'exploded' } }, { fails: { schema: 'ERR_SCHEMA' } }),
    r('receipt-completed-at-offset', 'completedAt with an offset instead of Z', { alg: 'HS256', attestation: hs, outcome: { completedAt: '2026-05-26T14:00:01+02:00' } }, { fails: { schema: 'ERR_SCHEMA' } }),
    r('receipt-alg-mismatch', 'top-level alg RS256 over an HS256 receiptAsserted', { alg: 'HS256', attestation: hs, top: { alg: 'RS256' } }, { fails: { signature: 'ERR_ALG_DOWNGRADE' } }),
    r('receipt-back-link-other-attestation', 'the attestation presented has the same nonce but another intent', { alg: 'HS256', attestation: hs }, { verifier: { attestation: other }, fails: { back_link: 'ERR_BACK_LINK_MISMATCH' } }),
    r('receipt-back-link-nonce-differs', 'the digest matches the attestation but attestationNonce names another', { alg: 'HS256', attestation: hs, back: { attestationNonce: 'other-nonce' } }, { fails: { back_link: 'ERR_BACK_LINK_MISMATCH' } }),
  ];
}
