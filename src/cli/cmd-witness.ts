/**
 * `mcp-attest witness serve` and `mcp-attest witness key`: a C2SP tlog-witness
 * (docs/witness.md).
 *
 *     mcp-attest witness serve [--home DIR] [--listen HOST:PORT] --log ORIGIN=VKEY [--log ...] [--name NAME]
 *     mcp-attest witness key [--home DIR] [--name NAME]
 *
 * The witness key (`witness-key.pem`, `witness.json`) and state (`witness.db`) live in the
 * data directory, created on first use. `serve` prints one line to stdout once listening:
 * `witness <name> listening on http://<host>:<port> vkey <vkey>`, then one line per
 * decision to stderr; SIGTERM or SIGINT stops it (requests in flight finish, then the
 * state is closed).
 */
import type { Command } from 'commander';
import { parseListen } from './listen.js';
import { isAttestError } from '../errors.js';
import { EMPTY_ROOT } from '../log/hash.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { parseVerifierKey, SIG_TYPE_ED25519 } from '../log/vkey.js';
import { exists, homePaths, resolveHome } from '../store/home.js';
import { ensureWitnessKey, witnessPaths, witnessSigner } from '../witness/identity.js';
import { startWitnessServer } from '../witness/server.js';
import { printable } from '../bytes/index.js';
import { WitnessState } from '../witness/state.js';
import { Witness, type WitnessDecision } from '../witness/witness.js';
import { CliExit, EXIT_USAGE, collect, describeError, err, out } from './output.js';

/** Default listen address of `witness serve`. */
export const DEFAULT_WITNESS_LISTEN = '127.0.0.1:7381';

interface ServeFlags { home?: string; listen: string; log: string[]; name?: string }

/**
 * Parse the `--log ORIGIN=VKEY` values (split at the first `=`) into origin -> vkeys; a
 * repeated origin accumulates keys (rotation). The origin must be a valid checkpoint origin
 * line and the vkey an Ed25519 (0x01) vkey. Throws {@link CliExit} (exit 2) otherwise.
 */
export function parseLogFlags(values: readonly string[]): Map<string, string[]> {
  if (values.length === 0) throw new CliExit(EXIT_USAGE, 'witness serve needs at least one --log ORIGIN=VKEY');
  const logs = new Map<string, string[]>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const origin = eq < 0 ? '' : value.slice(0, eq);
    const vkey = value.slice(eq + 1);
    const bad = (why: string): CliExit => new CliExit(EXIT_USAGE, `--log ${JSON.stringify(value)}: ${why}`);
    if (eq <= 0) throw bad('expected ORIGIN=VKEY');
    try {
      formatCheckpoint({ origin, size: 0n, rootHash: EMPTY_ROOT, extensions: [] });
    } catch {
      throw bad('invalid origin (one line, no control characters)');
    }
    let type: number;
    try {
      type = parseVerifierKey(vkey).type;
    } catch (e) {
      throw bad(`invalid vkey: ${isAttestError(e) ? e.message : String(e)}`);
    }
    if (type !== SIG_TYPE_ED25519) throw bad(`the log vkey must be an Ed25519 (type 0x01) key, not type 0x${type.toString(16).padStart(2, '0')}`);
    const keys = logs.get(origin) ?? [];
    if (!keys.includes(vkey)) keys.push(vkey);
    logs.set(origin, keys);
  }
  return logs;
}

/**
 * One decision line. The origin and the reason may come from the request: at most 200
 * characters of each, controls and bidi overrides escaped, so a request can neither flood
 * the log nor draw a line of ours.
 */
function describeDecision(d: WitnessDecision): string {
  const n = (v: bigint | null): string => (v === null ? '-' : v.toString());
  const bounded = (t: string): string => (t.length > 200 ? `${t.slice(0, 200)}...` : t);
  return printable(`witness: origin=${d.origin === null ? '-' : JSON.stringify(bounded(d.origin))} old=${n(d.oldSize)} size=${n(d.size)} status=${d.status} ${bounded(d.reason)}`);
}

async function serve(o: ServeFlags): Promise<void> {
  const listen = parseListen(o.listen);
  const logs = parseLogFlags(o.log);
  const home = resolveHome(o.home);
  // Without --home a witness takes the default data directory, often a log operator's own: its key beside the log's is no independent witness.
  if (exists(homePaths(home).identity)) err(`mcp-attest: warning: ${home} is a log's data directory: a witness whose key is kept beside a log's is not independent of its operator; give the witness a --home of its own (on another machine, run by someone else)`);
  const { identity, created } = await ensureWitnessKey(home, { name: o.name });
  if (created) err(`mcp-attest: created witness key ${identity.name} in ${home}`);
  const state = new WitnessState(witnessPaths(home).state);
  let server: Awaited<ReturnType<typeof startWitnessServer>>;
  try {
    const witness = new Witness({
      name: identity.name, signer: witnessSigner(identity), logs, state,
      onDecision: (d) => err(describeDecision(d)),
    });
    server = await startWitnessServer(witness, { ...listen, onError: (e) => err(`witness: internal error: ${describeError(e)}`) });
  } catch (e) {
    state.close();
    throw e;
  }
  out(`witness ${identity.name} listening on ${server.url} vkey ${identity.vkey}`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGTERM', onTerm).off('SIGINT', onInt);
      err(`witness: ${signal}, shutting down`);
      void server.close().finally(() => {
        state.close();
        resolve();
      });
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm).on('SIGINT', onInt);
  });
}

/** Register `witness serve` and `witness key`. */
export function registerWitnessCommands(program: Command): void {
  const witness = program.command('witness').description('a C2SP tlog-witness: cosign log checkpoints consistent with what it cosigned before');
  witness.command('serve')
    .description('serve POST /add-checkpoint (C2SP tlog-witness) and GET /<sha256(origin) hex>/checkpoint')
    .option('--home <dir>', 'data directory: witness key and state (created on first use)')
    .option('--listen <host:port>', 'address to listen on; port 0 picks a free one', DEFAULT_WITNESS_LISTEN)
    .option('--log <origin=vkey>', 'a log to witness: its origin and Ed25519 vkey (repeatable; several keys per origin allowed)', collect, [])
    .option('--name <name>', 'cosigner key name for a new key (default witness.local/<uuid>)')
    .action(serve);
  witness.command('key')
    .description('print the witness vkey (cosignature/v1, type 0x04), creating the key if needed')
    .option('--home <dir>', 'data directory')
    .option('--name <name>', 'cosigner key name for a new key (default witness.local/<uuid>)')
    .action(async (o: { home?: string; name?: string }) => {
      const home = resolveHome(o.home);
      const { identity, created } = await ensureWitnessKey(home, { name: o.name });
      if (created) err(`mcp-attest: created witness key ${identity.name} in ${home}`);
      out(identity.vkey);
    });
}
