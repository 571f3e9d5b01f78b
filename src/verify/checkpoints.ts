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
import { error, type Finding } from './findings.js';
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

/** Open one note under the policy's log keys; returns the checkpoint or pushes a finding. */
export async function openCheckpoint(note: string, policy: TrustPolicy, findings: Finding[]): Promise<Checkpoint | null> {
  const { logs: verifiers, malformed } = verifiersOf(policy);
  for (const vkey of malformed) findings.push(error('ERR_POLICY_INVALID', `log vkey in the trust policy is malformed: ${vkey}`));
  try {
    const opened = await openNote(note, verifiers);
    const cp = parseCheckpoint(opened.text);
    const signedBy = (l: { vkey: string }): boolean => opened.verified.some((v) => `${v.name}+${v.keyId.toString(16).padStart(8, '0')}` === l.vkey.split('+').slice(0, 2).join('+'));
    if (!policy.logs.some((l) => l.origin === cp.origin && signedBy(l))) {
      findings.push(error('ERR_CHECKPOINT_ORIGIN', 'checkpoint origin is not the origin of the key that signed it', { found: cp.origin }));
      return null;
    }
    return cp;
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
export interface OpenedCheckpoint extends Checkpoint {
  cosigners: Cosigner[];
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
    findings.push(error('ERR_COSIGNATURE_INVALID', `a witness cosignature does not verify: ${(e as Error).message}`, { found: isAttestError(e) ? e.found : undefined }));
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
    findings.push(error('ERR_QUORUM_NOT_MET', `checkpoint at size ${cp.size} is cosigned by ${cosigners.length} of the ${policy.quorum} witnesses the trust policy requires`, { expected: policy.quorum, found: cosigners.map((c) => c.name) }));
    return null;
  }
  return { ...cp, cosigners };
}

/**
 * Check the checkpoints (notes, any order) against a tree of `size` entries whose root at
 * any size `rootAt` computes. Every note's log signature and witness cosignatures are
 * checked; the quorum applies to the latest (the one the verification rests on). Returns
 * the latest verified checkpoint and its cosigners, or null; `verified` (when given) gets
 * every checkpoint whose root the entries make, with its cosigners.
 */
export async function verifyCheckpoints(
  notes: string[], policy: TrustPolicy, size: bigint, rootAt: (s: bigint) => Uint8Array, findings: Finding[], verified?: OpenedCheckpoint[],
): Promise<OpenedCheckpoint | null> {
  const opened: OpenedCheckpoint[] = [];
  for (const n of notes) {
    const cp = await openCheckpoint(n, policy, findings);
    const cosigners = cp ? await checkCosignatures(n, policy, findings) : null;
    if (cp && cosigners) opened.push({ ...cp, cosigners });
  }
  if (opened.length === 0) {
    if (notes.length === 0) findings.push(error('ERR_CHECKPOINT_MISSING', size > 0n ? 'no checkpoint covers the entries' : 'no checkpoint'));
    return null;
  }
  opened.sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
  const latest = opened[opened.length - 1]!;
  if (latest.cosigners.length < policy.quorum) {
    findings.push(error('ERR_QUORUM_NOT_MET', `the latest checkpoint (size ${latest.size}) is cosigned by ${latest.cosigners.length} of the ${policy.quorum} witnesses the trust policy requires`, { expected: policy.quorum, found: latest.cosigners.map((c) => c.name) }));
  }
  for (const cp of opened) {
    const isLatest = cp === latest;
    if (cp.size > size) {
      findings.push(error('ERR_LOG_TRUNCATED', `checkpoint covers ${cp.size} entries, the log has ${size}`, { expected: cp.size.toString(), found: size.toString() }));
      continue;
    }
    const root = rootAt(cp.size);
    if (equalBytes(root, cp.rootHash)) verified?.push(cp);
    else {
      findings.push(error(isLatest ? 'ERR_LOG_ROOT_MISMATCH' : 'ERR_CHECKPOINT_INCONSISTENT',
        isLatest ? 'entries do not hash to the checkpoint root' : `checkpoint at size ${cp.size} is inconsistent with the log`,
        { expected: toBase64(cp.rootHash), found: toBase64(root) }));
    }
  }
  // Entries no signed checkpoint covers are not sealed: they could have been added by anyone
  // with write access. The operator seals them with `mcp-attest log checkpoint`.
  if (latest.size < size) findings.push(error('ERR_LOG_UNCHECKPOINTED', `${size - latest.size} entries after the latest checkpoint are not covered by one`, { expected: latest.size.toString(), found: size.toString() }));
  return latest;
}
