#!/usr/bin/env node
/**
 * The `mcp-attest` entry point. `mcp-attest --version` (or `-V`), and a command's `--help`
 * when stdout is not a terminal (cli/help.ts), are answered here, before anything else is
 * loaded; every other command line goes to the program (cli/program.ts), which loads only the
 * modules of the command named. `npm run build` bundles this module alone as CommonJS,
 * `dist/cli/main.cjs` (the bin): Node starts a CommonJS script ~10 ms sooner than an ES
 * module, whose loader the two answers here never need (scripts/build-cli.mjs).
 */
import { VERSION } from './version.js';
import { prerenderedHelp } from './help.js';

/** The build id scripts/build-cli.mjs defines in the bundled entry point; absent from a plain compile. */
declare const MCP_ATTEST_BUILD: string | undefined;

// A reader that stops early (`| head`) closes the pipe: end quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const args = process.argv.slice(2);
const build = typeof MCP_ATTEST_BUILD === 'string' ? MCP_ATTEST_BUILD : null;
// What is answered here: the version, or a command's help rendered at build time.
const answer = args[0] === '--version' || args[0] === '-V' ? `${VERSION}\n` : prerenderedHelp(args, process.stdout.isTTY === true, new URL('.', import.meta.url), build);
if (answer !== null) process.stdout.write(answer);
else {
  // The program's failure is an unhandled rejection (printed, exit 1). A program that never
  // settles, once nothing is left to run, ends as Node ends an ES module whose top-level
  // await never settles (exit 13), never with a silent 0 a script would take for success.
  let settled = false;
  import('./program.js').then(() => { settled = true; }, (e: unknown) => { settled = true; throw e; });
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('mcp-attest: the command ended without finishing (a promise never settled)\n');
    process.exit(13);
  });
}
