/**
 * A fleet's log on PostgreSQL orders a checkpoint's cosignature lines as the SQLite log does:
 * by the witness name's bytes, whatever the database's collation (an ICU locale orders
 * `W1`, `w-3`, `w1` otherwise), so both stores give the same cosigned note and cut the same
 * lines at the note's size limit (store/note-rows.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PgLog } from '../../src/store/pg-log.js';
import { startPostgres, type Postgres } from '../support/postgres.js';

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

test('postgres: cosignature lines in the byte order of witness names, in a database whose collation is ICU en-US', async () => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("CREATE DATABASE icu_names TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'");
  await admin.end();
  const url = server.url.replace(/\/mcp_attest$/, '/icu_names');
  const log = await PgLog.open(url, { entries: 'private' });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const names = ['w2.example/w', 'w1.example/w', 'w-3.example/w', 'W1.example/w'];
    const icu = (await db.query('SELECT w FROM unnest($1::text[]) AS w ORDER BY w', [names])).rows.map((r: { w: string }) => r.w);
    const bytes = [...names].sort();
    assert.notDeepEqual(icu, bytes, 'the database orders these names otherwise');
    await db.query("INSERT INTO mcp_attest.checkpoints (size, note, created) VALUES (1, E'note\\n', 0)");
    for (const w of names) await db.query("INSERT INTO mcp_attest.cosignatures (size, witness, line, received) VALUES (1, $1, $2, 0)", [w, `\u2014 ${w} AAAA\n`]);
    const lines = bytes.map((w) => `\u2014 ${w} AAAA\n`);
    assert.deepEqual(await log.witnessing().cosignatureLines(1n), lines);
    assert.equal((await log.latestCheckpoint())!.note, `note\n${lines.join('')}`);
    assert.equal((await log.checkpoints())[0]!.note, `note\n${lines.join('')}`);
  } finally {
    await db.end();
    await log.close();
  }
});
