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
import { openBundle, type Bundle, type BundleEntry, type OpenedBundle } from '../bundle/format.js';
import { HASH_SIZE, leafHash } from '../log/hash.js';
import { verifyConsistency, verifyInclusion } from '../log/proof.js';
import { namesCredential } from '../identity/gate-check.js';
import { clockOf, quorumTimes, withCredentialKeys, decideCalls, openIdentitySection, type CredentialCall, type IdentityView } from '../identity/verify-identity.js';
import { rootFromMultiProof } from '../log/multiproof.js';
import type { KeyResolver } from '../envelope/signature.js';
import { noteUnwitnessed, openAnchor, quorumNotMet, type OpenedCheckpoint } from './checkpoints.js';
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
  /** Called with the identity view the calls are decided against once verified (a verifier's `--state` remembers its checkpoint). */
  onIdentity?: (view: IdentityView) => void;
  /**
   * Decide the calls against this identity log rather than the range the bundle's maker chose
   * (`verify BUNDLE --identity`): called with the bundle's identity range's checkpoint once
   * verified (null when it carries none, or none verifies), which the log must hold (the same
   * root at its size); the view it returns (null: none verifies, every call fails), findings
   * pushed to `findings`.
   */
  identityLog?: (range: KnownCheckpoint | null, findings: Finding[]) => Promise<IdentityView | null>;
}

/**
 * The bundle's identity range verified (docs/identity.md) against `known` checkpoints, and
 * `policy` with the keys of the credentials it logs added (so the calls' own signatures
 * resolve). Findings pushed.
 */
export async function bundleIdentity(b: Pick<Bundle, 'identity'>, policy: TrustPolicy, findings: Finding[], known: KnownCheckpoint[] = []): Promise<{ view: IdentityView | null; policy: TrustPolicy }> {
  if (b.identity === undefined) return { view: null, policy };
  const view = await openIdentitySection(b.identity, policy, findings, known);
  return { view, policy: withCredentialKeys(policy, view) };
}

/**
 * The bundle's `witnessed` checkpoints that open under the policy with its quorum and are
 * consistent with the anchor `cp` (a consistency proof from their size in `consistency`):
 * when the witnesses first saw the entries below their size. Others are findings.
 */
async function witnessedCheckpoints(b: Pick<Bundle, 'witnessed' | 'consistency'>, cp: OpenedCheckpoint, policy: TrustPolicy, findings: Finding[]): Promise<OpenedCheckpoint[]> {
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

/** What the inclusion checks need of each entry, gathered as the entries are read: its index, and in a bundle@1 its proof. */
interface Included { indexes: bigint[]; proofs: Uint8Array[][] }

/**
 * Inclusion of every entry under the anchor, given each entry's index and leaf hash (entry
 * k's at `leaves[32k..32k+32)`, as the per-entry checks computed it): index below the tree size, and its
 * path to the root (bundle@1), or every leaf through the one shared proof to the root
 * (bundle@2: a failure there is one finding for the bundle's entries, since no single entry
 * is to blame). Returns the findings.
 */
function inclusionFindings(b: Pick<Bundle, 'proof'>, { indexes, proofs }: Included, cp: OpenedCheckpoint, leaves: Uint8Array): Finding[] {
  const leaf = (k: number): Uint8Array => leaves.subarray(HASH_SIZE * k, HASH_SIZE * (k + 1));
  const findings: Finding[] = [];
  const beyond = indexes.filter((i) => i >= cp.size);
  for (const i of beyond) findings.push(error('ERR_INCLUSION_INVALID', `entry ${i} is beyond the checkpoint (size ${cp.size})`, { index: i }));
  if (b.proof !== undefined) {
    if (beyond.length > 0) return findings;
    const root = rootFromMultiProof(indexes, indexes.map((_, k) => leaf(k)), cp.size, b.proof);
    if (root === null || !equalBytes(root, cp.rootHash)) {
      findings.push(error('ERR_INCLUSION_INVALID', `the entries are not included in the tree of the checkpoint (size ${cp.size}): the shared proof does not lead to its root`, { expected: toBase64(cp.rootHash), found: root === null ? null : toBase64(root) }));
    }
    return findings;
  }
  indexes.forEach((index, k) => {
    if (index >= cp.size) return;
    if (!verifyInclusion(index, cp.size, leaf(k), proofs[k]!, cp.rootHash)) {
      findings.push(error('ERR_INCLUSION_INVALID', `entry ${index} is not included in the tree of the checkpoint (size ${cp.size})`, { index, expected: toBase64(cp.rootHash) }));
    }
  });
  return findings;
}

/** The leaf hashes of the entries of `input` (read again: it records their indexes and proofs as it goes) from the `from`-th on, into `leaves`. */
function hashLeaves(input: Iterable<EntryInput>, from: number, leaves: Uint8Array): void {
  let k = 0;
  for (const [, bytes, salt] of input) {
    if (k >= from) leaves.set(leafHash(publishedEntry(bytes, salt)), HASH_SIZE * k);
    k++;
  }
}

/**
 * Verify a bundle's text against a trust policy and key resolver (issuer keys). Never
 * throws for anything in the bundle: a malformed one is an `ERR_BUNDLE_MALFORMED` (or
 * `ERR_JSON_*`) finding.
 */
export async function verifyBundle(text: string, policy: TrustPolicy, keys: KeyResolver, o: BundleVerifyOptions = {}): Promise<BundleReport> {
  let b: OpenedBundle;
  try {
    b = openBundle(text);
  } catch (e) {
    return malformedBundle(e);
  }
  // Calls under agent credentials: their keys and the revocations come from the bundle's identity range.
  const pre: Finding[] = [];
  let id = await bundleIdentity(b, policy, pre, o.known);
  if (o.identityLog !== undefined) {
    const range = id.view === null ? null : { origin: id.view.origin, size: id.view.size, rootHash: id.view.rootHash };
    const view = await o.identityLog(range, pre);
    id = { view, policy: withCredentialKeys(policy, view) };
  }
  if (id.view !== null) o.onIdentity?.(id.view);
  // A credential's key exactly as the policy with the logged credentials gives it (iss, alg and key id), as a worker thread resolves it.
  const credentials = policyKeyResolver(id.policy);
  const idKeys: KeyResolver = id.view === null ? keys : (q) => (namesCredential(q.iss, id.policy) ? credentials(q) : keys(q));
  const { report, checker, rejected } = await verifyParsedBundle(b, id.policy, idKeys, { ...o, identity: id.view });
  if (rejected === true) return report;
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

/** True for what reading an opened bundle's entry throws when the entry is malformed. */
const isMalformation = (e: unknown): boolean => isAttestError(e) && (e.code === 'ERR_BUNDLE_MALFORMED' || e.code.startsWith('ERR_JSON_'));

/** The report of a bundle refused as malformed (`e`, thrown while it was read). */
function malformedBundle(e: unknown): BundleReport {
  return rejectedBundle([error(isAttestError(e) ? e.code : 'ERR_BUNDLE_MALFORMED', `bundle rejected: ${(e as Error).message}`)]);
}

/** The entries of `b`, parsed or read one at a time from an opened bundle's text. */
function entriesOf(b: Bundle | OpenedBundle): Iterable<BundleEntry> {
  return Array.isArray(b.entries) ? b.entries : (b as OpenedBundle).entries();
}

/**
 * The entries of `b` as the per-entry checks take them, in order: an iterable with the
 * bundle's entry count as its `length` (a progress bar's total, the workers' early start),
 * recording entry k's index (and in a bundle@1 its proof) at k in `into` as it is read
 * (each reading writes the same places).
 */
function entryInputs(b: Bundle | OpenedBundle, into: Included): Iterable<EntryInput> & { length: number } {
  return {
    length: Array.isArray(b.entries) ? b.entries.length : (b as OpenedBundle).count,
    *[Symbol.iterator]() {
      let k = 0;
      for (const e of entriesOf(b)) {
        into.indexes[k] = e.index;
        if (b.proof === undefined) into.proofs[k] = e.proof;
        k++;
        yield e.salt === undefined ? [e.index, e.bytes] : [e.index, e.bytes, e.salt];
      }
    },
  };
}

/**
 * Verify a bundle, parsed or opened (its entries read one at a time; also the bundle inside
 * a session receipt). Returns the report and the record checker, whose session statements
 * and call records the caller may check further; `checker` is null when the checkpoint did
 * not open (no entry was checked) or, with `rejected` set, when an opened bundle's entry was
 * malformed (the report is then that rejection alone).
 */
export async function verifyParsedBundle(b: Bundle | OpenedBundle, policy: TrustPolicy, keys: KeyResolver, o: BundleVerifyOptions = {}): Promise<{ report: BundleReport; checker: RecordChecker | null; rejected?: true }> {
  const included: Included = { indexes: [], proofs: [] };
  const input = entryInputs(b, included);
  const findings: Finding[] = [];
  const cp = await openAnchor(b.checkpoint, o.quorumApart ? { ...policy, quorum: 0 } : policy, findings);
  if (!cp) {
    // No entry is checked; an opened bundle's are still read through, so one that is not a
    // bundle is reported as that, as when it was parsed whole first.
    try {
      for (const _ of entriesOf(b)) { /* each entry parsed and checked as it is read */ }
    } catch (e) {
      if (isMalformation(e)) return { report: malformedBundle(e), checker: null, rejected: true };
      throw e;
    }
    return { report: { ...rejectedBundle(findings), entries: input.length }, checker: null };
  }
  noteUnwitnessed(policy, findings);
  if (o.quorumApart && cp.cosigners.length < policy.quorum) findings.push(quorumNotMet(`checkpoint at size ${cp.size}`, cp.cosigners, policy));
  // The leaf hashes are those the per-entry checks compute (not hashed twice); the inclusion
  // findings are reported first, as the checks run in C2SP order.
  const leaves = new Uint8Array(HASH_SIZE * input.length);
  let leafCount = 0;
  const checker = new RecordChecker(policy, keys, findings, true);
  checker.credentials = o.identity?.index ?? null;
  const credentialCalls: CredentialCall[] = [];
  const anchored = findings.length;
  try {
    for await (const f of (o.facts ?? localFacts)(input, policy, keys)) {
      // A leaf is taken from the facts of the entry they name, in order (else hashed below).
      if (leafCount < included.indexes.length && f.position === included.indexes[leafCount] && f.leaf.length === HASH_SIZE) leaves.set(f.leaf, HASH_SIZE * leafCount++);
      if (f.kind === 'call' && f.credential) credentialCalls.push(f.credential);
      const claimed = checker.fold(f);
      if (claimed !== f.position) checker.report(error('ERR_LOG_ENTRY_REORDERED', 'entry is not at the index it records', { index: f.position, expected: f.position.toString(), found: claimed.toString() }));
    }
    // A source that gave fewer facts, or another entry's (or one that left off reading): the rest are hashed here.
    if (leafCount < input.length) hashLeaves(input, leafCount, leaves);
  } catch (e) {
    // An opened bundle's entry that does not parse: the bundle is refused, as if it had been parsed whole first.
    if (isMalformation(e)) return { report: malformedBundle(e), checker: null, rejected: true };
    throw e;
  }
  insertFindings(findings, anchored, inclusionFindings(b, included, cp, leaves));
  const inFlight = checker.finish();
  for (const c of credentialCalls) if (checker.refusedByGatekeeper.has(c.entry)) c.saidRefused = true;
  if (credentialCalls.length > 0) {
    const witnessed = [cp, ...await witnessedCheckpoints(b, cp, policy, findings)];
    await decideCalls(credentialCalls, o.identity ?? null, policy, clockOf(quorumTimes(witnessed, policy.quorum), policy.quorum), cp.signers, findings);
  }
  checkBundleAgainstKnown(o.known ?? [], cp, b.consistency, findings);
  const { tally } = checker;
  const report: BundleReport = {
    ok: !findings.some((f) => f.severity === 'error'),
    checkpoint: { origin: cp.origin, size: cp.size.toString(), rootHash: toBase64(cp.rootHash) },
    witnesses: cp.cosigners.map((c) => ({ name: c.name, timestamp: c.timestamp.toString() })),
    entries: input.length, calls: checker.calls.size, receipts: tally.receipts, unanswered: tally.unanswered, inFlight,
    refused: tally.refused, unattested: tally.unattested, findings: limitFindings(findings),
  };
  return { report, checker };
}
