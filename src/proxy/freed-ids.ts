/**
 * The ids a relay freed after a cancellation (docs/wire.md §4): each stays reserved for
 * {@link FREED_MS}, so a reuse is refused and a late answer is unsolicited: no other request
 * can take the cancelled one's answer. A reservation is never cut short: at most
 * {@link MAX_FREED} are held, and past that none is taken until one expires.
 */
import { FREED_MS, MAX_FREED } from './relay-io.js';

/** Reserved ids (`idKey` form), each until its time runs out. */
export class FreedIds {
  /** Reserved in order, each for FREED_MS: the expired ones come first. */
  private readonly until = new Map<string, number>();

  /** Reserve `key` now; false, reserving nothing, when {@link MAX_FREED} unexpired ones are held. */
  reserve(key: string): boolean {
    const now = Date.now();
    for (const [k, until] of this.until) {
      if (until > now) break;
      this.until.delete(k);
    }
    if (this.until.size >= MAX_FREED) return false;
    this.until.set(key, now + FREED_MS);
    return true;
  }

  /** Whether `key` is still reserved. */
  has(key: string): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(key);
    return false;
  }
}
