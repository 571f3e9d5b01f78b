/**
 * Log entry records: each log entry is the JCS bytes (RFC 8785) of one record object, at
 * most 65,535 bytes. The kinds (docs/log-format.md):
 *
 * ```
 * {"type":"mcp-attest/attestation@1","index":"<decimal>","callId":"<nonce>","server":{"name":..,"fingerprint":..},
 *  "tool":"<name>","requestDigest":"sha256:<hex of the exact request line>","attestation":{SEP-2787 envelope}}
 * {"type":"mcp-attest/receipt@1","index":"<decimal>","callId":"<nonce>","attestationIndex":"<decimal>",
 *  "receipt":{execution receipt}}
 * ```
 * The server-side gatekeeper logs its decisions, and the client-side proxy the gatekeeper's
 * response receipts it received:
 * ```
 * {"type":"mcp-attest/decision@1","index":..,"callId":"<nonce, or \"\" when none was read>",
 *  "server":{..},"tool":"<name>","requestDigest":"sha256:<hex>","decision":"allowed"|"refused",
 *  "reason":<SEP reason>|null,"code":<error code>|null,"attestation":{envelope}|null}
 * {"type":"mcp-attest/response-receipt@1","index":..,"callId":..,"attestationIndex":"<decimal>",
 *  "receipt":{execution receipt signed by the gatekeeper},"code":<error code>|null}
 * ```
 * A receipt session (docs/session.md) logs each of its signed statements (start, action,
 * approval, confirmation, seal) as one record:
 * ```
 * {"type":"mcp-attest/session@1","index":..,"sessionId":"ses_…","statement":{signed statement}}
 * ```
 * `log erase` logs what it erased (entry indexes, POSIX seconds), before it erases:
 * ```
 * {"type":"mcp-attest/erasure@1","index":..,"entries":["3","4"],"time":<POSIX s>}
 * ```
 * Either relay logs each input it refused to relay (docs/wire.md): a line that is not one
 * strict JSON-RPC message, is over the message cap, reuses a pending id, or answers no
 * pending request. Only its digest and size are kept (the bytes are hostile):
 * ```
 * {"type":"mcp-attest/refused-input@1","index":..,"server":{..},"direction":"client"|"upstream",
 *  "code":"ERR_…","size":<bytes>,"digest":"sha256:<hex of the line as received>","id":<id>|null,
 *  "suppressed":<refusals over the logging budget since the record before>,"time":<POSIX s>}
 * ```
 * An allowed decision is answered by a `receipt@1` record (the gatekeeper's receipt), whose
 * `attestationIndex` names the decision. A response receipt's `code` is what the proxy
 * found when it checked it (null: verified).
 *
 * `index` is the entry's own position in the log (decimal string: never loses precision),
 * so a dropped or reordered entry is named precisely. The envelopes inside carry their own
 * signatures; the record wrapper is covered by the Merkle tree and the signed checkpoint.
 */
import { AttestError } from '../errors.js';
import { canonicalBytes, parseJsonBytes, type CanonicalMemo, type JsonValue } from '../jcs/index.js';
import { isObject } from '../envelope/schema.js';
import { parseStatement, type Statement } from '../receipt/session.js';
import { CREDENTIAL_ID } from '../identity/credential.js';

export const ATTESTATION_RECORD = 'mcp-attest/attestation@1';
export const RECEIPT_RECORD = 'mcp-attest/receipt@1';
export const DECISION_RECORD = 'mcp-attest/decision@1';
export const RESPONSE_RECEIPT_RECORD = 'mcp-attest/response-receipt@1';
export const SESSION_RECORD = 'mcp-attest/session@1';
export const REFUSED_INPUT_RECORD = 'mcp-attest/refused-input@1';
/** The record `log erase` appends: which entries of which call it erased, and when. */
export const ERASURE_RECORD = 'mcp-attest/erasure@1';

/** The parameters entry of a v2 log: always index 0, always in clear (docs/log-format.md "Format v2"). */
export const PARAMETERS_RECORD = 'mcp-attest/log@2';

/**
 * What a v2 log's entries are: `private` (each a salted commitment to its record,
 * log/opening.ts) or `public` (each the record in clear, as in v1). A log without a
 * parameters entry at index 0 is a v1 log: public.
 */
export type EntriesMode = 'private' | 'public';

/** Entry 0 of a v2 log, in clear, covered by every checkpoint: the log's signed parameters. */
export interface ParametersRecord {
  type: typeof PARAMETERS_RECORD;
  index: '0';
  entries: EntriesMode;
}

/** The record logged before a call is forwarded. */
export interface AttestationRecord {
  type: typeof ATTESTATION_RECORD;
  index: string;
  callId: string;
  server: { name: string; fingerprint: string };
  tool: string;
  requestDigest: string;
  attestation: Record<string, JsonValue>;
}

/** The record logged before a response is released (or when a call ends unanswered). */
export interface ReceiptRecord {
  type: typeof RECEIPT_RECORD;
  index: string;
  callId: string;
  attestationIndex: string;
  receipt: Record<string, JsonValue>;
}

/** The gatekeeper's decision on one `tools/call` (logged before it is forwarded or refused). */
export interface DecisionRecord {
  type: typeof DECISION_RECORD;
  index: string;
  callId: string;
  server: { name: string; fingerprint: string };
  tool: string;
  requestDigest: string;
  decision: 'allowed' | 'refused';
  reason: string | null;
  code: string | null;
  attestation: Record<string, JsonValue> | null;
  /**
   * For a call made under an agent credential (docs/identity.md): the chain it was decided
   * against (root first, each id with its identity-log index) and the identity log's size.
   */
  credential?: { chain: Array<{ id: string; index: string }>; identitySize: string };
  /** The caller's access token as the gateway validated it: issuer, subject, digest, DPoP key thumbprint (docs/identity.md "Interop"). */
  caller?: { iss: string; sub: string; tokenDigest: string; jkt?: string };
}

/** A gatekeeper's response receipt, as the client-side proxy received and checked it. */
export interface ResponseReceiptRecord {
  type: typeof RESPONSE_RECEIPT_RECORD;
  index: string;
  callId: string;
  attestationIndex: string;
  receipt: Record<string, JsonValue>;
  code: string | null;
}

/** One signed statement of a receipt session; `sessionId` is the statement's own. */
export interface SessionRecord {
  type: typeof SESSION_RECORD;
  index: string;
  sessionId: string;
  statement: Statement;
}

/**
 * An input a relay refused to relay (docs/wire.md): `direction` is where it came from,
 * `code` why (a strict-JSON or `ERR_WIRE_*` code), `size` its length in bytes and `digest`
 * the SHA-256 of its bytes as received (LF excluded), `id` the JSON-RPC id the error answer
 * was addressed to (null: none), `suppressed` how many refusals just before this one were
 * over the logging budget and not logged one by one (docs/wire.md §5), `time` POSIX seconds.
 */
export interface RefusedInputRecord {
  type: typeof REFUSED_INPUT_RECORD;
  index: string;
  server: { name: string; fingerprint: string };
  direction: 'client' | 'upstream';
  code: string;
  size: number;
  digest: string;
  id: string | number | null;
  suppressed: number;
  time: number;
}

/**
 * An erasure (docs/log-format.md "Erasure"): `log erase` appends it, and a checkpoint covers
 * it, before it deletes the openings of `entries` (decimal indexes, at most 1,024: the
 * entries of one call, which it does not name, so the call id goes too); `time` POSIX seconds. A private entry of the operator's store
 * without its opening is an erasure only when such a record names it.
 */
export interface ErasureRecord {
  type: typeof ERASURE_RECORD;
  index: string;
  entries: string[];
  time: number;
}

/** The records of calls (everything but session, refused-input and erasure records). */
export type CallRecord = AttestationRecord | ReceiptRecord | DecisionRecord | ResponseReceiptRecord;
export type LogRecord = CallRecord | SessionRecord | RefusedInputRecord | ErasureRecord;

/** Encode a record as its entry bytes (JCS; `memo`: the texts of its envelope, already written when it was signed). */
export function encodeRecord(record: LogRecord | ParametersRecord, memo?: CanonicalMemo): Uint8Array {
  return canonicalBytes(record, memo);
}

/**
 * The parameters `bytes` hold, when they are exactly a parameters entry (strict JSON, the
 * three members, `index` "0", `entries` private or public); null for anything else. Never throws.
 */
export function decodeParameters(bytes: Uint8Array): ParametersRecord | null {
  if (bytes[0] !== 0x7b || bytes.length > 256) return null;
  let v: JsonValue;
  try {
    v = parseJsonBytes(bytes, { floats: 'reject', maxBytes: 256, maxDepth: 2 });
  } catch {
    return null;
  }
  if (!isObject(v) || v['type'] !== PARAMETERS_RECORD || Object.keys(v).length !== 3 || v['index'] !== '0') return null;
  return v['entries'] === 'private' || v['entries'] === 'public' ? (v as unknown as ParametersRecord) : null;
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
const KEYS: Record<string, string[]> = {
  [ATTESTATION_RECORD]: ['type', 'index', 'callId', 'server', 'tool', 'requestDigest', 'attestation'],
  [RECEIPT_RECORD]: ['type', 'index', 'callId', 'attestationIndex', 'receipt'],
  [DECISION_RECORD]: ['type', 'index', 'callId', 'server', 'tool', 'requestDigest', 'decision', 'reason', 'code', 'attestation'],
  [RESPONSE_RECEIPT_RECORD]: ['type', 'index', 'callId', 'attestationIndex', 'receipt', 'code'],
  [SESSION_RECORD]: ['type', 'index', 'sessionId', 'statement'],
  [REFUSED_INPUT_RECORD]: ['type', 'index', 'server', 'direction', 'code', 'size', 'digest', 'id', 'suppressed', 'time'],
  [ERASURE_RECORD]: ['type', 'index', 'entries', 'time'],
};

/** Members a record of a type may carry besides its own. */
const OPTIONAL: Record<string, string[]> = { [DECISION_RECORD]: ['credential', 'caller'] };

/** Whether `v` is a decision's caller: issuer, subject, token digest, optionally a DPoP key thumbprint, all strings. */
function callerOk(v: JsonValue): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v).sort().join();
  return (keys === 'iss,sub,tokenDigest' || keys === 'iss,jkt,sub,tokenDigest') && Object.values(v).every((x) => typeof x === 'string' && x.length <= 1024)
    && /^sha256:[0-9a-f]{64}$/.test(v['tokenDigest'] as string);
}

/** Whether `v` is a decision's credential facts: a chain of 1 to 9 `{id, index}` and the identity size, indices decimal. */
function credentialFactsOk(v: JsonValue): boolean {
  if (!isObject(v) || Object.keys(v).sort().join() !== 'chain,identitySize' || typeof v['identitySize'] !== 'string' || !DECIMAL.test(v['identitySize'])) return false;
  const c = v['chain'];
  return Array.isArray(c) && c.length >= 1 && c.length <= 9 && c.every((l) => isObject(l) && Object.keys(l).sort().join() === 'id,index'
    && typeof l['id'] === 'string' && CREDENTIAL_ID.test(l['id']) && typeof l['index'] === 'string' && DECIMAL.test(l['index']));
}

/** Whether `v` holds a valid erasure record's members. */
function erasureOk(v: Record<string, JsonValue>): boolean {
  const e = v['entries'];
  return Array.isArray(e) && e.length >= 1 && e.length <= 1024
    && e.every((x) => typeof x === 'string' && DECIMAL.test(x)) && Number.isSafeInteger(v['time']) && (v['time'] as number) >= 0;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The member checks of a refused-input record; the problem or null. */
function refusedInputProblem(v: Record<string, JsonValue>): string | null {
  const s = v['server'];
  const id = v['id'];
  const ok = isObject(s) && typeof s['name'] === 'string' && typeof s['fingerprint'] === 'string'
    && (v['direction'] === 'client' || v['direction'] === 'upstream') && typeof v['code'] === 'string'
    && Number.isSafeInteger(v['size']) && (v['size'] as number) >= 0 && typeof v['digest'] === 'string' && DIGEST.test(v['digest'])
    && (id === null || typeof id === 'string' || Number.isSafeInteger(id)) && Number.isSafeInteger(v['time']) && (v['time'] as number) >= 0
    && Number.isSafeInteger(v['suppressed']) && (v['suppressed'] as number) >= 0;
  return ok ? null : 'bad refused-input record';
}

const nullOr = (v: unknown, t: 'string' | 'object'): boolean => v === null || (t === 'object' ? isObject(v) : typeof v === t);

/** Type-specific member checks; returns the problem or null. */
function memberProblem(v: Record<string, JsonValue>): string | null {
  const s = v['server'];
  switch (v['type']) {
    case ATTESTATION_RECORD: case DECISION_RECORD:
      if (!isObject(s) || typeof s['name'] !== 'string' || typeof s['fingerprint'] !== 'string' || typeof v['tool'] !== 'string' || typeof v['requestDigest'] !== 'string') return 'bad call record';
      if (v['type'] === ATTESTATION_RECORD) return isObject(v['attestation']) ? null : 'bad attestation record';
      return (v['decision'] === 'allowed' || v['decision'] === 'refused') && nullOr(v['reason'], 'string') && nullOr(v['code'], 'string') && nullOr(v['attestation'], 'object')
        && (v['decision'] === 'refused') === (v['reason'] !== null) && (v['credential'] === undefined || credentialFactsOk(v['credential'])) && (v['caller'] === undefined || callerOk(v['caller'])) ? null : 'bad decision record';
    default:
      if (typeof v['attestationIndex'] !== 'string' || !DECIMAL.test(v['attestationIndex']) || !isObject(v['receipt'])) return 'bad receipt record';
      return v['type'] === RESPONSE_RECEIPT_RECORD && !nullOr(v['code'], 'string') ? 'bad response receipt record' : null;
  }
}

/**
 * Decode entry bytes strictly (no floats, no duplicate keys, depth 24) into a record.
 * Throws `ERR_ENTRY_MALFORMED` (the JSON error as cause) on anything else. `memo`: filled
 * with the canonical texts of the record's containers as written (an entry is JCS), so its
 * envelope's digest and signing input are read from them rather than written again (the
 * caller must not change the record while it uses the memo).
 */
export function decodeRecord(bytes: Uint8Array, memo?: CanonicalMemo): LogRecord {
  let v: JsonValue;
  try {
    v = parseJsonBytes(bytes, { floats: 'reject', maxBytes: 65535, maxDepth: 24 }, memo);
  } catch (cause) {
    throw new AttestError('ERR_ENTRY_MALFORMED', 'entry is not strict JSON', { cause });
  }
  const keys = isObject(v) ? KEYS[String(v['type'])] : undefined;
  if (!isObject(v) || !keys) throw new AttestError('ERR_ENTRY_MALFORMED', 'unknown record type');
  const optional = (OPTIONAL[String(v['type'])] ?? []).filter((k) => Object.hasOwn(v, k));
  const actual = Object.keys(v).sort();
  if (actual.join() !== [...keys, ...optional].sort().join()) throw new AttestError('ERR_ENTRY_MALFORMED', 'record members differ', { expected: keys, found: actual });
  if (typeof v['index'] !== 'string' || !DECIMAL.test(v['index'])) throw new AttestError('ERR_ENTRY_MALFORMED', 'bad index');
  if (v['type'] === SESSION_RECORD) {
    const st = parseStatement(v['statement']); // ERR_SESSION_MALFORMED
    if (st.sessionId !== v['sessionId']) throw new AttestError('ERR_ENTRY_MALFORMED', 'sessionId differs from the statement\'s', { expected: st.sessionId, found: v['sessionId'] });
    return v as unknown as SessionRecord;
  }
  if (v['type'] === ERASURE_RECORD) {
    if (!erasureOk(v)) throw new AttestError('ERR_ENTRY_MALFORMED', 'bad erasure record');
    return v as unknown as ErasureRecord;
  }
  if (v['type'] === REFUSED_INPUT_RECORD) {
    const p = refusedInputProblem(v);
    if (p !== null) throw new AttestError('ERR_ENTRY_MALFORMED', p);
    return v as unknown as RefusedInputRecord;
  }
  if (typeof v['callId'] !== 'string') throw new AttestError('ERR_ENTRY_MALFORMED', 'bad callId');
  const p = memberProblem(v);
  if (p !== null) throw new AttestError('ERR_ENTRY_MALFORMED', p);
  return v as unknown as LogRecord;
}
