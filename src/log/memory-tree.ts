/**
 * An in-memory RFC 9162 Merkle tree that stores every complete-subtree hash, for tests and
 * for verifiers that load a whole log. Holds at most 2^53 leaves (JavaScript arrays);
 * durable logs implement {@link NodeReader} over their own storage instead.
 */
import { AttestError } from '../errors.js';
import { leafHash } from './hash.js';
import { appendNodes, consistencyProof, inclusionProof, rootAt, type NodeReader } from './tree.js';

/**
 * Append-only in-memory tree over {@link appendNodes} and the tree.ts proof functions.
 * @see RFC 9162 §2.1
 */
export class MemoryTree {
  private readonly levels: Uint8Array[][] = [];
  private count = 0n;

  /** Number of leaves appended so far. */
  get size(): bigint {
    return this.count;
  }

  /**
   * Stored complete-subtree hash at (level, index), see {@link NodeReader}. Throws
   * `ERR_PROOF_RANGE` when that node is not complete in the current tree.
   */
  readonly read: NodeReader = (level, index) => {
    const hash = index >= 0n ? this.levels[level]?.[Number(index)] : undefined;
    if (hash === undefined) {
      throw new AttestError('ERR_PROOF_RANGE', 'node not stored', { found: { level, index } });
    }
    return hash;
  };

  /** Append an entry (hashed as SHA-256(0x00 || entry), RFC 6962 §2.1); returns its index. */
  append(entry: Uint8Array): bigint {
    return this.appendLeafHash(leafHash(entry));
  }

  /** Append an already computed 32-byte leaf hash; returns its index. */
  appendLeafHash(hash: Uint8Array): bigint {
    const index = this.count;
    for (const node of appendNodes(index, hash, this.read)) {
      (this.levels[node.level] ??= [])[Number(node.index)] = node.hash;
    }
    this.count = index + 1n;
    return index;
  }

  /**
   * MTH of the first `size` leaves (default: all). Throws `ERR_PROOF_RANGE` if size >
   * this.size.
   */
  root(size: bigint = this.count): Uint8Array {
    this.checkSize(size);
    return rootAt(size, this.read);
  }

  /** RFC 9162 §2.1.3.1 inclusion proof of `index` in the tree of `size` leaves (default: all). */
  inclusionProof(index: bigint, size: bigint = this.count): Uint8Array[] {
    this.checkSize(size);
    return inclusionProof(index, size, this.read);
  }

  /** RFC 9162 §2.1.4.1 consistency proof from `size1` to `size2` (default: all). */
  consistencyProof(size1: bigint, size2: bigint = this.count): Uint8Array[] {
    this.checkSize(size2);
    return consistencyProof(size1, size2, this.read);
  }

  private checkSize(size: bigint): void {
    if (size > this.count) {
      throw new AttestError('ERR_PROOF_RANGE', 'size beyond tree', { expected: this.count, found: size });
    }
  }
}
