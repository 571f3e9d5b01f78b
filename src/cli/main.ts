#!/usr/bin/env node
/**
 * The `mcp-attest` command line. Exit codes: 0 success / verified, 1 verification failed,
 * 2 usage or input error, 3 I/O or environment error (DESIGN.md).
 */
import { Command, CommanderError } from 'commander';
import { registerKeyCommands } from './cmd-keys.js';
import { registerEnvelopeCommands } from './cmd-envelopes.js';
import { registerLogCommands } from './cmd-log.js';
import { registerVerifyCommand } from './cmd-verify.js';
import { registerBundleCommand } from './cmd-bundle.js';
import { registerProxyCommand } from './cmd-proxy.js';
import { registerGatewayCommand } from './cmd-gateway.js';
import { registerDemoCommand } from './cmd-demo.js';
import { registerToolsCommands } from './cmd-tools.js';
import { registerWitnessCommands } from './cmd-witness.js';
import { registerReceiptCommands } from './cmd-receipt.js';
import { registerPartyCommands } from './cmd-party.js';
import { registerServeCommand } from './cmd-serve.js';
import { describeError, err, exitCodeOf, EXIT_USAGE } from './output.js';

// A reader that stops early (`| head`) closes the pipe: end quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const program = new Command('mcp-attest')
  .description('Provable MCP tool calls: SEP-2787 attestations, execution receipts, a verifiable log')
  .version('0.1.0')
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerKeyCommands(program);
registerEnvelopeCommands(program);
registerVerifyCommand(program);
registerLogCommands(program);
registerBundleCommand(program);
registerProxyCommand(program);
registerGatewayCommand(program);
registerDemoCommand(program);
registerToolsCommands(program);
registerWitnessCommands(program);
registerReceiptCommands(program);
registerPartyCommands(program);
registerServeCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    err(`mcp-attest: ${describeError(e)}`);
    process.exitCode = exitCodeOf(e);
  }
}
