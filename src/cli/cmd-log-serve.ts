/**
 * `mcp-attest log serve`, `log witness`, `log witnesses list|add|remove`: the log over HTTP
 * (C2SP tlog-tiles) and witnessing from the log side (C2SP tlog-witness).
 */
import type { Command } from 'commander';
import { LogDb } from '../store/log-db.js';
import { exists, homePaths, resolveHome } from '../store/home.js';
import { loadIdentity } from '../store/identity.js';
import { checkWitness, loadWitnesses, saveWitnesses } from '../store/witnesses.js';
import type { WitnessEndpoint } from '../witness/submit.js';
import { hasHomeLog, openHomeLog } from './home-log.js';
import { WitnessBackoff, witnessLatest, type WitnessResult } from '../store/witnessing.js';
import { isAttestError } from '../errors.js';
import { toHex } from '../bytes/index.js';
import { parseVerifierKey } from '../log/vkey.js';
import { startLogServer } from '../logserver/http.js';
import { parseListen } from './listen.js';
import { CliExit, EXIT_FAILED, EXIT_IO, EXIT_USAGE, err, out, outJson } from './output.js';

/**
 * The data directory's log opened for writing (created when new). Throws `ERR_HOME_MISSING`,
 * `ERR_STORE_CORRUPT`, and `CliExit` (exit 3) for one whose log is a fleet's (its checkpoints
 * are the integrator's) or whose calls went to one (as {@link hasHomeLog}).
 */
function openLog(home?: string): { home: string; db: LogDb } {
  const h = resolveHome(home);
  hasHomeLog(h);
  const moved = homePaths(h).moved;
  if (exists(moved)) throw new CliExit(EXIT_IO, `this data directory's log is a fleet's (${moved}): serve and witness it with log publish and log integrate, --store URL or $MCP_ATTEST_STORE`);
  return { home: h, db: new LogDb(homePaths(h).db) };
}

/** A positive whole number of milliseconds from an option, or a usage error. */
function milliseconds(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CliExit(EXIT_USAGE, `${what} must be a positive whole number of milliseconds`);
  return n;
}

function describe(r: WitnessResult): string {
  return `${r.status === 'cosigned' || r.status === 'already' ? r.status : `${r.status}: ${r.message ?? ''}`}`;
}

/** Print a round's results: cosignatures to stdout, failures to stderr, conflicts as ALARM. */
function report(results: WitnessResult[]): void {
  for (const r of results) {
    if (r.status === 'already') continue;
    if (r.status === 'cosigned') out(`witness ${r.witness} cosigned size ${r.size}`);
    else err(`${r.status === 'ERR_WITNESS_CONFLICT' ? 'ALARM' : 'warning'} witness ${r.witness} at size ${r.size}: ${describe(r)}`);
  }
}

async function serve(o: { home?: string; listen: string; witnessInterval: string; witnessTimeout: string }): Promise<void> {
  // Options first: a usage error opens (and creates) nothing.
  const { host, port } = parseListen(o.listen);
  const intervalMs = Number(o.witnessInterval) * 1000;
  if (!(intervalMs > 0)) throw new CliExit(EXIT_USAGE, '--witness-interval must be a positive number of seconds');
  const timeoutMs = milliseconds(o.witnessTimeout, '--witness-timeout');
  const { home, db } = openLog(o.home);
  try {
    loadWitnesses(home); // a witness list that cannot be read is a startup error, before anything is served
  } catch (e) {
    db.close();
    throw e;
  }
  const server = await startLogServer(db, { host, port });
  out(`log ${loadIdentity(home).log.origin} serving ${server.url}`);
  let stopped = false;
  let round: Promise<void> | null = null;
  const backoff = new WitnessBackoff(intervalMs);
  // One round at a time: a tick while a round (slow witnesses) is still running is skipped. The
  // list is read again each round (witnesses added meanwhile); one that became unreadable is a
  // warning, and the server serves on.
  const tick = (): void => {
    if (round !== null || stopped) return;
    round = Promise.resolve().then(() => witnessLatest(db, backoff.due(loadWitnesses(home)), { timeoutMs }))
      .then((results) => {
        backoff.after(results);
        report(results);
      }, (e: unknown) => err(`warning: witnessing round failed: ${(e as Error).message}${isAttestError(e) ? ` (${e.code})` : ''}`))
      .finally(() => (round = null));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    await server.close();
    await round;
    db.close();
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

const noCheckpoint = (): CliExit => new CliExit(EXIT_USAGE, 'the log has no checkpoint yet: mcp-attest log checkpoint');

async function witnessOnce(o: { home?: string; timeout: string; json?: boolean }): Promise<void> {
  const home = resolveHome(o.home);
  const fresh = !hasHomeLog(home);
  const witnesses = loadWitnesses(home);
  if (witnesses.length === 0) throw new CliExit(EXIT_USAGE, 'no witnesses configured: mcp-attest log witnesses add --url URL --vkey VKEY');
  if (fresh) throw noCheckpoint();
  const { db } = openLog(home);
  try {
    const results = await witnessLatest(db, witnesses, { timeoutMs: milliseconds(o.timeout, '--timeout') });
    if (results.length === 0) throw noCheckpoint();
    if (o.json) outJson(results.map((r) => ({ ...r, size: r.size.toString() })));
    else for (const r of results) out(`${r.witness.padEnd(40)} size ${r.size}  ${describe(r)}`);
    // A conflict is an alarm on stderr, as log serve raises it (docs/witnessing.md), whatever the output's form.
    for (const r of results) if (r.status === 'ERR_WITNESS_CONFLICT') err(`ALARM witness ${r.witness} at size ${r.size}: ${describe(r)}`);
    process.exitCode = results.some((r) => r.status === 'ERR_WITNESS_CONFLICT') ? EXIT_FAILED
      : results.some((r) => r.status !== 'cosigned' && r.status !== 'already') ? EXIT_IO : 0;
  } finally {
    db.close();
  }
}

/** `url` with a password in it shown as `***` (a listing is no place for a secret). */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.href;
  } catch {
    return url;
  }
}

/**
 * The configured witnesses of `home`, each with the size it last cosigned, and the latest
 * witnessing events, read without writing: none yet in a data directory nothing has recorded
 * in (or in a log of an earlier version without those tables); `cosignedSize` null where the
 * log is a fleet's (moved, or the calls recorded there): its sizes are there (`log status --store`).
 * A password in a witness's URL is shown as `***`.
 */
function witnessList(home: string): { witnesses: Array<WitnessEndpoint & { cosignedSize: string | null }>; events: ReturnType<LogDb['witnessEvents']> } {
  const p = homePaths(home);
  loadIdentity(home);
  const fleet = exists(p.moved) || (!exists(p.db) && exists(p.evidence));
  const db = !fleet && exists(p.db) ? openHomeLog(home) : null;
  try {
    const sizes = db?.hasTable('witness_sizes') === true;
    const witnesses = loadWitnesses(home).map((x) => ({ ...x, url: withoutPassword(x.url), cosignedSize: fleet ? null : (sizes ? db.witnessSize(x.name) : 0n).toString() }));
    return { witnesses, events: db?.hasTable('witness_events') === true ? db.witnessEvents(20) : [] };
  } finally {
    db?.close();
  }
}

function registerWitnessList(log: Command): void {
  const w = log.command('witnesses').description('the witnesses this log submits its checkpoints to');
  w.command('list').description('list the witnesses, the size each last cosigned, and recent events (alarms)')
    .option('--home <dir>', 'data directory').option('--json', 'print as JSON')
    .action((o: { home?: string; json?: boolean }) => {
      const { witnesses, events } = witnessList(resolveHome(o.home));
      if (o.json) return outJson({ witnesses, events });
      for (const x of witnesses) out(`${x.name.padEnd(40)} ${x.url}  ${x.cosignedSize === null ? 'cosigned sizes: mcp-attest log status --store URL (a fleet\'s log)' : `cosigned up to ${x.cosignedSize}`}`);
      for (const e of events) out(`  ${new Date(e.at * 1000).toISOString()} ${e.witness} size ${e.size} ${e.code}: ${e.message}`);
    });
  w.command('add').description('add a witness: its submission URL and its cosignature/v1 vkey')
    .option('--home <dir>', 'data directory').requiredOption('--url <url>', 'submission prefix (POST <url>/add-checkpoint)')
    .requiredOption('--vkey <vkey>', 'the witness verifier key (type 0x04)')
    .action((o: { home?: string; url: string; vkey: string }) => {
      const home = resolveHome(o.home);
      const entry = checkWitness({ vkey: o.vkey, url: o.url });
      const all = loadWitnesses(home);
      const key = (vkey: string): string => toHex(parseVerifierKey(vkey).publicKey);
      const twin = all.find((x) => x.name !== entry.name && key(x.vkey) === key(entry.vkey));
      if (twin) throw new CliExit(EXIT_USAGE, `that key is witness ${twin.name}'s already: one witness under two names would count twice toward a quorum, and every verifier refuses such a trust policy`);
      const had = all.find((x) => x.name === entry.name);
      const list = all.filter((x) => x.name !== entry.name);
      if (had?.vkey === entry.vkey && had.url === entry.url) return out(`witness ${entry.name} already configured (${all.length} configured)`);
      saveWitnesses(home, [...list, entry]);
      if (had === undefined) out(`witness ${entry.name} added (${list.length + 1} configured)`);
      else out(`witness ${entry.name} updated: ${had.vkey !== entry.vkey ? 'its key replaced' : ''}${had.vkey !== entry.vkey && had.url !== entry.url ? ', ' : ''}${had.url !== entry.url ? `url ${withoutPassword(had.url)} -> ${withoutPassword(entry.url)}` : ''} (${list.length + 1} configured)`);
    });
  w.command('remove').description('remove a witness by name').argument('<name>').option('--home <dir>', 'data directory')
    .action((name: string, o: { home?: string }) => {
      const home = resolveHome(o.home);
      const list = loadWitnesses(home);
      if (!list.some((x) => x.name === name)) throw new CliExit(EXIT_USAGE, `no witness ${name}`);
      saveWitnesses(home, list.filter((x) => x.name !== name));
      out(`witness ${name} removed`);
    });
}

/** Register `log serve`, `log witness` and `log witnesses ...` under the `log` command. */
export function registerLogServeCommands(log: Command): void {
  log.command('serve')
    .description('serve the log over HTTP as C2SP tlog-tiles, and submit each new checkpoint to the configured witnesses')
    .option('--home <dir>', 'data directory')
    .option('--listen <addr>', 'host:port to listen on (port 0: any free port)', '127.0.0.1:7380')
    .option('--witness-interval <seconds>', 'how often to submit the latest checkpoint to witnesses that have not cosigned it', '5')
    .option('--witness-timeout <ms>', 'time limit of one witness request', '10000')
    .action(serve);
  log.command('witness')
    .description('submit the latest checkpoint to the configured witnesses now and store their cosignatures')
    .option('--home <dir>', 'data directory')
    .option('--timeout <ms>', 'time limit of one witness request', '10000')
    .option('--json', 'print the results as JSON')
    .action(witnessOnce);
  registerWitnessList(log);
}
