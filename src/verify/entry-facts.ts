/**
 * What can be checked of one log entry alone, with no other entry in view: its strict
 * decoding, its leaf hash, the signature and schema of the envelope it carries (with the
 * tool and server its record names), and the digests a later entry binds to. The result is
 * plain data (structured-cloneable), so entries can be checked in parallel (worker threads
 * on Node, Web Workers in a browser) and folded in index order by {@link RecordChecker},
 * which adds what needs other entries: back links, orphans, duplicates, sessions.
 * An entry written canonically (as the recorder writes it) is not canonicalized again: the
 * parser keeps its containers' texts (a CanonicalMemo), which the envelope's digest and signing
 * input read; a receipt's back link is then a comparison of digests.
 * @see docs/log-format.md (records); SEP-2787 "Verification Rules"; RFC 9162 §2.1.1
 */
import { entryForm, COMMITMENT_BYTES, SALT_BYTES, type EntryForm } from '../log/opening.js';
import { equalBytes } from '../bytes/index.js';
import { decodeParameters, type EntriesMode } from '../records/record.js';
import { ERASURE_RECORD } from '../records/record.js';
import { decodeRecord, ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, REFUSED_INPUT_RECORD, SESSION_RECORD, type LogRecord } from '../records/record.js';
import { canonicalBytes, canonicalize, CanonicalMemo, type JsonValue } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import { leafHash } from '../log/hash.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import { UNANSWERED_REASONS, type OutcomeReason } from '../receipt/schema.js';
import type { KeyResolver } from '../envelope/signature.js';
import type { Check } from '../envelope/report.js';
import { isAttestError } from '../errors.js';
import { parseTimestamp } from '../envelope/time.js';
import { namesCredential, withoutCredentialKeys } from '../identity/gate-check.js';
import type { CredentialCall } from '../identity/verify-identity.js';
import { error, fromCheck, notice, type Finding } from './findings.js';
import type { TrustPolicy } from './policy.js';
import type { SignatureVerdict } from './session.js';
import { signatureVerdict } from './session-signatures.js';

/**
 * Facts common to every entry: its position in the input, its RFC 6962 leaf hash, the index
 * it claims, and its form: `record` (the entry is the record, v1 or a public log) or
 * `commitment` (a private log's salted commitment, opened or not: log/opening.ts).
 */
interface Base {
  position: bigint;
  leaf: Uint8Array;
  /** The record's own `index`, or `position` when it does not decode (or is sealed). */
  claimed: bigint;
  form: 'record' | 'commitment';
  /** Set (true) when the entry was given with the entry its store publishes and the opening does not make it. */
  unpublished?: true;
}

/**
 * An attestation record, or a decision record (`attested`: an allowed decision carrying an
 * attestation, which a receipt must answer). `digest` is `sha256:` hex of the JCS attestation
 * (null: none, or it cannot be canonicalized), `nonce` its `issuerAsserted.nonce`;
 * `findings` are those of the attestation's own checks.
 */
export interface CallFacts extends Base {
  kind: 'call';
  record: typeof ATTESTATION_RECORD | typeof DECISION_RECORD;
  callId: string;
  tool: string;
  attested: boolean;
  refused: boolean;
  digest: string | null;
  nonce: unknown;
  findings: Finding[];
  /** For a call made under an agent credential (`iss` a credential id): what the identity decision needs (docs/identity.md). */
  credential?: CredentialCall;
  /**
   * For any other call, when the trust policy trusts credential issuers: its signing key's id
   * (`secretVersion`) and `iat` (POSIX seconds, NaN when unreadable). A key an agent credential
   * names signs under that credential only (verify/records.ts).
   */
  plainKey?: { keyId: string; time: number };
}

/**
 * A receipt or a response receipt. `fails` are the failed checks of its envelope verified
 * without its attestation (the back link is the fold's: `back` holds what the receipt
 * claims); `digest` is that of the JCS receipt; `unanswered` the outcome reason when it
 * records a call never answered; `code` the response receipt's code as received.
 */
export interface ReceiptFacts extends Base {
  kind: 'receipt';
  response: boolean;
  callId: string;
  attestationIndex: string;
  code: string | null;
  digest: string | null;
  fails: Check[];
  back: { digest: unknown; nonce: unknown };
  unanswered: string | null;
  /** A client proxy's receipt of a call the gatekeeper refused (`refused`, `attestation_refused`): nothing ran under the call's credential. */
  refused: boolean;
  /** The receipt answers with a task handle (reason `task_created`). */
  taskCreated: boolean;
  /** A task's result: the digest of the task handle's receipt it names (`outcomeDerived.taskReceiptDigest`); null otherwise. */
  taskOf: string | null;
}

/**
 * Every other entry: a session statement, a refused input (one notice), a v2 log's
 * parameters entry, a commitment without its opening (`sealed`: erased, or read from
 * published tiles), or an entry that does not decode.
 */
export type OtherFacts = Base & (
  /**
   * `text`: the statement's JCS text (as the entry holds it), parsed again when the fold
   * hands it to its session's check (verify/records.ts): less to clone from a worker than
   * the parsed statement. `signed`: its signature's verdict under the key its signer names, with the
   * keys a log's sessions are checked with (no credential keys); absent when the trust
   * policy does not accept its algorithm, or it is HS256 (its session's check stops before
   * the key).
   */
  | { kind: 'session'; sessionId: string; text: string; signed?: SignatureVerdict }
  | { kind: 'params'; entries: EntriesMode }
  | { kind: 'erasure'; entries: string[] }
  | { kind: 'sealed' }
  | { kind: 'refused'; count: number; finding: Finding }
  | { kind: 'malformed'; finding: Finding }
);

/** The facts of one entry. */
export type EntryFacts = CallFacts | ReceiptFacts | OtherFacts;

/**
 * A copy of `s` that does not keep the entry's text alive: strings a parser cuts from a
 * larger text may share its memory, and these outlive the entry (a verifier streaming a
 * million entries keeps each call's id until its receipt).
 */
function detached<T>(s: T): T {
  return (typeof s === 'string' ? (' ' + s).slice(1) : s) as T;
}

/** An attestation's `iat` in POSIX seconds; NaN when it does not parse (the ttl of a logged record is not checked; the identity checks fail on it). */
function timeOf(iat: string): number {
  try {
    return parseTimestamp(iat);
  } catch {
    return NaN;
  }
}

function digestOf(v: JsonValue, memo: CanonicalMemo): string | null {
  try {
    return sha256Tagged(canonicalBytes(v, memo));
  } catch {
    return null;
  }
}

async function callFacts(r: Extract<LogRecord, { type: typeof ATTESTATION_RECORD | typeof DECISION_RECORD }>, base: Base, policy: TrustPolicy, keys: KeyResolver, memo: CanonicalMemo): Promise<CallFacts> {
  const attestation = r.type === DECISION_RECORD ? (r.decision === 'allowed' ? r.attestation : null) : r.attestation;
  // The base members spelled out, here and in receiptFacts: built with `...base`, an entry's
  // facts took about a fifth longer to make and fold (V8, Node 20; measured over 20,000 entries).
  const facts: CallFacts = {
    position: base.position, leaf: base.leaf, claimed: base.claimed, form: base.form, kind: 'call', record: r.type, callId: detached(r.callId), tool: detached(r.tool), attested: attestation !== null,
    refused: r.type === DECISION_RECORD && r.decision === 'refused', digest: null, nonce: undefined, findings: [],
  };
  if (attestation === null) return facts;
  facts.digest = digestOf(attestation, memo);
  facts.nonce = detached((attestation['issuerAsserted'] as Record<string, unknown> | undefined)?.['nonce']);
  // The record's unsigned tool and server must be the ones the issuer signed.
  const v = await verifyAttestation(attestation, { keys, acceptedAlgs: policy.acceptedAlgorithms, toolName: r.tool, serverFingerprint: r.server.fingerprint, memo });
  for (const c of v.checks) if (c.status === 'fail') facts.findings.push(fromCheck(c, base.position, 'attestation'));
  const asserted = attestation['issuerAsserted'] as Record<string, unknown> | undefined;
  // (No attestation, v.attestation null: its own checks failed, and say so.)
  if (v.attestation !== null && !namesCredential(asserted?.['iss'], policy)) {
    if ((policy.credentialIssuers?.length ?? 0) > 0) facts.plainKey = { keyId: detached(v.attestation.issuerAsserted.secretVersion), time: timeOf(v.attestation.issuerAsserted.iat) };
  } else if (v.attestation !== null) {
    const recorded = r.type === DECISION_RECORD ? r.credential : undefined;
    const time = timeOf(v.attestation.issuerAsserted.iat);
    facts.credential = {
      entry: base.position, credential: v.attestation.issuerAsserted.iss, time, keyId: v.attestation.issuerAsserted.secretVersion, subject: detached(v.attestation.issuerAsserted.sub),
      server: r.server.fingerprint, tool: r.tool, identitySize: recorded ? BigInt(recorded.identitySize) : null, chain: recorded ? recorded.chain.map((l) => l.id) : null,
      gated: r.type === DECISION_RECORD, ...(r.type === DECISION_RECORD && r.caller ? { caller: r.caller } : {}),
    };
  }
  if (facts.nonce !== r.callId) facts.findings.push(error('ERR_ENTRY_MALFORMED', 'callId differs from the attestation nonce', { index: base.position, expected: facts.nonce, found: r.callId }));
  return facts;
}

async function receiptFacts(r: Extract<LogRecord, { type: typeof RECEIPT_RECORD }> | Extract<LogRecord, { type: 'mcp-attest/response-receipt@1' }>, base: Base, policy: TrustPolicy, keys: KeyResolver, memo: CanonicalMemo): Promise<ReceiptFacts> {
  const response = r.type !== RECEIPT_RECORD;
  const code = response ? (r as { code: string | null }).code : null;
  const back = (r.receipt['backLink'] ?? {}) as Record<string, unknown>;
  const outcome = (r.receipt['outcomeDerived'] ?? {}) as Record<string, unknown>;
  const reason = outcome['reason'];
  const digest = response ? null : digestOf(r.receipt, memo);
  // A response receipt recorded as failed when received is a notice, not verified again.
  const fails = code !== null ? [] : (await verifyReceipt(r.receipt, { keys: withoutCredentialKeys(keys, policy), acceptedAlgs: policy.acceptedAlgorithms, memo })).checks.filter((c) => c.status === 'fail');
  return {
    position: base.position, leaf: base.leaf, claimed: base.claimed, form: base.form, kind: 'receipt', response, callId: r.callId, attestationIndex: detached(r.attestationIndex), code,
    digest, fails, back: { digest: back['attestationDigest'], nonce: back['attestationNonce'] },
    unanswered: UNANSWERED_REASONS.includes(reason as OutcomeReason) && outcome['resultCommitment'] === undefined ? String(reason) : null,
    refused: !response && outcome['status'] === 'refused' && reason === 'attestation_refused',
    taskCreated: reason === 'task_created', taskOf: typeof outcome['taskReceiptDigest'] === 'string' ? outcome['taskReceiptDigest'] : null,
  };
}

/**
 * The facts of the entry `bytes` found at `position`, or with `salt` (16 bytes) of the
 * private entry the record `bytes` opens (log/opening.ts): its leaf hash is then that of the
 * commitment they make, and with `published` (the entry the store publishes for it) the
 * facts are `unpublished` when that commitment is not it. Never throws for bad input: an
 * entry that does not decode gives `ERR_ENTRY_MALFORMED` (or the strict decoder's code) as a
 * finding.
 */
export async function entryFacts(position: bigint, bytes: Uint8Array, policy: TrustPolicy, keys: KeyResolver, salt?: Uint8Array, published?: Uint8Array): Promise<EntryFacts> {
  if (salt !== undefined && salt.length !== SALT_BYTES) {
    const f: EntryFacts = { position, leaf: leafHash(bytes), claimed: position, form: 'commitment', kind: 'malformed', finding: error('ERR_ENTRY_MALFORMED', `entry is malformed: a salt of ${salt.length} bytes`, { index: position }) };
    if (published !== undefined) f.unpublished = true;
    return f;
  }
  const shape = entryForm(bytes, salt);
  const facts = await formFacts(position, shape, bytes, policy, keys);
  if (published !== undefined && !equalBytes(shape.entry, published)) facts.unpublished = true;
  return facts;
}

/** {@link entryFacts} of an entry in its {@link EntryForm} (`bytes`: as given). */
async function formFacts(position: bigint, shape: EntryForm, bytes: Uint8Array, policy: TrustPolicy, keys: KeyResolver): Promise<EntryFacts> {
  const leaf = leafHash(shape.entry);
  const form = shape.form === 'record' ? 'record' : 'commitment';
  const malformed = (code: string, message: string): EntryFacts => ({ position, leaf, claimed: position, form, kind: 'malformed', finding: error(code as Finding['code'], `entry is malformed: ${message}`, { index: position }) });
  if (shape.form === 'sealed') return bytes.length === COMMITMENT_BYTES ? { position, leaf, claimed: position, form, kind: 'sealed' } : malformed('ERR_ENTRY_MALFORMED', 'a commitment is 33 bytes');
  const params = shape.form === 'record' ? decodeParameters(shape.record) : null;
  if (params !== null) return { position, leaf, claimed: 0n, form, kind: 'params', entries: params.entries };
  let record: LogRecord;
  // The entry's containers as written, when canonical (they are, as the recorder writes them).
  // Nothing here may change the decoded record: a kept text is the entry's, not the value's.
  const memo = new CanonicalMemo();
  try {
    record = decodeRecord(shape.record, memo);
  } catch (e) {
    return malformed(isAttestError(e) ? e.code : 'ERR_ENTRY_MALFORMED', (e as Error).message);
  }
  const base: Base = { position, leaf, claimed: BigInt(record.index), form };
  switch (record.type) {
    case SESSION_RECORD: {
      const s = record.statement;
      const text = canonicalize(s, memo);
      // Checked here, where a log's entries are checked in parallel, not when its session is.
      if (!policy.acceptedAlgorithms.includes(s.signer.alg) || s.signer.alg === 'HS256') return { ...base, kind: 'session', sessionId: detached(record.sessionId), text };
      return { ...base, kind: 'session', sessionId: detached(record.sessionId), text, signed: await signatureVerdict(s, policy, withoutCredentialKeys(keys, policy), memo) };
    }
    case REFUSED_INPUT_RECORD: {
      // Evidence of what a relay kept off the wire: counted, nothing to verify.
      const more = record.suppressed > 0 ? `; ${record.suppressed} more before it, over the logging budget` : '';
      const finding = notice('NOTE_REFUSED_INPUT', `the relay refused an input from the ${record.direction} (${record.code}, ${record.size} bytes, ${record.digest})${more}`, position);
      return { ...base, kind: 'refused', count: 1 + record.suppressed, finding };
    }
    case ERASURE_RECORD:
      return { ...base, kind: 'erasure', entries: record.entries.map(detached) };
    case ATTESTATION_RECORD: case DECISION_RECORD:
      return callFacts(record, base, policy, keys, memo);
    default:
      return receiptFacts(record, base, policy, keys, memo);
  }
}
