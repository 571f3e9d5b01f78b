/**
 * Tool definition pinning ("rug pull" protection): trust on first use, per server. The
 * first time a tool name is seen in a `tools/list` result of a server, its whole
 * definition (every member of the tool object: name, title, description, inputSchema,
 * outputSchema, annotations, icons, _meta, anything unknown) is pinned as its RFC 8785
 * canonical JSON and `sha256:<hex>` digest. Every later sighting is compared with the pin;
 * a definition that differs is a change, recorded for a person to review
 * (`mcp-attest tools diff`) and to accept (`mcp-attest tools accept`). Observing never
 * rewrites a pin; only {@link ToolPins.accept} does.
 *
 * Storage: a SQLite file (better-sqlite3, WAL, `synchronous=FULL` by default), normally
 * `pins.db` in the data directory. Tables:
 * - `pins(server, name, digest, definition, pinned_at, last_digest, last_definition, last_seen)`:
 *   one row per (server, name); `definition` is the pinned canonical JSON, `last_definition`
 *   the last seen one when it differs from the pin (else NULL); times are POSIX seconds.
 * - `pin_changes(id, server, name, pinned_digest, pinned, seen_digest, seen, first_seen, accepted_at)`:
 *   one row per distinct (pin, seen definition) pair while unaccepted, oldest first.
 * - `server_fingerprints(server, fingerprint, pinned_at, last_fingerprint, last_seen)`: the
 *   server fingerprint the upstream advertised, pinned on first sight, one row per server.
 * - `fingerprint_changes(id, server, pinned, seen, first_seen, accepted_at)`: one row per
 *   distinct (pinned, advertised) pair while unaccepted, oldest first.
 *
 * `server` is the pin key, which the proxy fixes on its own side (a configured fingerprint,
 * or one derived from the configured name and the upstream command line), never a value the
 * upstream chooses: the fingerprint a server advertises is itself pinned under that key
 * ({@link ToolPins.observeFingerprint}), so a server that advertises a new one each session
 * is still compared with its first pins, and the new fingerprint is reported.
 *
 * Input is hostile (a server writes it). Limits, each counted in `malformed` when hit:
 * {@link MAX_TOOLS_PER_LIST} entries per list, {@link MAX_DEFINITION_BYTES} of canonical
 * JSON per definition, {@link MAX_PINS_PER_SERVER} names pinned per server. At most
 * {@link MAX_OPEN_CHANGES_PER_TOOL} unaccepted definitions are recorded per tool; further
 * ones are still reported by `observe`, and each takes the last of those places in turn, so
 * the last seen definition (what {@link ToolPins.accept} pins) is always recorded. A
 * malformed entry under a pinned name counts as a change of that tool ({@link UNREADABLE}).
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../store/sqlite.js';
import { AttestError, isAttestError } from '../errors.js';
import type { Durability } from '../store/log-db.js';

export { jsonDiff, pointerToken, type DiffEntry } from './json-diff.js';
export { hideTools } from './hide.js';
export * from './fingerprint.js';
import { MAX_OPEN_FINGERPRINT_CHANGES, recordedFingerprint, type FingerprintChangeRecord, type FingerprintObservation, type FingerprintPinRecord } from './fingerprint.js';

export { MAX_TOOLS_PER_LIST, MAX_DEFINITION_BYTES, MAX_PINS_PER_SERVER, MAX_OPEN_CHANGES_PER_TOOL, UNREADABLE, toolDigest, type SharedPin, type PinChange, type PinObservation, type PinStatus, type PinChangeRecord, type PinRecord } from './definitions.js';
import { checkTime, MAX_DEFINITION_BYTES, MAX_OPEN_CHANGES_PER_TOOL, MAX_PINS_PER_SERVER, MAX_TOOLS_PER_LIST, nameOf, parseStored, readEntry, UNREADABLE, type PinChangeRecord, type PinObservation, type PinRecord, type PinStatus, type Seen, type SharedPin } from './definitions.js';

/** Options of {@link ToolPins}. */
export interface ToolPinsOptions {
  durability?: Durability;
}

/** State of one {@link ToolPins.observe} pass. */
interface Pass {
  server: string; now: number; obs: PinObservation; count: number;
  listed: Set<string>; differed: Set<string>; unreadable: Set<string>;
}
interface PinRow { digest: string; definition: string; last_digest: string; last_definition: string | null }
interface FingerprintRow { server: string; fingerprint: string; pinned_at: number; last_fingerprint: string; last_seen: number }
interface FingerprintChangeRow { server: string; pinned: string; seen: string; first_seen: number; accepted_at: number | null }
interface ChangeRow {
  server: string; name: string; pinned_digest: string; pinned: string;
  seen_digest: string; seen: string; first_seen: number; accepted_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pins (server TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, definition TEXT NOT NULL,
  pinned_at INTEGER NOT NULL, last_digest TEXT NOT NULL, last_definition TEXT, last_seen INTEGER NOT NULL, UNIQUE (server, name));
CREATE TABLE IF NOT EXISTS pin_changes (id INTEGER PRIMARY KEY, server TEXT NOT NULL, name TEXT NOT NULL,
  pinned_digest TEXT NOT NULL, pinned TEXT NOT NULL, seen_digest TEXT NOT NULL, seen TEXT NOT NULL,
  first_seen INTEGER NOT NULL, accepted_at INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS pin_changes_open ON pin_changes (server, name, pinned_digest, seen_digest) WHERE accepted_at IS NULL;
CREATE TABLE IF NOT EXISTS server_fingerprints (server TEXT NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL, pinned_at INTEGER NOT NULL,
  last_fingerprint TEXT NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fingerprint_changes (id INTEGER PRIMARY KEY, server TEXT NOT NULL, pinned TEXT NOT NULL, seen TEXT NOT NULL,
  first_seen INTEGER NOT NULL, accepted_at INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS fingerprint_changes_open ON fingerprint_changes (server, pinned, seen) WHERE accepted_at IS NULL;
`;

/** The pins of every server, in one SQLite file. Open one per process; close it on exit. */
export class ToolPins {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /** Open (creating if needed) the pins file at `path`. Throws `ERR_STORE_IO`. */
  constructor(path: string, o: ToolPinsOptions = {}) {
    this.db = openSqlite(path, SCHEMA, { durability: o.durability, code: 'ERR_STORE_IO', what: 'tool pins' });
  }

  /** A prepared statement, cached by its SQL text. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Run `fn` in one `BEGIN IMMEDIATE` transaction; database failures become `ERR_STORE_IO`. */
  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (cause) {
      if (isAttestError(cause)) throw cause;
      throw new AttestError('ERR_STORE_IO', `cannot write tool pins: ${(cause as Error).message}`, { cause });
    }
  }

  /** Run a query; database failures become `ERR_STORE_IO`. */
  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (isAttestError(cause)) throw cause;
      throw new AttestError('ERR_STORE_IO', `cannot read tool pins: ${(cause as Error).message}`, { cause });
    }
  }

  private pinRow(server: string, name: string): PinRow | undefined {
    return this.stmt('SELECT digest, definition, last_digest, last_definition FROM pins WHERE server = ? AND name = ?').get(server, name) as PinRow | undefined;
  }

  /**
   * Observe one `tools/list` result's `tools` array for `server` (an opaque string: the pin
   * key the proxy fixed for this server, never one the server chose) at `now` (integer POSIX seconds), in one transaction. A first
   * sighting of a name pins it (`added`); a sighting that differs from the pin is reported
   * in `changed` (each time), recorded once per distinct seen digest while unaccepted, and
   * remembered as the tool's last seen definition; a sighting equal to the pin after a
   * change is `reverted`. Pins are never rewritten here. Pinned names missing from the list
   * are `removed` (meaningful only for a complete list: join the pages of a paginated
   * `tools/list` first). A malformed entry (or one past {@link MAX_TOOLS_PER_LIST}) whose
   * `name` is pinned makes that tool's last sighting {@link UNREADABLE}, so its status is
   * `changed`; and a name listed twice stays `changed` if either sighting differs: padding
   * or duplicating an entry cannot hide a change. Throws `ERR_USAGE` (bad arguments),
   * `ERR_STORE_IO`.
   */
  observe(server: string, tools: unknown[], now: number): PinObservation {
    checkTime(now);
    if (typeof server !== 'string' || !Array.isArray(tools)) throw new AttestError('ERR_USAGE', 'observe takes a server string and a tools array');
    return this.write(() => {
      const obs: PinObservation = { added: [], changed: [], reverted: [], removed: [], unchanged: 0, malformed: 0 };
      const count = this.stmt('SELECT count(*) FROM pins WHERE server = ?').pluck().get(server) as number;
      const pass: Pass = { server, now, obs, count, listed: new Set(), differed: new Set(), unreadable: new Set() };
      for (let i = 0; i < tools.length; i++) {
        const seen = i < MAX_TOOLS_PER_LIST ? readEntry(tools[i]) : null;
        if (seen !== null) {
          this.sight(pass, seen);
          continue;
        }
        obs.malformed++;
        const name = nameOf(tools[i]);
        if (name !== null) pass.listed.add(name);
        if (name !== null) pass.unreadable.add(name);
      }
      const pinned = this.stmt('SELECT name FROM pins WHERE server = ? ORDER BY name').pluck().all(server) as string[];
      const setUnreadable = this.stmt('UPDATE pins SET last_digest = ?, last_definition = NULL, last_seen = ? WHERE server = ? AND name = ?');
      for (const name of pinned) if (pass.unreadable.has(name)) setUnreadable.run(UNREADABLE, now, server, name);
      obs.removed = pinned.filter((n) => !pass.listed.has(n));
      return obs;
    });
  }

  /**
   * Take a fleet's pins (store/pg-pins.ts) of `server`'s tools as this file's pins, in one
   * transaction: a tool not pinned here gets the fleet's pin (as last seen too, until this
   * process sees it); a pin that differs from the fleet's is replaced by it (the fleet's is
   * the one every process compares with), its sightings kept, so the next `observe` compares
   * them with the fleet's pin. Throws `ERR_STORE_IO`.
   */
  adopt(server: string, pins: SharedPin[]): void {
    this.write(() => {
      for (const p of pins) {
        const mine = this.pinRow(server, p.name);
        if (mine === undefined) {
          this.stmt('INSERT INTO pins (server, name, digest, definition, pinned_at, last_digest, last_definition, last_seen) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)')
            .run(server, p.name, p.digest, p.definition, p.pinnedAt, p.digest, p.pinnedAt);
        } else if (mine.digest !== p.digest) {
          // The last sighting keeps its definition (the old pin's, when it was the last seen), so it can still be accepted.
          this.stmt(`UPDATE pins SET digest = ?, definition = ?, pinned_at = ?, last_definition = CASE WHEN last_digest = ? THEN NULL ELSE coalesce(last_definition, definition) END
            WHERE server = ? AND name = ?`).run(p.digest, p.definition, p.pinnedAt, p.digest, server, p.name);
        }
      }
    });
  }

  /** The pin of `name` on `server` as a fleet shares it (store/pg-pins.ts), or null. Throws `ERR_STORE_IO`. */
  sharedPin(server: string, name: string): SharedPin | null {
    const row = this.read(() => this.stmt('SELECT digest, definition, pinned_at FROM pins WHERE server = ? AND name = ?').get(server, name)) as { digest: string; definition: string; pinned_at: number } | undefined;
    return row === undefined ? null : { name, digest: row.digest, definition: row.definition, pinnedAt: row.pinned_at };
  }

  /** One well-formed sighting: pin a new name (within the per-server limit) or compare it with its pin. */
  private sight(pass: Pass, seen: Seen): void {
    pass.listed.add(seen.name);
    const pin = this.pinRow(pass.server, seen.name);
    if (pin !== undefined) return this.compare(pass, seen, pin);
    if (pass.count >= MAX_PINS_PER_SERVER) {
      pass.obs.malformed++;
      return;
    }
    this.stmt('INSERT INTO pins (server, name, digest, definition, pinned_at, last_digest, last_definition, last_seen) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)')
      .run(pass.server, seen.name, seen.digest, seen.json, pass.now, seen.digest, pass.now);
    pass.obs.added.push(seen.name);
    pass.count++;
  }

  /** Compare one sighting with its pin; update the last seen definition and record a change. */
  private compare(pass: Pass, seen: Seen, pin: PinRow): void {
    const { server, now, obs } = pass;
    const setLast = this.stmt('UPDATE pins SET last_digest = ?, last_definition = ?, last_seen = ? WHERE server = ? AND name = ?');
    if (seen.digest === pin.digest) {
      if (pass.differed.has(seen.name)) {
        obs.unchanged++; // a duplicate equal to the pin does not clear a differing one of the same list
        return;
      }
      if (pin.last_digest !== pin.digest) obs.reverted.push(seen.name);
      else obs.unchanged++;
      setLast.run(pin.digest, null, now, server, seen.name);
      return;
    }
    pass.differed.add(seen.name);
    obs.changed.push({ name: seen.name, pinnedDigest: pin.digest, seenDigest: seen.digest });
    setLast.run(seen.digest, seen.json, now, server, seen.name);
    const open = this.stmt('SELECT seen_digest FROM pin_changes WHERE server = ? AND name = ? AND pinned_digest = ? AND accepted_at IS NULL')
      .pluck().all(server, seen.name, pin.digest) as string[];
    if (open.includes(seen.digest)) return;
    if (open.length >= MAX_OPEN_CHANGES_PER_TOOL) {
      // The last slot holds the newest: what `accept` would pin is always one `tools diff` shows.
      this.stmt(`UPDATE pin_changes SET seen_digest = ?, seen = ?, first_seen = ? WHERE id = (SELECT max(id) FROM pin_changes
        WHERE server = ? AND name = ? AND pinned_digest = ? AND accepted_at IS NULL)`).run(seen.digest, seen.json, now, server, seen.name, pin.digest);
      return;
    }
    this.stmt('INSERT INTO pin_changes (server, name, pinned_digest, pinned, seen_digest, seen, first_seen, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)')
      .run(server, seen.name, pin.digest, pin.definition, seen.digest, seen.json, now);
  }

  /**
   * `pinned` when the last seen definition of `name` on `server` is the pin, `changed` when
   * it differs or could not be read ({@link UNREADABLE}), `unknown` when never pinned.
   * Throws `ERR_STORE_IO`.
   */
  status(server: string, name: string): PinStatus {
    const pin = this.read(() => this.pinRow(server, name));
    if (pin === undefined) return 'unknown';
    return pin.last_digest === pin.digest ? 'pinned' : 'changed';
  }

  /**
   * An operator accepted the change: make the last seen definition of `name` on `server`
   * the new pin (at `now`, POSIX seconds) and mark every unaccepted change of that tool
   * accepted (also when the tool had reverted to its pin: that acknowledges the episode).
   * Returns false when there is nothing to accept, or when the last sighting could not be
   * read ({@link UNREADABLE}: there is no definition to pin). With `digest`, only that
   * definition is pinned: `ERR_USAGE` when the last seen is another (it changed since the
   * operator reviewed it). Throws `ERR_USAGE`, `ERR_STORE_IO`, `ERR_STORE_CORRUPT`.
   */
  accept(server: string, name: string, now: number, digest?: string): boolean {
    checkTime(now);
    return this.write(() => {
      const pin = this.pinRow(server, name);
      if (pin === undefined || pin.last_digest === UNREADABLE) return false;
      if (digest !== undefined && pin.last_digest !== digest) {
        throw new AttestError('ERR_USAGE', `the last seen definition of tool ${name} is ${pin.last_digest}, not ${digest}: it changed since; review it again (mcp-attest tools diff)`);
      }
      let done = false;
      if (pin.last_digest !== pin.digest) {
        if (pin.last_definition === null) throw new AttestError('ERR_STORE_CORRUPT', 'the last seen tool definition is missing', { path: name });
        this.stmt('UPDATE pins SET digest = last_digest, definition = last_definition, last_definition = NULL, pinned_at = ? WHERE server = ? AND name = ?')
          .run(now, server, name);
        done = true;
      }
      const closed = this.stmt('UPDATE pin_changes SET accepted_at = ? WHERE server = ? AND name = ? AND accepted_at IS NULL').run(now, server, name);
      return done || closed.changes > 0;
    });
  }

  /** Recorded changes, oldest first, optionally only those of one server and/or tool name. Throws `ERR_STORE_IO`, `ERR_STORE_CORRUPT`. */
  changes(filter: { server?: string; name?: string } = {}): PinChangeRecord[] {
    const rows = this.read(() => this.stmt(`SELECT server, name, pinned_digest, pinned, seen_digest, seen, first_seen, accepted_at FROM pin_changes
      WHERE (@server IS NULL OR server = @server) AND (@name IS NULL OR name = @name) ORDER BY id`).all({ server: filter.server ?? null, name: filter.name ?? null }) as ChangeRow[]);
    return rows.map((r) => ({
      server: r.server, name: r.name, pinnedDigest: r.pinned_digest, seenDigest: r.seen_digest,
      pinned: parseStored(r.pinned), seen: parseStored(r.seen), firstSeen: r.first_seen, accepted: r.accepted_at !== null,
    }));
  }

  /** Every pin, sorted by server then name, optionally only those of one server and/or tool name. Throws `ERR_STORE_IO`. */
  pins(filter: { server?: string; name?: string } = {}): PinRecord[] {
    const rows = this.read(() => this.stmt(`SELECT server, name, digest, last_digest, pinned_at, last_seen FROM pins
      WHERE (@server IS NULL OR server = @server) AND (@name IS NULL OR name = @name) ORDER BY server, name`).all({ server: filter.server ?? null, name: filter.name ?? null }) as
      Array<{ server: string; name: string; digest: string; last_digest: string; pinned_at: number; last_seen: number }>);
    return rows.map((r) => ({
      server: r.server, name: r.name, status: r.last_digest === r.digest ? 'pinned' : 'changed',
      digest: r.digest, lastDigest: r.last_digest, pinnedAt: r.pinned_at, lastSeen: r.last_seen,
    }));
  }

  /**
   * Observe the server fingerprint the upstream advertised (in `initialize`) for `server`
   * (the pin key) at `now` (integer POSIX seconds), in one transaction. The first one seen
   * is pinned (`new`); one equal to the pin is `same`; a different one is `changed`: it
   * becomes the last advertised fingerprint (status `changed` until the upstream advertises
   * the pin again or an operator accepts) and is recorded in `fingerprint_changes` once per
   * distinct value while unaccepted (at most {@link MAX_OPEN_FINGERPRINT_CHANGES}). The pin
   * is never rewritten here. Values are recorded as {@link recordedFingerprint} returns them.
   * Throws `ERR_USAGE` (bad arguments), `ERR_STORE_IO`.
   */
  observeFingerprint(server: string, advertised: string, now: number): FingerprintObservation {
    checkTime(now);
    if (typeof server !== 'string' || typeof advertised !== 'string') throw new AttestError('ERR_USAGE', 'observeFingerprint takes a server string and a fingerprint string');
    const seen = recordedFingerprint(advertised);
    return this.write(() => {
      const pin = this.fingerprintRow(server);
      if (pin === undefined) {
        this.stmt('INSERT INTO server_fingerprints (server, fingerprint, pinned_at, last_fingerprint, last_seen) VALUES (?, ?, ?, ?, ?)')
          .run(server, seen, now, seen, now);
        return { sighting: 'new', pinned: seen, seen };
      }
      this.stmt('UPDATE server_fingerprints SET last_fingerprint = ?, last_seen = ? WHERE server = ?').run(seen, now, server);
      if (seen === pin.fingerprint) return { sighting: 'same', pinned: pin.fingerprint, seen };
      const open = this.stmt('SELECT seen FROM fingerprint_changes WHERE server = ? AND pinned = ? AND accepted_at IS NULL')
        .pluck().all(server, pin.fingerprint) as string[];
      if (!open.includes(seen) && open.length < MAX_OPEN_FINGERPRINT_CHANGES) {
        this.stmt('INSERT INTO fingerprint_changes (server, pinned, seen, first_seen, accepted_at) VALUES (?, ?, ?, ?, NULL)').run(server, pin.fingerprint, seen, now);
      }
      return { sighting: 'changed', pinned: pin.fingerprint, seen };
    });
  }

  private fingerprintRow(server: string): FingerprintRow | undefined {
    return this.stmt('SELECT server, fingerprint, pinned_at, last_fingerprint, last_seen FROM server_fingerprints WHERE server = ?').get(server) as FingerprintRow | undefined;
  }

  /**
   * `pinned` when the last fingerprint advertised for `server` (the pin key) is the pinned
   * one, `changed` when it differs, `unknown` when none was ever advertised. Throws `ERR_STORE_IO`.
   */
  fingerprintStatus(server: string): PinStatus {
    const pin = this.read(() => this.fingerprintRow(server));
    if (pin === undefined) return 'unknown';
    return pin.last_fingerprint === pin.fingerprint ? 'pinned' : 'changed';
  }

  /**
   * An operator accepted the advertised fingerprint of `server` (the pin key): make the last
   * advertised one the pin (at `now`, POSIX seconds) and mark every unaccepted fingerprint
   * change of that server accepted (also when the server went back to the pinned one). Returns
   * false when there is nothing to accept. Throws `ERR_USAGE`, `ERR_STORE_IO`.
   */
  acceptFingerprint(server: string, now: number): boolean {
    checkTime(now);
    return this.write(() => {
      const pin = this.fingerprintRow(server);
      if (pin === undefined) return false;
      let done = false;
      if (pin.last_fingerprint !== pin.fingerprint) {
        this.stmt('UPDATE server_fingerprints SET fingerprint = last_fingerprint, pinned_at = ? WHERE server = ?').run(now, server);
        done = true;
      }
      const closed = this.stmt('UPDATE fingerprint_changes SET accepted_at = ? WHERE server = ? AND accepted_at IS NULL').run(now, server);
      return done || closed.changes > 0;
    });
  }

  /** Pinned advertised fingerprints, sorted by server (pin key), optionally only one server's. Throws `ERR_STORE_IO`. */
  fingerprints(filter: { server?: string } = {}): FingerprintPinRecord[] {
    const rows = this.read(() => this.stmt(`SELECT server, fingerprint, pinned_at, last_fingerprint, last_seen FROM server_fingerprints
      WHERE (@server IS NULL OR server = @server) ORDER BY server`).all({ server: filter.server ?? null }) as FingerprintRow[]);
    return rows.map((r) => ({
      server: r.server, status: r.last_fingerprint === r.fingerprint ? 'pinned' : 'changed',
      fingerprint: r.fingerprint, lastFingerprint: r.last_fingerprint, pinnedAt: r.pinned_at, lastSeen: r.last_seen,
    }));
  }

  /** Recorded changes of advertised fingerprints, oldest first, optionally only one server's (pin key). Throws `ERR_STORE_IO`. */
  fingerprintChanges(filter: { server?: string } = {}): FingerprintChangeRecord[] {
    const rows = this.read(() => this.stmt(`SELECT server, pinned, seen, first_seen, accepted_at FROM fingerprint_changes
      WHERE (@server IS NULL OR server = @server) ORDER BY id`).all({ server: filter.server ?? null }) as FingerprintChangeRow[]);
    return rows.map((r) => ({ server: r.server, pinned: r.pinned, seen: r.seen, firstSeen: r.first_seen, accepted: r.accepted_at !== null }));
  }

  /** Close the database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
