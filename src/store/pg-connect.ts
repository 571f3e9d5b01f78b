/**
 * How every process connects to a fleet's PostgreSQL log (store/pg-log.ts, the integrator's
 * own connection in store/pg-integrator.ts): the settings each connection runs under, and the
 * coded error a failure of the database becomes.
 * @see docs/fleet.md "Connections and trust"
 */
import { AttestError } from '../errors.js';

/** `ERR_STORE_IO` for a failure of the database (not of a record); a lock waited for past the timeout (SQLSTATE 55P03) says which. */
export function storeIo(message: string, cause: unknown): AttestError {
  if (cause instanceof AttestError) return cause;
  const held = (cause as { code?: string }).code === '55P03' ? ' (another session held the log\'s counter or state row past 30 s: docs/fleet.md "Known limit")' : '';
  return new AttestError('ERR_STORE_IO', `${message}: ${(cause as Error).message}${held}`, { cause });
}

/**
 * The configuration of every connection to the log at `url`: commits are durable whatever
 * the role or database default says (`synchronous_commit = on`), a client that stalls inside
 * a transaction (a frozen process holding the counter row) is cut off after 30 s, a lock is
 * waited for at most 30 s, names resolve only in `pg_catalog` (every table of ours is
 * qualified: an operator or function another database user created in `public` can never
 * run in our sessions), and dead peers are found by TCP keepalive. Use `sslmode=verify-full`
 * in the URL across a network: private openings travel in these connections. Throws
 * `ERR_USAGE` for a URL with `options`, which the client would apply instead of these.
 */
export function connectionConfig(url: string): { connectionString: string; keepAlive: true; options: string } {
  let given: boolean;
  try {
    given = new URL(url).searchParams.has('options');
  } catch {
    given = false; // not a URL: the client reports it
  }
  if (given) throw new AttestError('ERR_USAGE', 'a PostgreSQL URL with options= is refused: it would replace the durability, timeout and search_path settings of every connection');
  return {
    connectionString: url,
    keepAlive: true,
    options: '-c synchronous_commit=on -c idle_in_transaction_session_timeout=30000 -c lock_timeout=30000 -c search_path=pg_catalog,pg_temp',
  };
}
