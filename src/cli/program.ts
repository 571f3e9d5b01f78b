/**
 * The `mcp-attest` command line (its entry point, cli/main.ts, answers `--version` alone).
 * Exit codes: 0 success / verified, 1 verification failed,
 * 2 usage or input error, 3 I/O or environment error (DESIGN.md).
 *
 * Start-up loads only the modules of the command named (`mcp-attest verify ...` never loads
 * the MCP SDK or the gateway), and Node's primitives (platform/node.ts) only when a command's
 * action runs, never for help; top-level help or an unknown command loads every command
 * module, so the list and the suggestions are complete.
 */
import { Command, CommanderError } from 'commander';
import { describeError, err, exitCodeOf, EXIT_USAGE } from './output.js';
import { VERSION } from './version.js';

/** A module's registration function, loaded on demand. */
type Loader = () => Promise<(program: Command) => void>;

/**
 * Every command module, in registration order (a later module may add subcommands to an
 * earlier one's command: `receipt list` to `receipt`, `trust party` to `trust`), with the
 * top-level commands it registers.
 */
const MODULES: ReadonlyArray<{ commands: readonly string[]; load: Loader }> = [
  { commands: ['init', 'trust'], load: async () => (await import('./cmd-keys.js')).registerKeyCommands },
  { commands: ['attestation', 'receipt'], load: async () => (await import('./cmd-envelopes.js')).registerEnvelopeCommands },
  { commands: ['verify'], load: async () => (await import('./cmd-verify.js')).registerVerifyCommand },
  { commands: ['log'], load: async () => (await import('./cmd-log.js')).registerLogCommands },
  { commands: ['bundle'], load: async () => (await import('./cmd-bundle.js')).registerBundleCommand },
  { commands: ['proxy'], load: async () => (await import('./cmd-proxy.js')).registerProxyCommand },
  { commands: ['gateway'], load: async () => (await import('./cmd-gateway.js')).registerGatewayCommand },
  { commands: ['demo'], load: async () => (await import('./cmd-demo.js')).registerDemoCommand },
  { commands: ['tools'], load: async () => (await import('./cmd-tools.js')).registerToolsCommands },
  { commands: ['witness'], load: async () => (await import('./cmd-witness.js')).registerWitnessCommands },
  { commands: ['receipt'], load: async () => (await import('./cmd-receipt.js')).registerReceiptCommands },
  { commands: ['approve', 'countersign', 'key', 'trust'], load: async () => (await import('./cmd-party.js')).registerPartyCommands },
  { commands: ['agent'], load: async () => (await import('./cmd-agent.js')).registerAgentCommands },
  { commands: ['serve'], load: async () => (await import('./cmd-serve.js')).registerServeCommand },
];

/** The modules to load for `argv` (without node and the script): those of the named command, else all. */
function modulesFor(argv: readonly string[]): Loader[] {
  const first = argv[0];
  const named = MODULES.filter((m) => first !== undefined && m.commands.includes(first));
  return (named.length > 0 ? named : MODULES).map((m) => m.load);
}

const program = new Command('mcp-attest')
  .description('Provable MCP tool calls: SEP-2787 attestations, execution receipts, a verifiable log')
  .version(VERSION)
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  // Before any command's action (of this program or a subcommand): node:crypto under the runtime-neutral layers.
  .hook('preAction', async () => {
    await import('../platform/node.js');
  });

try {
  for (const register of await Promise.all(modulesFor(process.argv.slice(2)).map((load) => load()))) register(program);
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    err(`mcp-attest: ${describeError(e)}`);
    process.exitCode = exitCodeOf(e);
  }
}
