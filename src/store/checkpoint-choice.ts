/**
 * Choosing a bundle's checkpoint without reading every checkpoint row. The rule (docs/bundle.md):
 * among the stored checkpoints of size at least `from`, the one with the most cosignature rows
 * stored under its size, the largest on a tie. Counting the cosignatures of every checkpoint
 * reads them all, and a log checkpointed every second holds millions.
 *
 * The search reads the cosignatures a witness at a time, by an index on `(witness, size)`:
 * starting from the largest checkpoint (the best so far, with `n` cosignatures), only a size
 * with at least `t = n + 1` cosignatures can beat it, and a size below `x` (all sizes from
 * `x` up are settled) has them only if `t` witnesses cosigned some size below `x`. With each
 * witness's largest cosigned size below `x`, the `t`-th largest of them, `y`, is the largest
 * size below `x` that can: none in between has `t` witnesses. `y` is counted (a better
 * checkpoint when it has `t` and a checkpoint row), and the search goes on below it. When
 * witnesses cosign the same checkpoints, as a witnessing round asks them to, a few steps
 * settle a log of any length; cosignatures spread so that no `t` witnesses ever meet (never
 * written by mcp-attest) take a step per size, and after {@link LOOKUPS} lookups the rest,
 * below `x`, is counted the old way, every row, which is never slower than counting them all.
 *
 * The search is a generator of the lookups it needs ({@link Lookup}), so the same search runs
 * on SQLite's synchronous statements and PostgreSQL's queries.
 */

/** A size as a store returns it: a checkpoint's is an integer; a cosignature row's, in a file someone else wrote, may be any number. */
export type Size = bigint | number;

/**
 * A lookup the search needs, over the checkpoints and cosignatures of size at least the
 * search's `from`, answered with the type named:
 * - `witnesses`: every distinct witness of the cosignature rows, `unknown[]`, or null when
 *   there are more than {@link MAX_WITNESSES} (the search then counts every row);
 * - `before`: the largest size below `below` that `witness` cosigned, `Size | null`;
 * - `count`: the cosignature rows under `size` and the checkpoint stored at it,
 *   `{ n: number; checkpoint: bigint | null }`;
 * - `scan`: the checkpoint below `below` the rule chooses, counting every row, with its
 *   count, `{ size: bigint; n: number } | null`; a store may leave out the checkpoints
 *   with no cosignature (one never beats the best so far, which has at least none).
 */
export type Lookup =
  | { kind: 'witnesses' }
  | { kind: 'before'; witness: unknown; below: Size }
  | { kind: 'count'; size: Size }
  | { kind: 'scan'; below: bigint };

/** The most witnesses the search reads a witness at a time; a log with more is counted row by row. */
export const MAX_WITNESSES = 64;

/** The lookups the search makes before it counts the rest row by row (each one indexed, a few microseconds in SQLite). */
export const LOOKUPS = 4096;

const descending = (a: Size, b: Size): number => (a > b ? -1 : a < b ? 1 : 0);

/**
 * The size of the checkpoint the rule chooses, given `top`, the largest checkpoint of size at
 * least `from`, and `topCount`, its cosignature rows: each lookup it yields (see {@link Lookup})
 * is answered by the value passed to `next`. Sizes compare as the store compares them.
 * `budget`: the lookups made before the rest is scanned ({@link LOOKUPS}; tests make it small).
 */
export function* bestCheckpointSearch(top: bigint, topCount: number, budget = LOOKUPS): Generator<Lookup, bigint, unknown> {
  let best = { size: top, n: topCount };
  const witnesses = (yield { kind: 'witnesses' }) as unknown[] | null;
  let below: bigint | Size = top;
  let spent = 1;
  if (witnesses !== null) {
    const last: Array<Size | null> = [];
    for (const witness of witnesses) last.push((yield { kind: 'before', witness, below }) as Size | null);
    spent += witnesses.length;
    for (;;) {
      const t = best.n + 1;
      const live = last.filter((s): s is Size => s !== null).sort(descending);
      if (live.length < t) return best.size;
      if (spent > budget) break;
      const y = live[t - 1]!;
      const at = (yield { kind: 'count', size: y }) as { n: number; checkpoint: bigint | null };
      if (at.n >= t && at.checkpoint !== null) best = { size: at.checkpoint, n: at.n };
      below = y;
      spent++;
      for (let i = 0; i < witnesses.length; i++) {
        if (last[i] !== null && last[i]! >= y) {
          last[i] = (yield { kind: 'before', witness: witnesses[i], below: y }) as Size | null;
          spent++;
        }
      }
    }
  }
  // Too many witnesses, or lookups: the sizes below `below` counted row by row.
  if (typeof below !== 'bigint') below = BigInt(Math.ceil(below));
  const rest = (yield { kind: 'scan', below }) as { size: bigint; n: number } | null;
  return rest !== null && rest.n > best.n ? rest.size : best.size;
}

/**
 * A lookup of {@link firstCosignedSearch}, below the search's bound, answered with the type
 * named: `cosignedAfter`, the smallest size above `after` with a cosignature row, `Size |
 * null`; `checkpointFrom`, the smallest checkpoint of size at least `from`, `Size | null`;
 * `cosignedAt`, whether a cosignature row is stored under `size`, boolean.
 */
export type FirstLookup =
  | { kind: 'cosignedAfter'; after: Size }
  | { kind: 'checkpointFrom'; from: Size }
  | { kind: 'cosignedAt'; size: Size };

/**
 * The size of the smallest checkpoint above `entry` with a cosignature (an identity's anchor,
 * store/bundle-identity.ts), or null: the cosignatures and the checkpoints read in turn, each
 * from the size the other reached, so a log whose witnesses came late, or that checkpoints
 * more often than it asks them, is not read checkpoint by checkpoint. A generator of the
 * lookups it needs, as {@link bestCheckpointSearch}, for SQLite's statements and
 * PostgreSQL's queries alike.
 */
export function* firstCosignedSearch(entry: bigint): Generator<FirstLookup, Size | null, unknown> {
  for (let after: Size = entry; ;) {
    const s = (yield { kind: 'cosignedAfter', after }) as Size | null;
    if (s === null) return null;
    const c = (yield { kind: 'checkpointFrom', from: s }) as Size | null;
    if (c === null) return null;
    if (c === s || (yield { kind: 'cosignedAt', size: c }) === true) return c;
    after = c;
  }
}
