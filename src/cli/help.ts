/**
 * A command's `--help` answered without loading commander or any command module: the texts
 * `npm run build` renders with commander itself (scripts/build-help.mjs writes
 * `dist/cli/help.json`: `{ build, commander, texts, commands }`, texts by command path), as
 * commander prints them when stdout is not a terminal (80 columns, no colour). On a terminal
 * commander renders the help to its width, so it is not answered here. The program's own help
 * (on a terminal, and for `mcp-attest` and `mcp-attest help` everywhere) is rendered by
 * commander from `commands`, what it lists of each top-level command, without loading the
 * command modules (cli/commands.ts). The texts are used only by the
 * entry point built with them (the same build id, which scripts/build-cli.mjs puts into
 * `main.cjs`: no file dates, which copies and packages do not keep) and only beside the
 * commander release that rendered them. Tests keep every command's text equal to
 * commander's (test/e2e/cli-start.test.ts, test/unit/cli-help.test.ts).
 */
import { readFileSync } from 'node:fs';

/** The help options commander gives every command. */
const HELP_FLAGS: ReadonlySet<string> = new Set(['--help', '-h']);
/** A command name as this CLI spells them. */
const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * A top-level command as the program's help lists it: its `name`, its `term` (commander's
 * `Help.subcommandTerm`: the name, `|` and an alias if it has one, `[options]`, the
 * arguments) and its `description` (`Help.subcommandDescription`).
 */
export interface CommandSummary { name: string; term: string; description: string }

/** What scripts/build-help.mjs writes. */
interface HelpFile { build: string; commander: string; texts: Record<string, unknown>; commands: unknown }

/**
 * The version of the `commander` package a module in `dir` imports: the first
 * `node_modules/commander/package.json` from `dir` up, as Node resolves a bare specifier from
 * an ES module; null when there is none or it cannot be read.
 */
export function commanderVersion(dir: URL): string | null {
  for (let d = dir; ; ) {
    try {
      const v: unknown = (JSON.parse(readFileSync(new URL('node_modules/commander/package.json', d), 'utf8')) as { version?: unknown }).version;
      return typeof v === 'string' ? v : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') return null;
    }
    const up = new URL('..', d);
    if (up.href === d.href) return null;
    d = up;
  }
}

/**
 * The help.json in `dir` (the directory of the entry point) when it is of this build (`build`,
 * the entry point's build id; null for a compile without `npm run build`, which has none)
 * and was rendered by the commander release found from `dir`; null otherwise, or when it
 * cannot be read or is not an object with `texts`. Never throws.
 */
function builtHelp(dir: URL, build: string | null): Partial<HelpFile> | null {
  if (build === null) return null;
  try {
    const file = JSON.parse(readFileSync(new URL('help.json', dir), 'utf8')) as Partial<HelpFile> | null;
    if (file === null || typeof file !== 'object' || file.build !== build || typeof file.texts !== 'object' || file.texts === null) return null;
    return file.commander === commanderVersion(dir) ? file : null;
  } catch {
    return null;
  }
}

/**
 * The help text to print for `args` (the arguments after node and the script), or null when
 * commander must answer: `args` is not command names followed by `--help` or `-h`; stdout is a
 * terminal (`stdoutIsTty`); `build` (the entry point's build id) is null (a compile without
 * `npm run build`); `dir` (the directory of the entry point) holds no `help.json`, one that
 * cannot be read, one of another build, or one rendered by another commander release than
 * the one found from `dir`; or it has no text for that command path (an unknown command:
 * commander's error and suggestions). Never throws.
 */
export function prerenderedHelp(args: readonly string[], stdoutIsTty: boolean, dir: URL, build: string | null): string | null {
  if (stdoutIsTty || build === null || args.length === 0 || !HELP_FLAGS.has(args[args.length - 1]!)) return null;
  const path = args.slice(0, -1);
  if (!path.every((name) => COMMAND_NAME.test(name))) return null;
  const texts = builtHelp(dir, build)?.texts;
  if (texts === undefined) return null;
  const key = path.join(' ');
  const text = Object.hasOwn(texts, key) ? texts[key] : undefined;
  return typeof text === 'string' ? text : null;
}

/**
 * The top-level commands as the help.json of this build in `dir` lists them (the same checks
 * as {@link prerenderedHelp}), in the order the program's help lists them; null when there is
 * no such file or its `commands` is not an array of {@link CommandSummary}. Never throws.
 */
export function commandSummaries(dir: URL, build: string | null): CommandSummary[] | null {
  const commands = builtHelp(dir, build)?.commands;
  if (!Array.isArray(commands)) return null;
  const isSummary = (c: unknown): c is CommandSummary => typeof c === 'object' && c !== null
    && typeof (c as CommandSummary).name === 'string' && typeof (c as CommandSummary).term === 'string' && typeof (c as CommandSummary).description === 'string';
  return commands.every(isSummary) ? commands.map(({ name, term, description }) => ({ name, term, description })) : null;
}
