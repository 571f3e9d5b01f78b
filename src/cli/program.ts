/**
 * The `mcp-attest` command line (its entry point, cli/main.ts, answers `--version` and, when
 * stdout is not a terminal, a command's `--help` alone). Exit codes: 0 success / verified,
 * 1 verification failed, 2 usage or input error, 3 I/O or environment error (DESIGN.md).
 *
 * Start-up loads only the modules of the command named (`mcp-attest verify ...` never loads
 * the MCP SDK or the gateway), and Node's primitives (platform/node.ts) only when a command's
 * action runs, never for help (cli/commands.ts).
 */
import { CommanderError } from 'commander';
import { describeError, err, exitCodeOf, EXIT_USAGE } from './output.js';
import { createProgram } from './commands.js';

try {
  await (await createProgram(process.argv.slice(2))).parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    err(`mcp-attest: ${describeError(e)}`);
    process.exitCode = exitCodeOf(e);
  }
}
