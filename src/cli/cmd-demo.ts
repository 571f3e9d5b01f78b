/**
 * `mcp-attest demo [--home DIR]`: the main job on embedded defaults. Starts the real
 * `@modelcontextprotocol/server-filesystem` on a scratch folder behind `mcp-attest proxy`,
 * drives it with the official SDK client (several calls, one failing), then verifies the
 * log offline against the exported trust policy and prints the verdict.
 */
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { resolveHome } from '../store/home.js';
import { ensureHome, loadIdentity } from '../store/identity.js';
import { openHomeLog } from './home-log.js';
import { verifyLog } from '../verify/log.js';
import { policyKeyResolver } from '../verify/policy.js';
import { trustPolicyOf } from '../store/identity.js';
import { EXIT_FAILED, EXIT_OK, out } from './output.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'main.cjs');

/** Path of the filesystem server's entry point inside node_modules. */
export function filesystemServerEntry(): string {
  const pkg = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-filesystem/package.json');
  return join(dirname(pkg), 'dist', 'index.js');
}

async function drive(home: string, scratch: string): Promise<void> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'proxy', '--home', home, '--checkpoint-ms', '200', '--', process.execPath, filesystemServerEntry(), scratch],
    stderr: 'ignore',
  });
  const client = new Client({ name: 'mcp-attest-demo', version: '1.0.0' });
  await client.connect(transport);
  const calls: Array<[string, Record<string, unknown>]> = [
    ['list_allowed_directories', {}],
    ['write_file', { path: join(scratch, 'report.md'), content: '# Q4 report\nAll numbers final.\n' }],
    ['read_text_file', { path: join(scratch, 'report.md') }],
    ['list_directory', { path: scratch }],
    ['read_text_file', { path: join(scratch, 'missing.md') }],
  ];
  for (const [name, args] of calls) {
    const r = await client.callTool({ name, arguments: args, _meta: { 'dev.mcp-attest/intent': `demo: ${name}` } });
    const receipt = (r._meta as Record<string, { receiptIndex?: string }> | undefined)?.['dev.mcp-attest/receipt'];
    out(`  ${r.isError ? 'error ' : 'ok    '}${name.padEnd(26)} receipt at log index ${receipt?.receiptIndex ?? '?'}`);
  }
  await client.close();
}

/** How the user ran us: `mcp-attest` when installed, else `node <path to main.cjs>` (or to tsc's main.js). */
function invokedAs(): string {
  const script = process.argv[1] ?? '';
  return /main\.c?js$/.test(script) ? `node ${relative(process.cwd(), script) || script}` : 'mcp-attest';
}

/** Register `demo`. */
export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('run the whole path on a real MCP server (server-filesystem), then verify the log')
    .option('--home <dir>', 'data directory (default: a fresh temporary one)')
    .action(async (o: { home?: string }) => {
      const home = o.home ? resolveHome(o.home) : mkdtempSync(join(tmpdir(), 'mcp-attest-demo-'));
      await ensureHome(home, { sub: 'agent:demo' });
      // The server's folder is removed once the calls are made (the data directory is kept: the next commands read it).
      const scratch = mkdtempSync(join(tmpdir(), 'mcp-attest-scratch-'));
      try {
        mkdirSync(join(scratch, 'notes'));
        writeFileSync(join(scratch, 'notes', 'todo.txt'), 'archive Q3\n');
        out(`mcp-attest demo\n  data directory  ${home}\n  upstream        @modelcontextprotocol/server-filesystem on ${scratch}\n`);
        await drive(home, scratch);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
      const policy = trustPolicyOf(loadIdentity(home));
      const db = openHomeLog(home);
      const report = await verifyLog({ entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) }, policy, policyKeyResolver(policy));
      db.close();
      out(`\n${report.ok ? 'VERIFIED' : 'FAILED'}  ${report.size} log entries, checkpoint at ${report.checkpointSize}; ${report.calls} calls, ${report.receipts} receipts`);
      for (const f of report.findings) out(`  ${f.severity}  ${f.code}  ${f.message}`);
      const me = invokedAs();
      out(`\nNext: ${me} log show --home ${home}\n      ${me} trust export --home ${home} > trust.json\n      ${me} verify ${home} --trust trust.json`);
      process.exitCode = report.ok ? EXIT_OK : EXIT_FAILED;
    });
}
