/**
 * One JSON-RPC 2.0 message as the relays accept it (docs/wire.md): the line is decoded as
 * strict UTF-8 and parsed as strict I-JSON by our own parser (no BOM, no duplicate member
 * names, no lone surrogates, no NaN or Infinity, integers within ±(2^53-1), one value per
 * line), then checked as exactly one JSON-RPC request, notification or response with no
 * member any reader could read differently: no other top-level members, no two member
 * names equal under case folding anywhere (Go's `encoding/json` matches struct fields
 * that way, last one wins), no near-miss spelling of `name`, `arguments` or `_meta` in
 * `params`. What passes is relayed as {@link writeMessage} re-serializes it, so every
 * reader reads the value that was checked, attested and logged.
 */
import { AttestError, isAttestError, type ErrorCode } from '../errors.js';
import { parseJsonBytes, type JsonValue } from '../jcs/index.js';

/** A JSON-RPC id as the relays accept it: a string or a safe integer. */
export type RpcId = string | number;

/** A checked JSON-RPC message (one of the three shapes; `params` and `result` are objects). */
export interface RpcMessage {
  jsonrpc: '2.0';
  id?: RpcId | null;
  method?: string;
  params?: Record<string, JsonValue>;
  result?: Record<string, JsonValue>;
  error?: { code: number; message: string; data?: JsonValue };
}

/** What {@link readMessage} found: a message, or why the line is refused. */
export type ReadResult =
  | { ok: true; msg: RpcMessage; kind: 'request' | 'notification' | 'response' }
  | { ok: false; code: ErrorCode; message: string };

/** Limits of {@link readMessage}. */
export interface WireLimits {
  /** Largest message, bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
}

/** Default cap of one message: 4 MiB (`--max-message-bytes`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Default nesting limit of one message. */
export const DEFAULT_MAX_DEPTH = 128;

/** No ASCII capital and nothing outside ASCII: the name folds to itself (the common case, without allocating). */
const NOTHING_TO_FOLD = /^[^A-Z\u0080-\uffff]*$/;

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RESPONSE_KEYS = new Set(['jsonrpc', 'id', 'result', 'error']);
/** Members of `params` a typed reader binds by folded name (CallToolParams, GetPromptParams). */
const PARAMS_BOUND = foldMap(['name', 'arguments', '_meta']);
/** Members of a `result` a typed reader binds by folded name (CallToolResult, InitializeResult). */
const RESULT_BOUND = foldMap(['content', 'structuredContent', 'isError', 'resultType', '_meta', 'tools', 'capabilities', 'serverInfo', 'protocolVersion']);
/** Longest id accepted, UTF-16 code units: an id is a handle, and it is logged. */
export const MAX_ID_LENGTH = 256;

type Obj = Record<string, JsonValue>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A member name as case-insensitive readers compare it (Unicode simple folding, roughly: Kelvin sign, long s). */
export function foldName(name: string): string {
  return NOTHING_TO_FOLD.test(name) ? name : name.toUpperCase().toLowerCase();
}

/** Folded name -> the spelling a typed reader binds. */
function foldMap(names: readonly string[]): ReadonlyMap<string, string> {
  return new Map(names.map((n) => [foldName(n), n]));
}

/**
 * The methods a relay or the gateway treats apart (attests, gates, filters, pins), by their
 * folded spelling: a method folding (case, Unicode simple folding, surrounding spaces) onto
 * one of them without being it is refused, since an upstream matching methods loosely would
 * run it as that method, unchecked.
 */
const GUARDED_METHODS = foldMap(['tools/call', 'tools/list', 'resources/read', 'resources/list', 'prompts/get', 'prompts/list', 'initialize', 'notifications/cancelled']);

function refuse(code: ErrorCode, message: string): never {
  throw new AttestError(code, message);
}

/**
 * Throws `ERR_WIRE_AMBIGUOUS` when two member names of one object fold alike, or a member is
 * named `__proto__` (readers that build objects by assignment drop it or change the
 * prototype), and `ERR_JSON_NUMBER` for an integral number beyond 2^53 written as a float
 * (`9.1e15`: re-serialized it would be an integer token that some readers read exactly and
 * others round), anywhere in `v`.
 */
function checkValues(v: JsonValue): void {
  const stack: JsonValue[] = [v];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (typeof x === 'number' && Math.abs(x) > Number.MAX_SAFE_INTEGER && Math.abs(x) < 1e21) {
      refuse('ERR_JSON_NUMBER', 'a number beyond 2^53 that re-serializes as an integer');
    }
    if (Array.isArray(x)) {
      for (const item of x) stack.push(item);
      continue;
    }
    if (!isObj(x)) continue;
    const keys = Object.keys(x);
    const seen = new Set<string>();
    for (const k of keys) {
      const f = foldName(k);
      if (seen.has(f) || k === '__proto__') refuse('ERR_WIRE_AMBIGUOUS', `member name ${JSON.stringify(k.slice(0, 64))} reads differently to some readers`);
      seen.add(f);
      stack.push(x[k]!);
    }
  }
}

const isId = (v: unknown): v is RpcId => (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v));

/** The shape checks of JSON-RPC 2.0 (§4, §5) as MCP narrows them; throws `ERR_WIRE_MALFORMED`. */
function checkShape(v: JsonValue): ReadResult & { ok: true } {
  if (Array.isArray(v)) refuse('ERR_WIRE_MALFORMED', 'batches are not relayed');
  if (!isObj(v)) refuse('ERR_WIRE_MALFORMED', 'not a JSON-RPC object');
  if (v['jsonrpc'] !== '2.0') refuse('ERR_WIRE_MALFORMED', 'jsonrpc must be "2.0"');
  const request = Object.hasOwn(v, 'method');
  const allowed = request ? REQUEST_KEYS : RESPONSE_KEYS;
  for (const k of Object.keys(v)) if (!allowed.has(k)) refuse('ERR_WIRE_MALFORMED', `unexpected member ${JSON.stringify(k.slice(0, 64))}`);
  const msg = v as unknown as RpcMessage;
  if (request) {
    if (typeof v['method'] !== 'string' || v['method'] === '') refuse('ERR_WIRE_MALFORMED', 'method must be a non-empty string');
    const spelled = GUARDED_METHODS.get(foldName(v['method'].trim()));
    if (spelled !== undefined && spelled !== v['method']) refuse('ERR_WIRE_AMBIGUOUS', `method ${JSON.stringify(v['method'].slice(0, 64))} reads as ${spelled} to some readers`);
    if (Object.hasOwn(v, 'id') && !isId(v['id'])) refuse('ERR_WIRE_MALFORMED', `a request id must be a string (at most ${MAX_ID_LENGTH} long) or an integer`);
    if (Object.hasOwn(v, 'params') || v['method'] === 'tools/call') checkBound(v['params'], PARAMS_BOUND, 'params');
    return { ok: true, msg, kind: Object.hasOwn(v, 'id') ? 'request' : 'notification' };
  }
  if (Object.hasOwn(v, 'result') === Object.hasOwn(v, 'error')) refuse('ERR_WIRE_MALFORMED', 'a response has exactly one of result and error');
  if (Object.hasOwn(v, 'result')) checkBound(v['result'], RESULT_BOUND, 'result');
  if (Object.hasOwn(v, 'error')) checkError(v['error']);
  const idOk = isId(v['id']) || (v['id'] === null && Object.hasOwn(v, 'error'));
  if (!idOk) refuse('ERR_WIRE_MALFORMED', 'a response id must be a string or an integer (null only for an error)');
  return { ok: true, msg, kind: 'response' };
}

/** `p` is an object (else `ERR_WIRE_MALFORMED`) with no member that folds onto one of `bound` without being spelled so (`ERR_WIRE_AMBIGUOUS`). */
function checkBound(p: JsonValue | undefined, bound: ReadonlyMap<string, string>, what: string): void {
  if (!isObj(p)) refuse('ERR_WIRE_MALFORMED', `${what} must be an object`);
  for (const k of Object.keys(p)) {
    const meant = bound.get(foldName(k));
    if (meant !== undefined && meant !== k) refuse('ERR_WIRE_AMBIGUOUS', `${what} member ${JSON.stringify(k)} reads as ${meant} to case-insensitive readers`);
  }
}

function checkError(e: JsonValue | undefined): void {
  if (!isObj(e) || !Number.isSafeInteger(e['code']) || typeof e['message'] !== 'string') refuse('ERR_WIRE_MALFORMED', 'error must be {code: integer, message: string}');
  for (const k of Object.keys(e)) if (k !== 'code' && k !== 'message' && k !== 'data') refuse('ERR_WIRE_MALFORMED', `unexpected error member ${JSON.stringify(k.slice(0, 64))}`);
}

/**
 * Read one line (its bytes, LF excluded; one trailing CR of CRLF framing is JSON whitespace)
 * as a checked message. Never throws: a refusal carries the code of the first problem:
 * `ERR_JSON_TOO_LARGE`, `ERR_ENCODING_INVALID`, `ERR_JSON_SYNTAX` (also a BOM, NaN, several
 * values), `ERR_JSON_DUPLICATE_KEY`, `ERR_JSON_LONE_SURROGATE`, `ERR_JSON_NUMBER`,
 * `ERR_JSON_TOO_DEEP`, `ERR_WIRE_MALFORMED`, `ERR_WIRE_AMBIGUOUS`.
 * @see RFC 8259, RFC 7493, JSON-RPC 2.0 §4-§5, docs/wire.md
 */
export function readMessage(line: Uint8Array, limits: WireLimits): ReadResult {
  try {
    const v = parseJsonBytes(line, { maxBytes: limits.maxBytes, maxDepth: limits.maxDepth, floats: 'allow' });
    const read = checkShape(v);
    checkValues(v);
    return read;
  } catch (e) {
    if (isAttestError(e)) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'ERR_WIRE_MALFORMED', message: e instanceof Error ? e.message : String(e) };
  }
}

const NON_ASCII = /[\u007f-\uffff]/g;
const escapeUnit = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * The line the relays write for a checked message: `JSON.stringify` (ECMAScript number
 * spelling, the one JCS uses) with every character outside printable ASCII escaped as
 * `\uXXXX`, so the line has no byte a reader could split, decode or normalize differently
 * (no CR, U+0085, U+2028, U+2029, no UTF-8 at all). Without the LF.
 */
export function writeMessage(msg: RpcMessage | JsonValue): string {
  const text = JSON.stringify(msg);
  // Most lines are ASCII already: a UTF-8 length equal to the UTF-16 length says every unit is
  // below U+0080 (found in one native pass; the replace's scan cost ~0.7 ns a character).
  return Buffer.byteLength(text, 'utf8') === text.length && !text.includes('\u007f') ? text : text.replace(NON_ASCII, escapeUnit);
}

/** What a refused line seems to be, read leniently: its id, and whether it is a request (it has a `method`). */
export interface LenientRef { id: RpcId | null; request: boolean }

/**
 * The id of a line that was refused, for addressing the error answer or closing the request
 * it answers: JSON.parse's reading of its top-level `id` when that is a string (at most
 * {@link MAX_ID_LENGTH} long) or a safe integer, else null. Unchecked bytes: never relayed.
 */
export function lenientRef(line: Uint8Array): LenientRef {
  try {
    const v: unknown = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8'));
    const id = isObj(v) ? v['id'] : undefined;
    return { id: isId(id) ? id : null, request: isObj(v) && Object.hasOwn(v, 'method') };
  } catch {
    return { id: null, request: false };
  }
}

/** Key of a JSON-RPC id in one direction's pending map (1 and "1" differ). */
export function idKey(id: RpcId | null | undefined): string {
  return JSON.stringify(id ?? null);
}
