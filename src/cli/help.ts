/**
 * A command's `--help` answered without loading commander or any command module: the texts
 * `npm run build` renders with commander itself (scripts/build-help.mjs writes
 * `dist/cli/help.json`: `{ build, commander, texts, models }`, both by command path), as
 * commander prints them when stdout is not a terminal (80 columns, no colour). On a terminal
 * commander renders the help to its width, so it is not answered here: commander renders it
 * from the command's model, a stub of what its help shows (cli/commands.ts), without loading
 * the command modules; so too the program's own help for `mcp-attest` and `mcp-attest help`
 * everywhere. The texts and models are used only by the
 * entry point built with them (the same build id, which scripts/build-cli.mjs puts into
 * `main.cjs`: no file dates, which copies and packages do not keep) and only beside the
 * commander release that rendered them. Tests keep every command's text, and its help
 * rendered from its model at any width, equal to commander's (test/e2e/cli-start.test.ts,
 * test/unit/cli-help.test.ts).
 */
import { readFileSync } from 'node:fs';

/** The help options commander gives every command. */
const HELP_FLAGS: ReadonlySet<string> = new Set(['--help', '-h']);
/** A command name as this CLI spells them. */
export const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * A command's help as commander renders it, what it shows of the command alone (scripts/
 * build-help.mjs writes one for every command path; cli/commands.ts registers a stub command
 * from it, and commander renders the help from the stub, to a terminal's width):
 * - `description`: `Help.commandDescription` (its usage line commander derives from the
 *   rest, as for the command itself: no command has an alias or a usage of its own);
 * - `arguments`: each registered argument, its `term` as the usage shows it (`<input>`,
 *   `[dir]`, `<files...>`) and its description as `Help.argumentDescription` renders it
 *   (defaults included), or '' for each when none has one (commander then lists none);
 * - `options`: its own visible options but the help option, each `flags` and the description
 *   `Help.optionDescription` renders (defaults, choices);
 * - `commands`: its visible subcommands but the help command, each `name`, `term`
 *   (`Help.subcommandTerm`) and `description` (`Help.subcommandDescription`);
 * - `helpCommand`: whether commander lists its `help [command]`.
 */
export interface HelpModel {
  description: string;
  arguments: Array<{ term: string; description: string }>;
  options: Array<{ flags: string; description: string }>;
  commands: Array<{ name: string; term: string; description: string }>;
  helpCommand: boolean;
}

/** What scripts/build-help.mjs writes. */
interface HelpFile { build: string; commander: string; texts: Record<string, unknown>; models: Record<string, unknown> }

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

const isString = (v: unknown): v is string => typeof v === 'string';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** `v` as an array of objects whose members `keys` are all strings, those members alone; null when it is not one. */
function stringRecords<K extends string>(v: unknown, keys: readonly K[]): Array<Record<K, string>> | null {
  if (!Array.isArray(v) || !v.every((x) => isRecord(x) && keys.every((k) => isString(x[k])))) return null;
  return v.map((x: Record<string, unknown>) => Object.fromEntries(keys.map((k) => [k, x[k]])) as Record<K, string>);
}

/**
 * The {@link HelpModel} of the command `path` (names; [] for the program) in the help.json of
 * this build in `dir` (the same checks as {@link prerenderedHelp}), with its members alone;
 * null when there is no such file, no model for that path, or one of another shape (a
 * subcommand name not spelled as this CLI spells them included). Never throws.
 */
export function helpModel(dir: URL, build: string | null, path: readonly string[]): HelpModel | null {
  const models = builtHelp(dir, build)?.models;
  const key = path.join(' ');
  const m = isRecord(models) && Object.hasOwn(models, key) ? models[key] : undefined;
  if (!isRecord(m) || !isString(m['description']) || typeof m['helpCommand'] !== 'boolean') return null;
  const args = stringRecords(m['arguments'], ['term', 'description'] as const);
  const options = stringRecords(m['options'], ['flags', 'description'] as const);
  const commands = stringRecords(m['commands'], ['name', 'term', 'description'] as const);
  if (args === null || options === null || commands === null || !commands.every((c) => COMMAND_NAME.test(c.name))) return null;
  return { description: m['description'], arguments: args, options, commands, helpCommand: m['helpCommand'] };
}
