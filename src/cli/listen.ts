/**
 * `--listen` addresses of the HTTP servers (`log serve`, `witness serve`).
 */
import { CliExit, EXIT_USAGE } from './output.js';

/**
 * Parse `HOST:PORT` or `[IPv6]:PORT` (port 0..65535, 0 = any free port). Throws
 * {@link CliExit} (exit 2) otherwise.
 */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(0|[1-9][0-9]{0,4})$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new CliExit(EXIT_USAGE, `--listen takes HOST:PORT (or [IPv6]:PORT), port 0 to 65535; got ${JSON.stringify(value)}`);
  return { host: (m[1] ?? m[2])!, port };
}
