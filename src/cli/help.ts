/**
 * A command's `--help` answered without loading commander or any command module: the texts
 * `npm run build` renders with commander itself (scripts/build-help.mjs writes
 * `dist/cli/help.json`: `{ build, commander, texts }`, texts by command path), as commander
 * prints them when stdout is not a terminal (80 columns, no colour). On a terminal commander
 * renders the help to its width, so it is not answered here. The texts are used only by the
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

/** What scripts/build-help.mjs writes. */
interface HelpFile { build: string; commander: string; texts: Record<string, unknown> }

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
  try {
    const file = JSON.parse(readFileSync(new URL('help.json', dir), 'utf8')) as Partial<HelpFile> | null;
    if (file === null || typeof file !== 'object' || file.build !== build || typeof file.texts !== 'object' || file.texts === null) return null;
    const key = path.join(' ');
    const text = Object.hasOwn(file.texts, key) ? file.texts[key] : undefined;
    return typeof text === 'string' && file.commander === commanderVersion(dir) ? text : null;
  } catch {
    return null;
  }
}
