/**
 * Build `dist/verify.html` (docs/verify-page.md): one self-contained file. The worker
 * (src/page/worker.ts) and the page (src/page/ui.ts) are bundled by esbuild for browsers,
 * minified; the worker's code is inlined into the page's script (started from a blob: URL),
 * and the script and style are inlined into src/page/page.html under a Content-Security-Policy
 * that names them by SHA-256 and allows no connection, no other script, nothing remote.
 * Writes `dist/verify.html.sha256` (`<hex>  verify.html`) and prints the same line.
 * Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, write: false, minify: true, format: 'iife', platform: 'browser', target: 'chrome120', legalComments: 'none', logLevel: 'warning' };

const worker = await build({ ...common, entryPoints: [join(root, 'src/page/worker.ts')] });
const workerCode = worker.outputFiles[0].text;
const page = await build({ ...common, entryPoints: [join(root, 'src/page/ui.ts')], define: { __WORKER_SOURCE__: JSON.stringify(workerCode) } });
// `</script` inside the inlined code would end the element early.
const script = page.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
// Line ends as a browser sees them (it hashes the style after turning CRLF into LF): a CRLF checkout builds the same page.
const lf = (text) => text.replace(/\r\n?/g, '\n');
const style = lf(readFileSync(join(root, 'src/page/page.css'), 'utf8'));
const b64 = (text) => createHash('sha256').update(text, 'utf8').digest('base64');
const csp = [
  "default-src 'none'", `script-src 'sha256-${b64(script)}'`, `style-src 'sha256-${b64(style)}'`,
  'worker-src blob:', "connect-src 'none'", "img-src 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');
const template = lf(readFileSync(join(root, 'src/page/page.html'), 'utf8'));
// Function replacers: `$` in the code must not be read as a replacement pattern.
const html = template.replace('__CSP__', () => csp).replace('__STYLE__', () => style).replace('__SCRIPT__', () => script);
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/verify.html'), html);
const line = `${createHash('sha256').update(html).digest('hex')}  verify.html`;
writeFileSync(join(root, 'dist/verify.html.sha256'), `${line}\n`);
console.log(`${line} (${html.length} bytes)`);
