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
}

function fork(k: KnownCheckpoint, found: Uint8Array, what: string): Finding {
  return error('ERR_CHECKPOINT_INCONSISTENT', `${what} disagrees with the checkpoint accepted earlier at size ${k.size}: the log shows two histories (fork)`, { expected: toBase64(k.rootHash), found: toBase64(found) });
}

/**
 * A whole log of `size` entries (root at any size from `rootAt`) against every known
 * checkpoint of its `origin`: a known size within the log must have the same root
 * (`ERR_CHECKPOINT_INCONSISTENT`); a known size beyond it means the log was rolled back
 * (`ERR_LOG_ROLLBACK`).
 */
export function checkLogAgainstKnown(known: KnownCheckpoint[], origin: string, size: bigint, rootAt: (s: bigint) => Uint8Array, findings: Finding[]): void {
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
 * origin. An exact match of any is enough; a different root at a known size is a fork. Else
 * the latest known one decides: when it is smaller, the bundle must carry a consistency proof
 * from its size (`ERR_CONSISTENCY_MISSING` if not; `ERR_CHECKPOINT_INCONSISTENT` if it does
 * not verify); when it is larger, an older checkpoint cannot be linked to it offline
 * (`ERR_CONSISTENCY_MISSING`: ask for a bundle against a newer checkpoint).
 */
export function checkBundleAgainstKnown(
  known: KnownCheckpoint[], cp: KnownCheckpoint, consistency: Array<{ size: bigint; proof: Uint8Array[] }>, findings: Finding[],
): void {
  const mine = known.filter((x) => x.origin === cp.origin).sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
  if (mine.length === 0) return;
  const same = mine.filter((k) => k.size === cp.size);
  if (same.some((k) => !equalBytes(k.rootHash, cp.rootHash))) {
    findings.push(fork(same[0]!, cp.rootHash, 'the bundle\'s checkpoint'));
    return;
  }
  if (same.length > 0) return;
  const latest = mine[mine.length - 1]!;
  if (latest.size > cp.size) {
    findings.push(error('ERR_CONSISTENCY_MISSING', `the bundle's checkpoint (size ${cp.size}) is older than the one accepted earlier (size ${latest.size}); an older checkpoint cannot be linked to it offline: ask for a bundle against a newer checkpoint`, { expected: latest.size.toString(), found: cp.size.toString() }));
    return;
  }
  const proof = consistency.find((c) => c.size === latest.size);
  if (!proof) {
    findings.push(error('ERR_CONSISTENCY_MISSING', `no consistency proof from the checkpoint accepted earlier (size ${latest.size}) to the bundle's (size ${cp.size}): make the bundle with --since ${latest.size}`, { expected: latest.size.toString() }));
  } else if (!verifyConsistency(latest.size, cp.size, latest.rootHash, cp.rootHash, proof.proof)) {
    findings.push(fork(latest, cp.rootHash, `the bundle's checkpoint (size ${cp.size}, consistency proof from ${latest.size})`));
  }
}
