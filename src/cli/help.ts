/**
 * A command's `--help` answered without loading commander or any command module: the texts
 * `npm run build` renders with commander itself (scripts/build-help.mjs writes
 * `dist/cli/help.json`, command path -> text), as commander prints them when stdout is not a
 * terminal (80 columns, no colour). On a terminal commander renders the help to its width, so
 * it is not answered here. A test keeps every command's text equal to commander's
 * (test/e2e/cli-help.test.ts).
 */
import { readFileSync, statSync } from 'node:fs';

/** The help options commander gives every command. */
const HELP_FLAGS: ReadonlySet<string> = new Set(['--help', '-h']);
/** A command name as this CLI spells them. */
const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * The help text to print for `args` (the arguments after node and the script), or null when
 * commander must answer: `args` is not command names followed by `--help` or `-h`; stdout is a
 * terminal (`stdoutIsTty`); `dir` (the directory of the built `main.js`) holds no
 * `help.json`, one older than `main.js` (a later compile without `npm run build`: its texts
 * may be stale), one that cannot be read, or none for that command path (an unknown command:
 * commander's error and suggestions). Never throws.
 */
export function prerenderedHelp(args: readonly string[], stdoutIsTty: boolean, dir: URL): string | null {
  if (stdoutIsTty || args.length === 0 || !HELP_FLAGS.has(args[args.length - 1]!)) return null;
  const path = args.slice(0, -1);
  if (!path.every((name) => COMMAND_NAME.test(name))) return null;
  try {
    const file = new URL('help.json', dir);
    if (statSync(file).mtimeMs < statSync(new URL('main.js', dir)).mtimeMs) return null;
    const texts: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const key = path.join(' ');
    const text = texts !== null && typeof texts === 'object' && Object.hasOwn(texts, key) ? (texts as Record<string, unknown>)[key] : undefined;
    return typeof text === 'string' ? text : null;
  } catch {
    return null;
  }
}
