/**
 * The tree math of log/tree.ts over a node store that answers asynchronously (a database
 * across a network): the synchronous computation runs against a cache, every node it misses
 * is fetched in one batch, and it runs again until nothing is missing. Which nodes a root,
 * inclusion or consistency proof reads depends on the sizes and indices only, never on the
 * hashes, so two rounds suffice (one for tiles). Runtime-neutral.
 * @see RFC 9162 §2.1
 */
import { AttestError } from '../errors.js';
import type { NodeReader } from './tree.js';

/** Fetches the stored hashes of the nodes `[level, index]` asked for; a node not stored is left out of the map (key `level/index`). */
export type NodeFetch = (wanted: Array<[number, bigint]>) => Promise<Map<string, Uint8Array>>;

const PLACEHOLDER = new Uint8Array(32);
const ROUNDS = 8;

/** The map key of node (`level`, `index`). */
export function nodeKey(level: number, index: bigint): string {
  return `${level}/${index}`;
}

/**
 * Run `compute` (e.g. `(read) => rootAt(size, read)`) over the nodes `fetch` returns, with
 * `cache` kept between calls. Rethrows what `compute` throws once every node it read was
 * fetched; a node the store does not hold is `ERR_STORE_CORRUPT`.
 */
export async function withNodes<T>(fetch: NodeFetch, compute: (read: NodeReader) => T, cache = new Map<string, Uint8Array>()): Promise<T> {
  for (let round = 0; round < ROUNDS; round++) {
    const missing = new Map<string, [number, bigint]>();
    const read: NodeReader = (level, index) => {
      const k = nodeKey(level, index);
      const h = cache.get(k);
      if (h !== undefined) return h;
      missing.set(k, [level, index]);
      return PLACEHOLDER;
    };
    let result: T | undefined;
    let failure: unknown = null;
    try {
      result = compute(read);
    } catch (e) {
      failure = e;
    }
    if (missing.size === 0) {
      if (failure !== null) throw failure;
      return result as T;
    }
    const got = await fetch([...missing.values()]);
    let found = 0;
    for (const [k, h] of got) {
      if (!missing.has(k)) continue;
      cache.set(k, h);
      found++;
    }
    // Nodes the store does not hold: compute again reading them as absent, so its own error says which.
    if (found < missing.size) return compute((level, index) => {
      const h = cache.get(nodeKey(level, index));
      if (h === undefined) throw new AttestError('ERR_STORE_CORRUPT', `Merkle node ${nodeKey(level, index)} is not stored`);
      return h;
    });
  }
  throw new AttestError('ERR_STORE_CORRUPT', 'Merkle node reads did not settle');
}
