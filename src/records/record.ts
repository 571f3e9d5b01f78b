/**
 * Log entry records: each log entry is the JCS bytes (RFC 8785) of one record object, at
 * most 65,535 bytes. Two kinds (docs/log-format.md):
 *
 * ```
 * {"type":"mcp-attest/attestation@1","index":"<decimal>","callId":"<nonce>","server":{"name":..,"fingerprint":..},
 *  "tool":"<name>","requestDigest":"sha256:<hex of the exact request line>","attestation":{SEP-2787 envelope}}
 * {"type":"mcp-attest/receipt@1","index":"<decimal>","callId":"<nonce>","attestationIndex":"<decimal>",
 *  "receipt":{execution receipt}}
 * ```
 * `index` is the entry's own position in the log (decimal string: never loses precision),
 * so a dropped or reordered entry is named precisely. The envelopes inside carry their own
 * signatures; the record wrapper is covered by the Merkle tree and the signed checkpoint.
 */
import { AttestError } from '../errors.js';
import { canonicalBytes, parseJsonBytes, type JsonValue } from '../jcs/index.js';
import { isObject } from '../envelope/schema.js';

export const ATTESTATION_RECORD = 'mcp-attest/attestation@1';
export const RECEIPT_RECORD = 'mcp-attest/receipt@1';

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

export type LogRecord = AttestationRecord | ReceiptRecord;

/** Encode a record as its entry bytes (JCS). */
export function encodeRecord(record: LogRecord): Uint8Array {
  return canonicalBytes(record);
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
const KEYS: Record<string, string[]> = {
  [ATTESTATION_RECORD]: ['type', 'index', 'callId', 'server', 'tool', 'requestDigest', 'attestation'],
  [RECEIPT_RECORD]: ['type', 'index', 'callId', 'attestationIndex', 'receipt'],
};

/**
 * Decode entry bytes strictly (no floats, no duplicate keys, depth 24) into a record.
 * Throws `ERR_ENTRY_MALFORMED` (the JSON error as cause) on anything else.
 */
export function decodeRecord(bytes: Uint8Array): LogRecord {
  let v: JsonValue;
  try {
    v = parseJsonBytes(bytes, { floats: 'reject', maxBytes: 65535, maxDepth: 24 });
  } catch (cause) {
    throw new AttestError('ERR_ENTRY_MALFORMED', 'entry is not strict JSON', { cause });
  }
  const keys = isObject(v) ? KEYS[String(v['type'])] : undefined;
  if (!isObject(v) || !keys) throw new AttestError('ERR_ENTRY_MALFORMED', 'unknown record type');
  const actual = Object.keys(v).sort();
  if (actual.join() !== [...keys].sort().join()) throw new AttestError('ERR_ENTRY_MALFORMED', 'record members differ', { expected: keys, found: actual });
  if (typeof v['index'] !== 'string' || !DECIMAL.test(v['index'])) throw new AttestError('ERR_ENTRY_MALFORMED', 'bad index');
  if (typeof v['callId'] !== 'string') throw new AttestError('ERR_ENTRY_MALFORMED', 'bad callId');
  if (v['type'] === ATTESTATION_RECORD) {
    const s = v['server'];
    if (!isObject(s) || typeof s['name'] !== 'string' || typeof s['fingerprint'] !== 'string' || typeof v['tool'] !== 'string'
      || typeof v['requestDigest'] !== 'string' || !isObject(v['attestation'])) throw new AttestError('ERR_ENTRY_MALFORMED', 'bad attestation record');
  } else if (typeof v['attestationIndex'] !== 'string' || !DECIMAL.test(v['attestationIndex']) || !isObject(v['receipt'])) {
    throw new AttestError('ERR_ENTRY_MALFORMED', 'bad receipt record');
  }
  return v as unknown as LogRecord;
}
