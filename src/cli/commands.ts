/**
 * The `mcp-attest` command tree: the program with its global settings, and every command
 * module, loaded on demand. cli/program.ts parses a command line with it;
 * scripts/build-help.mjs renders each command's help from it at build time (cli/help.ts).
 */
import { Command, Help, type Argument } from 'commander';
import { COMMAND_NAME, helpModel, type HelpModel } from './help.js';
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

/**
 * The command path whose help `argv` asks for, and nothing else: [] (the program) for no
 * argument, `help`, `--help` or `-h`; the names before a final `--help` or `-h`; null for any
 * other command line.
 */
function helpPath(argv: readonly string[]): string[] | null {
  if (argv.length === 0 || (argv.length === 1 && argv[0] === 'help')) return [];
  if (argv[argv.length - 1] !== '--help' && argv[argv.length - 1] !== '-h') return null;
  const names = argv.slice(0, -1);
  return names.every((n) => COMMAND_NAME.test(n)) ? names : null;
}

/** An argument as commander shows it in a usage line: `<name>` (required) or `[name]`, with `...` after a variadic one's name. */
function argumentTerm(a: Argument): string {
  const name = a.name() + (a.variadic ? '...' : '');
  return a.required ? `<${name}>` : `[${name}]`;
}

/**
 * The {@link HelpModel} of every command of `program` (every module registered), by command
 * path (names joined by spaces, '' for the program): scripts/build-help.mjs writes them into
 * help.json.
 */
export function helpModels(program: Command): Record<string, HelpModel> {
  const models: Record<string, HelpModel> = {};
  const walk = (cmd: Command, path: readonly string[]): void => {
    const help = cmd.createHelp();
    const shown = help.visibleArguments(cmd).length > 0;
    const visible = help.visibleCommands(cmd);
    models[path.join(' ')] = {
      description: help.commandDescription(cmd),
      arguments: cmd.registeredArguments.map((a) => ({ term: argumentTerm(a), description: shown ? help.argumentDescription(a) : '' })),
      options: cmd.options.filter((o) => !o.hidden).map((o) => ({ flags: o.flags, description: help.optionDescription(o) })),
      commands: visible.filter((c) => cmd.commands.includes(c)).map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: help.subcommandDescription(c) })),
      helpCommand: visible.some((c) => !cmd.commands.includes(c)),
    };
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return models;
}

/**
 * `program` given the command `path` (a chain of bare commands) and, for its last command,
 * a stub of `model`: its description, arguments, options and subcommands (their
 * names, terms and descriptions alone), so commander renders the same help from it. Throws
 * what commander throws for a model it cannot register (a repeated name, malformed flags).
 */
function modelProgram(program: Command, path: readonly string[], model: HelpModel): Command {
  let cmd = program;
  for (const name of path) cmd = cmd.command(name);
  cmd.description(model.description);
  for (const a of model.arguments) cmd.argument(a.term, a.description);
  // The program's version option is registered already.
  for (const o of model.options) if (!cmd.options.some((x) => x.flags === o.flags)) cmd.option(o.flags, o.description);
  const terms = new Map(model.commands.map((c) => [cmd.command(c.name).description(c.description), c.term]));
  cmd.helpCommand(model.helpCommand);
  cmd.configureHelp({ ...cmd.configureHelp(), subcommandTerm(this: Help, c: Command) { return terms.get(c) ?? Help.prototype.subcommandTerm.call(this, c); } });
  return program;
}

/** The model in the help.json of this build (cli/help.ts) for the help `argv` asks for, or null (another command line, a plain compile, none usable). */
function builtModel(argv: readonly string[]): HelpModel | null {
  const path = helpPath(argv);
  return path === null || typeof MCP_ATTEST_BUILD !== 'string' ? null : helpModel(new URL('.', import.meta.url), MCP_ATTEST_BUILD, path);
}

/** The program alone: its name, description, version and settings, no command. */
function baseProgram(): Command {
  return new Command('mcp-attest')
    .description('Provable MCP tool calls: SEP-2787 attestations, execution receipts, a verifiable log')
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    // Commander's own usage errors ("error: unknown option …") coded as every other error.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`mcp-attest: ERR_USAGE: ${s.replace(/^error: /, '')}`) })
    // Before any command's action (of this program or a subcommand): node:crypto under the runtime-neutral layers.
    .hook('preAction', async () => {
      await import('../platform/node.js');
    });
}

/**
 * The program with the commands `argv` (the arguments after node and the script) needs:
 * - for an unknown command, the command names alone (its error and suggestion are
 *   commander's, from the same names);
 * - for the help of the program or of a command (`argv` is `help`, or command names and a
 *   final `--help` or `-h`) with its `model` (by default the one the build wrote), that
 *   command's stub alone (modelProgram): commander renders the same help from it, to the
 *   terminal's width, with no command module loaded (0.05-0.3 s less);
 * - else the modules of the command it names (or `help` names), or every module.
 * Output goes to this process's stdout, errors to its stderr; a command's action first loads
 * Node's primitives (platform/node.ts), which help never does.
 */
export async function createProgram(argv: readonly string[], model: HelpModel | null = builtModel(argv)): Promise<Command> {
  if (unknownCommand(argv)) {
    const program = baseProgram();
    for (const name of COMMAND_NAMES) program.command(name);
    return program;
  }
  const path = helpPath(argv);
  if (path !== null && model !== null) {
    try {
      return modelProgram(baseProgram(), path, model);
    } catch {
      // A model commander cannot register (a hand-edited help.json): the modules, below.
    }
  }
  const program = baseProgram();
  // `help X` prints X's help: the modules registering X.
  const first = argv[0] === 'help' ? argv[1] : argv[0];
  const named = MODULES.filter((m) => first !== undefined && m.commands.includes(first));
  for (const register of await Promise.all((named.length > 0 ? named : MODULES).map((m) => m.load()))) register(program);
  return program;
}
