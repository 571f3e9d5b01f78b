/**
 * `mcp-attest proxy [options] [--] CMD [ARGS...]`: the attesting relay in front of one
 * stdio MCP server. The `--` is optional (some clients strip it): options end at the first
 * positional argument. The data directory is initialized on first use (ES256 issuer).
 */
import type { Command } from 'commander';
import { resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { Recorder } from '../proxy/recorder.js';
import { AttestingProxy } from '../proxy/relay.js';
import { CliExit, EXIT_USAGE, err } from './output.js';

interface ProxyFlags {
  home?: string; name?: string; sub?: string; serverFingerprint?: string;
  evidence: boolean; receiptMeta: boolean; durability: string; checkpointMs: string; profile: string;
}

async function runProxy(command: string, args: string[], o: ProxyFlags): Promise<void> {
  if (o.durability !== 'full' && o.durability !== 'normal') throw new CliExit(EXIT_USAGE, '--durability is full or normal');
  if (o.profile !== 'vector' && o.profile !== 'sep-text') throw new CliExit(EXIT_USAGE, '--profile is vector or sep-text');
  if (!/^[1-9][0-9]{0,6}$/.test(o.checkpointMs)) throw new CliExit(EXIT_USAGE, '--checkpoint-ms takes a whole number of milliseconds (1 to 9999999)');
  const home = resolveHome(o.home);
  const { identity: id, created } = await ensureHome(home);
  if (created) err(`mcp-attest: initialized ${home} (issuer ${id.iss}, log ${id.log.origin})`);
  const recorder = await Recorder.open(home, {
    evidence: o.evidence, durability: o.durability, checkpointMs: Number(o.checkpointMs), profile: o.profile,
    ...(o.sub ? { sub: o.sub } : {}),
  });
  const proxy = new AttestingProxy(recorder, {
    argv: [command, ...args], receiptMeta: o.receiptMeta,
    ...(o.name ? { name: o.name } : {}), ...(o.serverFingerprint ? { fingerprint: o.serverFingerprint } : {}),
  });
  const stop = (): void => void proxy.shutdown('shutdown', 0).then((c) => process.exit(c));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.on('error', () => undefined);
  const code = await proxy.done;
  process.exit(code);
}

/** Register `proxy`. */
export function registerProxyCommand(program: Command): void {
  program.command('proxy')
    .description('attest and log every tools/call to an stdio MCP server; the one-line change in mcpServers')
    .argument('<command>', 'upstream server command')
    .argument('[args...]', 'its arguments')
    .option('--home <dir>', 'data directory (created on first use)')
    .option('--name <name>', 'server name in the log (default: serverInfo.name)')
    .option('--sub <subject>', 'attestation subject (issuerAsserted.sub)')
    .option('--server-fingerprint <fp>', 'serverFingerprint to attest (default: derived from the command line)')
    .option('--no-evidence', 'keep no argument/result payloads (commitments only)')
    .option('--no-receipt-meta', 'do not add the receipt reference to results')
    .option('--durability <mode>', 'full: fsync every append (default); normal: survive process crashes only', 'full')
    .option('--checkpoint-ms <ms>', 'checkpoint batch window', '1000')
    .option('--profile <shape>', 'attestation wire shape: vector (published vectors) or sep-text (SEP-2787 text)', 'vector')
    .passThroughOptions()
    .action(runProxy);
}
