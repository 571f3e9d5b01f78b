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
import { verifyBundle, type BundleReport } from '../verify/bundle.js';
import { verifySessionReceipt, type SessionReceiptReport } from '../verify/session-receipt.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import { policyDocDigest } from '../receipt/session.js';
import { readTiles, type TileReader } from '../log/tiles-read.js';
import { MAX_BUNDLE_BYTES } from '../bundle/format.js';
import type { Check } from '../envelope/report.js';
import type { KeyResolver } from '../envelope/signature.js';

/** One chosen file: `path` relative to the chosen folder (`tile/0/000`), or the file's name; its bytes. */
export interface ChosenFile { path: string; bytes: Uint8Array }

/** What to verify: the trust policy file's bytes, the chosen files, an optional policy document (session receipts), the time for envelopes (POSIX seconds). */
export interface PageRequest { trust: Uint8Array; files: ChosenFile[]; policyDoc?: Uint8Array | null; now: number }

/** A single envelope's verdict, as `attestation verify --json` / `receipt verify --json` give it. */
export interface EnvelopeReport { ok: boolean; checks: Check[] }

/** The page's verdict: the CLI's report for its kind. */
export type PageReport =
  | ({ kind: 'log' } & LogReport)
  | ({ kind: 'bundle' } & BundleReport)
  | ({ kind: 'session' } & SessionReceiptReport)
  | ({ kind: 'attestation' | 'receipt' } & EnvelopeReport);

/** Largest trust policy or policy document read: 16 MiB. */
const MAX_SIDE_FILE_BYTES = 16 * 1024 * 1024;
/** A session receipt starts with its format member (as `receipt export` writes it; as the CLI tells them apart). */
const SESSION_HEAD = /^\s*\{\s*"format"\s*:\s*"mcp-attest\/session-receipt@1"/;

function tooLarge(what: string, max: number, found: number): AttestError {
  return new AttestError('ERR_INPUT_TOO_LARGE', `${what} is ${found} bytes, more than ${max}`, { expected: max, found });
}

/** The chosen files as a tiles reader: paths relative to the folder chosen (its own name dropped). */
function tilesReader(files: ChosenFile[]): TileReader {
  const top = files.every((f) => f.path.includes('/')) && new Set(files.map((f) => f.path.split('/')[0])).size === 1;
  const byPath = new Map(files.map((f) => [top ? f.path.slice(f.path.indexOf('/') + 1) : f.path, f.bytes]));
  return (rel, maxBytes, what) => {
    const bytes = byPath.get(rel);
    if (bytes === undefined) return null;
    if (bytes.length > maxBytes) throw tooLarge(`${what} ${rel}`, maxBytes, bytes.length);
    return bytes;
  };
}

/** True when the files chosen are a tiles directory (a folder holding `checkpoint`). */
export function isTiles(files: ChosenFile[]): boolean {
  return files.some((f) => f.path === 'checkpoint' || f.path.endsWith('/checkpoint')) && (files.length > 1 || files[0]!.path.includes('/'));
}

async function verifyTiles(files: ChosenFile[], policy: TrustPolicy, keys: KeyResolver, progress: (done: number, total: number) => void): Promise<PageReport> {
  const t = readTiles(tilesReader(files));
  const report = await verifyLog({ entries: t.entries, checkpoints: [t.checkpoint] }, policy, keys, (n) => progress(n, t.entries.length));
  report.findings.unshift(...t.findings);
  report.ok = !report.findings.some((f) => f.severity === 'error');
  return { kind: 'log', ...report };
}

/** The per-entry checks, one after another, counted to `progress(done, total)`. */
function counted(progress: (done: number, total: number) => void): FactsSource {
  return async function* (entries, policy, keys) {
    const total = Array.isArray(entries) ? entries.length : 0;
    let done = 0;
    for await (const f of sequentialFacts(entries, policy, keys)) {
      yield f;
      progress(++done, total);
    }
  };
}

/** One file: a session receipt, a bundle, or one attestation or receipt (told apart by their members). */
async function verifyFile(file: ChosenFile, req: PageRequest, policy: TrustPolicy, keys: KeyResolver, progress: (done: number, total: number) => void): Promise<PageReport> {
  if (file.bytes.length > MAX_BUNDLE_BYTES) throw tooLarge(file.path, MAX_BUNDLE_BYTES, file.bytes.length);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file.bytes);
  } catch (e) {
    throw new AttestError('ERR_ENCODING_INVALID', `${file.path} is not UTF-8`, { cause: e });
  }
  if (SESSION_HEAD.test(text.slice(0, 256))) {
    const digest = req.policyDoc ? policyDocDigest(req.policyDoc) : undefined;
    return { kind: 'session', ...(await verifySessionReceipt(text, policy, keys, digest ? { policyDocDigest: digest } : {})) };
  }
  if (req.policyDoc) throw new AttestError('ERR_USAGE', 'a policy document is for session receipts (mcp-attest/session-receipt@1): this is not one');
  const members = /"(issuerAsserted|receiptAsserted|format)"\s*:/.exec(text)?.[1];
  if (members === 'issuerAsserted' && !/"format"\s*:/.test(text)) {
    const v = await verifyAttestation(file.bytes, { keys, acceptedAlgs: policy.acceptedAlgorithms, now: req.now, skewSeconds: policy.clockSkewSeconds, redacted: 'accept', requireLowS: false });
    return { kind: 'attestation', ok: v.ok, checks: v.checks };
  }
  if (members === 'receiptAsserted' && !/"format"\s*:/.test(text)) {
    const v = await verifyReceipt(file.bytes, { keys, acceptedAlgs: policy.acceptedAlgorithms, requireLowS: false });
    return { kind: 'receipt', ok: v.ok, checks: v.checks };
  }
  return { kind: 'bundle', ...(await verifyBundle(text, policy, keys, { facts: counted(progress) })) };
}

/**
 * Verify the chosen files (see the module comment); `progress(done, total)` as the entries of
 * a tiles directory or a bundle are checked. Throws `ERR_POLICY_INVALID` for a trust policy that does not
 * parse, `ERR_USAGE` (nothing chosen; a policy document beside what is not a session
 * receipt), `ERR_INPUT_TOO_LARGE`, `ERR_ENCODING_INVALID`, `ERR_LOG_TRUNCATED` (a folder
 * without a checkpoint); every other failure is a finding or a check in the report.
 */
export async function verifyChosen(req: PageRequest, progress: (done: number, total: number) => void = () => undefined): Promise<PageReport> {
  if (req.trust.length > MAX_SIDE_FILE_BYTES) throw tooLarge('the trust policy', MAX_SIDE_FILE_BYTES, req.trust.length);
  if (req.policyDoc && req.policyDoc.length > MAX_SIDE_FILE_BYTES) throw tooLarge('the policy document', MAX_SIDE_FILE_BYTES, req.policyDoc.length);
  if (req.files.length === 0) throw new AttestError('ERR_USAGE', 'choose a file or a tiles folder to verify');
  let policy: TrustPolicy;
  try {
    policy = parseTrustPolicy(new TextDecoder('utf-8', { fatal: true }).decode(req.trust));
  } catch (e) {
    if (isAttestError(e)) throw e;
    throw new AttestError('ERR_POLICY_INVALID', `the trust policy is not UTF-8 JSON: ${(e as Error).message}`);
  }
  // An HS256 issuer needs its shared secret, which a page never holds: it stays unresolved (ERR_KEY_UNAVAILABLE), as in the CLI without --secret.
  const keys = policyKeyResolver(policy, hs256Secrets(policy, null));
  if (isTiles(req.files)) return verifyTiles(req.files, policy, keys, progress);
  if (req.files.length > 1) throw new AttestError('ERR_USAGE', 'choose one file, or a tiles folder (it holds a file named checkpoint)');
  return verifyFile(req.files[0]!, req, policy, keys, progress);
}
