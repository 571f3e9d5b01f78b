#!/usr/bin/env node
/**
 * The `mcp-attest` entry point. `mcp-attest --version` (or `-V`) is answered here, before
 * anything is loaded; every other command line goes to the program (cli/program.ts), which
 * loads only the modules of the command named.
 */
import { VERSION } from './version.js';

const first = process.argv[2];
if (first === '--version' || first === '-V') {
  // A reader that has gone (`| true`): end quietly, as the program does.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  process.stdout.write(`${VERSION}\n`);
} else {
  await import('./program.js');
}
