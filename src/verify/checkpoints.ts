/**
 * Checkpoint checks of a log verification: every checkpoint note must open under a log key
 * the trust policy lists, for that key's origin; the latest must match the tree the entries
 * build (same size available, same root); every earlier one must be consistent with it
 * (its root equals the root of the same entries at its size).
 * @see c2sp.org/signed-note; c2sp.org/tlog-checkpoint; RFC 9162 §2.1.4
 */
import { equalBytes, toBase64 } from '../bytes/index.js';
import { isAttestError } from '../errors.js';
import { openNote, ed25519NoteVerifier, type NoteVerifier } from '../log/note.js';
import { parseCheckpoint, type Checkpoint } from '../log/checkpoint.js';
import { error, type Finding } from './findings.js';
import type { TrustPolicy } from './policy.js';

/** Open one note under the policy's log keys; returns the checkpoint or pushes a finding. */
export async function openCheckpoint(note: string, policy: TrustPolicy, findings: Finding[]): Promise<Checkpoint | null> {
  const verifiers: NoteVerifier[] = [];
  for (const l of policy.logs) {
    try {
      verifiers.push(ed25519NoteVerifier(l.vkey));
    } catch {
      findings.push(error('ERR_POLICY_INVALID', `log vkey in the trust policy is malformed: ${l.vkey}`));
    }
  }
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

/**
 * Check the checkpoints (notes, any order) against a tree of `size` entries whose root at
 * any size `rootAt` computes. Returns the latest verified checkpoint size as a string.
 */
export async function verifyCheckpoints(
  notes: string[], policy: TrustPolicy, size: bigint, rootAt: (s: bigint) => Uint8Array, findings: Finding[],
): Promise<string | null> {
  const opened: Checkpoint[] = [];
  for (const n of notes) {
    const cp = await openCheckpoint(n, policy, findings);
    if (cp) opened.push(cp);
  }
  if (opened.length === 0) {
    if (notes.length === 0) findings.push(error('ERR_CHECKPOINT_MISSING', size > 0n ? 'no checkpoint covers the entries' : 'no checkpoint'));
    return null;
  }
  opened.sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
  const latest = opened[opened.length - 1]!;
  for (const cp of opened) {
    const isLatest = cp === latest;
    if (cp.size > size) {
      findings.push(error('ERR_LOG_TRUNCATED', `checkpoint covers ${cp.size} entries, the log has ${size}`, { expected: cp.size.toString(), found: size.toString() }));
      continue;
    }
    const root = rootAt(cp.size);
    if (!equalBytes(root, cp.rootHash)) {
      findings.push(error(isLatest ? 'ERR_LOG_ROOT_MISMATCH' : 'ERR_CHECKPOINT_INCONSISTENT',
        isLatest ? 'entries do not hash to the checkpoint root' : `checkpoint at size ${cp.size} is inconsistent with the log`,
        { expected: toBase64(cp.rootHash), found: toBase64(root) }));
    }
  }
  // Entries no signed checkpoint covers are not sealed: they could have been added by anyone
  // with write access. The operator seals them with `mcp-attest log checkpoint`.
  if (latest.size < size) findings.push(error('ERR_LOG_UNCHECKPOINTED', `${size - latest.size} entries after the latest checkpoint are not covered by one`, { expected: latest.size.toString(), found: size.toString() }));
  return latest.size.toString();
}
