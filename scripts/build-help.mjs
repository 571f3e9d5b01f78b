/**
 * Render every command's help with commander, as `mcp-attest <command> --help` prints it when
 * stdout is not a terminal (80 columns, no colour), into `dist/cli/help.json`: `{ build,
 * commander, texts, models }`, the id of the build it was rendered for (`dist/cli/build-id`,
 * written by scripts/build-cli.mjs), the commander release that rendered it, the texts by
 * command path (names joined by spaces, '' for the program), and by the same paths what each
 * command's help shows of it (`HelpModel`). The entry point answers from the texts without
 * loading commander or the command's module; on a terminal, commander renders a command's
 * help from a stub of its model, to the terminal's width, without loading the modules
 * (src/cli/help.ts, src/cli/commands.ts).
 * Run by `npm run build` after scripts/build-cli.mjs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createProgram, helpModels } from '../dist/cli/commands.js';
import { commanderVersion } from '../dist/cli/help.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist/cli');
const program = await createProgram([], null);
const texts = {};
function render(command, path) {
  let text = '';
  command.configureOutput({ writeOut: (s) => { text += s; }, getOutHelpWidth: () => undefined, getOutHasColors: () => false });
  command.outputHelp();
  texts[path.join(' ')] = text;
  for (const sub of command.commands) render(sub, [...path, sub.name()]);
}
render(program, []);
const build = readFileSync(join(dir, 'build-id'), 'utf8').trim();
const commander = commanderVersion(pathToFileURL(`${dir}/`));
if (commander === null) throw new Error('build-help: the commander package is not found from dist/cli');
writeFileSync(join(dir, 'help.json'), `${JSON.stringify({ build, commander, texts, models: helpModels(program) }, null, 1)}\n`);
