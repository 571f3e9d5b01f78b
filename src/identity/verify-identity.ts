/**
 * Offline verification of calls made under agent credentials (docs/identity.md "The decision
 * a verifier makes, offline"), for `verify` of a log or a bundle and the browser page:
 *
 * 1. {@link openIdentityLog}: the identity log's entries (a whole prefix, from index 0) and
 *    its checkpoints are checked like a log: the latest checkpoint is signed by the identity
 *    log key a credential issuer of the trust policy is pinned to (its `log`), cosigned by
 *    the policy's witness quorum, and the entries make its root. Only entries below it count.
 * 2. {@link withCredentialKeys}: each credential logged there becomes a trusted key for
 *    its id, so the attestation's own signature checks resolve `iss = cred_…` to it.
 * 3. {@link decideCalls}: every call under a credential is decided with the size the
 *    gatekeeper recorded (`identity` dimension; `revocation` for a revoked link).
 * Runtime-neutral.
 */
import { showTime } from '../envelope/time.js';
import { leafHash } from '../log/hash.js';
import { CompactRoots } from '../log/compact-range.js';
import { parseVerifierKey } from '../log/vkey.js';
import { equalBytes, toBase64 } from '../bytes/index.js';
import { rootFromMultiProof } from '../log/multiproof.js';
import type { IdentitySection } from '../bundle/format.js';
import { openAnchor, quorumTime, verifyCheckpoints, type OpenedCheckpoint } from '../verify/checkpoints.js';
import { error, FindingCap, notice, type Finding } from '../verify/findings.js';
import { checkLogAgainstKnown, checkRangeAgainstKnown, type KnownCheckpoint } from '../verify/split-view.js';
import type { TrustPolicy, TrustedIssuer } from '../verify/policy.js';
import { decodeIdentityRecord, IdentityIndex } from './entries.js';
import { REVOCATION_TYPE } from './credential.js';
import { bindingProblem, decideCall, type ChainRevocations, type LoggedCredential } from './decide.js';
import type { CallerBinding } from '../gate/gate.js';
import { designatesGatekeeper, type CredentialIssuer } from './issuers.js';

/** The identity log as verified: what its signed, witnessed prefix holds. */
export interface IdentityView {
  index: IdentityIndex;
  /** The identity log's origin (its checkpoints' first line). */
  origin: string;
  /** The verified size (the latest checkpoint's). */
  size: bigint;
  /** Ids of the credential issuers pinned to this log: only their credentials count. */
  issuers: Set<string>;
  /** The time at or after which the witness quorum still cosigned the checkpoint the view rests on (POSIX seconds); null under a quorum of 0. */
  witnessedAt: number | null;
  /** The checkpoint the view rests on: its root hash (32 bytes) and its note as read (for a verifier's `--state`). */
  rootHash: Uint8Array;
  note: string;
}

/** Prefix an identity-log finding's message so a report says which log it is about. */
function tagged(f: Finding): Finding {
  return { ...f, message: `identity log: ${f.message}` };
}

/** The credential issuers pinned to the identity log of origin `origin` (none: a finding pushed). */
function pinnedTo(origin: string | undefined, policy: TrustPolicy, findings: Finding[]): CredentialIssuer[] {
  const pinned = (policy.credentialIssuers ?? []).filter((i) => i.log !== undefined && parseVerifierKey(i.log).name === origin);
  if (pinned.length === 0) findings.push(error('ERR_CREDENTIAL_UNLOGGED', `identity log: ${origin === undefined ? 'no checkpoint' : `origin ${origin} is the identity log of no credential issuer in the trust policy`}`));
  return pinned;
}

/** `policy` with the identity log's keys (those `pinned` issuers name) as its only log keys. */
function identityPolicy(policy: TrustPolicy, origin: string, pinned: CredentialIssuer[]): TrustPolicy {
  return { ...policy, logs: [...new Set(pinned.map((i) => i.log!))].map((vkey) => ({ origin, vkey })) };
}

/**
 * The view of entries `start` .. `start + bytes.length` (verified), each decoded; a malformed
 * one is a finding and counts as nothing. A revocation gets the time the witness quorum first
 * cosigned an identity checkpoint covering it (rule 4: a call made after that fails whatever
 * size its gatekeeper recorded), when `checkpoints` (verified, with cosigners) show one.
 */
function viewOf(origin: string, start: bigint, bytes: Uint8Array[], pinned: CredentialIssuer[], findings: Finding[], checkpoints: OpenedCheckpoint[], quorum: number, rests: { rootHash: Uint8Array; note: string }): IdentityView {
  const index = new IdentityIndex(start);
  const clock = quorum > 0 ? witnessClock(checkpoints, quorum) : null;
  bytes.forEach((b, k) => {
    const i = start + BigInt(k);
    if (i === 0n) return index.add(0n, null);
    try {
      const statement = decodeIdentityRecord(b, i);
      const at = statement.type === REVOCATION_TYPE && clock !== null ? clock(i) : null;
      index.add(i, statement, at ?? undefined);
    } catch (e) {
      findings.push(error('ERR_CREDENTIAL_MALFORMED', `identity log: entry ${i}: ${(e as Error).message}`, { index: i }));
      index.add(i, null);
    }
  });
  const anchor = checkpoints.reduce<OpenedCheckpoint | null>((a, c) => (a === null || c.size > a.size ? c : a), null);
  return { origin, index, size: index.size, issuers: new Set(pinned.map((i) => i.id)), witnessedAt: quorum > 0 && anchor !== null ? quorumTime(anchor, quorum, true) : null, ...rests };
}

/**
 * Verify an identity log: `entries` from index 0 in order (the bytes of each), `notes` its
 * checkpoints, `known` checkpoints accepted earlier (a verifier's `--state`; those of its
 * origin must be within it, with the same roots: `ERR_LOG_ROLLBACK`, `ERR_CHECKPOINT_INCONSISTENT`).
 * Findings (prefixed `identity log:`) are pushed; null when no checkpoint of an identity log a
 * credential issuer is pinned to verifies, or a known one fails.
 */
export async function openIdentityLog(entries: Iterable<Uint8Array>, notes: string[], policy: TrustPolicy, findings: Finding[], known: KnownCheckpoint[] = []): Promise<IdentityView | null> {
  const origin = notes.map((n) => n.split('\n')[0] ?? '').find((o) => o !== '');
  const pinned = pinnedTo(origin, policy, findings);
  if (pinned.length === 0) return null;
  const bytes = [...entries];
  const sizes = new Set(notes.flatMap((n) => n.split('\n').filter((l) => /^[0-9]{1,20}$/.test(l)).map(BigInt)));
  for (const k of known) if (k.origin === origin) sizes.add(k.size);
  const tree = new CompactRoots(sizes);
  for (const b of bytes) tree.appendLeafHash(leafHash(b));
  const own: Finding[] = [];
  const verified: OpenedCheckpoint[] = [];
  const anchor = { note: null as string | null };
  const cp = await verifyCheckpoints(notes, identityPolicy(policy, origin!, pinned), tree.size, tree.rootAt, own, verified, anchor);
  // Entries appended after the latest checkpoint (one not yet signed) are not read: no call can rest on them.
  for (const f of own) if (f.code === 'ERR_LOG_UNCHECKPOINTED') f.severity = 'notice';
  // An older copy than one this verifier saw before leaves out what was logged since.
  if (cp !== null) checkLogAgainstKnown(known, origin!, cp.size, tree.rootAt, own);
  for (const f of own) findings.push(tagged(f));
  if (cp === null || anchor.note === null || own.some((f) => f.severity === 'error')) return null;
  return viewOf(origin!, 0n, bytes.slice(0, Number(cp.size)), pinned, findings, verified, policy.quorum, { rootHash: cp.rootHash, note: anchor.note });
}

/**
 * Verify a bundle's identity range (bundle/format.ts `identity`): its checkpoint signed by
 * the identity log key an issuer is pinned to and cosigned by the quorum, the range running
 * from `start` to the checkpoint's size, its shared proof leading to the root, and no
 * checkpoint of its origin accepted earlier (`known`) beyond it or forked from it
 * (split-view.ts `checkRangeAgainstKnown`). Findings pushed (`ERR_INCLUSION_INVALID` for a
 * range that is not the tree's end); null when it fails.
 */
export async function openIdentitySection(section: IdentitySection, policy: TrustPolicy, findings: Finding[], known: KnownCheckpoint[] = []): Promise<IdentityView | null> {
  const origin = section.checkpoint.split('\n')[0];
  const pinned = pinnedTo(origin, policy, findings);
  if (pinned.length === 0) return null;
  const own: Finding[] = [];
  const cp = await openAnchor(section.checkpoint, identityPolicy(policy, origin!, pinned), own);
  for (const f of own) findings.push(tagged(f));
  if (cp === null) return null;
  const n = BigInt(section.entries.length);
  if (section.start + n !== cp.size) {
    findings.push(error('ERR_INCLUSION_INVALID', `identity log: the range ${section.start}..${section.start + n} does not run to the end of its checkpoint's tree (size ${cp.size}): entries could be left out`));
    return null;
  }
  const indexes = section.entries.map((_, k) => section.start + BigInt(k));
  const root = rootFromMultiProof(indexes, section.entries.map(leafHash), cp.size, section.proof);
  if (root === null || !equalBytes(root, cp.rootHash)) {
    findings.push(error('ERR_INCLUSION_INVALID', `identity log: the range is not the tree of its checkpoint (size ${cp.size}): an entry was left out or changed`, { expected: toBase64(cp.rootHash), found: root === null ? null : toBase64(root) }));
    return null;
  }
  const older: Finding[] = [];
  if (!checkRangeAgainstKnown(known, cp, 'the identity range\'s checkpoint', older)) {
    for (const f of older) findings.push(tagged(f));
    return null;
  }
  // One checkpoint: its quorum time bounds each revocation's first witnessing from above (never flags a call it should not).
  return viewOf(origin!, section.start, section.entries, pinned, findings, [cp], policy.quorum, { rootHash: cp.rootHash, note: section.checkpoint });
}

/**
 * `policy` with the credentials of `view` whose issuer is pinned to it added as trusted keys
 * under their ids (`iss` = the credential id; an id logged twice gives none; public keys
 * only), so calls' own signatures resolve, in this thread and in workers alike; `policy` as
 * it is without a view.
 */
export function withCredentialKeys(policy: TrustPolicy, view: IdentityView | null): TrustPolicy {
  if (view === null) return policy;
  const keys: TrustedIssuer[] = view.index.credentials().flatMap(({ credential: c }) =>
    view.issuers.has(c.issuer) && view.index.credential(c.id) !== null ? [{ iss: c.id, alg: c.key.alg, keyId: c.key.keyId, publicKeyJwk: c.key.publicKeyJwk }] : []);
  return { ...policy, issuers: [...policy.issuers, ...keys] };
}

/** One call made under a credential, as the log recorded it. */
export interface CredentialCall {
  /** The call's entry index (for findings). */
  entry: bigint;
  /** The attestation's `iss` (a credential id), `iat` (POSIX seconds), `secretVersion`, `sub`. */
  credential: string;
  time: number;
  keyId: string;
  subject?: string;
  server: string;
  tool: string;
  /** The identity size the gatekeeper recorded (null: none recorded, an agent's own log: the verified size stands in). */
  identitySize: bigint | null;
  /** The chain the gatekeeper recorded (ids root first), when it recorded one. */
  chain: string[] | null;
  /** A gatekeeper's decision (which must record the size and chain), not an agent's own attestation record. */
  gated: boolean;
  /** The agent's own receipt says the gatekeeper refused the call (its word only: the call is still decided, and its findings say so). */
  saidRefused?: boolean;
  /** The caller's token the gatekeeper recorded with the decision (a gateway's OAuth caller), if any. */
  caller?: CallerBinding;
}

/**
 * When the witness quorum first cosigned a checkpoint covering each entry of a log (POSIX
 * seconds), from its verified checkpoints: for entry `i`, the earliest quorum time (the
 * quorum-th earliest cosignature) of any checkpoint larger than `i`; null when none has the
 * quorum. Built once (sorted, suffix minima), answered by binary search: O(log n) per entry.
 */
export function witnessClock(checkpoints: readonly OpenedCheckpoint[], quorum: number): (i: bigint) => number | null {
  return timesClock(quorumTimes(checkpoints, quorum));
}

/** `[size, quorum time]` of each of `checkpoints` the quorum cosigned (the quorum-th earliest cosignature, POSIX seconds). */
export function quorumTimes(checkpoints: readonly OpenedCheckpoint[], quorum: number): Array<readonly [bigint, number]> {
  return checkpoints.map((c) => [c.size, quorumTime(c, quorum)] as const).filter((x): x is readonly [bigint, number] => x[1] !== null);
}

/** {@link witnessClock} of checkpoints given as `[size, quorum time]` (any order; verify/checkpoints.ts `CheckpointStream.witnessed`). */
export function timesClock(times: ReadonlyArray<readonly [bigint, number]>): (i: bigint) => number | null {
  const timed = [...times].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const minFrom: number[] = new Array<number>(timed.length);
  for (let k = timed.length - 1, m = Infinity; k >= 0; k--) minFrom[k] = m = Math.min(m, timed[k]![1]);
  return (i) => {
    let lo = 0;
    let hi = timed.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (timed[mid]![0] > i) hi = mid;
      else lo = mid + 1;
    }
    return lo < timed.length ? minFrom[lo]! : null;
  };
}

/**
 * The time the witness quorum first cosigned a checkpoint covering entry `i` of the call log
 * ({@link witnessClock}). With a quorum of 0 there is no witnessing time: `fallback` (the call's
 * own time) stands in, and the policy trusts the operator for it.
 */
export function witnessedAtOf(checkpoints: OpenedCheckpoint[], quorum: number, i: bigint, fallback: number): number | null {
  return quorum === 0 ? fallback : witnessClock(checkpoints, quorum)(i);
}

/**
 * `witnessedAt(entry, time)` for {@link decideCalls}: the witness clock of checkpoints given as
 * `[size, quorum time]` ({@link quorumTimes}) built once; under a quorum of 0, the call's own time.
 */
export function clockOf(times: ReadonlyArray<readonly [bigint, number]>, quorum: number): (entry: bigint, time: number) => number | null {
  const clock = quorum === 0 ? null : timesClock(times);
  return (entry, time) => (clock === null ? time : clock(entry));
}

/**
 * Why `view` cannot decide call `c`, or null: no view; a gatekeeper's decision recording no
 * identity size; a recorded size the view does not reach.
 */
function undecidable(c: CredentialCall, view: IdentityView | null): string | null {
  if (view === null) return `the call names credential ${c.credential}, and no verified identity log holds it`;
  if (c.gated && c.identitySize === null) return `a gatekeeper's decision under credential ${c.credential} that records no identity size`;
  if (c.identitySize !== null && c.identitySize > view.size) return `the call was checked against identity size ${c.identitySize}; the identity log given ends at ${view.size}, so a revocation could be missing`;
  return null;
}

/**
 * Under a witness quorum, why `view` is too old for a call first witnessed at `witnessed`, or
 * null: witnessed before the call was, it could leave out a revocation the witnesses saw in
 * between (what it does hold is still decided: a revocation in it still fails the call).
 */
function stale(view: IdentityView, quorum: number, witnessed: number | null): string | null {
  if (quorum === 0 || witnessed === null || (view.witnessedAt !== null && view.witnessedAt >= witnessed)) return null;
  return `the identity log given was last witnessed at ${showTime(view.witnessedAt)}, before the call was (${showTime(witnessed)}): a revocation published in between would not be in it`;
}

/**
 * Which identity log the calls were decided against, and what shows it is the latest: a
 * reader compares the size with the issuer's (`agent list`), since an older copy leaves out
 * the revocations logged after it.
 */
function identityLogSaid(view: IdentityView): string {
  const head = `calls under agent credentials were decided against identity log ${view.origin} at size ${view.size}`;
  if (view.witnessedAt !== null) return `${head}, cosigned by the witness quorum at ${showTime(view.witnessedAt)}`;
  return `${head}; with no witness quorum nothing shows it is the latest, nor when a call was made: an older copy leaves out the revocations logged since (compare the size with the issuer's "mcp-attest agent list"), and a gatekeeper's decision rests on its log's operator`;
}

/**
 * Decide every call under a credential (see the module comment); findings pushed, with the
 * call's entry index; `witnessedAt(entry, time)` as {@link witnessedAtOf}. `callLog`: the trust
 * policy's log keys (C2SP vkeys) that signed the call log's checkpoint. A decision record
 * counts as a gatekeeper's only when its issuer designates that log (issuers.ts
 * `designatesGatekeeper`); any other is decided as an agent's own record, against the whole
 * identity log given (`NOTE_GATEKEEPER_UNDESIGNATED`): an agent running a gatekeeper of its own
 * over an old copy of the identity log saves no call. A call the view cannot decide fails
 * `ERR_CREDENTIAL_UNLOGGED`; a gatekeeper's decision must also go with the caller's token it
 * recorded (`ERR_CREDENTIAL_KEY`).
 */
export async function decideCalls(calls: CredentialCall[], view: IdentityView | null, policy: TrustPolicy, witnessedAt: (entry: bigint, time: number) => number | null, callLog: readonly string[], out: Finding[]): Promise<void> {
  // Several findings a call: capped as they come.
  const findings = new FindingCap(out);
  // What each chain's revocations say, worked out with its first call.
  const chains = new Map<LoggedCredential, ChainRevocations>();
  const designated = new Map<string, boolean>();
  const gatekeeperOf = (id: string): boolean | undefined => {
    if (!designated.has(id)) {
      const issuer = policy.credentialIssuers?.find((i) => i.id === id);
      if (issuer !== undefined) designated.set(id, designatesGatekeeper(issuer, callLog));
    }
    return designated.get(id);
  };
  if (view !== null && calls.length > 0) findings.push(notice('NOTE_IDENTITY_LOG', identityLogSaid(view)));
  for (const recorded of calls) {
    const chain = view?.index.chain(recorded.credential);
    const root = chain === undefined || typeof chain === 'string' ? undefined : chain[0]!.credential.issuer;
    const undesignated = recorded.gated && root !== undefined && gatekeeperOf(root) === false;
    const c: CredentialCall = undesignated ? { ...recorded, gated: false, identitySize: null } : recorded;
    const refused = c.saidRefused === true && !recorded.gated ? ' (the agent\'s receipt says the gatekeeper refused this call: if so, nothing ran under it, as the gatekeeper\'s log shows; its receipt alone does not)' : '';
    const at = (f: Finding): Finding => ({ ...f, message: `${f.code === 'ERR_CREDENTIAL_REVOKED' ? 'revocation' : 'identity'}: ${f.message}${f.severity === 'error' ? refused : ''}`, index: c.entry.toString() });
    const witnessed = witnessedAt(c.entry, c.time);
    const why = undecidable(c, view);
    if (why !== null || view === null || chain === undefined) {
      findings.push(at(error('ERR_CREDENTIAL_UNLOGGED', why!)));
      continue;
    }
    // Not a failure: an identity log is witnessed when it changes, so an honest one is often
    // older than the calls it decides. What a newer one could add is said, not assumed.
    const old = stale(view, policy.quorum, witnessed);
    if (old !== null) findings.push(at(notice('NOTE_IDENTITY_STALE', old)));
    if (undesignated) findings.push(at(notice('NOTE_GATEKEEPER_UNDESIGNATED', `a decision under ${c.credential} recorded in a log the trust policy does not name as a gatekeeper of issuer ${root} (its own data directory's log, or one in its "gatekeepers"): decided as an agent's own record, against the identity log given`)));
    else if (!c.gated) findings.push(at(notice('NOTE_IDENTITY_UNGATED', `an agent's own record of a call under ${c.credential}: decided against the identity log given (no gatekeeper recorded what it checked); the gatekeeper's log is the record of enforcement`)));
    if (typeof chain === 'string' || !view.issuers.has(chain[0]!.credential.issuer)) {
      findings.push(at(error('ERR_CREDENTIAL_UNLOGGED', `credential ${c.credential}: ${typeof chain === 'string' ? `its chain is ${chain} in the identity log` : 'its issuer is not pinned to this identity log'}`)));
      continue;
    }
    if (c.chain !== null && c.chain.join() !== chain.map((l) => l.credential.id).join()) {
      findings.push(at(error('ERR_CREDENTIAL_MALFORMED', `the recorded chain ${c.chain.join(' > ')} is not the logged one`)));
    }
    const d = await decideCall(chain, () => view.index.revocationsOf(chain.map((l) => l.credential.id)), {
      identitySize: c.identitySize ?? view.size, time: c.time, keyId: c.keyId, ...(c.subject !== undefined ? { subject: c.subject } : {}), server: c.server, tool: c.tool, witnessedAt: witnessed, ungated: !c.gated,
    }, policy, chains);
    for (const f of d.findings) findings.add(at(f));
    const unbound = recorded.gated ? bindingProblem(chain[chain.length - 1]!.credential, c.keyId, c.caller) : null;
    if (unbound !== null) findings.push(at(error('ERR_CREDENTIAL_KEY', unbound)));
  }
  findings.flush();
}
