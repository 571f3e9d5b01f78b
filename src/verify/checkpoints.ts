/**
 * Checkpoint checks of a log verification: every checkpoint note must open under a log key
 * the trust policy lists, for that key's origin; every cosignature of a witness the policy
 * lists must verify; the latest must be cosigned by the policy's quorum of witnesses and
 * match the tree the entries build (same size available, same root); every earlier one must
 * be consistent with it (its root equals the root of the same entries at its size).
 * @see c2sp.org/signed-note; c2sp.org/tlog-checkpoint; c2sp.org/tlog-cosignature; RFC 9162 §2.1.4
 */
import { equalBytes, toBase64 } from '../bytes/index.js';
import { isAttestError } from '../errors.js';
import { openNote, ed25519NoteVerifier, type NoteVerifier } from '../log/note.js';
import { cosignatureVerifier, parseCosignature } from '../log/cosignature.js';
import { parseCheckpoint, type Checkpoint } from '../log/checkpoint.js';
import { error, notice, type Finding } from './findings.js';
import type { TrustPolicy } from './policy.js';

/** A policy's log-key verifiers (and the malformed log vkeys), and its witnesses' once built. */
interface PolicyVerifiers { logs: NoteVerifier[]; malformed: string[]; witnesses?: NoteVerifier[] }

/**
 * Verifiers are built once per policy (by identity), not once per note: each imports and
 * checks its public key on first use, which costs more than the signature it then checks
 * (a log with 30,000 checkpoints spent most of its checkpoint time re-importing keys).
 */
const policyVerifiers = new WeakMap<TrustPolicy, PolicyVerifiers>();

function verifiersOf(policy: TrustPolicy): PolicyVerifiers {
  let v = policyVerifiers.get(policy);
  if (v === undefined) {
    v = { logs: [], malformed: [] };
    for (const l of policy.logs) {
      try {
        v.logs.push(ed25519NoteVerifier(l.vkey));
      } catch {
        v.malformed.push(l.vkey);
      }
    }
    policyVerifiers.set(policy, v);
  }
  return v;
}

/** A checkpoint whose note opened under the trust policy's log keys for its origin. */
export interface SignedCheckpoint extends Checkpoint {
  /** The trust policy's log verifier keys (C2SP vkeys, as listed) that signed it, for its origin: at least one. */
  signers: string[];
}

/** Open one note under the policy's log keys; returns the checkpoint or pushes a finding. */
export async function openCheckpoint(note: string, policy: TrustPolicy, findings: Finding[]): Promise<SignedCheckpoint | null> {
  const { logs: verifiers, malformed } = verifiersOf(policy);
  for (const vkey of malformed) findings.push(error('ERR_POLICY_INVALID', `log vkey in the trust policy is malformed: ${vkey}`));
  try {
    const opened = await openNote(note, verifiers);
    const cp = parseCheckpoint(opened.text);
    const signedBy = (l: { vkey: string }): boolean => opened.verified.some((v) => `${v.name}+${v.keyId.toString(16).padStart(8, '0')}` === l.vkey.split('+').slice(0, 2).join('+'));
    const signers = policy.logs.filter((l) => l.origin === cp.origin && signedBy(l)).map((l) => l.vkey);
    if (signers.length === 0) {
      findings.push(error('ERR_CHECKPOINT_ORIGIN', 'checkpoint origin is not the origin of the key that signed it', { found: cp.origin }));
      return null;
    }
    return { ...cp, signers };
  } catch (e) {
    const code = isAttestError(e, 'ERR_NOTE_SIGNATURE_INVALID') ? 'ERR_CHECKPOINT_SIGNATURE_INVALID'
      : isAttestError(e, 'ERR_NOTE_UNVERIFIED') ? 'ERR_CHECKPOINT_UNTRUSTED'
      : isAttestError(e) ? e.code : 'ERR_CHECKPOINT_MALFORMED';
    findings.push(error(code, `checkpoint rejected: ${(e as Error).message}`));
    return null;
  }
}

/** A witness whose cosignature/v1 on a checkpoint verified: its name and timestamp (POSIX seconds). */
export interface Cosigner {
  name: string;
  timestamp: bigint;
}

/** A checkpoint that opened under the policy, with the listed witnesses that cosigned it. */
export interface OpenedCheckpoint extends SignedCheckpoint {
  cosigners: Cosigner[];
}

/**
 * The time by which `quorum` witnesses had cosigned `cp` (the quorum-th earliest cosignature),
 * or with `latest` the time at or after which `quorum` of them still cosigned it (the
 * quorum-th latest: one witness's clock cannot make an old checkpoint look fresh); POSIX
 * seconds, null when fewer cosigned.
 */
export function quorumTime(cp: OpenedCheckpoint, quorum: number, latest = false): number | null {
  const t = cp.cosigners.map((s) => Number(s.timestamp)).sort((a, b) => (latest ? b - a : a - b))[quorum - 1];
  return t === undefined ? null : t;
}

/**
 * The cosignatures of the policy's witnesses on `note`. Lines of unknown keys are ignored;
 * a listed witness's line that does not verify fails the checkpoint (`ERR_COSIGNATURE_INVALID`
 * pushed, null returned): a bad signature is never just left uncounted.
 * @see c2sp.org/tlog-cosignature; c2sp.org/signed-note ("MUST verify known")
 */
export async function checkCosignatures(note: string, policy: TrustPolicy, findings: Finding[]): Promise<Cosigner[] | null> {
  if (policy.witnesses.length === 0) return [];
  const cached = verifiersOf(policy);
  const verifiers = (cached.witnesses ??= policy.witnesses.map((w) => cosignatureVerifier(w.vkey)));
  try {
    const opened = await openNote(note, verifiers);
    return opened.verified.map((v) => ({ name: v.name, timestamp: parseCosignature(v.signature).timestamp }));
  } catch (e) {
    if (isAttestError(e, 'ERR_NOTE_UNVERIFIED')) return [];
    const found = isAttestError(e) ? e.found : undefined;
    findings.push(error('ERR_COSIGNATURE_INVALID', `a witness cosignature does not verify${typeof found === 'string' ? ` (${found})` : ''}: ${(e as Error).message}`, { found }));
    return null;
  }
}

/**
 * Open a checkpoint as a verification's anchor: log signature and origin
 * ({@link openCheckpoint}), then every listed witness's cosignature, then the quorum
 * (`ERR_QUORUM_NOT_MET` when fewer than `policy.quorum` distinct listed witnesses cosigned).
 * Returns null (findings pushed) when it cannot be an anchor.
 * @see c2sp.org/tlog-proof (verification steps 2 and 3)
 */
export async function openAnchor(note: string, policy: TrustPolicy, findings: Finding[]): Promise<OpenedCheckpoint | null> {
  const cp = await openCheckpoint(note, policy, findings);
  if (!cp) return null;
  const cosigners = await checkCosignatures(note, policy, findings);
  if (!cosigners) return null;
  if (cosigners.length < policy.quorum) {
    findings.push(quorumNotMet(`checkpoint at size ${cp.size}`, cosigners, policy));
    return null;
  }
  return { ...cp, cosigners };
}

/** `ERR_QUORUM_NOT_MET` for `what`, cosigned by `cosigners` only: the message names the listed witnesses whose cosignature is missing. */
export function quorumNotMet(what: string, cosigners: Array<{ name: string }>, policy: TrustPolicy): Finding {
  const have = new Set(cosigners.map((c) => c.name));
  const missing = policy.witnesses.map((w) => w.name).filter((n) => !have.has(n));
  return error('ERR_QUORUM_NOT_MET', `${what} is cosigned by ${cosigners.length} of the ${policy.quorum} witnesses the trust policy requires (no cosignature of ${missing.join(', ')})`, { expected: policy.quorum, found: cosigners.map((c) => c.name) });
}

/**
 * `NOTE_UNWITNESSED`, once, when the verification rests on a checkpoint under a policy that
 * needs no witness (quorum 0): the log's key alone vouches for the history, and its holder
 * could show someone else another one. Called by the verifications that report (a log's, a
 * bundle's) with the caller's own policy.
 */
export function noteUnwitnessed(policy: TrustPolicy, findings: Finding[]): void {
  if (policy.quorum !== 0 || findings.some((f) => f.code === 'NOTE_UNWITNESSED')) return;
  findings.push(notice('NOTE_UNWITNESSED', 'the trust policy needs no witness cosignature (quorum 0): the log\'s key alone vouches for this history, and its holder could show others another one (give the policy witnesses and a quorum: docs/witnessing.md)'));
}

/**
 * A checkpoint note as a store keeps it: under the tree size it was stored for (`size`, as
 * read: a hostile store's value may be of any type), which must be the note's own.
 */
export interface StoredNote {
  size: unknown;
  note: string;
}

/** A stored size as a finding shows it: a tree size in decimal; any other value (a hostile store's) quoted, cut to 40 characters, its type apparent. */
function storedSize(size: unknown): string {
  return typeof size === 'bigint' ? size.toString() : JSON.stringify(String(size).slice(0, 40));
}

/**
 * The checkpoints of a log checked as its tree grows, holding one note at a time: the notes
 * come in ascending tree size (a store's order; {@link verifyCheckpoints} sorts an array),
 * each opened when reached (log signature and origin, witness cosignatures), its root
 * compared with the tree's once the tree has its size ({@link at}). A note whose size the
 * tree has passed when it comes, or given as a {@link StoredNote} stored under another size
 * than its own (an edited store), cannot be compared: `ERR_CHECKPOINT_INCONSISTENT`, naming
 * the stored size (`expected`) and the note's (`found`); the notes after it are still
 * compared. Every note's log signature and witness cosignatures are checked; the quorum
 * applies to the latest (the one the verification rests on). {@link finish} writes the
 * findings in the order of the whole check: each note's own, the latest's quorum, each
 * root's in size order, the notes beyond the tree, the entries no checkpoint covers.
 */
export class CheckpointStream {
  private readonly notes: Iterator<string | StoredNote>;
  private readonly opening: Finding[] = [];
  private readonly roots: Finding[] = [];
  /** The next opened checkpoint, not yet compared (its size is at least the tree's). */
  private next: OpenedCheckpoint | null = null;
  private latest: OpenedCheckpoint | null = null;
  /** The note of {@link latest}, as read: what a verifier that remembers accepted checkpoints keeps. */
  latestNote: string | null = null;
  /** The root finding of the last checkpoint compared when its root differed: the latest's is `ERR_LOG_ROOT_MISMATCH`. */
  private mismatch: { cp: OpenedCheckpoint; at: number; found: Uint8Array } | null = null;
  private seen = 0;
  /**
   * `[size, quorum time]` of each checkpoint whose root the entries make and that the policy's
   * quorum cosigned (the quorum-th earliest cosignature, POSIX seconds), in size order: the
   * witness clock's input (identity/verify-identity.ts `clockOf`). Empty under a quorum of 0.
   */
  readonly witnessed: Array<readonly [bigint, number]> = [];
  /** With `keep`: every checkpoint whose root the entries make, with its cosigners, in size order. */
  readonly checked: OpenedCheckpoint[] = [];

  constructor(notes: Iterable<string | StoredNote>, private readonly policy: TrustPolicy, private readonly keep = false) {
    this.notes = notes[Symbol.iterator]();
  }

  /** Stop reading notes (a store's open statement is released); the stream checks nothing more. */
  close(): void {
    this.notes.return?.();
  }

  /** The size of the next checkpoint to compare ({@link at} it), or null when no note is left. */
  get nextSize(): bigint | null {
    return this.next?.size ?? null;
  }

  /** Open notes until one of at least `size` is pending or none is left; one below is a finding. */
  private async advance(size: bigint): Promise<void> {
    while (this.next === null) {
      const r = this.notes.next();
      if (r.done === true) return;
      this.seen++;
      const note = typeof r.value === 'string' ? r.value : r.value.note;
      const cp = await openCheckpoint(note, this.policy, this.opening);
      const cosigners = cp ? await checkCosignatures(note, this.policy, this.opening) : null;
      if (!cp || !cosigners) continue;
      // A row labelled with another size is out of the order the notes are compared in: it is
      // named, and left out, so the notes after it are still compared (not blamed for it).
      // Its finding goes with the comparisons, in the order the rows come: a run of such rows
      // after the tree's end cannot bury the real mismatches under the code's finding cap.
      if (typeof r.value !== 'string' && r.value.size !== cp.size) {
        this.roots.push(error('ERR_CHECKPOINT_INCONSISTENT', `checkpoint at size ${cp.size} is stored under another size: it cannot be checked against the log`, { expected: storedSize(r.value.size), found: cp.size.toString() }));
        continue;
      }
      const opened: OpenedCheckpoint = { ...cp, cosigners };
      if (this.latest === null || opened.size >= this.latest.size) {
        this.latest = opened;
        this.latestNote = note;
      }
      if (opened.size >= size) this.next = opened;
      else this.roots.push(error('ERR_CHECKPOINT_INCONSISTENT', `checkpoint at size ${opened.size} is stored after a larger one: it cannot be checked against the log`, { found: opened.size.toString() }));
    }
  }

  /** The tree has `size` entries (0 before the first), of root `root()`: each note of that size is compared with it. */
  async at(size: bigint, root: () => Uint8Array): Promise<void> {
    await this.advance(size);
    while (this.next !== null && this.next.size === size) {
      const cp = this.next;
      this.next = null;
      const r = root();
      if (equalBytes(r, cp.rootHash)) {
        const t = this.policy.quorum > 0 ? quorumTime(cp, this.policy.quorum) : null;
        if (t !== null) this.witnessed.push([cp.size, t]);
        if (this.keep) this.checked.push(cp);
      } else {
        this.mismatch = { cp, at: this.roots.length, found: r };
        this.roots.push(error('ERR_CHECKPOINT_INCONSISTENT', `checkpoint at size ${cp.size} is inconsistent with the log`, { expected: toBase64(cp.rootHash), found: toBase64(r) }));
      }
      await this.advance(size);
    }
  }

  /**
   * After the last entry (a tree of `size`): the notes left are beyond it
   * (`ERR_LOG_TRUNCATED`); the findings are pushed to `findings`. Returns the latest
   * checkpoint that opened, or null (`ERR_CHECKPOINT_MISSING` when there was no note).
   */
  async finish(size: bigint, findings: Finding[]): Promise<OpenedCheckpoint | null> {
    for (;;) {
      await this.advance(size + 1n);
      if (this.next === null) break;
      const cp = this.next;
      this.next = null;
      this.roots.push(error('ERR_LOG_TRUNCATED', `checkpoint covers ${cp.size} entries, the log has ${size}`, { expected: cp.size.toString(), found: size.toString() }));
    }
    findings.push(...this.opening);
    const latest = this.latest;
    if (latest === null) {
      if (this.seen === 0) findings.push(error('ERR_CHECKPOINT_MISSING', size > 0n ? 'no checkpoint covers the entries' : 'no checkpoint'));
      return null;
    }
    if (latest.cosigners.length < this.policy.quorum) findings.push(quorumNotMet(`the latest checkpoint (size ${latest.size})`, latest.cosigners, this.policy));
    const m = this.mismatch;
    if (m !== null && m.cp === latest) this.roots[m.at] = error('ERR_LOG_ROOT_MISMATCH', 'entries do not hash to the checkpoint root', { expected: toBase64(latest.rootHash), found: toBase64(m.found) });
    findings.push(...this.roots);
    // Entries no signed checkpoint covers are not sealed: they could have been added by anyone
    // with write access. The operator seals them with `mcp-attest log checkpoint`.
    if (latest.size < size) findings.push(error('ERR_LOG_UNCHECKPOINTED', `${size - latest.size} entries after the latest checkpoint are not covered by one`, { expected: latest.size.toString(), found: size.toString() }));
    return latest;
  }
}

/**
 * Check the checkpoints (notes, any order) against a tree of `size` entries whose root at
 * any size `rootAt` computes, as {@link CheckpointStream} does in size order (the notes are
 * put in that order first; one that does not parse, first). Returns the latest verified
 * checkpoint and its cosigners, or null; `verified` (when given) gets every checkpoint whose
 * root the entries make, with its cosigners; `anchor.note` (when given) the latest's note, as read.
 */
export async function verifyCheckpoints(
  notes: string[], policy: TrustPolicy, size: bigint, rootAt: (s: bigint) => Uint8Array, findings: Finding[], verified?: OpenedCheckpoint[], anchor?: { note: string | null },
): Promise<OpenedCheckpoint | null> {
  const stream = new CheckpointStream(inSizeOrder(notes), policy, verified !== undefined);
  await stream.at(0n, () => rootAt(0n));
  for (let s = stream.nextSize; s !== null && s <= size; s = stream.nextSize) {
    const at = s;
    await stream.at(at, () => rootAt(at));
  }
  const latest = await stream.finish(size, findings);
  verified?.push(...stream.checked);
  if (anchor !== undefined) anchor.note = latest === null ? null : stream.latestNote;
  return latest;
}

/**
 * `notes` in ascending tree size, as {@link CheckpointStream} reads them (stable: equal sizes
 * keep their order); a note whose text does not parse as a checkpoint comes first (opening
 * it fails).
 */
export function inSizeOrder(notes: readonly string[]): string[] {
  const sizeOf = (n: string): bigint => {
    try {
      return parseCheckpoint(n.slice(0, n.indexOf('\n\n') + 1)).size;
    } catch {
      return -1n;
    }
  };
  return notes.map((n) => [sizeOf(n), n] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, n]) => n);
}
