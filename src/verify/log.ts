/**
 * Verify a whole log offline: every entry parses and names its own index; every
 * attestation and receipt signature verifies under the trust policy; every receipt's back
 * link holds; every attestation has a receipt (or is reported unanswered / in flight); the
 * Merkle tree matches the latest checkpoint, which a trusted log key signed; every earlier
 * checkpoint is consistent with it; every receipt session's statements are signed by its
 * agent, chained and, when sealed, complete (verify/session.ts). Pure: no I/O, no clock.
 * @see RFC 9162 §2.1; c2sp.org/tlog-checkpoint; docs/log-format.md
 */
import { leafHash } from '../log/hash.js';
import { rootAt } from '../log/tree.js';
import { MemoryTree } from '../log/memory-tree.js';
import type { KeyResolver } from '../envelope/signature.js';
import { error, type Finding, type VerifySummary } from './findings.js';
import { RecordChecker } from './records.js';
import { checkSession } from './session.js';
import { checkLogAgainstKnown, type KnownCheckpoint } from './split-view.js';
import { verifyCheckpoints } from './checkpoints.js';
import { toBase64 } from '../bytes/index.js';
import type { TrustPolicy } from './policy.js';

/** What to verify: entries in stored order (with their stored index) and checkpoint notes. */
export interface LogInput {
  entries: Iterable<[bigint, Uint8Array]>;
  checkpoints: string[];
  /** Checkpoints the verifier accepted earlier: the log must extend each of its origin (split view, rollback). */
  known?: KnownCheckpoint[];
}

/** The report of a log verification: the summary, the tree size and the latest checkpoint's size (decimal). */
export interface LogReport extends VerifySummary {
  size: string;
  checkpointSize: string | null;
}

/** Verify a log. `onProgress(done)` is called every 256 entries. */
export async function verifyLog(input: LogInput, policy: TrustPolicy, keys: KeyResolver, onProgress?: (done: number) => void): Promise<LogReport> {
  const findings: Finding[] = [];
  const tree = new MemoryTree();
  const checker = new RecordChecker(policy, keys, findings);
  const claimed: bigint[] = [];
  for (const [, bytes] of input.entries) {
    const position = tree.size;
    tree.appendLeafHash(leafHash(bytes));
    claimed.push(await checker.check(position, bytes));
    if (onProgress && tree.size % 256n === 0n) onProgress(Number(tree.size));
  }
  findings.push(...orderFindings(claimed));
  const inFlight = checker.finish();
  for (const [id, list] of checker.sessions) {
    const r = await checkSession(id, list, policy, keys, { calls: checker.lookupCall, context: 'log' });
    findings.push(...r.findings.agentSignature, ...r.findings.seal, ...r.findings.parties);
  }
  const cp = await verifyCheckpoints(input.checkpoints, policy, tree.size, (size) => rootAt(size, tree.read), findings);
  if (cp) checkLogAgainstKnown(input.known ?? [], cp.origin, tree.size, (size) => rootAt(size, tree.read), findings);
  const { tally } = checker;
  return {
    ok: !findings.some((f) => f.severity === 'error'), size: tree.size.toString(), checkpointSize: cp?.size.toString() ?? null,
    checkpoint: cp && { origin: cp.origin, size: cp.size.toString(), rootHash: toBase64(cp.rootHash) }, witnesses: cp?.cosigners.map((c) => ({ name: c.name, timestamp: c.timestamp.toString() })) ?? [],
    calls: checker.calls.size, receipts: tally.receipts, unanswered: tally.unanswered, inFlight, refused: tally.refused, unattested: tally.unattested, findings,
  };
}

/** Most findings of one kind listed; the rest are counted in a last one. */
const MAX_ORDER_FINDINGS = 100;

/**
 * Entries that do not sit at the index they record: missing (a gap) or reordered. Only
 * indices below the number of entries are considered, so a hostile claimed index costs
 * nothing; a claim at or beyond the end is a reordering.
 */
function orderFindings(claimed: bigint[]): Finding[] {
  const n = BigInt(claimed.length);
  const seen = new Set(claimed.filter((c) => c < n).map(String));
  const out: Finding[] = [];
  let missing = 0;
  for (let i = 0n; i < n; i++) {
    if (!seen.has(i.toString()) && missing++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_MISSING', `entry ${i} is missing`, { index: i }));
  }
  if (missing > 0) return capped(out, missing, 'ERR_LOG_ENTRY_MISSING');
  let moved = 0;
  claimed.forEach((c, p) => {
    if (c !== BigInt(p) && moved++ < MAX_ORDER_FINDINGS) out.push(error('ERR_LOG_ENTRY_REORDERED', 'entry is not at the index it records', { index: BigInt(p), expected: p.toString(), found: c.toString() }));
  });
  return capped(out, moved, 'ERR_LOG_ENTRY_REORDERED');
}

function capped(out: Finding[], total: number, code: Finding['code']): Finding[] {
  if (total > MAX_ORDER_FINDINGS) out.push(error(code, `${total - MAX_ORDER_FINDINGS} more entries like the above`));
  return out;
}
