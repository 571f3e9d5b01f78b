/**
 * The `mcp-attest` command tree: the program with its global settings, and every command
 * module, loaded on demand. cli/program.ts parses a command line with it;
 * scripts/build-help.mjs renders each command's help from it at build time (cli/help.ts).
 */
import { Command, Help } from 'commander';
import { commandSummaries, type CommandSummary } from './help.js';
import { VERSION } from './version.js';

/** The build id scripts/build-cli.mjs defines in the bundled program; absent from a plain compile. */
declare const MCP_ATTEST_BUILD: string | undefined;

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

/** Every top-level command name, in registration order, once each. */
export const COMMAND_NAMES: readonly string[] = [...new Set(MODULES.flatMap((m) => m.commands))];

/**
 * Whether `argv` names a top-level command this CLI does not have, with nothing that prints
 * help: its first argument is neither empty, an option, `help` nor a command name, and no
 * argument is `--help` or `-h`. Commander then answers with its error and a suggestion drawn
 * from the command names (or, for `-V`, the version), so the program is given the names
 * alone (no module loaded: ~0.4 s less).
 */
function unknownCommand(argv: readonly string[]): boolean {
  const first = argv[0];
  return first !== undefined && first !== '' && !first.startsWith('-') && first !== 'help' && !COMMAND_NAMES.includes(first) && !argv.some((a) => a === '--help' || a === '-h');
}

/** Whether `argv` asks for the program's own help and nothing else: no argument, `help`, `--help` or `-h`. */
const programHelp = (argv: readonly string[]): boolean => argv.length === 0 || (argv.length === 1 && ['help', '--help', '-h'].includes(argv[0]!));

/**
 * What the program's help lists of each top-level command of `program` (every module
 * registered), in its order: scripts/build-help.mjs writes it into help.json.
 */
export function summarize(program: Command): CommandSummary[] {
  const help = program.createHelp();
  return help.visibleCommands(program).filter((c) => c.name() !== 'help').map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: help.subcommandDescription(c) }));
}

/** Whether `summaries` name exactly the commands of {@link COMMAND_NAMES}, each once, in any order (else the modules are loaded). */
const sameNames = (summaries: readonly CommandSummary[]): boolean => summaries.length === COMMAND_NAMES.length && new Set(summaries.map((c) => c.name)).size === COMMAND_NAMES.length && summaries.every((c) => COMMAND_NAMES.includes(c.name));

/** The summaries in the help.json of this build (cli/help.ts), or null (a plain compile, or none usable). */
const builtSummaries = (): CommandSummary[] | null => (typeof MCP_ATTEST_BUILD === 'string' ? commandSummaries(new URL('.', import.meta.url), MCP_ATTEST_BUILD) : null);

/**
 * The program with the commands `argv` (the arguments after node and the script) needs: the
 * modules of the command it names (or `help` names); for an unknown command, the command
 * names alone (its error and suggestion are commander's, from the same names); for the
 * program's own help with `summaries` (by default those the build wrote, when `argv` asks
 * for it), commands that are their summaries alone: commander renders the same help from
 * them, to the terminal's width, without any module loaded (~0.4 s less); else every module.
 * Output goes to this process's stdout, errors to its stderr; a command's action first loads
 * Node's primitives (platform/node.ts), which help never does.
 */
export async function createProgram(argv: readonly string[], summaries: readonly CommandSummary[] | null = programHelp(argv) ? builtSummaries() : null): Promise<Command> {
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
  if (unknownCommand(argv)) {
    for (const name of COMMAND_NAMES) program.command(name);
    return program;
  }
  if (summaries !== null && programHelp(argv) && sameNames(summaries)) {
    const terms = new Map(summaries.map((c) => [c.name, c.term]));
    for (const c of summaries) program.command(c.name).description(c.description);
    return program.configureHelp({ ...program.configureHelp(), subcommandTerm(this: Help, c: Command) { return terms.get(c.name()) ?? Help.prototype.subcommandTerm.call(this, c); } });
  }
  // `help X` prints X's help: the modules registering X.
  const first = argv[0] === 'help' ? argv[1] : argv[0];
  const named = MODULES.filter((m) => first !== undefined && m.commands.includes(first));
  for (const register of await Promise.all((named.length > 0 ? named : MODULES).map((m) => m.load()))) register(program);
  return program;
}
