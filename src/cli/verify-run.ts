/**
 * The work of `mcp-attest verify [PATH]` (registered in cmd-verify.ts, loaded when it runs):
 * offline verification of a data directory, a log.db, an exported tiles directory, or a receipt bundle file (`mcp-attest/bundle@1`). With
 * `--checkpoint FILE` (an earlier checkpoint note) and/or `--state DIR` (the checkpoints this
 * verifier accepted before), the log or bundle must be consistent with them: a fork or a
 * rollback fails. With `--state`, a verified checkpoint is remembered for the next run.
 */
import { identityOf, identityPath } from './verify-identity.js';
import { withOwnCredentialIssuer } from '../store/credential-issuer.js';
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { LogDb } from '../store/log-db.js';
import { homePaths, resolveHome } from '../store/home.js';
import { loadIdentity, loadIssuers, trustPolicyOf } from '../store/identity.js';
import { isTilesDir, MAX_CHECKPOINT_FILE_BYTES, readTilesDir } from '../store/tiles.js';
import { readHead, readRegularFile } from '../store/read-regular.js';
import { checkSqliteFiles } from '../store/sqlite-guard.js';
import { VerifierState } from '../store/verifier-state.js';
import { loadWitnesses } from '../store/witnesses.js';
import { verifyLog, type FactsSource, type LogInput, type LogReport } from '../verify/log.js';
import { rejectedBundle, verifyBundle, type BundleReport } from '../verify/bundle.js';
import { openCheckpoint } from '../verify/checkpoints.js';
import { insertFindings, notice, type Finding } from '../verify/findings.js';
import type { KnownCheckpoint } from '../verify/split-view.js';
import type { IdentityView } from '../identity/verify-identity.js';
import type { TrustPolicy } from '../verify/policy.js';
import { fromBase64 } from '../bytes/index.js';
import { keySource, policyKeySource, type KeyOptions, type KeySource } from './keysource.js';
import { MAX_VERIFY_THREADS, workerFacts } from '../platform/verify-workers.js';
import { isAttestError } from '../errors.js';
import { MAX_BUNDLE_BYTES } from '../bundle/format.js';
import { isGzip } from '../bundle/gzip.js';
import { gunzipStrict } from '../platform/gunzip.js';
import { verifySessionReceipt, type SessionReceiptReport } from '../verify/session-receipt.js';
import { SESSION_RECEIPT_HEAD } from '../bundle/session-receipt.js';
import { MAX_POLICY_DOC_BYTES, policyDocDigest } from '../receipt/session.js';
import { printSession } from './session-report.js';
import { MAX_LISTED_CALLS, bundleCalls, callLines, requireReceipts } from './verify-calls.js';
import type { CallRow } from '../store/calls.js';
import { CliExit, EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, err, out, outJson, jsonReplacer } from './output.js';
import { homeLogPath } from './home-log.js';

/** A log read for verifying; `findings()`: what reading its entries found, once they were read. */
interface Loaded { input: LogInput; count: number; findings(): Finding[]; home: string | null; close(): void }
export type VerifyOptions = KeyOptions & { home?: string; json?: boolean; checkpoint?: string; state?: string; policyDoc?: string; threads?: string; identity?: string; requireReceipts?: boolean };
/** A report, and for a small verified bundle its calls (cli/verify-calls.ts). */
type Report = (LogReport | BundleReport | SessionReceiptReport) & { kind: 'log' | 'bundle' | 'session'; callList?: CallRow[] };


/**
 * What the regular file at `path` (or the one a symlink named `path` points to) starts with:
 * `bundle` for `{` (after a byte order mark or whitespace, within 64 KiB), for 64 KiB of
 * whitespace alone, or for the gzip magic (a bundle or session receipt), `sqlite` for
 * SQLite's header (a log.db), `other` for anything else; null when it is no regular file we
 * can open (left to {@link load}, which refuses it).
 */
function sniff(path: string): 'bundle' | 'sqlite' | 'other' | null {
  const head = readHead(path, HEAD_BYTES);
  if (head === null) return null;
  // A byte order mark too: the bundle path then refuses it as the strict JSON it is not (as the verify page does); or gzip (bundle/gzip.ts).
  // A head of whitespace alone, the file going on: JSON may have more before its `{`, and the
  // verify page reads it so; the strict parser decides what follows.
  const json = /^(\xef\xbb\xbf)?[ \t\r\n]*(\{|$)/.exec(head.toString('latin1'));
  if (isGzip(head) || (json !== null && (json[2] === '{' || head.length === HEAD_BYTES))) return 'bundle';
  return head.toString('latin1').startsWith('SQLite format 3\0') ? 'sqlite' : 'other';
}

/** How far {@link sniff} looks for the `{` that starts a bundle: 64 KiB (a log.db starts "SQLite format 3"). */
const HEAD_BYTES = 64 * 1024;

/** `stat` (`lstat` when `link`), or null when there is nothing there (ENOENT, ENOTDIR); `CliExit` (exit 3) for any other failure (EACCES). */
function statOrNull(path: string, link = false): Stats | null {
  try {
    return (link ? lstatSync(path) : statSync(path)) ?? null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new CliExit(EXIT_IO, `cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Load what to verify from a tiles directory, a data directory or a log.db file. The path
 * named may be a symlink; the log.db inside a data directory may not (docs/cli.md, "Inputs").
 * Throws `CliExit` (3) when there is no log, `ERR_STORE_IO`, and for a file that is not what
 * it should be `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`, `ERR_STORE_CORRUPT`.
 */
function load(path: string): Loaded {
  if (isTilesDir(path)) {
    const t = readTilesDir(path);
    return { input: { entries: t.entries, checkpoints: [t.checkpoint] }, count: Number(t.size), findings: () => t.findings(), home: null, close: () => undefined };
  }
  if (statOrNull(path, true) === null) throw new CliExit(EXIT_IO, `nothing at ${path}: no such file or directory`);
  const home = statOrNull(path)?.isDirectory() ? path : null;
  const dbPath = home === null ? path : homePaths(home).db;
  if (home !== null && statOrNull(dbPath, true) === null) {
    if (statOrNull(homePaths(home).identity, true) === null) throw new CliExit(EXIT_IO, `nothing to verify at ${path}: not a log file, a data directory (no identity.json) or a tiles directory (no checkpoint)`);
    homeLogPath(home);
  }
  const file = home === null ? checkSqliteFiles(path, { what: 'log', follow: true }) : checkSqliteFiles(join(realpathSync(home), 'log.db'), { what: 'log' });
  const db = new LogDb(file, 'full', true);
  // The operator's own store keeps every opening: a private entry without one was erased.
  // The checkpoints are read one at a time, as the verification reaches their sizes, each
  // with the size it is stored under.
  const input = { entries: db.entries(), checkpoints: db.checkpointRows(), sealed: 'erased' as const };
  return { input, count: Number(db.size()), findings: () => [], home, close: () => db.close() };
}

/** A cosignature's timestamp (POSIX seconds, decimal) as ISO 8601 UTC, or as given when it is past what a date holds. */
function showWitnessTime(t: string): string {
  const ms = Number(t) * 1000;
  return Number.isSafeInteger(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : `${t} s`;
}

function printReport(path: string, r: Report): void {
  out(`${r.ok ? 'VERIFIED' : 'FAILED'}  ${r.kind} ${path}`);
  const head = r.kind === 'log' ? `entries ${(r as LogReport).size}` : `entries ${(r as BundleReport).entries}`;
  const witnessed = r.witnesses.length > 0 ? `, cosigned by ${r.witnesses.map((w) => w.name).join(', ')}` : '';
  out(`  ${head}, checkpoint ${r.checkpoint ? `${r.checkpoint.origin} @ ${r.checkpoint.size}` : 'none accepted'}${witnessed}`);
  // What a counterparty keeps to compare with others (root), and when each witness vouched (its own clock: policy input, not checked).
  if (r.checkpoint) out(`  root ${r.checkpoint.rootHash}${r.witnesses.map((w) => `; ${w.name} at ${showWitnessTime(w.timestamp)}`).join('')}`);
  const lr = r as LogReport;
  const sealed = r.kind !== 'log' ? '' : `${lr.sealed > 0 ? `; sealed ${lr.sealed}` : ''}${lr.erased > 0 ? `; erased ${lr.erased}` : ''}`;
  out(`  calls ${r.calls}, receipts ${r.receipts}, unanswered ${r.unanswered}, in flight ${r.inFlight}${r.refused + r.unattested > 0 ? `; refused ${r.refused}, unattested ${r.unattested}` : ''}${sealed}`);
  for (const line of callLines(r.callList ?? [])) out(line);
  if (r.kind === 'session') printSession(r as SessionReceiptReport);
  for (const f of r.findings) {
    let line = `  ${f.severity === 'error' ? 'FAIL' : 'note'}  ${f.code}${f.index !== undefined ? ` [entry ${f.index}]` : ''}  ${f.message}`;
    if (f.expected !== undefined) line += `\n        expected: ${JSON.stringify(f.expected, jsonReplacer)}`;
    if (f.found !== undefined) line += `\n        found:    ${JSON.stringify(f.found, jsonReplacer)}`;
    out(line);
  }
}

/**
 * Trust material: `--trust`, else (for a data directory) its own keys, with a notice, and the
 * credential issuer of `issuerHome` (the data directory `--identity` names, else `home`).
 */
async function trustFor(home: string | null, o: KeyOptions, pre: Finding[], issuerHome = home): Promise<KeySource> {
  if (o.trust !== undefined) return keySource(o);
  if (home === null) throw new CliExit(EXIT_USAGE, 'verifying a bundle, a session receipt, a log file or a tiles directory needs --trust FILE (keys in the file itself are never trusted)');
  const also = issuerHome !== null && issuerHome !== home ? ` and the credential issuer of ${issuerHome}` : '';
  pre.push(notice('NOTE_SELF_TRUST', `no --trust given: trusting the data directory's own keys${also} (an auditor passes --trust)`));
  return policyKeySource(withOwnCredentialIssuer(issuerHome ?? home, trustPolicyOf(loadIdentity(home), loadWitnesses(home), 0, loadIssuers(home))), o.secret);
}

/** What one verification gives `verifyCommand`: the report, the note of the checkpoint it rests on (for `--state`), and the identity log it decided calls under credentials against. */
interface Verified { report: Report; note: string | null; identity?: IdentityView | null }

/** A report for a log that could not even be read through: one error finding. */
function unreadable(path: string, e: unknown): Report {
  const code = isAttestError(e) ? e.code : 'ERR_STORE_CORRUPT';
  return { kind: 'log', ok: false, size: '0', checkpointSize: null, checkpoint: null, witnesses: [], calls: 0, receipts: 0, unanswered: 0, inFlight: 0, refused: 0, unattested: 0, sealed: 0, erased: 0, findings: [{ severity: 'error', code, message: `cannot read the log at ${path}: ${(e as Error).message}` }] };
}

/** Checkpoints accepted earlier: `--checkpoint FILE` (must open under the policy) and the `--state` directory's. */
async function knownCheckpoints(o: VerifyOptions, policy: TrustPolicy, state: VerifierState | null): Promise<KnownCheckpoint[]> {
  const known = state?.known() ?? [];
  if (o.checkpoint !== undefined) {
    const findings: Finding[] = [];
    const text = readRegularFile(o.checkpoint, MAX_CHECKPOINT_FILE_BYTES, { follow: true, what: '--checkpoint' }).toString('utf8');
    const cp = await openCheckpoint(text, policy, findings);
    if (!cp) throw new CliExit(EXIT_USAGE, `--checkpoint ${o.checkpoint}: ${findings.map((f) => `${f.code} ${f.message}`).join('; ')}`);
    known.push({ origin: cp.origin, size: cp.size, rootHash: cp.rootHash, demanded: true });
  }
  return known;
}

/** `--threads`: an integer from 1 to {@link MAX_VERIFY_THREADS}, or undefined for the default (`CliExit` 2 otherwise). */
function threadsOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^[1-9][0-9]?$/.test(v) ? Number(v) : NaN;
  if (!(n <= MAX_VERIFY_THREADS)) throw new CliExit(EXIT_USAGE, `--threads takes an integer from 1 to ${MAX_VERIFY_THREADS}`);
  return n;
}

/** The per-entry checks of a log or bundle: over `threads` worker threads (workers.ts decides when it is worth it), with the secret the key source read. */
function factsFor(threads: number | undefined, ks: KeySource, expected?: number): FactsSource {
  return workerFacts({ threads, secret: ks.secret ?? null, ...(expected === undefined ? {} : { expected }) });
}

/** Verify the log at `path`; `headless`: a file with neither SQLite's header nor a bundle's start (said so when it cannot be read). */
async function verifyLogPath(path: string, o: VerifyOptions, state: VerifierState | null, threads: number | undefined, headless = false): Promise<Verified> {
  if (o.policyDoc !== undefined) throw new CliExit(EXIT_USAGE, '--policy-doc is for session receipts (mcp-attest/session-receipt@1), not logs');
  const given = o.identity === undefined ? null : identityPath(o.identity);
  let loaded: Loaded;
  try {
    loaded = load(path);
  } catch (e) {
    if (isAttestError(e, 'ERR_STORE_IO') || e instanceof CliExit) throw e;
    const what = headless && !(isAttestError(e) && e.code.startsWith('ERR_INPUT_')) ? new Error('it is neither a log.db (no SQLite header) nor a receipt bundle or session receipt (a JSON object, or gzip\'d)') : e;
    return { report: unreadable(path, what), note: null };
  }
  try {
    const pre: Finding[] = [];
    let ks = await trustFor(loaded.home, o, pre, given !== null && !given.follow ? o.identity : loaded.home);
    const own = loaded.home === null ? null : { path: join(realpathSync(loaded.home), 'identity.db'), follow: false };
    if ((given ?? own) !== null && ks.policy) {
      // Calls under agent credentials are decided against the identity log given, else the directory's own (docs/identity.md).
      const identityFindings: Finding[] = [];
      const identity = await identityOf(given ?? own, ks.policy, identityFindings, given !== null, state?.known() ?? []);
      loaded.input.identity = identity.view;
      loaded.input.identityFindings = identityFindings;
      if (identity.view !== null) ks = await policyKeySource(identity.policy, o.secret);
    }
    loaded.input.known = await knownCheckpoints(o, ks.policy!, state);
    // For --state: the note of the checkpoint the report rests on, as it was read and checked.
    let anchor: string | null = null;
    loaded.input.onAnchor = (note) => {
      anchor = note;
    };
    // Loaded only when shown (a terminal, not --json, a log worth waiting for): ~10 ms of start-up otherwise.
    const bar = process.stderr.isTTY && !o.json && loaded.count > 2000 ? new (await import('cli-progress')).SingleBar({ format: 'verifying {bar} {value}/{total} entries', stream: process.stderr }) : null;
    bar?.start(loaded.count, 0);
    try {
      const report: Report = { kind: 'log', ...(await verifyLog(loaded.input, ks.policy!, ks.keys, (n) => bar?.update(n), factsFor(threads, ks, loaded.count))) };
      // Read while the entries were (a tiles directory's, an opening that does not match).
      insertFindings(report.findings, 0, [...loaded.findings(), ...pre]);
      report.ok = !report.findings.some((f) => f.severity === 'error');
      return { report, note: report.checkpoint === null ? null : anchor, identity: loaded.input.identity ?? null };
    } catch (e) {
      // A store that breaks while being read (corrupt rows, dropped tables) fails the verification;
      // a failed worker thread leaves it undecided.
      if (isAttestError(e, 'ERR_STORE_IO') || isAttestError(e, 'ERR_VERIFY_WORKER')) throw e;
      return { report: unreadable(path, e), note: null };
    } finally {
      bar?.stop();
    }
  } finally {
    loaded.close();
  }
}


async function verifyBundlePath(path: string, o: VerifyOptions, state: VerifierState | null, threads: number | undefined): Promise<Verified> {
  const ks = await trustFor(null, o, []);
  // --identity: the calls are decided against the issuer's identity log as it stands, not the range the bundle's maker chose.
  const given = o.identity === undefined ? null : identityPath(o.identity);
  const identityLog = given === null ? undefined : async (range: KnownCheckpoint | null, findings: Finding[]) =>
    (await identityOf(given, ks.policy!, findings, true, [...(state?.known() ?? []), ...(range === null ? [] : [range])])).view;
  const known = await knownCheckpoints(o, ks.policy!, state);
  let text: string;
  try {
    // A byte order mark is kept, so the strict parser refuses it (the verify page reads files the same way).
    const bytes: Uint8Array = readRegularFile(path, MAX_BUNDLE_BYTES, { follow: true, what: 'bundle' });
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(isGzip(bytes) ? gunzipStrict(bytes, MAX_BUNDLE_BYTES) : bytes);
  } catch (e) {
    if (isAttestError(e, 'ERR_STORE_IO')) throw e;
    const code = isAttestError(e) ? e.code : 'ERR_ENCODING_INVALID';
    return { report: { kind: 'bundle', ...rejectedBundle([{ severity: 'error', code, message: `bundle rejected: ${(e as Error).message}` }]) }, note: null };
  }
  const session = SESSION_RECEIPT_HEAD.test(text.slice(0, 256));
  if (!session && o.policyDoc !== undefined) throw new CliExit(EXIT_USAGE, '--policy-doc is for session receipts (mcp-attest/session-receipt@1): this is not one');
  if (session && given !== null) throw new CliExit(EXIT_USAGE, '--identity is for logs and bundles: a session receipt is not decided under agent credentials');
  let identity: IdentityView | null = null;
  const policyDoc = o.policyDoc === undefined ? undefined : policyDocDigest(new Uint8Array(readRegularFile(o.policyDoc, MAX_POLICY_DOC_BYTES, { follow: true, what: '--policy-doc' })));
  const report: Report = session
    ? { kind: 'session', ...(await verifySessionReceipt(text, ks.policy!, ks.keys, { known, ...(policyDoc ? { policyDocDigest: policyDoc } : {}) })) }
    : { kind: 'bundle', ...(await verifyBundle(text, ks.policy!, ks.keys, { known, facts: factsFor(threads, ks), onIdentity: (v) => void (identity = v), ...(identityLog ? { identityLog } : {}) })) };
  // A small bundle's calls, one by one: what a counterparty was shown (read again: not for a range of thousands).
  if (report.kind === 'bundle' && report.ok && report.calls <= MAX_LISTED_CALLS) report.callList = bundleCalls(text);
  // The checkpoint note, for --state only (reading it again costs ~40 ms on a 24 MB bundle).
  const note = report.ok && state !== null ? (JSON.parse(text) as { checkpoint: string }).checkpoint : null;
  return { report, note, identity };
}

/** Run `verify` (see the module comment); sets `process.exitCode`. Throws CliExit for usage and I/O errors. */
export async function verifyCommand(pathArg: string | undefined, o: VerifyOptions): Promise<void> {
  const threads = threadsOption(o.threads);
  const path = pathArg ?? resolveHome(o.home);
  const state = o.state === undefined ? null : new VerifierState(o.state);
  try {
    const kind = sniff(path);
    const { report, note, identity } = kind === 'bundle' ? await verifyBundlePath(path, o, state, threads) : await verifyLogPath(path, o, state, threads, kind === 'other');
    if (o.requireReceipts && report.kind !== 'session') Object.assign(report, requireReceipts(report.findings));
    const cp = report.checkpoint;
    if (state && report.ok && cp && note && cp.size !== '0') state.accept({ origin: cp.origin, size: BigInt(cp.size), rootHash: fromBase64(cp.rootHash) }, note);
    // The identity log the calls were decided against: a later run refuses an older copy of it.
    if (state && report.ok && identity && identity.size > 0n) state.accept({ origin: identity.origin, size: identity.size, rootHash: identity.rootHash }, identity.note);
    if (o.json) outJson({ path, verified: report.ok, ...report });
    else printReport(path, report);
    // An agent's own data directory holds no identity log: say where one comes from.
    if (kind !== 'bundle' && o.identity === undefined && report.findings.some((f) => f.code === 'ERR_CREDENTIAL_UNLOGGED' && f.message.includes('no verified identity log holds it'))) {
      err('mcp-attest: calls under agent credentials are decided against the credential issuer\'s identity log: give --identity DIR, its data directory');
    }
    process.exitCode = report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    state?.close();
  }
}
