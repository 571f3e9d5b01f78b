/**
 * A Merkle tree built leaf by leaf in O(log n) memory (a compact range of the whole tree:
 * the roots of its perfect subtrees, largest first), which keeps the root at each tree size
 * it was asked for in advance. What a verifier streaming a log of any length needs: the
 * roots its checkpoints and earlier-known checkpoints name, not every node.
 * @see RFC 9162 §2.1.1 (MTH), §2.1.2 (a tree of n leaves is its perfect subtrees, left to right)
 */
import { AttestError } from '../errors.js';
import { EMPTY_ROOT, nodeHash } from './hash.js';

/** Streams leaf hashes; {@link CompactRoots.rootAt} answers for the sizes given at construction. */
export class CompactRoots {
  /** Perfect subtrees, left to right: height (leaves = 2^height) and hash. */
  private readonly stack: Array<{ height: number; hash: Uint8Array }> = [];
  private readonly roots = new Map<bigint, Uint8Array>();
  private count = 0n;

  /** `sizes`: the tree sizes whose roots will be asked for (others are refused). */
  constructor(private readonly sizes: ReadonlySet<bigint>) {
    if (sizes.has(0n)) this.roots.set(0n, EMPTY_ROOT.slice());
  }

  /** Number of leaves appended so far. */
  get size(): bigint {
    return this.count;
  }

  /** Append a 32-byte leaf hash (SHA-256(0x00 || entry), RFC 6962 §2.1). */
  appendLeafHash(hash: Uint8Array): void {
    let top = { height: 0, hash };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.height === top.height) {
      const left = this.stack.pop()!;
      top = { height: top.height + 1, hash: nodeHash(left.hash, top.hash) };
    }
    this.stack.push(top);
    this.count++;
    if (this.sizes.has(this.count)) this.roots.set(this.count, this.root());
  }

  /** MTH of every leaf appended so far: the perfect subtrees folded right to left. */
  private root(): Uint8Array {
    if (this.stack.length === 0) return EMPTY_ROOT.slice();
    let hash = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) hash = nodeHash(this.stack[i]!.hash, hash);
    return hash;
  }

  /**
   * MTH of the first `size` leaves. Throws `ERR_PROOF_RANGE` for a size beyond the leaves
   * appended or one not named at construction (its nodes were not kept).
   */
  readonly rootAt = (size: bigint): Uint8Array => {
    if (size === this.count) return this.root();
    const r = this.roots.get(size);
    if (r === undefined) throw new AttestError('ERR_PROOF_RANGE', 'root not kept for this size', { found: size, expected: this.count });
    return r;
  };
}
