/**
 * The gatekeeper's replay store shared by a fleet (docs/fleet.md): (issuer, nonce) pairs in
 * the PostgreSQL log's `mcp_attest.nonces`, so an attestation accepted by one gatekeeper is
 * a replay at every other, on any machine. One statement decides: it inserts the pair, or
 * re-arms it when its window closed, and returns nothing when a live pair is already there
 * (`replay`). Expired pairs are purged every 1,000 records; when more than `maxEntries` live
 * pairs are found then, new ones are refused (`full`) until a purge frees room: never a live
 * nonce evicted. Both go through functions that run with the schema owner's rights (schema
 * v4, {@link REPLAY_FUNCTIONS}), so a writer role needs no write grant on the table, and a
 * window counts as closed only when it closed by the caller's clock and by the database
 * server's: a writer cannot purge or re-arm a live pair by claiming a later time.
 * @see docs/gate-policy.md "Replay protection"; docs/fleet.md "Roles"
 */
import type pg from 'pg';
import { AttestError } from '../errors.js';
import type { ReplayStore } from '../gate/gate.js';

const PURGE_EVERY = 1000;

/**
 * The SQL of `mcp_attest.record_nonce(key, expires, now)` (true when recorded or re-armed,
 * null when a live pair is there) and `mcp_attest.purge_nonces(now)` (deletes the closed
 * windows, returns the live pairs' count). `now` is the caller's POSIX seconds; the server's
 * clock bounds it.
 */
export const REPLAY_FUNCTIONS = `CREATE OR REPLACE FUNCTION mcp_attest.record_nonce(k text, expires_at bigint, now_s bigint) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO mcp_attest.nonces (key, expires) VALUES (k, expires_at)
  ON CONFLICT (key) DO UPDATE SET expires = excluded.expires
    WHERE mcp_attest.nonces.expires < least(now_s, extract(epoch FROM now())::bigint)
  RETURNING true
$$;
CREATE OR REPLACE FUNCTION mcp_attest.purge_nonces(now_s bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM mcp_attest.nonces WHERE expires < least(now_s, extract(epoch FROM now())::bigint);
  RETURN (SELECT count(*) FROM mcp_attest.nonces);
END $$`;

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
      const r = await this.pool.query('SELECT mcp_attest.record_nonce($1, $2::bigint, $3::bigint) AS ok', [key, expiresAt, now]);
      return r.rows[0]?.ok === true ? 'recorded' : 'replay';
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot record nonce: ${(cause as Error).message}`, { cause });
    }
  }

  /** Delete the pairs whose window closed before `now`, and learn whether the store is full. */
  private async purge(now: number): Promise<void> {
    this.sincePurge = 0;
    const live = Number((await this.pool.query('SELECT mcp_attest.purge_nonces($1::bigint) AS n', [now])).rows[0].n);
    this.full = live >= this.maxEntries;
  }
}
