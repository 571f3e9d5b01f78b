/**
 * `mcp-attest receipt list | export | attach` (docs/session.md): the agent side of receipt
 * sessions from the command line. `export SESSION --out FILE` writes the session receipt that
 * travels between parties; `attach SESSION FILE...` logs the approvals and confirmations
 * parties appended to their copies (deferred: after sealing; logged, so the next export
 * carries them with inclusion proofs). `list` only reads the log; none of them creates one in
 * a data directory nothing has recorded in yet.
 */
import { writeOutput } from '../store/synced.js';
import type { Command } from 'commander';
import { AttestError } from '../errors.js';
import { parseJson } from '../jcs/index.js';
import { resolveHome } from '../store/home.js';
import { SessionHome } from '../store/session-export.js';
import { checkSessionId, SessionStore, type SessionRow } from '../store/sessions.js';
import { hasHomeLog, openHomeLog } from './home-log.js';
import { readInput } from './keysource.js';
import { MAX_BUNDLE_BYTES } from '../bundle/format.js';
import { isSessionReceipt, parseSessionReceipt } from '../bundle/session-receipt.js';
import { parseDecimal } from '../log/u64.js';
import { parseNote } from '../log/note.js';
import { CliExit, EXIT_USAGE, collect, err, out, outJson } from './output.js';

/**
 * Run `f` on the data directory's sessions, the log opened for writing (`export` signs a
 * checkpoint, `attach` appends). A data directory nothing has recorded in yet has no session:
 * `sessionId` is refused `ERR_SESSION_UNKNOWN` there, and no log is created for it.
 */
async function withHome<T>(home: string | undefined, sessionId: string, f: (h: SessionHome) => Promise<T> | T): Promise<T> {
  const dir = resolveHome(home);
  if (!hasHomeLog(dir)) throw new AttestError('ERR_SESSION_UNKNOWN', `no session ${checkSessionId(sessionId)}: nothing has been recorded in this data directory yet`, { found: sessionId });
  const h = await SessionHome.open(dir, { shortLived: true });
  try {
    return await f(h);
  } finally {
    await h.close();
  }
}

/** The receipt sessions of the data directory `home`, oldest first, read without writing: none in one nothing has recorded in yet. */
function listSessions(home: string | undefined): SessionRow[] {
  const dir = resolveHome(home);
  if (!hasHomeLog(dir)) return [];
  const db = openHomeLog(dir);
  try {
    // A log of an earlier version, from before receipt sessions, has none.
    return db.hasTable('sessions') ? new SessionStore(db, null, null).list() : [];
  } finally {
    db.close();
  }
}

interface ExportOptions { home?: string; out: string; since?: string[]; evidence?: boolean; witness?: boolean; json?: boolean }

async function exportCommand(sessionId: string, o: ExportOptions): Promise<void> {
  const since = (o.since ?? []).map((s) => {
    const n = parseDecimal(s);
    if (n === null) throw new CliExit(EXIT_USAGE, `--since ${s}: not a decimal tree size`);
    return n;
  });
  await withHome(o.home, sessionId, async (h) => {
    const row = h.sessions.row(sessionId);
    const { receipt, text, witnessing } = await h.exportReceipt(sessionId, { since, evidence: o.evidence === true, witness: o.witness !== false });
    writeOutput(o.out, text);
    for (const w of witnessing) if (w.status !== 'cosigned' && w.status !== 'already') err(`mcp-attest: witness ${w.witness}: ${w.status} ${w.message ?? ''}`);
    const signers = parseNote(receipt.bundle.checkpoint).signatures.map((s) => s.name);
    const summary = {
      out: o.out, sessionId, bytes: Buffer.byteLength(text), entries: receipt.bundle.entries.length, actions: row.action_count, sealed: row.seal_idx !== null,
      checkpointSize: receipt.bundle.checkpoint.split('\n')[1]!, signatures: signers, evidence: receipt.evidence.length,
    };
    if (o.json) return outJson(summary);
    out(`wrote ${o.out}: session ${sessionId}, ${summary.actions} actions${summary.sealed ? ', sealed' : ', NOT sealed (verification will fail until finalized)'}, ${summary.entries} entries, checkpoint at size ${summary.checkpointSize} signed by ${signers.join(', ')}`);
  });
}

/** The approvals and confirmations in FILE: a session receipt's attachments, or one statement. */
function attachmentsIn(file: string): unknown[] {
  const text = readInput(file, MAX_BUNDLE_BYTES, 'attachment file').toString('utf8');
  const value = parseJson(text, { maxBytes: MAX_BUNDLE_BYTES, maxDepth: 48 });
  return isSessionReceipt(value) ? parseSessionReceipt(text).attachments : [value];
}

async function attachCommand(sessionId: string, files: string[], o: { home?: string; json?: boolean }): Promise<void> {
  // Every file read before the log is opened for writing.
  const attachments = files.flatMap(attachmentsIn);
  // Printed once the home is closed, its appends synced: "logged" means on disk.
  const results = await withHome(o.home, sessionId, (h) => {
    const phase = h.sessions.row(sessionId).seal_idx === null ? 'open' : 'sealed';
    return attachments.map((a) => {
      const r = h.sessions.attach(sessionId, a, phase);
      return { index: r.index.toString(), kind: r.statement.kind, party: 'party' in r.statement ? r.statement.party : null, digest: r.digest, already: r.already };
    });
  });
  if (o.json) return outJson(results);
  for (const r of results) out(`${r.already ? 'already logged' : 'logged'}  ${r.kind} by ${r.party} at entry ${r.index}`);
  if (results.length === 0) throw new AttestError('ERR_USAGE', 'no approval or confirmation in the given files');
}

/** Register `receipt list`, `receipt export` and `receipt attach` (after the envelope commands). */
export function registerReceiptCommands(program: Command): void {
  // `receipt verify` (one execution receipt) is registered by cmd-envelopes.ts.
  const receipt = program.commands.find((c) => c.name() === 'receipt') ?? program.command('receipt');
  receipt.description('execution receipts and session receipts: verify one receipt; list sessions, export a session receipt, log approvals and confirmations');
  receipt.command('list')
    .description('list the receipt sessions of the data directory')
    .option('--home <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action((o: { home?: string; json?: boolean }) => {
      const rows = listSessions(o.home).map((r) => ({ sessionId: r.session_id, task: r.task, delegator: r.delegator, actions: r.action_count, sealed: r.seal_idx !== null, started: r.created }));
      if (o.json) return outJson(rows);
      for (const r of rows) out(`${r.sessionId}  ${r.sealed ? 'sealed' : 'open  '}  ${String(r.actions).padStart(4)} actions  ${r.started}  ${JSON.stringify(r.task.slice(0, 60))}`);
    });
  receipt.command('export <session>')
    .description('write the session receipt (statements, captured calls, inclusion proofs, cosigned checkpoint) for offline verification')
    .option('--home <dir>', 'data directory')
    .requiredOption('--out <file>', 'output file')
    .option('--since <size>', 'also prove consistency from this tree size (one the recipient holds); repeatable', collect)
    .option('--evidence', 'disclose the actions\' evidence payloads (each checked against its commitment)')
    .option('--no-witness', 'do not ask the configured witnesses to cosign first')
    .option('--json', 'print the summary as JSON')
    .action(exportCommand);
  receipt.command('attach <session> <files...>')
    .description('log the approvals and confirmations in FILES (receipts with attachments, or single statements) into the session')
    .option('--home <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(attachCommand);
}
