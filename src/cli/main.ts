#!/usr/bin/env node
/**
 * The `mcp-attest` entry point. `mcp-attest --version` (or `-V`) is answered here, before
 * anything is loaded; every other command line goes to the program (cli/program.ts), which
 * loads only the modules of the command named.
 */
import { VERSION } from './version.js';

// A reader that stops early (`| head`) closes the pipe: end quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const first = process.argv[2];
if (first === '--version' || first === '-V') process.stdout.write(`${VERSION}\n`);
else await import('./program.js');
