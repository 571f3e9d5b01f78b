/**
 * `mcp-attest gateway --config FILE [--home DIR]`: the HTTP gateway in front of several MCP
 * upstreams (docs/gateway.md). A configuration that does not check is exit 2 with every
 * problem listed; a port that cannot be bound is exit 3. The bound address is printed on
 * stderr (`mcp-attest: gateway listening on http://HOST:PORT`). SIGTERM/SIGINT drain and stop
 * (calls still pending are receipted, a final checkpoint is written); SIGHUP reloads the
 * configuration and the gate policies without dropping calls (a bad file keeps the old one).
 */
import type { Command } from 'commander';
import { isAttestError } from '../errors.js';
import { resolveHome } from '../store/home.js';
import { ensureHome } from '../store/identity.js';
import { isFleetStore } from '../store/log-store.js';
import { Recorder } from '../proxy/recorder.js';
import { loadGatewayConfig, type LoadedConfig } from '../gateway/config.js';
import { Gateway } from '../gateway/gateway.js';
import { CliExit, EXIT_IO, EXIT_USAGE, err } from './output.js';

/** Exit 2 listing every problem of a configuration that does not check. */
function badConfig(path: string, e: Error): CliExit {
  return new CliExit(EXIT_USAGE, `bad configuration ${path}:\n  ${e.message.split('; ').join('\n  ')}`, 'ERR_CONFIG_INVALID');
}

function load(path: string): LoadedConfig {
  try {
    return loadGatewayConfig(path);
  } catch (e) {
    if (isAttestError(e, 'ERR_CONFIG_INVALID')) throw badConfig(path, e);
    throw e;
  }
}

async function runGateway(o: { config: string; home?: string }): Promise<void> {
  const loaded = load(o.config);
  const home = resolveHome(o.home ?? loaded.config.home);
  const { identity, created } = await ensureHome(home);
  // A fleet gateway's calls go to the fleet's log, under its owner's origin: this directory's own log origin is never used.
  if (created) err(`mcp-attest: initialized ${home} (issuer ${identity.iss}, ${isFleetStore(process.env['MCP_ATTEST_STORE'] ?? '') ? 'calls recorded to the fleet\'s log' : `log ${identity.log.origin}`})`);
  const recorder = await Recorder.open(home, { durability: loaded.config.durability, checkpointMs: loaded.config.checkpointMs });
  const gateway = new Gateway(loaded, recorder, home);
  let addr;
  try {
    addr = await gateway.start();
  } catch (e) {
    await gateway.shutdown();
    if (isAttestError(e, 'ERR_POLICY_INVALID')) throw new CliExit(EXIT_USAGE, `bad gate policy: ${e.message}`);
    if (isAttestError(e, 'ERR_CONFIG_INVALID')) throw badConfig(o.config, e);
    if (isAttestError(e, 'ERR_KEY_EXPOSED')) throw e;
    throw new CliExit(EXIT_IO, `cannot listen on ${loaded.config.listen}: ${(e as Error).message}`);
  }
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  err(`mcp-attest: gateway listening on http://${host}:${addr.port} (${loaded.config.upstreams.map((u) => `/${u.name}/mcp`).join(', ')})`);
  const stop = (): void => void gateway.shutdown().then((c) => process.exit(c));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    try {
      const next = loadGatewayConfig(o.config);
      gateway.reload(next).then((later) => err(`mcp-attest: configuration reloaded from ${o.config}${later.length > 0 ? `; not applied until a restart: ${later.join(', ')}` : ''}`),
        (e: unknown) => err(`mcp-attest: configuration not reloaded, keeping the previous one: ${(e as Error).message}`));
    } catch (e) {
      err(`mcp-attest: configuration not reloaded, keeping the previous one: ${(e as Error).message}`);
    }
  });
  await new Promise(() => undefined); // runs until a signal
}

/** Register `gateway`. */
export function registerGatewayCommand(program: Command): void {
  program.command('gateway')
    .description('an HTTP gateway in front of several MCP upstreams: authenticates callers, attests and/or gates every call, one log (docs/gateway.md)')
    .requiredOption('--config <file>', 'gateway configuration, YAML or JSON (docs/gateway.md, docs/gateway.schema.json); reloaded on SIGHUP')
    .option('--home <dir>', 'data directory (default: the configuration\'s home, else as for every command)')
    .action(runGateway);
}
