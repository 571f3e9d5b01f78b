/**
 * Bundle the command line, after tsc:
 * - `dist/cli/main.cjs`, the `mcp-attest` bin: src/cli/main.ts with what it imports
 *   statically (the version, the prerendered help), bundled alone as CommonJS. Node starts a
 *   CommonJS script ~10 ms sooner than an ES module (its ESM loader is not set up), and
 *   `--version` and a command's help need nothing else. Every other command line reaches the
 *   program through main.ts's `import('./program.js')`, which stays a dynamic import of the
 *   file beside it.
 * - `dist/cli/program.js`: src/cli/program.ts rebuilt over tsc's output as ES modules with
 *   code splitting, so each command still loads only what it uses (its dynamic imports stay
 *   lazy chunks), in fewer files than one per module. Every file Node's ESM loader resolves,
 *   reads and links costs start-up time: `verify` opens 51 of ours instead of 97 and 41 from
 *   packages instead of 55, and a one-call bundle is verified ~45 ms sooner on this
 *   project's 2-core machine (docs/design-notes.md). Packages stay external (resolved from
 *   node_modules as they are), except the @noble primitives (pure ES modules, ~40 ms to load
 *   through the loader as their ~15 files); their licence comments are kept in the chunks.
 *   The chunks are written beside it, named `bundle.<name>.<hash>.js`, so a module's
 *   `import.meta.url` is one directory below dist/ whether it runs from a chunk or from
 *   tsc's output (the paths of the worker scripts rely on it); those of an earlier build are
 *   removed first.
 * Each build gets an id, the SHA-256 of the sources it is made of (the same sources, the same
 * id: the build stays reproducible), defined in main.cjs and the program as `MCP_ATTEST_BUILD`
 * and written to `dist/cli/build-id`, which scripts/build-help.mjs puts into the help texts it
 * renders for that build (src/cli/help.ts). Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/cli');
for (const f of readdirSync(out)) if (/^bundle\..+\.js$/.test(f)) rmSync(join(out, f));
const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const sources = createHash('sha256');
for (const f of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name)).sort()) {
  sources.update(`${f.slice(root.length)}\0`).update(readFileSync(f)).update('\0');
}
const id = sources.update(readFileSync(join(root, 'package.json'))).digest('hex');
await build({
  entryPoints: [join(root, 'src/cli/program.ts')], outdir: out, allowOverwrite: true, chunkNames: 'bundle.[name].[hash]',
  bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', legalComments: 'inline',
  define: { MCP_ATTEST_BUILD: JSON.stringify(id) },
  external: Object.keys(dependencies).filter((d) => !d.startsWith('@noble/')),
});
await build({
  entryPoints: [join(root, 'src/cli/main.ts')], outfile: join(out, 'main.cjs'), bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning',
  // main.ts's directory, as import.meta.url gives it in an ES module.
  define: { MCP_ATTEST_BUILD: JSON.stringify(id), 'import.meta.url': 'MCP_ATTEST_URL' },
  banner: { js: '"use strict";\nconst MCP_ATTEST_URL = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [{ name: 'program-beside', setup: (b) => b.onResolve({ filter: /^\.\/program\.js$/ }, ({ path }) => ({ path, external: true })) }],
});
writeFileSync(join(out, 'build-id'), `${id}\n`);
