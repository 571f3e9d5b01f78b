/**
 * `mcp-attest serve [--home DIR]`: the receipt-session MCP server (src/server) on stdio. The
 * data directory is initialized on first use (ES256 issuer) and opened once; it is closed,
 * with a final checkpoint, when stdin ends, the client closes the transport, or on SIGTERM /
 * SIGINT. stdout carries only the MCP protocol: messages go to stderr.
 */
import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { SessionHome } from '../store/session-export.js';
import { createSessionServer } from '../server/session-server.js';
import { describeError, err, EXIT_IO, EXIT_OK } from './output.js';

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

/** Register `serve`. */
export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('run the receipt-session MCP server on stdio: tools to start, record, seal and verify receipt sessions, resources for sessions and their receipts')
    .option('--home <dir>', 'data directory (created on first use)')
    .action(async (o: { home?: string }) => {
      process.exit(await serve(o));
    });
}
