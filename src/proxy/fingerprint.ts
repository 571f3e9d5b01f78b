/**
 * The default server fingerprint an attestation names (docs/attestation.md), derived from how
 * the upstream is reached, and the form of a URL that may be logged.
 */
import { basename } from 'node:path';
import { sha256Tagged } from '../bytes/digest.js';
import { canonicalize } from '../jcs/index.js';

/**
 * Derive the default server fingerprint from the upstream command line (docs/attestation.md):
 * `sha256:` over the JCS of `{"argv": [basename(argv[0]), ...]}`; for a Streamable HTTP
 * upstream (`url`), over the JCS of `{"url": href}` (userinfo and fragment removed).
 */
export function fingerprintOf(argv: string[], url?: URL): string {
  if (url !== undefined) return sha256Tagged(canonicalize({ url: publicHref(url) }));
  return sha256Tagged(canonicalize({ argv: [basename(argv[0] ?? ''), ...argv.slice(1)] }));
}

/** A URL as it may be logged: without userinfo or fragment. */
export function publicHref(url: URL): string {
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  u.hash = '';
  return u.href;
}
