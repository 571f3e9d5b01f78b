/**
 * `mcp-attest verify [PATH]`: its options. The verifier itself (verify-run.ts) is loaded only
 * when the command runs, so `verify --help` starts without it.
 */
import type { Command } from 'commander';
import type { VerifyOptions } from './verify-run.js';

/** Register `verify`. */
export function registerVerifyCommand(program: Command): void {
  program.command('verify [path]')
    .description('verify offline: a data directory, a log.db, an exported tiles directory, a receipt bundle or a session receipt file')
    .option('--home <dir>', 'data directory (when no path is given)')
    .option('--trust <file>', 'trust policy (JSON, from "mcp-attest trust export")')
    .option('--secret <file>', 'HS256 shared secret for HS256 issuers')
    .option('--checkpoint <file>', 'a checkpoint accepted earlier: the log or bundle must be consistent with it')
    .option('--state <dir>', 'remember accepted checkpoints here; later runs must be consistent with them')
    .option('--policy-doc <file>', 'a session receipt: the policy document the session must be bound to')
    .option('--identity <path>', 'decide calls under agent credentials against this identity log: the data directory holding it (the credential issuer\'s) or its identity.db (default: the verified data directory\'s own, a bundle\'s own range)')
    .option('--threads <n>', 'threads checking the entries of a log or bundle (1 to 16; default: the cores available)')
    .option('--require-receipts', 'a call without its receipt (in flight in a log, left out of a bundle) fails, ERR_RECEIPT_MISSING, instead of being a notice')
    .option('--json', 'print the report as JSON')
    .option('--html', 'write the offline verify page (one self-contained HTML file for a browser) to stdout, and its SHA-256 to stderr (docs/verify-page.md)')
    .action(async (path: string | undefined, o: VerifyOptions & { html?: boolean }) => {
      if (o.html) return writePage();
      return (await import('./verify-run.js')).verifyCommand(path, o);
    });
}

/** `verify --html`: the page on stdout, `sha256 <hex>  verify.html` on stderr. */
async function writePage(): Promise<void> {
  const { verifyPage } = await import('../page/file.js');
  const page = verifyPage();
  await new Promise<void>((resolve, reject) => process.stdout.write(page.html, (e) => (e ? reject(e) : resolve())));
  process.stderr.write(`sha256 ${page.sha256}  verify.html\n`);
}
