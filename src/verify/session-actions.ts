/**
 * What a receipt session's check (verify/session.ts `SessionCheck`) keeps of its actions as
 * they come: their digests (32 bytes each) and log indexes in order, and which action a
 * number names, so that a session of millions of actions is checked in tens of MB.
 */
import { fromHex, toHex } from '../bytes/index.js';
import { TAGGED_DIGEST } from '../bytes/digest.js';
import { MAX_U64 } from '../log/u64.js';

/** The actions' digests in order: 32 bytes each when `sha256:` hex (as the check makes them), any other form kept as given. */
class Digests {
  private bytes = new Uint8Array(32);
  private odd: Map<number, string> | null = null;
  length = 0;

  push(d: string): void {
    if (32 * (this.length + 1) > this.bytes.length) {
      const b = new Uint8Array(2 * this.bytes.length);
      b.set(this.bytes);
      this.bytes = b;
    }
    if (TAGGED_DIGEST.test(d)) this.bytes.set(fromHex(d.slice(7)), 32 * this.length);
    else (this.odd ??= new Map()).set(this.length, d);
    this.length++;
  }

  at(k: number): string {
    return this.odd?.get(k) ?? `sha256:${toHex(this.bytes.subarray(32 * k, 32 * k + 32))}`;
  }
}

/**
 * What a session keeps of its actions: digests and log indexes in order, the digest the next
 * must link to, and which action a number names (the last of that number): the one at
 * position number - 1 when it has that number, as every action in a chain does, so only the
 * others are listed.
 */
export class Actions {
  readonly digests = new Digests();
  private indexes = new BigUint64Array(1);
  /** Indexes that are not uint64 bigints (a library caller's), by position. */
  private wide: Map<number, bigint> | null = null;
  /** Actions not numbered by their position: number to the last such position, and the positions. */
  private renumbered: { bySeq: Map<number, number>; at: Set<number> } | null = null;

  constructor(public prev: string) {}

  get length(): number {
    return this.digests.length;
  }

  push(digest: string, index: bigint, seq: number): void {
    const k = this.digests.length;
    if (k === this.indexes.length) {
      const b = new BigUint64Array(2 * k);
      b.set(this.indexes);
      this.indexes = b;
    }
    if (typeof index === 'bigint' && index >= 0n && index <= MAX_U64) this.indexes[k] = index;
    else (this.wide ??= new Map()).set(k, index);
    if (seq !== k + 1) {
      this.renumbered ??= { bySeq: new Map(), at: new Set() };
      this.renumbered.bySeq.set(seq, k);
      this.renumbered.at.add(k);
    }
    this.digests.push(digest);
    this.prev = digest;
  }

  indexAt(k: number): bigint {
    return this.wide?.get(k) ?? this.indexes[k]!;
  }

  /** The digest of the last action numbered `seq`, if any. */
  digestOf(seq: number): string | undefined {
    const inChain = Number.isInteger(seq) && seq >= 1 && seq <= this.length && this.renumbered?.at.has(seq - 1) !== true ? seq - 1 : undefined;
    const other = this.renumbered?.bySeq.get(seq);
    const k = inChain === undefined ? other : other === undefined ? inChain : Math.max(inChain, other);
    return k === undefined ? undefined : this.digests.at(k);
  }
}
