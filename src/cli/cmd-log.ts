/**
 * `mcp-attest verify`, `mcp-attest log export`, `mcp-attest log show`.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { LogDb } from '../store/log-db.js';
import { Recorder } from '../proxy/recorder.js';
import { homePaths, resolveHome } from '../store/home.js';
import { loadIdentity } from '../store/identity.js';
import { exportTiles, isTilesDir, readTilesDir } from '../store/tiles.js';
import { verifyLog, type LogInput, type LogReport } from '../verify/log.js';
import { notice, type Finding } from '../verify/findings.js';
import { keySource, policyKeySource, type KeyOptions, type KeySource } from './keysource.js';
import { isAttestError } from '../errors.js';
import { trustPolicyOf } from './cmd-keys.js';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, out, outJson, jsonReplacer } from './output.js';

interface Loaded { input: LogInput; count: number; findings: Finding[]; home: string | null; close(): void }

function openDb(path: string, readonly = true): LogDb {
  return new LogDb(path, 'full', readonly);
}

/** Load what to verify from a tiles directory, a data directory or a log.db file. */
function load(path: string): Loaded {
  if (isTilesDir(path)) {
    const t = readTilesDir(path);
    return { input: { entries: t.entries, checkpoints: [t.checkpoint] }, count: t.entries.length, findings: t.findings, home: null, close: () => undefined };
  }
  const dbPath = existsSync(path) && statSync(path).isDirectory() ? homePaths(path).db : path;
  if (!existsSync(dbPath)) throw new CliExit(3, `no log at ${dbPath}`);
  const db = openDb(dbPath);
  const input = { entries: db.entries(), checkpoints: db.checkpoints().map((c) => c.note) };
  return { input, count: Number(db.size()), findings: [], home: dbPath === path ? null : path, close: () => db.close() };
}

function printReport(path: string, r: LogReport): void {
  out(`${r.ok ? 'VERIFIED' : 'FAILED'}  log ${path}`);
  out(`  entries ${r.size}, checkpoint ${r.checkpointSize ?? 'none'}; calls ${r.calls}, receipts ${r.receipts}, unanswered ${r.unanswered}, in flight ${r.inFlight}${r.refused + r.unattested > 0 ? `; refused ${r.refused}, unattested ${r.unattested}` : ''}`);
  for (const f of r.findings) {
    let line = `  ${f.severity === 'error' ? 'FAIL' : 'note'}  ${f.code}${f.index !== undefined ? ` [entry ${f.index}]` : ''}  ${f.message}`;
    if (f.expected !== undefined) line += `\n        expected: ${JSON.stringify(f.expected, jsonReplacer)}`;
    if (f.found !== undefined) line += `\n        found:    ${JSON.stringify(f.found, jsonReplacer)}`;
    out(line);
  }
}

/** Trust material: `--trust`, else (for a data directory) its own keys, with a notice. */
async function trustFor(loaded: Loaded, o: KeyOptions, pre: Finding[]): Promise<KeySource> {
  if (o.trust !== undefined) return keySource(o);
  if (loaded.home === null) throw new CliExit(EXIT_USAGE, 'verifying a log file or tiles directory needs --trust FILE');
  pre.push(notice('NOTE_SELF_TRUST', 'no --trust given: trusting the data directory\'s own keys (an auditor passes --trust)'));
  return policyKeySource(trustPolicyOf(loadIdentity(loaded.home)), o.secret);
}

/** A report for a log that could not even be read through: one error finding. */
function unreadable(path: string, e: unknown): LogReport {
  const code = isAttestError(e) ? e.code : 'ERR_STORE_CORRUPT';
  return { ok: false, size: '0', checkpointSize: null, calls: 0, receipts: 0, unanswered: 0, inFlight: 0, refused: 0, unattested: 0, findings: [{ severity: 'error', code, message: `cannot read the log at ${path}: ${(e as Error).message}` }] };
}

async function verifyCommand(pathArg: string | undefined, o: KeyOptions & { home?: string; json?: boolean }): Promise<void> {
  const path = pathArg ?? resolveHome(o.home);
  let report: LogReport;
  let loaded: Loaded | null = null;
  try {
    try {
      loaded = load(path);
    } catch (e) {
      if (isAttestError(e, 'ERR_STORE_IO') || e instanceof CliExit) throw e;
      report = unreadable(path, e);
    }
    if (loaded !== null) {
      const pre: Finding[] = [...loaded.findings];
      const ks = await trustFor(loaded, o, pre);
      const bar = process.stderr.isTTY && !o.json && loaded.count > 2000 ? new SingleBar({ format: 'verifying {bar} {value}/{total} entries', stream: process.stderr }) : null;
      bar?.start(loaded.count, 0);
      try {
        report = await verifyLog(loaded.input, ks.policy!, ks.keys, (n) => bar?.update(n));
        report.findings.unshift(...pre);
        report.ok = !report.findings.some((f) => f.severity === 'error');
      } catch (e) {
        // A store that breaks while being read (corrupt rows, dropped tables) fails the verification.
        if (isAttestError(e, 'ERR_STORE_IO')) throw e;
        report = unreadable(path, e);
      } finally {
        bar?.stop();
      }
    }
  } finally {
    loaded?.close();
  }
  if (o.json) outJson({ path, verified: report!.ok, ...report! });
  else printReport(path, report!);
  process.exitCode = report!.ok ? EXIT_OK : EXIT_FAILED;
}

/** Register `verify`, `log export`, `log show`. */
export function registerLogCommands(program: Command): void {
  program.command('verify [path]')
    .description('verify a log offline: a data directory, a log.db, or an exported tiles directory')
    .option('--home <dir>', 'data directory (when no path is given)')
    .option('--trust <file>', 'trust policy (JSON, from "mcp-attest trust export")')
    .option('--secret <file>', 'HS256 shared secret for HS256 issuers')
    .option('--json', 'print the report as JSON')
    .action(verifyCommand);
  const log = program.command('log').description('the transparency log');
  log.command('export')
    .description('write the log as a C2SP tlog-tiles directory (checkpoint, tile/..., tile/entries/...)')
    .option('--home <dir>', 'data directory')
    .requiredOption('--out <dir>', 'output directory')
    .action((o: { home?: string; out: string }) => {
      const db = openDb(homePaths(resolveHome(o.home)).db);
      try {
        const cps = db.checkpoints();
        const latest = cps[cps.length - 1];
        if (!latest) throw new CliExit(EXIT_FAILED, 'the log has no checkpoint yet');
        const files = exportTiles(o.out, latest.note, latest.size, (i) => db.entry(i)!, db.read);
        out(`exported ${latest.size} entries (${files} files) to ${join(o.out)}`);
      } finally {
        db.close();
      }
    });
  log.command('checkpoint')
    .description('sign a checkpoint for the current log size (seals entries a killed proxy left uncovered)')
    .option('--home <dir>', 'data directory')
    .action(async (o: { home?: string }) => {
      const recorder = await Recorder.open(resolveHome(o.home), { evidence: false });
      const size = recorder.db.size();
      await recorder.close();
      out(`checkpoint at size ${size}`);
    });
  log.command('show')
    .description('list the recorded calls: time, server, tool, status, ids')
    .option('--home <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action((o: { home?: string; json?: boolean }) => {
      const db = openDb(homePaths(resolveHome(o.home)).db);
      try {
        const calls = db.calls();
        if (o.json) return outJson(calls);
        out(['STARTED'.padEnd(21) + 'SERVER'.padEnd(22) + 'TOOL'.padEnd(22) + 'STATUS'.padEnd(28) + 'ENTRIES  CALL']
          .concat(calls.map((c) => `${(c.started ?? '').padEnd(21)}${(c.server ?? '').slice(0, 21).padEnd(22)}${(c.tool ?? '').slice(0, 21).padEnd(22)}`
            + `${(c.status ? c.status + (c.reason ? ` (${c.reason})` : '') : 'in flight').padEnd(28)}${`${c.attestation_idx}/${c.receipt_idx ?? '-'}`.padEnd(9)}${c.call_id}`)).join('\n'));
      } finally {
        db.close();
      }
    });
}
