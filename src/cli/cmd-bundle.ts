/**
 * `mcp-attest bundle (--call ID... | --range A..B) --out FILE [--since SIZE...]`: write a
 * receipt bundle (docs/bundle.md) that `mcp-attest verify FILE --trust T` checks with no
 * network: one call gives `mcp-attest/bundle@1` (a C2SP tlog-proof per entry), a range or
 * several calls `mcp-attest/bundle@2` (one inclusion proof shared by all entries). A FILE
 * ending `.gz` (any case) is written as one gzip member of the bundle's text (level 6; bundle/gzip.ts),
 * ~5x smaller, which `verify` and the verify page read as they read the text. With witnesses
 * configured, they are first asked to cosign the latest checkpoint (one round, best effort, as
 * `receipt export` does; `--no-witness` skips it): a bundle made right after a call, with no
 * `log serve` running, then carries their cosignatures. With `--store URL` (or
 * `$MCP_ATTEST_STORE`), from a fleet's log, as its owner (store/pg-bundle.ts).
 */
import { writeOutput } from '../store/synced.js';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { fleetLog, hasHomeLog, openHomeLog, storeUrl } from './home-log.js';
import { homePaths, resolveHome } from '../store/home.js';
import { existsSync } from 'node:fs';
import { LogDb } from '../store/log-db.js';
import { loadWitnesses } from '../store/witnesses.js';
import { witnessLatest } from '../store/witnessing.js';
import { buildBundle, selectEntries, sqliteCheckpoints, tooLarge, type Selection } from '../store/bundle-build.js';
import { addIdentity } from '../store/bundle-identity.js';
import { homeIdentityLog } from '../store/identity-log.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_SHARED, MAX_BUNDLE_BYTES, formatBundle, type Bundle } from '../bundle/format.js';
import { parseNote } from '../log/note.js';
import { parseDecimal } from '../log/u64.js';
import { CliExit, EXIT_USAGE, collect, describeError, err, out, outJson } from './output.js';
import { identityPath } from './verify-identity.js';

interface BundleOptions { home?: string; store?: string; call?: string[]; range?: string; since?: string[]; identity?: string; out: string; witness?: boolean; json?: boolean }

function decimal(text: string, what: string): bigint {
  const n = parseDecimal(text);
  if (n === null) throw new CliExit(EXIT_USAGE, `${what}: ${text} is not a decimal number`);
  return n;
}

function selection(o: BundleOptions): Selection {
  if ((o.call === undefined) === (o.range === undefined)) throw new CliExit(EXIT_USAGE, 'give either --call ID (repeatable) or --range A..B');
  if (o.call !== undefined) return { calls: o.call };
  const m = /^([0-9]+)\.\.([0-9]+)$/.exec(o.range!);
  if (!m) throw new CliExit(EXIT_USAGE, `--range ${o.range}: expected A..B (entry indexes, inclusive)`);
  return { range: [decimal(m[1]!, '--range'), decimal(m[2]!, '--range')] };
}

/**
 * One witnessing round for the latest checkpoint of `home`'s log, when witnesses are
 * configured and the log is its own (a fleet's is witnessed by its integrator): each failure,
 * and a log that cannot be opened for writing (read-only media), is one line on stderr; the
 * bundle is made all the same.
 */
async function witnessFirst(home: string): Promise<void> {
  if (!hasHomeLog(home) || existsSync(homePaths(home).moved)) return;
  try {
    const witnesses = loadWitnesses(home);
    if (witnesses.length === 0) return;
    const db = new LogDb(homePaths(home).db);
    try {
      for (const r of await witnessLatest(db, witnesses, { timeoutMs: 5000 })) {
        if (r.status !== 'cosigned' && r.status !== 'already') err(`mcp-attest: witness ${r.witness}: ${r.status} ${r.message ?? ''}`);
      }
    } finally {
      db.close();
    }
  } catch (e) {
    err(`mcp-attest: warning: the witnesses were not asked to cosign first: ${describeError(e)}`);
  }
}

/** The bundle of `sel` from the data directory's SQLite log (its witnesses asked first, unless `--no-witness`). */
async function homeBundle(o: BundleOptions, home: string, sel: Selection, since: bigint[], shared: boolean): Promise<Bundle> {
  if (o.witness !== false) await witnessFirst(home);
  const db = openHomeLog(home);
  try {
    const bundle = buildBundle(db, selectEntries(db, sel), since, shared);
    await addIdentity(identityOf(o, home), sqliteCheckpoints(db), bundle); // the data directory's own records: every problem is the user's to fix
    return bundle;
  } finally {
    db.close();
  }
}

/** The bundle of `sel` from a fleet's log (`--store`, `$MCP_ATTEST_STORE`), read as its owner; its integrator witnesses its checkpoints. */
async function fleetBundle(o: BundleOptions, home: string, sel: Selection, since: bigint[], shared: boolean): Promise<Bundle> {
  const url = storeUrl(o.store);
  const [{ PgLog }, { buildFleetBundle, fleetCheckpoints, selectFleetEntries }] = await Promise.all([import('../store/pg-log.js'), import('../store/pg-bundle.js')]);
  const log = await PgLog.open(url, { max: 1 });
  try {
    const bundle = await buildFleetBundle(log, await selectFleetEntries(log, sel), since, shared);
    // A range of a fleet's log may hold what another writer planted: it must not stop the bundle.
    warn(await addIdentity(identityOf(o, home), fleetCheckpoints(log), bundle, 'calls' in sel));
    return bundle;
  } finally {
    await log.close();
  }
}

/**
 * A line on stderr when the bundle's checkpoint is cosigned by fewer of `home`'s configured
 * witnesses than the majority `trust export` asks by default: a counterparty verifying it
 * with that policy gets `ERR_QUORUM_NOT_MET`. The bundle is written all the same (a policy
 * may ask fewer); a witness list that cannot be read says nothing here.
 */
function warnUnderQuorum(home: string, signers: string[]): void {
  let configured: string[];
  try {
    configured = loadWitnesses(home).map((w) => w.name);
  } catch {
    return;
  }
  const cosigned = configured.filter((n) => signers.includes(n)).length;
  const majority = Math.floor(configured.length / 2) + 1;
  if (configured.length > 0 && cosigned < majority) {
    err(`mcp-attest: warning: the checkpoint is cosigned by ${cosigned} of the ${configured.length} witnesses configured: a counterparty whose trust policy asks a majority (${majority}, trust export's default) will refuse this bundle (ERR_QUORUM_NOT_MET); once the witnesses answer (mcp-attest log witness), make it again`);
  }
}

/** A fleet range's calls the identity log cannot decide (store/bundle-identity.ts): one warning each on stderr; `verify` reports those calls. */
function warn(problems: string[]): void {
  for (const p of problems) err(`mcp-attest: warning: left out of the identity part: ${p}`);
}

/** The bundle's text; `ERR_USAGE` when it is larger than a verifier reads (bundle/format.ts), or than this process can write as one string. */
function bundleText(bundle: Bundle): string {
  let text: string;
  try {
    text = formatBundle(bundle);
  } catch (e) {
    if (e instanceof RangeError) throw tooLarge();
    throw e;
  }
  if (Buffer.byteLength(text) > MAX_BUNDLE_BYTES) throw tooLarge(); // what a verifier reads is bytes
  return text;
}

const identityOf = (o: BundleOptions, home: string): { path: string; follow: boolean } => (o.identity === undefined ? homeIdentityLog(home) : identityPath(o.identity));

async function bundleCommand(o: BundleOptions): Promise<void> {
  const sel = selection(o);
  const since = (o.since ?? []).map((s) => decimal(s, '--since'));
  const home = resolveHome(o.home);
  const shared = !('calls' in sel) || new Set(sel.calls).size > 1;
  const bundle = await (fleetLog(o) ? fleetBundle : homeBundle)(o, home, sel, since, shared);
  const text = bundleText(bundle);
  const gzip = /\.gz$/i.test(o.out);
  const bytes = gzip ? gzipSync(text) : Buffer.from(text, 'utf8');
  writeOutput(o.out, bytes);
  const lines = parseNote(bundle.checkpoint).signatures.map((s) => s.name);
  const size = bundle.checkpoint.split('\n')[1]!;
  warnUnderQuorum(home, lines);
  const summary = { out: o.out, format: shared ? BUNDLE_FORMAT_SHARED : BUNDLE_FORMAT, bytes: bytes.length, ...(gzip ? { textBytes: Buffer.byteLength(text) } : {}), entries: bundle.entries.length, checkpointSize: size, signatures: lines, consistencyFrom: bundle.consistency.map((c) => c.size.toString()) };
  if (o.json) return outJson(summary);
  out(`wrote ${o.out}: ${summary.entries} entries, ${summary.bytes} bytes${gzip ? ` (gzip of ${summary.textBytes})` : ''}, checkpoint at size ${size} signed by ${lines.join(', ')}`);
}

/** Register `bundle`. */
export function registerBundleCommand(program: Command): void {
  program.command('bundle')
    .description('write a self-contained receipt bundle (entries, inclusion proofs, cosigned checkpoint) for offline verification')
    .option('--home <dir>', 'data directory')
    .option('--store <url>', 'a fleet\'s log (postgres://…, as its owner: default $MCP_ATTEST_STORE) instead of the data directory\'s')
    .option('--call <id>', 'a call id (the attestation nonce); repeatable', collect)
    .option('--range <a..b>', 'entries A to B (log indexes, inclusive)')
    .option('--since <size>', 'also prove consistency from this tree size (one the recipient holds); repeatable', collect)
    .option('--identity <path>', 'the identity log that calls under agent credentials are decided against: the data directory holding it (the credential issuer\'s) or its identity.db (default: this data directory\'s own)')
    .requiredOption('--out <file>', 'output file (ending .gz: gzip\'d)')
    .option('--no-witness', 'do not ask the configured witnesses to cosign the latest checkpoint first')
    .option('--json', 'print the summary as JSON')
    .action(bundleCommand);
}
