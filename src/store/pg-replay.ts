/**
 * The gatekeeper's replay store shared by a fleet (docs/fleet.md): (issuer, nonce) pairs in
 * the PostgreSQL log's `mcp_attest.nonces`, so an attestation accepted by one gatekeeper is
 * a replay at every other, on any machine. One statement decides: it inserts the pair, or
 * re-arms it when its window closed, and returns nothing when a live pair is already there
 * (`replay`). Expired pairs are purged every 1,000 records; when more than `maxEntries` live
 * pairs are found then, new ones are refused (`full`) until a purge frees room: never a live
 * nonce evicted.
 * @see docs/gate-policy.md "Replay protection"
 */
import type pg from 'pg';
import { AttestError } from '../errors.js';
import type { ReplayStore } from '../gate/gate.js';

const PURGE_EVERY = 1000;

/** A {@link ReplayStore} over a fleet's PostgreSQL log (the pool of a `PgLog`). */
export class PgReplayStore implements ReplayStore {
  private sincePurge = PURGE_EVERY;
  private full = false;

  constructor(private readonly pool: pg.Pool, private readonly maxEntries = 1_000_000) {}

  /** @see ReplayStore.record. Throws `ERR_STORE_IO` when the database cannot be reached (the gate then fails closed). */
  async record(iss: string, nonce: string, expiresAt: number, now: number): Promise<'recorded' | 'replay' | 'full'> {
    if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) throw new AttestError('ERR_USAGE', 'nonce times are integer POSIX seconds');
    try {
      if (++this.sincePurge >= PURGE_EVERY) await this.purge(now);
      const key = `${iss}\n${nonce}`;
      if (this.full) {
        const live = await this.pool.query('SELECT 1 FROM mcp_attest.nonces WHERE key = $1 AND expires >= $2', [key, now]);
        return live.rows.length > 0 ? 'replay' : 'full';
      }
      const r = await this.pool.query(`INSERT INTO mcp_attest.nonces (key, expires) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE mcp_attest.nonces.expires < $3 RETURNING 1`, [key, expiresAt, now]);
      if (r.rowCount === 1) return 'recorded';
      return 'replay';
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot record nonce: ${(cause as Error).message}`, { cause });
    }
  }

  /** Delete the pairs whose window closed before `now`, and learn whether the store is full. */
  private async purge(now: number): Promise<void> {
    this.sincePurge = 0;
    await this.pool.query('DELETE FROM mcp_attest.nonces WHERE expires < $1', [now]);
    const live = Number((await this.pool.query('SELECT count(*) AS n FROM mcp_attest.nonces')).rows[0].n);
    this.full = live >= this.maxEntries;
  }
}
