/**
 * What the verify page (docs/verify-page.md) verifies, on any runtime: the files a person
 * chose or dropped, under the trust policy file they chose. Nothing in the thing verified is
 * ever trusted. The same checks as `mcp-attest verify` (a receipt bundle, a session receipt
 * with an optional policy document, a tiles directory), `mcp-attest attestation verify` and
 * `mcp-attest receipt verify` (one envelope), with the same codes, so the page's verdict is
 * the CLI's, dimension by dimension. Runs in the page's worker; no Node module, no network.
 */
import { AttestError, isAttestError } from '../errors.js';
import { parseTrustPolicy, policyKeyResolver, hs256Secrets, type TrustPolicy } from '../verify/policy.js';
import { sequentialFacts, verifyLog, type FactsSource, type LogReport } from '../verify/log.js';
import { rejectedBundle, verifyBundle, type BundleReport } from '../verify/bundle.js';
import { verifySessionReceipt, type SessionReceiptReport } from '../verify/session-receipt.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import { MAX_POLICY_DOC_BYTES, policyDocDigest } from '../receipt/session.js';
import { MAX_CHECKPOINT_FILE_BYTES, readTiles, type TileReader } from '../log/tiles-read.js';
import { openCheckpoint } from '../verify/checkpoints.js';
import type { KnownCheckpoint } from '../verify/split-view.js';
import { insertFindings, type Finding } from '../verify/findings.js';
import { MAX_BUNDLE_BYTES } from '../bundle/format.js';
import { gunzipWeb, isGzip } from '../bundle/gzip.js';
import { SESSION_RECEIPT_HEAD } from '../bundle/session-receipt.js';
import type { Check } from '../envelope/report.js';
import type { KeyResolver } from '../envelope/signature.js';

/**
 * One chosen file: `path` relative to the chosen folder (`tile/0/000`), or the file's name;
 * its `size` in bytes, known before it is read; `read()` its bytes (only once its size passed
 * the limit that applies to it).
 */
export interface ChosenFile { path: string; size: number; read(): Uint8Array }

/**
 * What to verify: the trust policy file, the chosen files, and as the CLI's options an
 * optional policy document (`--policy-doc`, session receipts), a checkpoint accepted earlier
 * (`--checkpoint`: the log or bundle must be consistent with it), and the time envelopes are
 * checked at (`attestation verify --at`, POSIX seconds; default `now`).
 */
export interface PageRequest { trust: ChosenFile; files: ChosenFile[]; policyDoc?: ChosenFile | null; checkpoint?: ChosenFile | null; at?: number | null; now: number }

/** A single envelope's verdict, as `attestation verify --json` / `receipt verify --json` give it. */
export interface EnvelopeReport { ok: boolean; checks: Check[] }

/** The page's verdict: the CLI's report for its kind. */
export type PageReport =
  | ({ kind: 'log' } & LogReport)
  | ({ kind: 'bundle' } & BundleReport)
  | ({ kind: 'session' } & SessionReceiptReport)
  | ({ kind: 'attestation' | 'receipt' } & EnvelopeReport);

/** Largest trust policy read: 16 MiB (the strict parser then holds it to its own limit). */
const MAX_SIDE_FILE_BYTES = 16 * 1024 * 1024;

function tooLarge(what: string, max: number, found: number): AttestError {
  return new AttestError('ERR_INPUT_TOO_LARGE', `${what} is ${found} bytes, more than ${max}`, { expected: max, found });
}

/** The bytes of `f`, once its size is within `max` (`ERR_INPUT_TOO_LARGE` otherwise: nothing read). */
function readWithin(f: ChosenFile, max: number, what: string): Uint8Array {
  if (f.size > max) throw tooLarge(what, max, f.size);
  return f.read();
}

/** UTF-8 text, strictly: a byte order mark is kept (and so refused by the JSON that follows), as the CLI reads files. */
function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    throw new AttestError('ERR_ENCODING_INVALID', `${what} is not UTF-8`, { cause: e });
  }
}

/** The chosen files as a tiles reader: paths relative to the folder chosen (its own name dropped); a file is read only when asked for, within its cap. */
function tilesReader(files: ChosenFile[]): TileReader {
  const top = files.every((f) => f.path.includes('/')) && new Set(files.map((f) => f.path.split('/')[0])).size === 1;
  const byPath = new Map(files.map((f) => [top ? f.path.slice(f.path.indexOf('/') + 1) : f.path, f]));
  return (rel, maxBytes, what) => {
    const f = byPath.get(rel);
    return f === undefined ? null : readWithin(f, maxBytes, `${what} ${rel}`);
  };
}

/** True when the files chosen are a tiles directory (a folder holding `checkpoint`). */
export function isTiles(files: ChosenFile[]): boolean {
  return files.some((f) => f.path === 'checkpoint' || f.path.endsWith('/checkpoint')) && (files.length > 1 || files[0]!.path.includes('/'));
}

async function verifyTiles(files: ChosenFile[], policy: TrustPolicy, keys: KeyResolver, known: KnownCheckpoint[], progress: (done: number, total: number) => void): Promise<PageReport> {
  const t = readTiles(tilesReader(files));
  const report = await verifyLog({ entries: t.entries, checkpoints: [t.checkpoint], known }, policy, keys, (n) => progress(n, Number(t.size)));
  insertFindings(report.findings, 0, t.findings());
  report.ok = !report.findings.some((f) => f.severity === 'error');
  return { kind: 'log', ...report };
}

/** The per-entry checks, one after another, counted to `progress(done, total)`. */
function counted(progress: (done: number, total: number) => void): FactsSource {
  return async function* (entries, policy, keys) {
    // A bundle's entries come with their count (verify/bundle.ts), an array with its length.
    const length = (entries as { length?: unknown }).length;
    const total = typeof length === 'number' ? length : 0;
    let done = 0;
    for await (const f of sequentialFacts(entries, policy, keys)) {
      yield f;
      progress(++done, total);
    }
  };
}

/** What one file is checked with: the policy, its keys, checkpoints accepted earlier, progress. */
interface Context { policy: TrustPolicy; keys: KeyResolver; known: KnownCheckpoint[]; progress: (done: number, total: number) => void }

/** One file: a session receipt or a bundle (either as its text or gzip'd: bundle/gzip.ts), or one attestation or receipt (told apart by their members). */
async function verifyFile(file: ChosenFile, req: PageRequest, c: Context): Promise<PageReport> {
  let bytes = readWithin(file, MAX_BUNDLE_BYTES, file.path);
  const gzipped = isGzip(bytes);
  let text: string;
  try {
    if (gzipped) bytes = await gunzipWeb(bytes, MAX_BUNDLE_BYTES);
    text = utf8Text(bytes, file.path);
  } catch (e) {
    // As `verify`: a compressed file that does not decompress strictly, or text that is not UTF-8, is a rejected bundle.
    if (!isAttestError(e)) throw e;
    return { kind: 'bundle', ...rejectedBundle([{ severity: 'error', code: e.code, message: `bundle rejected: ${e.message}` }]) };
  }
  const { policy, keys, known } = c;
  if (SESSION_RECEIPT_HEAD.test(text.slice(0, 256))) {
    const digest = req.policyDoc ? policyDocDigest(readWithin(req.policyDoc, MAX_POLICY_DOC_BYTES, 'the policy document')) : undefined;
    return { kind: 'session', ...(await verifySessionReceipt(text, policy, keys, { known, ...(digest ? { policyDocDigest: digest } : {}) })) };
  }
  if (req.policyDoc) throw new AttestError('ERR_USAGE', 'a policy document is for session receipts (mcp-attest/session-receipt@1): this is not one');
  // A gzip'd file is a bundle or session receipt, as for `verify` (`attestation verify` and `receipt verify` read plain files only).
  const members = gzipped ? 'format' : /"(issuerAsserted|receiptAsserted|format)"\s*:/.exec(text)?.[1];
  if (members === 'issuerAsserted' && !/"format"\s*:/.test(text)) {
    const v = await verifyAttestation(bytes, { keys, acceptedAlgs: policy.acceptedAlgorithms, now: req.at ?? req.now, skewSeconds: policy.clockSkewSeconds, redacted: 'accept', requireLowS: false });
    return { kind: 'attestation', ok: v.ok, checks: v.checks };
  }
  if (members === 'receiptAsserted' && !/"format"\s*:/.test(text)) {
    const v = await verifyReceipt(bytes, { keys, acceptedAlgs: policy.acceptedAlgorithms, requireLowS: false });
    return { kind: 'receipt', ok: v.ok, checks: v.checks };
  }
  return { kind: 'bundle', ...(await verifyBundle(text, policy, keys, { known, facts: counted(c.progress) })) };
}

/** `--checkpoint`: a checkpoint accepted earlier, which must open under the policy (`ERR_USAGE` with the findings otherwise). */
async function knownOf(file: ChosenFile | null | undefined, policy: TrustPolicy): Promise<KnownCheckpoint[]> {
  if (!file) return [];
  const findings: Finding[] = [];
  const cp = await openCheckpoint(utf8Text(readWithin(file, MAX_CHECKPOINT_FILE_BYTES, 'the checkpoint'), 'the checkpoint'), policy, findings);
  if (!cp) throw new AttestError('ERR_USAGE', `the checkpoint accepted earlier does not open under the trust policy: ${findings.map((f) => `${f.code} ${f.message}`).join('; ')}`);
  return [{ origin: cp.origin, size: cp.size, rootHash: cp.rootHash, demanded: true }];
}

/**
 * Verify the chosen files (see the module comment); `progress(done, total)` as the entries of
 * a tiles directory or a bundle are checked. A file is read only once its size is within its
 * limit. Throws `ERR_POLICY_INVALID` (and the strict JSON codes) for a trust policy that does
 * not parse, `ERR_USAGE` (nothing chosen; a policy document beside what is not a session
 * receipt; a checkpoint accepted earlier that does not open), `ERR_INPUT_TOO_LARGE`,
 * `ERR_ENCODING_INVALID` (a trust policy or checkpoint), `ERR_LOG_TRUNCATED` (a folder without a checkpoint); every other
 * failure is a finding or a check in the report.
 */
export async function verifyChosen(req: PageRequest, progress: (done: number, total: number) => void = () => undefined): Promise<PageReport> {
  if (req.files.length === 0) throw new AttestError('ERR_USAGE', 'choose a file or a tiles folder to verify');
  // The CLI reads the policy as UTF-8 text with any byte order mark kept, and the strict parser refuses it: so here.
  const policy = parseTrustPolicy(utf8Text(readWithin(req.trust, MAX_SIDE_FILE_BYTES, 'the trust policy'), 'the trust policy'));
  // An HS256 issuer needs its shared secret, which a page never holds: it stays unresolved (ERR_KEY_UNAVAILABLE), as in the CLI without --secret.
  const keys = policyKeyResolver(policy, hs256Secrets(policy, null));
  const known = await knownOf(req.checkpoint, policy);
  if (isTiles(req.files)) return verifyTiles(req.files, policy, keys, known, progress);
  if (req.files.length > 1) throw new AttestError('ERR_USAGE', 'choose one file, or a tiles folder (it holds a file named checkpoint)');
  return verifyFile(req.files[0]!, req, { policy, keys, known, progress });
}
