/**
 * Random small logs of checkpoints and cosignatures for the tests of the bundle's checkpoint
 * choice (test/unit/checkpoint-choice*.test.ts), and the choice's rule counted row by row.
 */

/** A deterministic generator of numbers in [0, 1). */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small log's checkpoint sizes and cosignatures (size -> witnesses). */
export type Log = { checkpoints: bigint[]; cosigned: Map<bigint, Set<string>> };

/** The cosignature patterns of {@link randomLog}: any, rounds of every witness, witnesses replaced, apart (no two meet, but rarely), rows without a checkpoint, none. */
export const PATTERNS = ['random', 'rounds', 'replaced', 'apart', 'orphans', 'none'] as const;

/** A random log of about `n` sizes in the cosignature `pattern`. */
export function randomLog(rnd: () => number, n: number, pattern: (typeof PATTERNS)[number]): Log {
  const checkpoints: bigint[] = [];
  const cosigned = new Map<bigint, Set<string>>();
  const witnesses = ['w1', 'w2', 'w3', 'w4', 'w5'].slice(0, 1 + Math.floor(rnd() * 5));
  const add = (size: number, w: string): void => {
    const s = BigInt(size);
    if (!cosigned.has(s)) cosigned.set(s, new Set());
    cosigned.get(s)!.add(w);
  };
  for (let size = 1; size <= n; size++) {
    const stored = pattern === 'orphans' ? rnd() < 0.5 : rnd() < 0.8;
    if (stored) checkpoints.push(BigInt(size));
    if (pattern === 'none') continue;
    if (pattern === 'random' || pattern === 'orphans') {
      for (const w of witnesses) if (rnd() < 0.4) add(size, w);
    } else if (pattern === 'rounds') {
      if (stored && rnd() < 0.3) for (const w of witnesses) if (rnd() < 0.85) add(size, w);
    } else if (pattern === 'replaced') {
      // Each witness serves a stretch of the log: added late, removed early.
      witnesses.forEach((w, i) => {
        const [from, to] = [Math.floor((n * i) / 6), Math.floor((n * (i + 3)) / 6)];
        if (stored && size >= from && size <= to && rnd() < 0.7) add(size, w);
      });
    } else if (size % witnesses.length !== 0 || rnd() < 0.05) {
      add(size, witnesses[size % witnesses.length]!); // apart: one witness a size, now and then two
      if (rnd() < 0.05) add(size, witnesses[(size + 1) % witnesses.length]!);
    }
  }
  return { checkpoints, cosigned };
}

/** The rule, counted row by row: of the checkpoints of size at least `from`, the most cosigned, the largest on a tie. */
export function ruleOf(log: Log, from: bigint): bigint | null {
  let best: { size: bigint; n: number } | null = null;
  for (const size of log.checkpoints) {
    if (size < from) continue;
    const n = log.cosigned.get(size)?.size ?? 0;
    if (best === null || n > best.n || (n === best.n && size > best.size)) best = { size, n };
  }
  return best?.size ?? null;
}
