/**
 * Render every command's help with commander, as `mcp-attest <command> --help` prints it when
 * stdout is not a terminal (80 columns, no colour), into `dist/cli/help.json` (command path,
 * names joined by spaces, '' for the program -> text), which the entry point answers from
 * without loading commander or the command's module (src/cli/help.ts). Run by `npm run build`
 * after scripts/build-cli.mjs: the file must be newer than `dist/cli/main.js` to be used.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgram } from '../dist/cli/commands.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist/cli/help.json');
const program = await createProgram([]);
const texts = {};
function render(command, path) {
  let text = '';
  command.configureOutput({ writeOut: (s) => { text += s; }, getOutHelpWidth: () => undefined, getOutHasColors: () => false });
  command.outputHelp();
  texts[path.join(' ')] = text;
  for (const sub of command.commands) render(sub, [...path, sub.name()]);
}
render(program, []);
writeFileSync(out, `${JSON.stringify(texts, null, 1)}\n`);
