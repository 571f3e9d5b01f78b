/**
 * `mcp-attest log export`, `log publish`, `log status`, `log migrate`, `log checkpoint`, `log show`, `log erase` (and, from cmd-log-serve.ts,
 * `log serve`, `log witness`, `log witnesses`).
 */
import { join } from 'node:path';
import { rmSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { fleetLog, hasHomeLog, markMoved, openHomeLog, storeUrl } from './home-log.js';
import { readMoved } from '../store/synced.js';
import { listCalls, type CallRow } from '../store/calls.js';
import { printable } from '../bytes/index.js';
import { eraseCall } from '../store/erase.js';
import { formatStatus, logStatus } from '../store/status.js';
import { loadIdentity } from '../store/identity.js';
import { loadWitnesses } from '../store/witnesses.js';
import { nowSeconds } from '../envelope/time.js';
import { Recorder } from '../proxy/recorder.js';
import { exists, homePaths, resolveHome } from '../store/home.js';
import { publishTiles } from '../store/publish.js';
import { registerLogServeCommands } from './cmd-log-serve.js';
import { CliExit, EXIT_USAGE, err, out, outJson } from './output.js';
import { SqliteLogStore, type LogStore } from '../store/log-store.js';
import type { EntriesMode } from '../records/record.js';


/**
 * The fleet's log (`--store`, `$MCP_ATTEST_STORE`); when it is empty and `made` is given (the
 * data directory `home` named to it), with its parameters entry written first in that data
 * directory's format, and its origin: unless that data directory has calls of its own
 * ({@link refuseOwnCalls}).
 */
async function openFleet(o: { store?: string }, made?: { entries?: EntriesMode; origin: string; home: string }): Promise<LogStore> {
  const { PgLog } = await import('../store/pg-log.js');
  const log = await PgLog.open(storeUrl(o.store));
  try {
    if (made?.entries !== undefined && (await log.size()) === 0n) {
      refuseOwnCalls(made.home, await log.logId());
      await log.initialize(made.entries, made.origin);
    }
  } catch (e) {
    await log.close();
    throw e;
  }
  return log;
}

/** The log to read: the fleet's (`--store`, `$MCP_ATTEST_STORE`) or the data directory's (exit 3 when it has none yet). */
async function openStore(o: { home?: string; store?: string }): Promise<LogStore> {
  return fleetLog(o) ? openFleet(o) : new SqliteLogStore(openHomeLog(resolveHome(o.home)));
}

/**
 * `CliExit` (exit 2) when the data directory `home`, named to the empty fleet's log `logId`,
 * is another fleet's (its marker names another log), or has a log of its own holding calls:
 * made the fleet's log's origin now, its calls would be left behind, and `log migrate` (into
 * an empty database) is the way to take them along.
 */
function refuseOwnCalls(home: string, logId: string): void {
  const named = readMoved(homePaths(home).moved).log;
  if (named !== null && named !== logId) throw new CliExit(EXIT_USAGE, `this data directory's log is another fleet's (${homePaths(home).moved} names log ${named.slice(0, 64) || '""'}): make this fleet's log with the data directory of its integrator`);
  if (!exists(homePaths(home).db) || exists(homePaths(home).moved)) return;
  const db = openHomeLog(home);
  try {
    if (db.size() > (db.mode() === 'v1' ? 0n : 1n)) throw new CliExit(EXIT_USAGE, `this data directory has a log of its own (${homePaths(home).db}, ${db.size()} entries): move it to the fleet's log with mcp-attest log migrate --home ${home} --to URL (into an empty database), or name another data directory`);
  } finally {
    db.close();
  }
}

/** The SQLite files of `home` (log, evidence) that its group or others may read or write: private openings and payloads (docs/log-format.md "Storage"). */
function exposedStores(home: string): string[] {
  const p = homePaths(home);
  return [p.db, p.evidence].filter((f) => {
    try {
      return (statSync(f).mode & 0o077) !== 0;
    } catch {
      return false;
    }
  });
}

/** The calls of the data directory's log. */
function homeCalls(home: string): CallRow[] {
  const db = openHomeLog(home);
  try {
    return listCalls(db);
  } finally {
    db.close();
  }
}

/** The calls of the fleet's log (`--store`, `$MCP_ATTEST_STORE`), read as its owner. */
async function fleetCallList(store: string | undefined): Promise<CallRow[]> {
  const [{ PgLog }, { fleetCalls }] = await Promise.all([import('../store/pg-log.js'), import('../store/pg-bundle.js')]);
  const log = await PgLog.open(storeUrl(store), { max: 1 });
  try {
    return await fleetCalls(log);
  } finally {
    await log.close();
  }
}

/** Register `log export`, `log checkpoint`, `log show`, and the serving and witnessing commands. */
export function registerLogCommands(program: Command): void {
  const log = program.command('log').description('the transparency log');
  const publish = (verb: string) => async (o: { home?: string; out: string; store?: string; json?: boolean }): Promise<void> => {
    const store = await openStore(o);
    try {
      const r = await publishTiles(store, o.out);
      if (o.json) return outJson({ size: r.size.toString(), written: r.written, kept: r.kept });
      out(`${verb} ${r.size} entries to ${join(o.out)}: ${r.written} files written, ${r.kept} already there`);
    } finally {
      await store.close();
    }
  };
  log.command('export')
    .description('write the log as a C2SP tlog-tiles directory (checkpoint, tile/..., tile/entries/...): the same files as publish')
    .option('--home <dir>', 'data directory')
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'print as JSON')
    .action(publish('exported'));
  log.command('publish')
    .description('publish the log, incrementally, as immutable static tlog-tiles for any web server or CDN: the partial tiles of every checkpointed size, the checkpoint last')
    .option('--home <dir>', 'data directory')
    .requiredOption('--out <dir>', 'output directory (kept between runs: only new files are written)')
    .option('--store <url>', 'a fleet\'s log on PostgreSQL (postgres://…; default $MCP_ATTEST_STORE) instead of the data directory\'s')
    .option('--json', 'print as JSON')
    .action(publish('published'));
  log.command('integrate')
    .description('be the integrator of a fleet\'s PostgreSQL log: add sequenced entries to the tree and sign checkpoints with this data directory\'s log key, one integrator at a time (others wait on standby); until SIGTERM')
    .option('--home <dir>', 'data directory holding the log key')
    .option('--store <url>', 'the fleet\'s log: postgres://… (default $MCP_ATTEST_STORE)')
    .option('--interval-ms <ms>', 'pause when there is nothing to integrate', '200')
    .option('--checkpoint-ms <ms>', 'sign a checkpoint at most this often', '1000')
    .option('--lease-ms <ms>', 'the role\'s lease: a standby takes over from an integrator frozen this long', '10000')
    .option('--witness-timeout <ms>', 'time limit of one witness request (witnesses: `log witnesses add` in this data directory)', '10000')
    .option('--once', 'one step (take the role, integrate, sign a checkpoint, one witnessing round) and exit')
    .action(async (o: { home?: string; store?: string; intervalMs: string; checkpointMs: string; leaseMs: string; witnessTimeout: string; once?: boolean }) => {
      const { integrateLoop } = await import('./integrate.js');
      await integrateLoop(resolveHome(o.home), storeUrl(o.store), { intervalMs: Number(o.intervalMs), checkpointMs: Number(o.checkpointMs), leaseMs: Number(o.leaseMs), witnessTimeoutMs: Number(o.witnessTimeout), once: o.once === true });
    });
  log.command('checkpoint')
    .description('sign a checkpoint for the current log size (seals entries a killed proxy left uncovered)')
    .option('--home <dir>', 'data directory')
    .action(async (o: { home?: string }) => {
      const recorder = await Recorder.open(resolveHome(o.home), { evidence: false, shortLived: true });
      const size = recorder.db.size();
      await recorder.close();
      out(`checkpoint at size ${size}`);
    });
  log.command('show')
    .description('list the recorded calls: time, server, tool, status, ids')
    .option('--home <dir>', 'data directory')
    .option('--store <url>', 'a fleet\'s log (postgres://…, as its owner: default $MCP_ATTEST_STORE) instead of the data directory\'s')
    .option('--json', 'print as JSON')
    .action(async (o: { home?: string; store?: string; json?: boolean }) => {
      const calls = fleetLog(o) ? await fleetCallList(o.store) : homeCalls(resolveHome(o.home));
      if (o.json) return outJson(calls);
      // Every column is cut, then its control characters escaped: a refusal's tool and call id are
      // a stranger's words, and a terminal must not take them as commands.
      const cell = (v: string | null, n: number): string => printable((v ?? '').length > n ? `${(v ?? '').slice(0, n - 1)}…` : v ?? '');
      const status = (c: (typeof calls)[number]): string => cell(c.status ? c.status + (c.reason ? ` (${c.reason})` : '') + (c.task_result_idx !== null ? ' [task]' : '') : 'in flight', 60);
      // The status column as wide as its longest value: a reason such as attestation_refused ran into the entries.
      let sw = 27;
      for (const c of calls) sw = Math.max(sw, status(c).length);
      out(['STARTED'.padEnd(21) + 'SERVER'.padEnd(22) + 'TOOL'.padEnd(22) + 'STATUS'.padEnd(sw + 1) + 'ENTRIES  CALL']
        .concat(calls.map((c) => `${cell(c.started, 20).padEnd(21)}${cell(c.server, 21).padEnd(22)}${cell(c.tool, 21).padEnd(22)}`
          + `${status(c).padEnd(sw + 1)}${`${c.attestation_idx}/${c.receipt_idx ?? '-'}${c.task_result_idx !== null ? `/${c.task_result_idx}` : ''}`.padEnd(9)}${cell(c.call_id, 32)}`)).join('\n'));
    });
  log.command('migrate')
    .description('move the data directory\'s log to PostgreSQL: same indices, entries, openings, checkpoints and roots, cosignatures kept (stop the proxies first)')
    .option('--home <dir>', 'data directory')
    .requiredOption('--to <url>', 'an empty PostgreSQL database: postgres://user:password@host:port/database')
    .option('--json', 'print as JSON')
    .action(async (o: { home?: string; to: string; json?: boolean }) => {
      // The PostgreSQL client is loaded by the commands that use it only.
      const [{ PgLog }, { migrateToPostgres }] = await Promise.all([import('../store/pg-log.js'), import('../store/pg-migrate.js')]);
      const paths = homePaths(resolveHome(o.home));
      // Moved once (or claimed by an integrator): a second move would point its key at a second fleet's log.
      if (exists(paths.moved)) throw new CliExit(EXIT_USAGE, `this data directory's log is a fleet's already (${paths.moved}): it is not moved again`);
      const db = openHomeLog(paths.home);
      try {
        const log = await PgLog.open(o.to);
        try {
          const logId = await log.logId();
          // The marker is durable before the move commits: a crash between them leaves a data directory that refuses to record, never a second history.
          let marked = false;
          const m = await migrateToPostgres(db, log, {
            origin: loadIdentity(paths.home).log.origin,
            beforeCommit: (n) => {
              // Only if no marker is there: a fleet's proxy or integrator that claimed the directory meanwhile rolls the move back.
              if (!markMoved(paths.moved, o.to, n, logId)) throw new CliExit(EXIT_USAGE, `this data directory was claimed for a fleet's log while it moved (${paths.moved}): nothing moved`);
              marked = true;
            },
          }).catch((e: unknown) => {
            if (marked) rmSync(paths.moved, { force: true });
            throw e;
          });
          if (o.json) return outJson({ entries: m.entries.toString(), checkpoints: m.checkpoints, cosignatures: m.cosignatures });
          out(`moved ${m.entries} entries, ${m.checkpoints} checkpoints (every root checked) and ${m.cosignatures} cosignatures to PostgreSQL`);
        } finally {
          await log.close();
        }
      } finally {
        db.close();
      }
    });
  log.command('status')
    .description('where the log stands: size, integrated size, the latest checkpoint and its age, entries not yet sealed, each witness\'s lag')
    .option('--home <dir>', 'data directory')
    .option('--store <url>', 'a fleet\'s log on PostgreSQL (postgres://…; default $MCP_ATTEST_STORE) instead of the data directory\'s')
    .option('--json', 'print as JSON')
    .action(async (o: { home?: string; store?: string; json?: boolean }) => {
      const home = resolveHome(o.home);
      // A fleet's log needs no data directory unless one is named: its origin is its checkpoints', its witnesses the directory's.
      const own = !fleetLog(o) || o.home !== undefined || exists(homePaths(home).identity);
      const identity = own ? loadIdentity(home) : null;
      const origin = identity?.log.origin ?? null;
      // A fleet's log made here (its owner's first `log status`) gets its parameters entry now, the
      // format of the data directory named: the first writer to append does not decide it. A data
      // directory nothing has recorded in yet has no log: its status is that of an empty one.
      const store = fleetLog(o) ? await openFleet(o, identity === null ? undefined : { ...identity.log, home }) : hasHomeLog(home) ? await openStore(o) : null;
      if (!fleetLog(o) && exists(homePaths(home).moved)) err(`mcp-attest: this data directory's log moved to a fleet's log (${homePaths(home).moved}): this is the log it left; the fleet's is log status --store URL`);
      if (own) for (const f of exposedStores(home)) err(`mcp-attest: warning: ${f} may be read by other users of this machine (made by an earlier version, or copied): chmod 600 ${f}*`);
      try {
        const s = await logStatus(store, origin, own ? loadWitnesses(home).map((w) => w.name) : [], nowSeconds());
        if (fleetLog(o) && identity === null && s.size === '0') err('mcp-attest: the fleet\'s log is empty, with no entry 0 yet: as its owner, run log status --home DIR --store URL, DIR the integrator\'s data directory (docs/fleet.md)');
        if (o.json) return outJson(s);
        out(formatStatus(s));
      } finally {
        await store?.close();
      }
    });
  log.command('erase')
    .description('erase one call from a private log: its records, salts and payloads are deleted for good; the commitments, tree and checkpoints stay (docs/log-format.md)')
    .option('--home <dir>', 'data directory')
    .requiredOption('--call <id>', 'the call id (as `log show` lists it)')
    .option('--in-flight', 'erase a call that has no receipt yet: one a proxy killed mid-call left in flight (a proxy still running it logs the receipt after)')
    .option('--json', 'print as JSON')
    .action(async (o: { home?: string; call: string; inFlight?: boolean; json?: boolean }) => {
      const home = resolveHome(o.home);
      // Nothing recorded: no call to erase, and no log.db made for it.
      if (!hasHomeLog(home)) throw new CliExit(EXIT_USAGE, `no call ${o.call}: nothing has been recorded in this data directory yet`);
      // The recorder signs a checkpoint over the erasure record when it closes.
      const recorder = await Recorder.open(home, { evidence: false, shortLived: true });
      let r;
      try {
        r = await eraseCall(recorder.db, homePaths(home).evidence, o.call, nowSeconds(), { inFlight: o.inFlight === true });
      } finally {
        await recorder.close();
      }
      if (o.json) return outJson({ callId: o.call, entries: r.entries.map(String), payloads: r.payloads, erasureRecord: r.record.toString() });
      out(`erased call ${o.call}: entries ${r.entries.join(', ')} can no longer be opened; ${r.payloads} payloads deleted; erasure recorded at entry ${r.record}`);
    });
  registerLogServeCommands(log);
}
