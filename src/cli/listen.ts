/**
 * `--listen` addresses of the HTTP servers (`log serve`, `witness serve`).
 */
import { CliExit, EXIT_USAGE } from './output.js';

/**
 * Parse `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (loopback, 127.0.0.1). Port 0..65535 (0: the
 * system picks one). Throws a usage error (exit 2).
 */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliExit(EXIT_USAGE, `--listen ${addr}: expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
