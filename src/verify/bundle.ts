/**
 * Offline verification of a receipt bundle (`mcp-attest/bundle@1` or `@2`), in the C2SP
 * tlog-proof order: (1) the log's signature on the checkpoint and its origin, under the
 * trust policy's log keys; (2) every listed witness's cosignature, and the policy's quorum;
 * (3) each entry's leaf hash and inclusion proof (@2: the one proof all entries share)
 * against the checkpoint; then the entries as records (signatures under the policy's
 * issuers, back links, nonces); and, when the verifier holds earlier checkpoints of the
 * origin, consistency with them (split view). Pure: no I/O, no clock. Every failure is a
 * finding with a code; nothing is skipped silently.
 * @see https://c2sp.org/tlog-proof ("Verification"); docs/bundle.md
 */
import { equalBytes, toBase64 } from '../bytes/index.js';
import { publishedEntry } from '../log/opening.js';
import { isAttestError } from '../errors.js';
import { parseBundle, type Bundle } from '../bundle/format.js';
import { HASH_SIZE, leafHash } from '../log/hash.js';
import { verifyConsistency, verifyInclusion } from '../log/proof.js';
import { namesCredential } from '../identity/gate-check.js';
import { clockOf, withCredentialKeys, decideCalls, openIdentitySection, type CredentialCall, type IdentityView } from '../identity/verify-identity.js';
import { rootFromMultiProof } from '../log/multiproof.js';
import type { KeyResolver } from '../envelope/signature.js';
import { openAnchor, type OpenedCheckpoint } from './checkpoints.js';
import { error, insertFindings, limitFindings, notice, type Finding, type VerifySummary } from './findings.js';
import { RecordChecker } from './records.js';
import { localFacts, type EntryInput, type FactsSource } from './log.js';
import { checkBundleAgainstKnown, type KnownCheckpoint } from './split-view.js';
import { policyKeyResolver, type TrustPolicy } from './policy.js';

/** The report of a bundle verification: the summary and the number of entries. */
export interface BundleReport extends VerifySummary {
  entries: number;
}

/** Options of {@link verifyBundle}. */
export interface BundleVerifyOptions {
  /** Checkpoints accepted earlier (any origin; those of the bundle's origin are used). */
  known?: KnownCheckpoint[];
  /**
   * Check the entries even when the checkpoint misses the witness quorum (an
   * `ERR_QUORUM_NOT_MET` finding either way): a session receipt reports `witnessed` apart
   * from its other dimensions. Default false: a plain bundle stops at the checkpoint.
   */
  quorumApart?: boolean;
  /** Computes the entries' per-entry checks (default: here, `localFacts`; the Node CLI: worker threads). */
  facts?: FactsSource;
  /** The bundle's identity range as verified ({@link bundleIdentity}); calls under credentials are decided against it. */
  identity?: IdentityView | null;
}

/**
 * The bundle's identity range verified (docs/identity.md), and `policy` with the keys of the
 * credentials it logs added (so the calls' own signatures resolve). Findings pushed.
 */
export async function bundleIdentity(b: Bundle, policy: TrustPolicy, findings: Finding[]): Promise<{ view: IdentityView | null; policy: TrustPolicy }> {
  if (b.identity === undefined) return { view: null, policy };
  const view = await openIdentitySection(b.identity, policy, findings);
  return { view, policy: withCredentialKeys(policy, view) };
}

/**
 * The bundle's `witnessed` checkpoints that open under the policy with its quorum and are
 * consistent with the anchor `cp` (a consistency proof from their size in `consistency`):
 * when the witnesses first saw the entries below their size. Others are findings.
 */
async function witnessedCheckpoints(b: Bundle, cp: OpenedCheckpoint, policy: TrustPolicy, findings: Finding[]): Promise<OpenedCheckpoint[]> {
  const out: OpenedCheckpoint[] = [];
  for (const note of b.witnessed ?? []) {
    const w = await openAnchor(note, policy, findings);
    if (w === null || w.origin !== cp.origin) continue;
    const proof = b.consistency.find((c) => c.size === w.size)?.proof;
    const consistent = w.size === cp.size ? equalBytes(w.rootHash, cp.rootHash) : w.size < cp.size && proof !== undefined && verifyConsistency(w.size, cp.size, w.rootHash, cp.rootHash, proof);
    if (consistent) out.push(w);
    else findings.push(error('ERR_CHECKPOINT_INCONSISTENT', `a witnessed checkpoint (size ${w.size}) is not consistent with the bundle's (size ${cp.size})`, { found: w.size.toString() }));
  }
  return out;
}

/** The report of a bundle rejected before any entry was checked (the findings say why). */
export function rejectedBundle(findings: Finding[]): BundleReport {
  return { ok: false, checkpoint: null, witnesses: [], entries: 0, calls: 0, receipts: 0, unanswered: 0, inFlight: 0, refused: 0, unattested: 0, findings };
}

/**
 * Inclusion of every entry under the anchor, given each entry's leaf hash (`b.entries[k]`'s
 * at `leaves[32k..32k+32)`, as the per-entry checks computed it): index below the tree size, and its
 * path to the root (bundle@1), or every leaf through the one shared proof to the root
 * (bundle@2: a failure there is one finding for the bundle's entries, since no single entry
 * is to blame). Returns the findings.
 */
function inclusionFindings(b: Bundle, cp: OpenedCheckpoint, leaves: Uint8Array): Finding[] {
  const leaf = (k: number): Uint8Array => leaves.subarray(HASH_SIZE * k, HASH_SIZE * (k + 1));
  const findings: Finding[] = [];
  const beyond = b.entries.filter((e) => e.index >= cp.size);
  for (const e of beyond) findings.push(error('ERR_INCLUSION_INVALID', `entry ${e.index} is beyond the checkpoint (size ${cp.size})`, { index: e.index }));
  if (b.proof !== undefined) {
    if (beyond.length > 0) return findings;
    const root = rootFromMultiProof(b.entries.map((e) => e.index), b.entries.map((_, k) => leaf(k)), cp.size, b.proof);
    if (root === null || !equalBytes(root, cp.rootHash)) {
      findings.push(error('ERR_INCLUSION_INVALID', `the entries are not included in the tree of the checkpoint (size ${cp.size}): the shared proof does not lead to its root`, { expected: toBase64(cp.rootHash), found: root === null ? null : toBase64(root) }));
    }
    return findings;
  }
  b.entries.forEach((e, k) => {
    if (e.index >= cp.size) return;
    if (!verifyInclusion(e.index, cp.size, leaf(k), e.proof, cp.rootHash)) {
      findings.push(error('ERR_INCLUSION_INVALID', `entry ${e.index} is not included in the tree of the checkpoint (size ${cp.size})`, { index: e.index, expected: toBase64(cp.rootHash) }));
    }
  });
  return findings;
}

/**
 * Verify a bundle's text against a trust policy and key resolver (issuer keys). Never
 * throws for anything in the bundle: a malformed one is an `ERR_BUNDLE_MALFORMED` (or
 * `ERR_JSON_*`) finding.
 */
export async function verifyBundle(text: string, policy: TrustPolicy, keys: KeyResolver, o: BundleVerifyOptions = {}): Promise<BundleReport> {
  let b: Bundle;
  try {
    b = parseBundle(text);
  } catch (e) {
    return rejectedBundle([error(isAttestError(e) ? e.code : 'ERR_BUNDLE_MALFORMED', `bundle rejected: ${(e as Error).message}`)]);
  }
  // Calls under agent credentials: their keys and the revocations come from the bundle's identity range.
  const pre: Finding[] = [];
  const id = await bundleIdentity(b, policy, pre);
  // A credential's key exactly as the policy with the logged credentials gives it (iss, alg and key id), as a worker thread resolves it.
  const credentials = policyKeyResolver(id.policy);
  const idKeys: KeyResolver = id.view === null ? keys : (q) => (namesCredential(q.iss, id.policy) ? credentials(q) : keys(q));
  const { report, checker } = await verifyParsedBundle(b, id.policy, idKeys, { ...o, identity: id.view });
  if (pre.length > 0) {
    insertFindings(report.findings, 0, pre);
    report.ok = !report.findings.some((f) => f.severity === 'error');
  }
  // A plain bundle is a selection: its session statements are not checked as sessions.
  for (const [id, list] of checker?.sessions ?? []) {
    report.findings.push(notice('NOTE_SESSION_UNCHECKED', `${list.length} statement(s) of session ${id}: a plain bundle does not check sessions; verify the session receipt ("receipt export")`));
  }
  report.findings = limitFindings(report.findings);
  return report;
}

/**
 * Verify a parsed bundle (also the bundle inside a session receipt). Returns the report and
 * the record checker, whose session statements and call records the caller may check
 * further; `checker` is null when the checkpoint did not open (no entry was checked).
 */
export async function verifyParsedBundle(b: Bundle, policy: TrustPolicy, keys: KeyResolver, o: BundleVerifyOptions = {}): Promise<{ report: BundleReport; checker: RecordChecker | null }> {
  const findings: Finding[] = [];
  const cp = await openAnchor(b.checkpoint, o.quorumApart ? { ...policy, quorum: 0 } : policy, findings);
  if (!cp) return { report: { ...rejectedBundle(findings), entries: b.entries.length }, checker: null };
  if (o.quorumApart && cp.cosigners.length < policy.quorum) {
    findings.push(error('ERR_QUORUM_NOT_MET', `checkpoint at size ${cp.size} is cosigned by ${cp.cosigners.length} of the ${policy.quorum} witnesses the trust policy requires`, { expected: policy.quorum, found: cp.cosigners.map((c) => c.name) }));
  }
  // The leaf hashes are those the per-entry checks compute (not hashed twice); the inclusion
  // findings are reported first, as the checks run in C2SP order.
  const included = findings.length;
  const leaves = new Uint8Array(HASH_SIZE * b.entries.length);
  let leafCount = 0;
  const checker = new RecordChecker(policy, keys, findings, true);
  const credentialCalls: CredentialCall[] = [];
  for await (const f of (o.facts ?? localFacts)(b.entries.map((e): EntryInput => (e.salt === undefined ? [e.index, e.bytes] : [e.index, e.bytes, e.salt])), policy, keys)) {
    // A leaf is taken from the facts of the entry they name, in order (else hashed below).
    if (leafCount < b.entries.length && f.position === b.entries[leafCount]!.index && f.leaf.length === HASH_SIZE) leaves.set(f.leaf, HASH_SIZE * leafCount++);
    if (f.kind === 'call' && f.credential) credentialCalls.push(f.credential);
    const claimed = checker.fold(f);
    if (claimed !== f.position) checker.report(error('ERR_LOG_ENTRY_REORDERED', 'entry is not at the index it records', { index: f.position, expected: f.position.toString(), found: claimed.toString() }));
  }
  // A source that gave fewer facts, or another entry's: the rest are hashed here.
  for (let k = leafCount; k < b.entries.length; k++) leaves.set(leafHash(publishedEntry(b.entries[k]!.bytes, b.entries[k]!.salt)), HASH_SIZE * k);
  insertFindings(findings, included, inclusionFindings(b, cp, leaves));
  const inFlight = checker.finish();
  if (credentialCalls.length > 0) {
    const witnessed = [cp, ...await witnessedCheckpoints(b, cp, policy, findings)];
    await decideCalls(credentialCalls, o.identity ?? null, policy, clockOf(witnessed, policy.quorum), findings);
  }
  checkBundleAgainstKnown(o.known ?? [], cp, b.consistency, findings);
  const { tally } = checker;
  const report: BundleReport = {
    ok: !findings.some((f) => f.severity === 'error'),
    checkpoint: { origin: cp.origin, size: cp.size.toString(), rootHash: toBase64(cp.rootHash) },
    witnesses: cp.cosigners.map((c) => ({ name: c.name, timestamp: c.timestamp.toString() })),
    entries: b.entries.length, calls: checker.calls.size, receipts: tally.receipts, unanswered: tally.unanswered, inFlight,
    refused: tally.refused, unattested: tally.unattested, findings: limitFindings(findings),
  };
  return { report, checker };
}
