/** Runs `mcp-attest tools ...` from the sources (commander in a child process, through tsx), for the pinning tests. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Run `tools ARGS...`; exit code and output (2 for a commander usage error). */
export function toolsCli(args: string[]): { status: number; stdout: string; stderr: string } {
  const script = `import { Command } from 'commander';
    import { registerToolsCommands } from ${JSON.stringify(join(ROOT, 'src/cli/cmd-tools.ts'))};
    import { describeError, exitCodeOf } from ${JSON.stringify(join(ROOT, 'src/cli/output.ts'))};
    const program = new Command('mcp-attest').exitOverride();
    registerToolsCommands(program);
    try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); }
    catch (e) { process.stderr.write(describeError(e) + '\\n'); process.exitCode = e?.code?.startsWith?.('commander.') ? 2 : exitCodeOf(e); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'tools', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.ok(r.status !== null, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
