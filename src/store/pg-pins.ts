/**
 * The tool pins a fleet shares (docs/fleet.md, docs/tool-pinning.md): the pinned definition
 * of each (pin key, tool name), in the PostgreSQL log's `mcp_attest.tool_pins`. The first
 * process of the fleet to see a tool pins it for all (trust on first use, fleet-wide: one
 * `INSERT … ON CONFLICT DO NOTHING` decides a race); every process then compares what its
 * own upstream lists with the fleet's pin, so a definition changed for one machine only is
 * still a change. `mcp-attest tools accept --store` makes an accepted definition the fleet's
 * pin. Each process keeps its sightings, changes and the fleet's pins in its own `pins.db`
 * (pins/tool-pins.ts `adopt`), so the gate's per-call check stays a local read.
 *
 * Input is hostile (a server writes it): the same limits as the local pins apply
 * (pins/definitions.ts), at most {@link MAX_PINS_PER_SERVER} pins per key fleet-wide.
 */
import type pg from 'pg';
import { AttestError } from '../errors.js';
import { MAX_PINS_PER_SERVER, MAX_TOOLS_PER_LIST, readEntry, type Seen, type SharedPin } from '../pins/definitions.js';

/** The fleet's pins over a PostgreSQL log's pool (a `PgLog`'s). */
export class FleetPins {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Pin, for the fleet, each well-formed tool of one `tools/list` result under `server` (the
   * pin key) that has no pin yet (at `now`, POSIX seconds), and return the fleet's pins of
   * every tool listed. Throws `ERR_STORE_IO`.
   */
  async share(server: string, tools: unknown[], now: number): Promise<SharedPin[]> {
    const seen = new Map<string, Seen>();
    for (const t of tools.slice(0, MAX_TOOLS_PER_LIST)) {
      const s = readEntry(t);
      if (s !== null && !seen.has(s.name)) seen.set(s.name, s);
    }
    if (seen.size === 0) return [];
    const list = [...seen.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)); // one order for every process: no deadlock
    const names = list.map((x) => x.name);
    try {
      const pinned = new Set((await this.pool.query('SELECT name FROM mcp_attest.tool_pins WHERE server = $1 AND name = ANY($2::text[])', [server, names])).rows.map((r) => String(r.name)));
      const have = Number((await this.pool.query('SELECT count(*) AS n FROM mcp_attest.tool_pins WHERE server = $1', [server])).rows[0].n);
      // The limit holds per key, up to what processes pinning at the same moment add.
      const room = list.filter((x) => !pinned.has(x.name)).slice(0, Math.max(0, MAX_PINS_PER_SERVER - have));
      if (room.length > 0) {
        await this.pool.query(`INSERT INTO mcp_attest.tool_pins (server, name, digest, definition, pinned_at)
          SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[]), (VALUES ($5::bigint)) AS t(at) ON CONFLICT DO NOTHING`,
        [server, room.map((x) => x.name), room.map((x) => x.digest), room.map((x) => x.json), now]);
      }
      const r = await this.pool.query('SELECT name, digest, definition, pinned_at FROM mcp_attest.tool_pins WHERE server = $1 AND name = ANY($2::text[])', [server, names]);
      return r.rows.map((row) => ({ name: String(row.name), digest: String(row.digest), definition: String(row.definition), pinnedAt: Number(row.pinned_at) }));
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot read the fleet's tool pins: ${(cause as Error).message}`, { cause });
    }
  }

  /** Make `pin` the fleet's pin of its tool under `server` (an operator accepted it). Throws `ERR_STORE_IO`. */
  async accept(server: string, pin: SharedPin): Promise<void> {
    try {
      await this.pool.query(`INSERT INTO mcp_attest.tool_pins (server, name, digest, definition, pinned_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (server, name) DO UPDATE SET digest = excluded.digest, definition = excluded.definition, pinned_at = excluded.pinned_at`,
      [server, pin.name, pin.digest, pin.definition, pin.pinnedAt]);
    } catch (cause) {
      throw new AttestError('ERR_STORE_IO', `cannot write the fleet's tool pins: ${(cause as Error).message}`, { cause });
    }
  }
}
