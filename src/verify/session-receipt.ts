/**
 * Offline verification of a session receipt (`mcp-attest/session-receipt@1`, docs/session.md):
 * the embedded bundle exactly as a receipt bundle (checkpoint, cosignatures and quorum,
 * inclusion, records, split view), then the session (verify/session.ts), the attachments and
 * the disclosed evidence. The verdict reports each dimension separately, with codes:
 *
 * | dimension | pass when |
 * |---|---|
 * | `integrity` | the checkpoint is signed by a trusted log, every entry is included and well-formed, every call record verifies, disclosed evidence matches its commitment |
 * | `agentSignature` | every statement the agent signs verifies under one trusted issuer key |
 * | `sealCompleteness` | the seal is there, non-empty, and signs exactly the actions presented, chained from the genesis; every captured call is in the receipt |
 * | `policyBinding` | the policy document given matches the session's (`none`: not bound; `unchecked`: none given) |
 * | `witnessed` | the checkpoint is cosigned by the trust policy's quorum (`none`: the policy asks for no witness) |
 * | `approvals`, `counterparty` | every one verifies (bound to its action, trusted party key of that role, not the agent's; a logged one no listed party signed is not counted: `NOTE_PARTY_IGNORED`) and at least one says `approved` / `confirmed`; `rejected`: a verified one says `rejected` / `disputed`; `declared`: only the agent's own records; `none`: none |
 *
 * The summary `level` is derived: `failed` when any dimension fails; else `countersigned`
 * when witnessed, a party dimension passes and none is `rejected`; else `witnessed`; else
 * `sealed`.
 */
import { isAttestError } from '../errors.js';
import { canonicalBytes } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import { parseSessionReceipt, type SessionReceipt } from '../bundle/session-receipt.js';
import { parseStatement, statementDigest, type Statement } from '../receipt/session.js';
import type { KeyResolver } from '../envelope/signature.js';
import { verifyParsedBundle, type BundleReport, type BundleVerifyOptions } from './bundle.js';
import { error, limitFindings, notice, type Finding } from './findings.js';
import { sessionEntries } from './logged-statements.js';
import { checkKnown, digestOf, type DimensionStatus, type KnownEntry, type PartyResult, type SessionResult } from './session.js';
import type { TrustPolicy } from './policy.js';
import { withoutCredentialKeys } from '../identity/gate-check.js';

/**
 * Status of a party dimension: as {@link DimensionStatus}; `declared` (only the agent's own
 * records); `rejected` (a verified party said `rejected` / `disputed`: authentic, not approved).
 */
export type PartyDimension = DimensionStatus | 'declared' | 'rejected';

/** The verdict dimensions of a session receipt. */
export interface SessionDimensions {
  integrity: DimensionStatus;
  agentSignature: DimensionStatus;
  sealCompleteness: DimensionStatus;
  policyBinding: DimensionStatus;
  witnessed: DimensionStatus;
  approvals: PartyDimension;
  counterparty: PartyDimension;
}

/** The report of a session receipt verification. */
export interface SessionReceiptReport extends BundleReport {
  sessionId: string | null;
  level: 'failed' | 'sealed' | 'witnessed' | 'countersigned';
  dimensions: SessionDimensions;
  session: Omit<SessionResult, 'findings' | 'parties' | 'agentSignature' | 'sealCompleteness' | 'policyBinding'> | null;
  approvals: PartyResult[];
  confirmations: PartyResult[];
}

/** Options of {@link verifySessionReceipt}: split-view state, and the policy document's digest. */
export interface SessionReceiptOptions extends BundleVerifyOptions {
  policyDocDigest?: string;
}

const WITNESS_CODES = new Set(['ERR_QUORUM_NOT_MET', 'ERR_COSIGNATURE_INVALID']);
const FAILED: SessionDimensions = { integrity: 'fail', agentSignature: 'fail', sealCompleteness: 'fail', policyBinding: 'fail', witnessed: 'fail', approvals: 'fail', counterparty: 'fail' };

function rejected(findings: Finding[], base?: BundleReport): SessionReceiptReport {
  const report = base ?? { ok: false, checkpoint: null, witnesses: [], entries: 0, calls: 0, receipts: 0, unanswered: 0, inFlight: 0, refused: 0, unattested: 0, findings: [] };
  return { ...report, ok: false, findings: [...report.findings, ...findings], sessionId: null, level: 'failed', dimensions: FAILED, session: null, approvals: [], confirmations: [] };
}

/** Parse the attachments: approvals and confirmations of this session not already logged. */
function attachmentEntries(r: SessionReceipt, logged: KnownEntry[], out: Finding[]): KnownEntry[] {
  const seen = new Set(logged.map(digestOf));
  const list: KnownEntry[] = [];
  r.attachments.forEach((a, i) => {
    let s: Statement;
    try {
      s = parseStatement(a);
    } catch (e) {
      out.push(error(isAttestError(e) ? e.code : 'ERR_SESSION_MALFORMED', `attachment ${i}: ${(e as Error).message}`));
      return;
    }
    if (s.sessionId !== r.sessionId || (s.kind !== 'approval' && s.kind !== 'confirmation')) {
      out.push(error('ERR_APPROVAL_TARGET', `attachment ${i}: not an approval or confirmation of session ${r.sessionId}`, { found: `${s.kind} of ${s.sessionId}` }));
      return;
    }
    const d = statementDigest(s);
    if (seen.has(d)) return; // logged since: the logged entry counts
    seen.add(d);
    out.push(notice('NOTE_UNLOGGED', `attachment ${i}: ${s.kind} by ${s.party} is not logged yet (no inclusion proof)`));
    list.push({ index: null, statement: s });
  });
  return list;
}

/** Disclosed evidence: each payload's digest, which an action of the session must commit to. */
function checkEvidence(r: SessionReceipt, s: SessionResult, out: Finding[]): void {
  const committed = new Set(s.actions.map((a) => a.evidence).filter((x) => x !== null));
  for (const e of r.evidence) {
    const d = sha256Tagged(canonicalBytes(e.value));
    if (d !== e.digest) out.push(error('ERR_EVIDENCE_MISMATCH', 'disclosed evidence does not match its digest', { expected: e.digest, found: d }));
    else if (!committed.has(d)) out.push(error('ERR_EVIDENCE_MISMATCH', 'disclosed evidence is committed by no action of the session', { found: d }));
  }
}

const POSITIVE = new Set(['approved', 'confirmed']);

function partyDimension(all: PartyResult[]): PartyDimension {
  // A logged statement no trusted party signed counts as none (NOTE_PARTY_IGNORED).
  const list = all.filter((p) => p.status !== 'ignored');
  if (list.length === 0) return 'none';
  if (list.some((p) => p.status === 'failed')) return 'fail';
  const verified = list.filter((p) => p.status === 'verified');
  if (verified.some((p) => !POSITIVE.has(p.decision))) return 'rejected';
  return verified.length > 0 ? 'pass' : 'declared';
}

function levelOf(d: SessionDimensions): SessionReceiptReport['level'] {
  if (Object.values(d).includes('fail')) return 'failed';
  if (d.witnessed !== 'pass') return 'sealed';
  const parties = [d.approvals, d.counterparty];
  return parties.includes('pass') && !parties.includes('rejected') ? 'countersigned' : 'witnessed';
}

/**
 * Verify a session receipt's text against a trust policy and issuer key resolver. Never
 * throws for anything in the receipt: a malformed one is an `ERR_SESSION_MALFORMED` (or
 * `ERR_BUNDLE_MALFORMED`, `ERR_JSON_*`) finding and a `failed` verdict.
 */
export async function verifySessionReceipt(text: string, policy: TrustPolicy, keys: KeyResolver, o: SessionReceiptOptions = {}): Promise<SessionReceiptReport> {
  let r: SessionReceipt;
  try {
    r = parseSessionReceipt(text);
  } catch (e) {
    return rejected([error(isAttestError(e) ? e.code : 'ERR_SESSION_MALFORMED', `session receipt rejected: ${(e as Error).message}`)]);
  }
  const { report, checker } = await verifyParsedBundle(r.bundle, policy, keys, { ...o, quorumApart: true });
  if (!checker) return { ...rejected([], report), sessionId: r.sessionId };
  const extra: Finding[] = [];
  for (const [id, list] of checker.sessions) {
    if (id !== r.sessionId) for (const e of list) extra.push(error('ERR_SESSION_SIGNER', `an entry of another session (${id})`, { index: e.index ?? undefined }));
  }
  const logged = sessionEntries(checker.sessions.get(r.sessionId) ?? []);
  const entries = [...logged, ...attachmentEntries(r, logged, extra)];
  // The keys the logged statements' signatures were checked with in their entries' facts
  // (verify/entry-facts.ts): a credential's key signs no session statement.
  const s = await checkKnown(r.sessionId, entries, policy, withoutCredentialKeys(keys, policy), { calls: checker.lookupCall, ...(o.policyDocDigest ? { policyDocDigest: o.policyDocDigest } : {}) });
  checkEvidence(r, s, extra);
  for (const p of s.parties) if (p.status === 'verified' && !POSITIVE.has(p.decision)) extra.push(notice('NOTE_REJECTED', `${p.kind} by ${p.party} of ${p.target === 'seal' ? 'the seal' : `action ${p.target}`}: ${p.decision}`));
  const integrityErrors = [...report.findings, ...extra].filter((f) => f.severity === 'error' && !WITNESS_CODES.has(f.code) && f.code !== 'ERR_SESSION_SIGNER');
  const approvals = s.parties.filter((p) => p.kind === 'approval');
  const confirmations = s.parties.filter((p) => p.kind === 'confirmation');
  const dimensions: SessionDimensions = {
    integrity: integrityErrors.length > 0 ? 'fail' : 'pass',
    agentSignature: extra.some((f) => f.code === 'ERR_SESSION_SIGNER') ? 'fail' : s.agentSignature,
    sealCompleteness: s.sealCompleteness,
    policyBinding: s.policyBinding,
    witnessed: report.findings.some((f) => WITNESS_CODES.has(f.code)) ? 'fail' : policy.quorum === 0 ? 'none' : 'pass',
    approvals: partyDimension(approvals),
    counterparty: partyDimension(confirmations),
  };
  const findings = [...report.findings, ...extra, ...s.findings.agentSignature, ...s.findings.seal, ...s.findings.policy, ...s.findings.parties];
  const { findings: _f, parties: _p, agentSignature: _a, sealCompleteness: _s, policyBinding: _b, ...session } = s;
  return {
    ...report, ok: !findings.some((f) => f.severity === 'error'), findings: limitFindings(findings), sessionId: r.sessionId,
    level: levelOf(dimensions), dimensions, session, approvals, confirmations,
  };
}
