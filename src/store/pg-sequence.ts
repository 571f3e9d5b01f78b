/**
 * Sequencing a batch in one statement: the PostgreSQL function `mcp_attest.sequence` (schema
 * v3; from v4 with the owner's rights, its rows written through `mcp_attest.append_rows`)
 * takes the counter row, builds each record from its template with the index it gets,
 * makes a private entry's commitment (`0x01 || SHA-256(salt || record)`, log/opening.ts) with
 * the server's `sha256`, inserts the entries and advances the counter, and the statement's
 * own transaction commits: the counter row is held for the server's work and the commit
 * only, never across a round trip to a client that may be waiting for a CPU. Every
 * process's batches still serialize on that row, so indices stay contiguous and unique.
 *
 * A record is templated when the function that builds it for an index puts that index's
 * decimal digits at one place and nowhere else (every record of ours: `"index":"<n>"`). Two
 * probes check it, one of 19 digits (where the digits are) and one of 1 (nothing else depends
 * on the index's value or length); a record that fails them (or could pass the 65,535-byte
 * limit) is sequenced by the client-side path (store/pg-log.ts).
 * @see docs/fleet.md "Appends and the write-ahead rule"; docs/log-format.md "Format v2"
 */
import type pg from 'pg';
import { utf8 } from '../bytes/index.js';
import { MAX_ENTRY_BYTES } from './entry-row.js';
import { SALT_BYTES } from '../log/opening.js';

/**
 * The SQL of `mcp_attest.append_rows(first, datas, salts, records)`: the one way a role that
 * is not the schema's owner writes entries (it runs with the owner's rights; docs/fleet.md
 * "Roles"). Under the counter row's lock it takes rows only at the next index (`first`, else
 * SQLSTATE 40001), each an entry this log takes (else 23514): an entry in clear of at most
 * 65,535 bytes (none past entry 0 in a private log), or a 16-byte salt and a record of at
 * most 65,535 bytes, whose commitment `0x01 || SHA-256(salt || record)` it computes itself
 * (log/opening.ts). So no writer can leave a hole, take an index twice, or log a commitment
 * its opening does not make: what would stop the integrator or fail an audit. Entry 0, the
 * parameters entry that decides whether the log is private, is taken only from a member of
 * the owner's role (`session_user`; inside the function `current_user` is the owner), else
 * SQLSTATE 42501 (v5): a writer first to an empty log cannot make it public.
 */
export const APPEND_FUNCTION = `CREATE OR REPLACE FUNCTION mcp_attest.append_rows(first bigint, datas bytea[], salts bytea[], records bytea[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE expected bigint; is_private boolean;
BEGIN
  SELECT next_idx INTO expected FROM mcp_attest.counter WHERE id = 1 FOR UPDATE;
  IF first IS DISTINCT FROM expected THEN
    RAISE EXCEPTION 'mcp_attest.append_rows: % is not the next index (%)', first, expected USING ERRCODE = '40001';
  END IF;
  IF first = 0 AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
    RAISE EXCEPTION 'mcp_attest.append_rows: entry 0 (the log''s parameters) is written by the log''s owner' USING ERRCODE = '42501';
  END IF;
  IF cardinality(datas) IS DISTINCT FROM cardinality(salts) OR cardinality(datas) IS DISTINCT FROM cardinality(records) OR cardinality(datas) = 0 THEN
    RAISE EXCEPTION 'mcp_attest.append_rows: no rows, or columns of unequal lengths' USING ERRCODE = '23514';
  END IF;
  SELECT convert_from(e.data, 'UTF8')::jsonb ->> 'entries' = 'private' INTO is_private FROM mcp_attest.entries e WHERE e.idx = 0;
  IF EXISTS (SELECT 1 FROM unnest(datas, salts, records) WITH ORDINALITY AS u(data, salt, rec, ord)
      WHERE CASE WHEN u.salt IS NULL THEN u.data IS NULL OR length(u.data) > ${MAX_ENTRY_BYTES} OR (coalesce(is_private, false) AND first + u.ord > 1)
                 ELSE length(u.salt) <> ${SALT_BYTES} OR u.rec IS NULL OR length(u.rec) > ${MAX_ENTRY_BYTES} END) THEN
    RAISE EXCEPTION 'mcp_attest.append_rows: a row is not an entry this log takes' USING ERRCODE = '23514';
  END IF;
  INSERT INTO mcp_attest.entries (idx, data, salt, record)
    SELECT first + u.ord - 1, CASE WHEN u.salt IS NULL THEN u.data ELSE '\\x01'::bytea || sha256(u.salt || u.rec) END, u.salt, CASE WHEN u.salt IS NULL THEN NULL ELSE u.rec END
    FROM unnest(datas, salts, records) WITH ORDINALITY AS u(data, salt, rec, ord);
  UPDATE mcp_attest.counter SET next_idx = first + cardinality(datas) WHERE id = 1;
END $$`;

/**
 * The SQL of `mcp_attest.lock_counter()`: takes the counter row (`mcp_attest.counter`, v5:
 * apart from `log_state`, so a writer holding it stalls appends, never the integrator's
 * election, lease or swaps) for the caller's transaction and returns the next index (with
 * the owner's rights: a writer may not update the row itself).
 */
export const LOCK_FUNCTION = `CREATE OR REPLACE FUNCTION mcp_attest.lock_counter() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT next_idx FROM mcp_attest.counter WHERE id = 1 FOR UPDATE $$`;

/** The SQL of `mcp_attest.sequence(prefixes, suffixes, salts)`: returns the first index given. Its rows go through {@link APPEND_FUNCTION}. */
export const SEQUENCE_FUNCTION = `CREATE OR REPLACE FUNCTION mcp_attest.sequence(prefixes bytea[], suffixes bytea[], salts bytea[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE first bigint; recs bytea[];
BEGIN
  SELECT next_idx INTO first FROM mcp_attest.counter WHERE id = 1 FOR UPDATE;
  SELECT array_agg(u.prefix || convert_to((first + u.ord - 1)::text, 'UTF8') || u.suffix ORDER BY u.ord) INTO recs
    FROM unnest(prefixes, suffixes) WITH ORDINALITY AS u(prefix, suffix, ord);
  PERFORM mcp_attest.append_rows(first, recs, salts, recs);
  RETURN first;
END $$`;

/** A record as bytes around its index's decimal digits. */
export interface Template { prefix: Uint8Array; suffix: Uint8Array }

const PROBES = ['9999999999999999999', '7'] as const;

/** Where `needle` occurs in `hay`: its only offset, or -1 (absent or more than once). */
function onlyAt(hay: Uint8Array, needle: Uint8Array): number {
  let found = -1;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    if (found !== -1) return -1;
    found = i;
  }
  return found;
}

/** The template of the records `build` makes, or null when it is not one (see the module comment). */
export function templateOf(build: (index: bigint) => Uint8Array): Template | null {
  let one: Uint8Array;
  let two: Uint8Array;
  try {
    [one, two] = [build(BigInt(PROBES[0])), build(BigInt(PROBES[1]))];
  } catch {
    return null; // the client-side path reports the record's own error
  }
  const digits = utf8(PROBES[0]);
  const at = onlyAt(one, digits);
  if (at === -1 || one.length > MAX_ENTRY_BYTES) return null;
  const prefix = one.subarray(0, at);
  const suffix = one.subarray(at + digits.length);
  const other = utf8(PROBES[1]);
  if (two.length !== prefix.length + other.length + suffix.length) return null;
  for (let i = 0; i < two.length; i++) {
    const want = i < at ? prefix[i] : i < at + other.length ? other[i - at] : suffix[i - at - other.length];
    if (two[i] !== want) return null;
  }
  return { prefix, suffix };
}

const buf = (v: Uint8Array | null): Buffer | null => (v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/**
 * Sequence `templates` in one statement on `pool` (its own transaction, durable when it
 * returns); `salts[i]` is the private entry's salt, null for an entry in clear. Returns the
 * first index given. Database errors propagate.
 */
export async function sequenceTemplates(pool: pg.Pool, templates: Template[], salts: Array<Uint8Array | null>): Promise<bigint> {
  const r = await pool.query('SELECT mcp_attest.sequence($1::bytea[], $2::bytea[], $3::bytea[]) AS first',
    [templates.map((t) => buf(t.prefix)), templates.map((t) => buf(t.suffix)), salts.map(buf)]);
  return BigInt(r.rows[0].first);
}
