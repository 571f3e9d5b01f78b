/**
 * `mcp-attest log export`, `log checkpoint`, `log show` (and, from cmd-log-serve.ts,
 * `log serve`, `log witness`, `log witnesses`).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { LogDb } from '../store/log-db.js';
import { listCalls } from '../store/calls.js';
import { Recorder } from '../proxy/recorder.js';
import { homePaths, resolveHome } from '../store/home.js';
import { exportTiles } from '../store/tiles.js';
import { registerLogServeCommands } from './cmd-log-serve.js';
import { CliExit, EXIT_FAILED, out, outJson } from './output.js';

function openDb(path: string, readonly = true): LogDb {
  return new LogDb(path, 'full', readonly);
}

/** Register `log export`, `log checkpoint`, `log show`, and the serving and witnessing commands. */
export function registerLogCommands(program: Command): void {
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
        const calls = listCalls(db);
        if (o.json) return outJson(calls);
        out(['STARTED'.padEnd(21) + 'SERVER'.padEnd(22) + 'TOOL'.padEnd(22) + 'STATUS'.padEnd(28) + 'ENTRIES  CALL']
          .concat(calls.map((c) => `${(c.started ?? '').padEnd(21)}${(c.server ?? '').slice(0, 21).padEnd(22)}${(c.tool ?? '').slice(0, 21).padEnd(22)}`
            + `${(c.status ? c.status + (c.reason ? ` (${c.reason})` : '') : 'in flight').padEnd(28)}${`${c.attestation_idx}/${c.receipt_idx ?? '-'}`.padEnd(9)}${c.call_id}`)).join('\n'));
      } finally {
        db.close();
      }
    });
  registerLogServeCommands(log);
}
