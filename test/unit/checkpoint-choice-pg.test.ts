/**
 * The bundle's checkpoint of a fleet's PostgreSQL log (src/store/pg-bundle.ts `fleetBestSize`,
 * `fleetFirstCosignedSize`) on a real server: on randomized small logs, the checkpoint the old
 * statement chose (a count of cosignatures per checkpoint), as the schema is (every cosignature
 * row counted once, grouped) and with an index on `cosignatures(witness, size)` (the search a
 * witness at a time, src/store/checkpoint-choice.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PgLog } from '../../src/store/pg-log.js';
import { fleetBestSize, fleetFirstCosignedSize } from '../../src/store/pg-bundle.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { PATTERNS, random, randomLog } from './checkpoint-helper.js';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** pg-bundle.ts's statement before the search: each checkpoint's cosignatures counted, the `where` and `order` of the bundle's choice or of the first cosigned. */
const OLD = (where: string, order: string): string => `SELECT size FROM (SELECT size, note, (SELECT count(*) FROM mcp_attest.cosignatures s WHERE s.size = c.size) AS n
  FROM mcp_attest.checkpoints c) AS c WHERE ${where} ORDER BY ${order} LIMIT 1`;

test('a fleet\'s log chooses the checkpoint the old statement chose, without and with an index on cosignatures(witness, size)', async () => {
  const log = await PgLog.open(await server.database('choice'));
  try {
    const old = async (sql: string, ...args: bigint[]): Promise<bigint | null> => {
      const v = (await log.pool.query(sql, args.map(String))).rows[0]?.size;
      return v === undefined ? null : BigInt(v);
    };
    const rnd = random(5);
    for (let round = 0; round < 24; round++) {
      const pattern = PATTERNS[round % PATTERNS.length]!;
      const l = randomLog(rnd, 1 + Math.floor(rnd() * 80), pattern);
      await log.pool.query('TRUNCATE mcp_attest.checkpoints, mcp_attest.cosignatures');
      if (l.checkpoints.length > 0) await log.pool.query("INSERT INTO mcp_attest.checkpoints SELECT s, 'note', 0 FROM unnest($1::bigint[]) s", [l.checkpoints.map(String)]);
      for (const [size, ws] of l.cosigned) for (const w of ws) await log.pool.query("INSERT INTO mcp_attest.cosignatures VALUES ($1, $2, 'line', 0)", [size.toString(), w]);
      const indexed = round % 2 === 1;
      await log.pool.query(indexed ? 'CREATE INDEX IF NOT EXISTS by_witness ON mcp_attest.cosignatures (witness, size)' : 'DROP INDEX IF EXISTS mcp_attest.by_witness');
      for (let k = 0; k < 8; k++) {
        const last = BigInt(Math.floor(rnd() * 90));
        const held = rnd() < 0.5 ? 0n : BigInt(Math.floor(rnd() * 90));
        const label = `${pattern} log ${round}${indexed ? ', indexed' : ''}: last ${last}, held ${held}`;
        assert.equal(await fleetBestSize(log, held > last ? held : last + 1n), await old(OLD('c.size > $1 AND c.size >= $2', 'c.n DESC, c.size DESC'), last, held), label);
        const [entry, below] = [BigInt(Math.floor(rnd() * 90)), BigInt(Math.floor(rnd() * 100))];
        assert.equal(await fleetFirstCosignedSize(log, entry, below), await old(OLD('c.size > $1 AND c.size < $2 AND c.n > 0', 'c.size'), entry, below), `${label}: first cosigned above ${entry} below ${below}`);
      }
    }
  } finally {
    await log.close();
  }
});
