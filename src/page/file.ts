/**
 * The built verify page (`dist/verify.html`, made by scripts/build-page.mjs) for the commands
 * that hand it out: `mcp-attest verify --html` and `log serve` at `/verify`. Node only.
 * @see docs/verify-page.md
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttestError } from '../errors.js';

let cached: { html: Buffer; sha256: string; csp: string } | null = null;

/**
 * The page's bytes, their SHA-256 (hex: what a careful auditor compares with the published
 * one), and its Content-Security-Policy (to send as a header too). Throws `ERR_STORE_IO`
 * when the page was not built (`npm run build`).
 */
export function verifyPage(): { html: Buffer; sha256: string; csp: string } {
  if (cached !== null) return cached;
  // Beside this module's directory when built (dist/page/file.js, or its chunk in dist/cli); from the sources (tests), in dist.
  const candidates = [new URL('../verify.html', import.meta.url), new URL('../../dist/verify.html', import.meta.url)];
  for (const url of candidates) {
    let html: Buffer;
    try {
      html = readFileSync(url);
    } catch {
      continue;
    }
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html.toString('utf8', 0, 4096))?.[1];
    if (csp === undefined) throw new AttestError('ERR_STORE_CORRUPT', `${url.pathname} has no Content-Security-Policy: not the page this build makes`);
    return (cached = { html, sha256: createHash('sha256').update(html).digest('hex'), csp });
  }
  throw new AttestError('ERR_STORE_IO', 'verify.html was not built: run npm run build');
}
