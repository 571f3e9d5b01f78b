/**
 * Verify a whole log offline: every entry parses and names its own index; every
 * attestation and receipt signature verifies under the trust policy; every receipt's back
 * link holds; every attestation has a receipt (or is reported unanswered / in flight); the
 * Merkle tree matches the latest checkpoint, which a trusted log key signed; every earlier
 * checkpoint is consistent with it; every receipt session's statements are signed by its
 * agent, chained and, when sealed, complete (verify/session.ts). Pure: no I/O, no clock.
 * @see RFC 9162 §2.1; c2sp.org/tlog-checkpoint; docs/log-format.md
 */
import { CompactRoots } from '../log/compact-range.js';
import type { KeyResolver } from '../envelope/signature.js';
import { error, FindingCap, limitFindings, type Finding, type VerifySummary } from './findings.js';
import { RecordChecker } from './records.js';
import { entryFacts, type EntryFacts } from './entry-facts.js';
import { checkRunner, runs } from './runs.js';
import { checkLogAgainstKnown, type KnownCheckpoint } from './split-view.js';
import { CheckpointStream, inSizeOrder, noteUnwitnessed, type OpenedCheckpoint, type StoredNote } from './checkpoints.js';
import { clockOf, decideCalls, type CredentialCall, type IdentityView } from '../identity/verify-identity.js';
import { toBase64 } from '../bytes/index.js';
import type { TrustPolicy } from './policy.js';

/**
 * One entry handed to a verifier: `[index, bytes]` (the entry), `[index, record, salt]`
 * (a private entry opened: the record and its 16-byte salt, log/opening.ts), or
 * `[index, record, salt, published]`: opened, from a store that also keeps the entry it
 * publishes, which the opening must make (`ERR_OPENING_MISMATCH` otherwise; the opening is
 * what is checked and hashed into the tree).
 */
export type EntryInput = [bigint, Uint8Array] | [bigint, Uint8Array, Uint8Array] | [bigint, Uint8Array, Uint8Array, Uint8Array];

/**
 * What to verify: entries in stored order (with their stored index) and checkpoint notes: an
 * array (any order), or any other iterable in ascending tree size, as a store keeps them,
 * best with the size each is stored under (read one at a time: a note stored under another
 * size, or after a larger one, is `ERR_CHECKPOINT_INCONSISTENT`; verify/checkpoints.ts).
 */
export interface LogInput {
  entries: Iterable<EntryInput>;
  checkpoints: string[] | Iterable<string | StoredNote>;
  /** Checkpoints the verifier accepted earlier: the log must extend each of its origin (split view, rollback). */
  known?: KnownCheckpoint[];
  /**
   * What a private entry given without its opening is: `erased` (the operator's own store,
   * which keeps every opening until it is erased: `NOTE_ERASED`) or `unopened` (published
   * tiles, which never hold one: `NOTE_SEALED`). Default `unopened`.
   */
  sealed?: 'erased' | 'unopened';
  /**
   * The identity log calls under agent credentials are decided against (docs/identity.md),
   * verified by {@link openIdentityLog}; null or absent: every such call fails
   * `ERR_CREDENTIAL_UNLOGGED`.
   */
  identity?: IdentityView | null;
  /** What verifying the identity log found: reported only when some call was made under a credential (an identity log no call needs fails nothing). */
  identityFindings?: Finding[];
  /** Called with the note of the checkpoint the report rests on (the latest that opened), as it was read and checked, when there is one. */
  onAnchor?: (note: string) => void;
}

/** The report of a log verification: the summary, the tree size and the latest checkpoint's size (decimal). */
export interface LogReport extends VerifySummary {
  size: string;
  checkpointSize: string | null;
  /** Private entries without their opening read from published tiles (`unopened`): in the tree, records not checked. */
  sealed: number;
  /** Private entries erased in the operator's store (`erased`): in the tree, never to be opened. */
  erased: number;
}

/**
 * Computes the {@link EntryFacts} of each entry, given as {@link EntryInput} with its
 * position (a log's position in it, a bundle's entry index), yielded in the order given.
 */
export type FactsSource = (entries: Iterable<EntryInput>, policy: TrustPolicy, keys: KeyResolver) => AsyncIterable<EntryFacts>;

/** The facts of each entry computed here, one after another. */
export const sequentialFacts: FactsSource = async function* (entries, policy, keys) {
  for (const [position, bytes, salt, published] of entries) yield await entryFacts(position, bytes, policy, keys, salt, published);
};

/**
 * The facts of each entry computed on this thread, in order: with the platform's check runner
 * installed (Node: verify/runs.ts), in runs of at most 256 entries and 256 KiB checked
 * together, so that their signatures are verified back to back; else {@link sequentialFacts}
 * (a browser). The same verdicts either way; the default of {@link verifyLog} and of a bundle's
 * verification. With a runner, the `keys` resolver may be asked for up to a run's entries
 * at once.
 */
export const localFacts: FactsSource = async function* (entries, policy, keys) {
  const runner = checkRunner();
  if (runner === null) return yield* sequentialFacts(entries, policy, keys);
  for (const run of runs(entries, (e) => e[1].length)) {
    yield* await runner(run.map(([position, bytes, salt, published]) => () => entryFacts(position, bytes, policy, keys, salt, published)));
  }
};

/** The entries of a log by position in it (0, 1, ...): the index each is checked against. */
function* positioned(entries: Iterable<EntryInput>): Generator<EntryInput> {
  let position = 0n;
  for (const e of entries) {
    const moved = [...e] as EntryInput;
    moved[0] = position++;
    yield moved;
  }
}

/** What {@link foldEntries} folds the entries' facts into. */
interface Fold { tree: CompactRoots; checkpoints: CheckpointStream; checker: RecordChecker; findings: Finding[] }

/**
 * Fold the facts of `entries` (by position) in order: each leaf into the tree, each
 * checkpoint compared when the tree reaches its size, each record into the checker; then the
 * order findings. `onProgress(done)` every 256 entries. Returns the calls made under agent
 * credentials.
 */
async function foldEntries(entries: Iterable<EntryInput>, { tree, checkpoints, checker, findings }: Fold, policy: TrustPolicy, keys: KeyResolver, facts: FactsSource, onProgress?: (done: number) => void): Promise<CredentialCall[]> {
  const root = (): Uint8Array => tree.rootAt(tree.size);
  await checkpoints.at(0n, root);
  const misplaced: Array<[bigint, bigint]> = [];
  const credentialCalls: CredentialCall[] = [];
  const unpublished = new FindingCap(findings);
  for await (const f of facts(positioned(entries), policy, keys)) {
    tree.appendLeafHash(f.leaf);
    if (checkpoints.nextSize === tree.size) await checkpoints.at(tree.size, root);
    if (f.unpublished === true) unpublished.add(error('ERR_OPENING_MISMATCH', 'the stored opening (salt and record) does not make the entry the log publishes', { index: f.position }));
    if (f.kind === 'call' && f.credential) credentialCalls.push(f.credential);
    const claimed = checker.fold(f);
    if (claimed !== f.position) misplaced.push([f.position, claimed]);
    if (onProgress && tree.size % 256n === 0n) onProgress(Number(tree.size));
  }
  unpublished.flush();
  findings.push(...orderFindings(misplaced, tree.size));
  return credentialCalls;
}

/**
 * Verify a log. `onProgress(done)` is called every 256 entries. `facts` computes the
 * per-entry checks (default {@link localFacts}; the Node CLI spreads them over worker
 * threads); everything else runs here, in index order. Memory: O(log n) tree hashes, and
 * per entry not the entry but what later entries check against it: an attestation's or a
 * receipt's digest and kind in typed arrays (verify/call-records.ts), a call's id, index and
 * attestation digest (a second receipt, a replayed nonce): about 175 bytes an entry. The
 * checkpoints are read one note at a time, each checked when the tree reaches its size
 * ({@link CheckpointStream}); of those that verify, a witnessed log keeps a size and a time
 * each (the witness clock of calls under agent credentials). An array of notes is put in
 * size order first; another iterable must come in that order, as a store keeps them.
 */
export async function verifyLog(input: LogInput, policy: TrustPolicy, keys: KeyResolver, onProgress?: (done: number) => void, facts: FactsSource = localFacts): Promise<LogReport> {
  const findings: Finding[] = [];
  const tree = new CompactRoots(new Set((input.known ?? []).map((k) => k.size)));
  // Each checkpoint is checked when the tree reaches its size: one note held at a time.
  const checkpoints = new CheckpointStream(Array.isArray(input.checkpoints) ? inSizeOrder(input.checkpoints) : input.checkpoints, policy);
  const checker = new RecordChecker(policy, keys, findings, false, true);
  checker.credentials = input.identity?.index ?? null;
  let cp: OpenedCheckpoint | null;
  let credentialCalls: CredentialCall[];
  let inFlight: number;
  try {
    credentialCalls = await foldEntries(input.entries, { tree, checkpoints, checker, findings }, policy, keys, facts, onProgress);
    inFlight = checker.finish(input.sealed);
    // A few findings a session, and a statement may be a session: capped as they come.
    const sessionFindings = new FindingCap(findings);
    for await (const r of checker.sessionResults()) for (const f of [...r.findings.agentSignature, ...r.findings.seal, ...r.findings.parties]) sessionFindings.add(f);
    sessionFindings.flush();
    cp = await checkpoints.finish(tree.size, findings);
  } finally {
    // Left early (a store that breaks while read): its open statement is released.
    checkpoints.close();
  }
  for (const c of credentialCalls) if (checker.refusedByGatekeeper.has(c.entry)) c.saidRefused = true;
  if (credentialCalls.length > 0) for (const f of input.identityFindings ?? []) findings.push(f);
  if (credentialCalls.length > 0) await decideCalls(credentialCalls, input.identity ?? null, policy, clockOf(checkpoints.witnessed, policy.quorum), cp?.signers ?? [], findings);
  if (cp) checkLogAgainstKnown(input.known ?? [], cp.origin, tree.size, tree.rootAt, findings);
  if (cp) noteUnwitnessed(policy, findings);
  if (cp && checkpoints.latestNote !== null) input.onAnchor?.(checkpoints.latestNote);
  const { tally } = checker;
  return {
    ok: !findings.some((f) => f.severity === 'error'), size: tree.size.toString(), checkpointSize: cp?.size.toString() ?? null,
    checkpoint: cp && { origin: cp.origin, size: cp.size.toString(), rootHash: toBase64(cp.rootHash) }, witnesses: cp?.cosigners.map((c) => ({ name: c.name, timestamp: c.timestamp.toString() })) ?? [],
    calls: checker.calls.size, receipts: tally.receipts, unanswered: tally.unanswered, inFlight, refused: tally.refused, unattested: tally.unattested, sealed: input.sealed === 'erased' ? 0 : tally.sealed, erased: input.sealed === 'erased' ? tally.sealed : 0, findings: limitFindings(findings),
  };
}

/** Most findings of one kind listed; the rest are counted in a last one. */
const MAX_ORDER_FINDINGS = 100;

/**
 * Entries that do not sit at the index they record, from the `[position, claimed]` pairs of
 * those entries alone (every other entry claims its own position), of `n` entries: missing
 * (a gap: an index below `n` no entry claims) or, when none is missing, reordered. A hostile
 * claimed index costs nothing; a claim at or beyond the end is a reordering.
 */
function orderFindings(misplaced: Array<[bigint, bigint]>, n: bigint): Finding[] {
  const claimedElsewhere = new Set(misplaced.filter(([, c]) => c < n).map(([, c]) => c.toString()));
  const out: Finding[] = [];
  let missing = 0;
  // Only a position whose own entry claims another index can be missing.
  for (const [p] of misplaced) {
    if (!claimedElsewhere.has(p.toString()) && missing++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_MISSING', `entry ${p} is missing`, { index: p }));
  }
  if (missing > 0) return capped(out, missing, 'ERR_LOG_ENTRY_MISSING');
  let moved = 0;
  for (const [p, c] of misplaced) {
    if (moved++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_REORDERED', 'entry is not at the index it records', { index: p, expected: p.toString(), found: c.toString() }));
  }
  return capped(out, moved, 'ERR_LOG_ENTRY_REORDERED');
}

function capped(out: Finding[], total: number, code: Finding['code']): Finding[] {
  if (total > MAX_ORDER_FINDINGS) out.push({ ...error(code, `${total - MAX_ORDER_FINDINGS} more entries like the above`), more: total - MAX_ORDER_FINDINGS });
  return out;
}
