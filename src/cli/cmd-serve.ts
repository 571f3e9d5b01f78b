/**
 * `mcp-attest serve [--home DIR]`: the receipt-session MCP server (src/server) on stdio;
 * with `--http --config FILE [--listen ADDR]`, on Streamable HTTP behind the gateway's checks. The
 * data directory is initialized on first use (ES256 issuer) and opened once; it is closed,
 * with a final checkpoint, when stdin ends, the client closes the transport, or on SIGTERM /
 * SIGINT. stdout carries only the MCP protocol: messages go to stderr. The HTTP side's modules
 * (the gateway's configuration and checks) load only with `--http`.
 */
import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { SessionHome } from '../store/session-export.js';
import { createSessionServer } from '../server/session-server.js';
import { CliExit, describeError, err, EXIT_IO, EXIT_OK, EXIT_USAGE } from './output.js';
import { isAttestError } from '../errors.js';

/** Run the server until its input ends or a signal arrives; resolves with the exit code. */
async function serve(o: { home?: string }): Promise<number> {
  const home = resolveHome(o.home);
  const { identity, created } = await ensureHome(home);
  if (created) err(`mcp-attest: initialized ${home} (issuer ${identity.iss}, log ${identity.log.origin})`);
  const sessions = await SessionHome.open(home);
  const { server, flush } = createSessionServer(sessions, { onCheckpointError: (e) => err(`mcp-attest: checkpoint failed: ${describeError(e)}`) });
  let finished: ((code: number) => void) | null = null;
  const done = new Promise<number>((resolve) => (finished = resolve));
  let closing = false;
  const shutdown = (why: string, code = EXIT_OK): void => {
    if (closing) return;
    closing = true;
    flush();
    void (async () => {
      let exit = code;
      try {
        await server.close();
      } catch { /* the transport may already be gone */ }
      try {
        await sessions.close();
      } catch (e) {
        err(`mcp-attest: closing ${home} after ${why}: ${describeError(e)}`);
        exit = EXIT_IO;
      }
      finished!(exit);
    })();
  };
  const transport = new StdioServerTransport();
  transport.onclose = () => shutdown('transport closed');
  process.stdin.on('end', () => shutdown('end of input'));
  process.stdin.on('close', () => shutdown('input closed'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.stdout.on('error', () => shutdown('stdout closed'));
  await server.connect(transport);
  return done;
}

/** `serve --http`: the session server behind the gateway's checks (docs/session.md "Over HTTP"); runs until SIGTERM/SIGINT. */
async function serveHttp(o: { home?: string; config?: string; listen?: string }): Promise<number> {
  if (o.config === undefined) throw new CliExit(EXIT_USAGE, 'serve --http needs --config FILE (callers or oauth, limits; docs/session.md)');
  // The gateway's configuration and HTTP plumbing: loaded for --http only (stdio serve answers `initialize` ~80 ms sooner).
  const [{ ServeHttpConfigSchema, hostsProblem, loadGatewayConfig }, { SessionHttpServer }] = await Promise.all([import('../gateway/config.js'), import('../server/http.js')]);
  let loaded;
  try {
    loaded = loadGatewayConfig(o.config, process.env, ServeHttpConfigSchema);
  } catch (e) {
    if (isAttestError(e, 'ERR_CONFIG_INVALID')) throw new CliExit(EXIT_USAGE, `bad configuration ${o.config}:\n  ${e.message.split('; ').join('\n  ')}`, 'ERR_CONFIG_INVALID');
    throw e;
  }
  const listen = o.listen ?? loaded.config.listen;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(listen)) throw new CliExit(EXIT_USAGE, '--listen takes HOST:PORT');
  const unhosted = hostsProblem(listen, loaded.config.allowedHosts);
  if (unhosted !== null) throw new CliExit(EXIT_USAGE, `--listen ${listen}: ${unhosted}, in ${o.config}`, 'ERR_CONFIG_INVALID');
  const home = resolveHome(o.home ?? loaded.config.home);
  const { identity, created } = await ensureHome(home);
  if (created) err(`mcp-attest: initialized ${home} (issuer ${identity.iss}, log ${identity.log.origin})`);
  const sessions = await SessionHome.open(home);
  const http = new SessionHttpServer(loaded, sessions, (e) => err(`mcp-attest: checkpoint failed: ${describeError(e)}`));
  let addr;
  try {
    addr = await http.start(listen);
  } catch (e) {
    await sessions.close();
    throw new CliExit(EXIT_IO, `cannot listen on ${listen}: ${(e as Error).message}`);
  }
  err(`mcp-attest: session server listening on http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/mcp`);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      void (async () => {
        await http.close();
        try {
          await sessions.close();
          resolve(EXIT_OK);
        } catch (e) {
          err(`mcp-attest: closing ${home}: ${describeError(e)}`);
          resolve(EXIT_IO);
        }
      })();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** Register `serve`. */
export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('run the receipt-session MCP server on stdio: tools to start, record, seal and verify receipt sessions, resources for sessions and their receipts')
    .option('--home <dir>', 'data directory (created on first use)')
    .option('--http', 'serve over Streamable HTTP instead of stdio, behind the gateway\'s checks (needs --config)')
    .option('--listen <addr>', 'with --http: HOST:PORT to bind (default: the configuration\'s listen, 127.0.0.1:3030)')
    .option('--config <file>', 'with --http: callers or oauth, origins, hosts, limits, in the gateway\'s format without upstreams (docs/session.md)')
    .action(async (o: { home?: string; http?: boolean; listen?: string; config?: string }) => {
      if (o.http !== true && (o.listen !== undefined || o.config !== undefined)) throw new CliExit(EXIT_USAGE, '--listen and --config are for --http');
      process.exit(o.http === true ? await serveHttp(o) : await serve(o));
    });
}
