/**
 * `mcp-attest verify`, `mcp-attest log export`, `mcp-attest log show`.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { LogDb } from '../store/log-db.js';
import { homePaths, resolveHome } from '../store/home.js';
import { loadIdentity } from '../store/identity.js';
import { exportTiles, isTilesDir, readTilesDir } from '../store/tiles.js';
import { verifyLog, type LogInput, type LogReport } from '../verify/log.js';
import { notice, type Finding } from '../verify/findings.js';
import { policyKeyResolver } from '../verify/policy.js';
import { keySource } from './keysource.js';
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
  out(`  entries ${r.size}, checkpoint ${r.checkpointSize ?? 'none'}; calls ${r.calls}, receipts ${r.receipts}, unanswered ${r.unanswered}, in flight ${r.inFlight}`);
  for (const f of r.findings) {
    let line = `  ${f.severity === 'error' ? 'FAIL' : 'note'}  ${f.code}${f.index !== undefined ? ` [entry ${f.index}]` : ''}  ${f.message}`;
    if (f.expected !== undefined) line += `\n        expected: ${JSON.stringify(f.expected, jsonReplacer)}`;
    if (f.found !== undefined) line += `\n        found:    ${JSON.stringify(f.found, jsonReplacer)}`;
    out(line);
  }
}

async function verifyCommand(pathArg: string | undefined, o: { home?: string; trust?: string; secret?: string; json?: boolean }): Promise<void> {
  const path = pathArg ?? resolveHome(o.home);
  const loaded = load(path);
  try {
    let ks;
    const pre: Finding[] = [...loaded.findings];
    if (o.trust !== undefined) ks = await keySource(o);
    else if (loaded.home !== null) {
      const policy = trustPolicyOf(loadIdentity(loaded.home));
      ks = { keys: policyKeyResolver(policy), accepted: policy.acceptedAlgorithms, policy };
      pre.push(notice('NOTE_SELF_TRUST', 'no --trust given: trusting the data directory\'s own keys (an auditor passes --trust)'));
    } else throw new CliExit(EXIT_USAGE, 'verifying a log directory needs --trust FILE');
    const bar = process.stderr.isTTY && !o.json && loaded.count > 2000 ? new SingleBar({ format: 'verifying {bar} {value}/{total} entries', stream: process.stderr }) : null;
    bar?.start(loaded.count, 0);
    const report = await verifyLog(loaded.input, ks.policy!, ks.keys, (n) => bar?.update(n));
    bar?.stop();
    report.findings.unshift(...pre);
    report.ok = !report.findings.some((f) => f.severity === 'error');
    if (o.json) outJson({ path, verified: report.ok, ...report });
    else printReport(path, report);
    process.exitCode = report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    loaded.close();
  }
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
