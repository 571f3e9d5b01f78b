/**
 * Split view and rollback: checking what is verified now against checkpoints of the same
 * origin the verifier accepted before (given with `--checkpoint`, or kept with `--state`).
 * A log presenting two histories under one key is caught because the later view must
 * contain the earlier one: same root at the same size, or a consistency proof between them.
 * Pure: no I/O.
 * @see RFC 9162 §2.1.4 (consistency); c2sp.org/tlog-witness (why witnesses hold the latest size)
 */
import { equalBytes, toBase64 } from '../bytes/index.js';
import { verifyConsistency } from '../log/proof.js';
import { error, type Finding } from './findings.js';

/** A checkpoint the verifier accepted before: origin, tree size and root hash (32 bytes). */
export interface KnownCheckpoint {
  origin: string;
  size: bigint;
  rootHash: Uint8Array;
  /** Given explicitly (`--checkpoint`): a bundle must link to this one too, not only to the latest known. */
  demanded?: boolean;
}

function fork(k: KnownCheckpoint, found: Uint8Array, what: string): Finding {
  return error('ERR_CHECKPOINT_INCONSISTENT', `${what} disagrees with the checkpoint accepted earlier at size ${k.size}: the log shows two histories (fork)`, { expected: toBase64(k.rootHash), found: toBase64(found) });
}

/**
 * A checkpoint given to be checked against (`demanded`) of another origin than the one
 * verified: nothing links the two, and it must not pass unchecked (`ERR_CHECKPOINT_ORIGIN`;
 * a keeper holding two trusted logs' keys could otherwise show one log under the other's
 * origin).
 */
function demandedElsewhere(known: KnownCheckpoint[], origin: string, findings: Finding[]): void {
  for (const k of known) {
    if (k.demanded === true && k.origin !== origin) findings.push(error('ERR_CHECKPOINT_ORIGIN', `the checkpoint given to check against is of another log (origin ${JSON.stringify(k.origin)}, size ${k.size}) than this one's (${JSON.stringify(origin)}): it cannot be checked here`, { expected: k.origin, found: origin }));
  }
}

/**
 * A whole log of `size` entries (root at any size from `rootAt`) against every known
 * checkpoint of its `origin`: a known size within the log must have the same root
 * (`ERR_CHECKPOINT_INCONSISTENT`); a known size beyond it means the log was rolled back
 * (`ERR_LOG_ROLLBACK`). One given to check against (`demanded`) of another origin is
 * `ERR_CHECKPOINT_ORIGIN`.
 */
export function checkLogAgainstKnown(known: KnownCheckpoint[], origin: string, size: bigint, rootAt: (s: bigint) => Uint8Array, findings: Finding[]): void {
  demandedElsewhere(known, origin, findings);
  for (const k of known.filter((x) => x.origin === origin)) {
    if (k.size > size) {
      findings.push(error('ERR_LOG_ROLLBACK', `the log has ${size} entries, but a checkpoint of ${k.size} was accepted earlier: rolled back`, { expected: k.size.toString(), found: size.toString() }));
      continue;
    }
    const root = rootAt(k.size);
    if (!equalBytes(root, k.rootHash)) findings.push(fork(k, root, `the log's root at size ${k.size}`));
  }
}

/**
 * A bundle's checkpoint (`size`, `rootHash`, `origin`) against the known checkpoints of its
 * origin. A known size 0 holds only the empty tree and is consistent with any tree. A
 * different root at a known size is a fork. Then the latest known one, and every one marked
 * `demanded` (given with `--checkpoint`), must each be linked: an exact match, or, when it is
 * smaller, a consistency proof in the bundle from its size (`ERR_CONSISTENCY_MISSING` if
 * absent; `ERR_CHECKPOINT_INCONSISTENT` if it does not verify); when it is larger, an older
 * checkpoint cannot be linked to it offline (`ERR_CONSISTENCY_MISSING`: ask for a bundle
 * against a newer checkpoint). One given to check against (`demanded`) of another origin is
 * `ERR_CHECKPOINT_ORIGIN`.
 */
export function checkBundleAgainstKnown(
  known: KnownCheckpoint[], cp: KnownCheckpoint, consistency: Array<{ size: bigint; proof: Uint8Array[] }>, findings: Finding[],
): void {
  demandedElsewhere(known, cp.origin, findings);
  const mine = known.filter((x) => x.origin === cp.origin && x.size > 0n).sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
  const forked = mine.find((k) => k.size === cp.size && !equalBytes(k.rootHash, cp.rootHash));
  if (forked) {
    findings.push(fork(forked, cp.rootHash, 'the bundle\'s checkpoint'));
    return;
  }
  const must = new Set(mine.filter((k) => k.demanded));
  if (mine.length > 0) must.add(mine[mine.length - 1]!);
  for (const k of must) linkBundle(k, cp, consistency, findings);
}

function linkBundle(k: KnownCheckpoint, cp: KnownCheckpoint, consistency: Array<{ size: bigint; proof: Uint8Array[] }>, findings: Finding[]): void {
  if (k.size === cp.size) return; // same root: checked above
  if (k.size > cp.size) {
    findings.push(error('ERR_CONSISTENCY_MISSING', `the bundle's checkpoint (size ${cp.size}) is older than one accepted earlier (size ${k.size}); an older checkpoint cannot be linked to it offline: ask for a bundle against a newer checkpoint (mcp-attest bundle … --since ${k.size})`, { expected: k.size.toString(), found: cp.size.toString() }));
    return;
  }
  const proof = consistency.find((c) => c.size === k.size);
  if (!proof) {
    findings.push(error('ERR_CONSISTENCY_MISSING', `no consistency proof from the checkpoint accepted earlier (size ${k.size}) to the bundle's (size ${cp.size}): make the bundle with --since ${k.size}`, { expected: k.size.toString() }));
  } else if (!verifyConsistency(k.size, cp.size, k.rootHash, cp.rootHash, proof.proof)) {
    findings.push(fork(k, cp.rootHash, `the bundle's checkpoint (size ${cp.size}, consistency proof from ${k.size})`));
  }
}

/**
 * A range of a log that ends at its checkpoint `cp` (a bundle's identity range: docs/identity.md)
 * against the known checkpoints of its origin: a different root at a known size is a fork
 * (`ERR_CHECKPOINT_INCONSISTENT`); a known size beyond `cp` means entries accepted earlier are
 * not in it (`ERR_CONSISTENCY_MISSING`: a newer range is needed). A smaller known size cannot be
 * linked without a consistency proof, which such a range does not carry: it is not checked.
 * Returns whether none failed.
 */
export function checkRangeAgainstKnown(known: KnownCheckpoint[], cp: KnownCheckpoint, what: string, findings: Finding[]): boolean {
  let ok = true;
  for (const k of known.filter((x) => x.origin === cp.origin)) {
    if (k.size === cp.size && !equalBytes(k.rootHash, cp.rootHash)) findings.push(fork(k, cp.rootHash, `${what} (size ${cp.size})`));
    else if (k.size > cp.size) findings.push(error('ERR_CONSISTENCY_MISSING', `${what} (size ${cp.size}) is older than one accepted earlier (size ${k.size}): what was logged in between is not in it; ask for one made against a newer checkpoint`, { expected: k.size.toString(), found: cp.size.toString() }));
    else continue;
    ok = false;
  }
  return ok;
}
