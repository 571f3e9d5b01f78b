/**
 * Receipt bundles: one self-contained JSON file holding log entries, RFC 6962 inclusion
 * proofs, the checkpoint they are proven against (signed by the log, cosigned by witnesses)
 * and optional consistency proofs to that checkpoint. Two forms:
 *
 * ```
 * {"format": "mcp-attest/bundle@1",
 *  "checkpoint": "<C2SP checkpoint note, verbatim: log signature and cosignature/v1 lines>",
 *  "entries": [{"index": "<decimal>", "entry": "<the entry: its UTF-8 JSON text>",
 *               "proof": ["<base64 hash>", ...]}, ...],          (strictly increasing index)
 *  "consistency": [{"size": "<decimal>", "proof": ["<base64 hash>", ...]}, ...]}   (optional)
 *
 * {"format": "mcp-attest/bundle@2", "checkpoint": ..., "consistency": ... (as @1),
 *  "entries": [{"index": "<decimal>", "entry": "<text>"}, ...],
 *  "proof": ["<base64 hash>", ...]}        (one multi-leaf inclusion proof of every entry)
 * ```
 *
 * An entry of a private log (log format v2, log/opening.ts) is *opened* instead: in place of
 * `"entry"` it carries `"salt"` (base64, 16 bytes) and `"record"` (the record's UTF-8 JSON
 * text); the entry proven is `0x01 || SHA-256(salt || record)`. An `entry` is always JSON
 * text (it starts with `{`): a bundle never carries an unopened commitment.
 *
 * Either form may carry, for calls made under agent credentials (docs/identity.md):
 *
 * ```
 *  "identity": {"checkpoint": "<the identity log's checkpoint note, cosigned>", "start": "<decimal>",
 *               "entries": ["<identity entry: UTF-8 JSON text>", ...],   (every entry from start to the checkpoint's size)
 *               "proof": ["<base64 hash>", ...]},                        (their multi-leaf inclusion proof)
 *  "witnessed": ["<an earlier checkpoint note of the log, cosigned>", ...]  (each with a consistency proof in "consistency")
 * ```
 * The identity range is contiguous and runs to the end of its checkpoint's tree, so it holds
 * every revocation that could end a credential logged at or after `start`; a `witnessed`
 * checkpoint says when the witnesses first saw the calls below its size.
 *
 * In @1 each element of `entries` together with `checkpoint` is exactly a C2SP tlog-proof
 * (`index`, the inclusion path leaf sibling first, the checkpoint note): {@link toTlogProof}
 * writes it in that format. @2 shares the proof nodes of all its entries
 * (log/multiproof.ts): a range of m entries costs O(log n) hashes, not m·log n.
 * What we add to a tlog-proof: the entry itself (a tlog-proof leaves the leaf to the
 * application), several entries sharing one checkpoint, and consistency proofs from earlier
 * tree sizes so a verifier holding an earlier checkpoint can demand one offline.
 * @see https://c2sp.org/tlog-proof; docs/bundle.md
 */
import { fromBase64, toBase64, utf8 } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { parseJsonDeferring, parseJsonSpan } from '../jcs/parse.js';
import { HASH_SIZE } from '../log/hash.js';
import { parseNote } from '../log/note.js';
import { formatTlogProof, MAX_PROOF_HASHES } from '../log/tlog-proof.js';
import { COMMITMENT_TAG, SALT_BYTES } from '../log/opening.js';
import { parseDecimal } from '../log/u64.js';
import { checkObject, type ObjectSchema } from '../envelope/schema.js';

/** The `format` of a bundle with an inclusion proof per entry (each a C2SP tlog-proof). */
export const BUNDLE_FORMAT = 'mcp-attest/bundle@1';
/** The `format` of a bundle with one multi-leaf inclusion proof shared by its entries. */
export const BUNDLE_FORMAT_SHARED = 'mcp-attest/bundle@2';
/** Largest bundle accepted, in bytes (UTF-8): 256 MiB. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;
/**
 * Most arrays and objects the strict parser builds for a bundle or session receipt of
 * `length` characters: 4,194,304 (~250 MB of heap), or one per 16 characters when that is
 * more. Each costs ~60 bytes of heap however short its text, so 256 MiB of `{},` (which
 * gzip carries in 261 KB) would need ~5 GB and abort the process; at this bound it needs
 * ~1 GB. A bundle holds one per ~30 characters at the densest (an entry object around the
 * shortest log entry); a session receipt's evidence may be denser (`[{"a":1},...]` is one
 * per 8), which the fixed allowance covers up to ~4 million containers.
 */
export function maxContainers(length: number): number {
  return Math.max(1 << 22, Math.floor(length / 16));
}
/** Most entries in one bundle. */
export const MAX_BUNDLE_ENTRIES = 1 << 20;
/** Most consistency proofs in one bundle. */
export const MAX_CONSISTENCY_PROOFS = 64;

/**
 * One entry with its inclusion proof (empty in a bundle@2). `bytes` are the entry as logged
 * (JCS JSON, UTF-8), or with `salt` the record of the private entry they open (the entry is
 * `0x01 || SHA-256(salt || record)`, log/opening.ts).
 */
export interface BundleEntry {
  index: bigint;
  bytes: Uint8Array;
  proof: Uint8Array[];
  salt?: Uint8Array;
}

/** A parsed bundle (nothing verified yet). */
export interface Bundle {
  checkpoint: string;
  entries: BundleEntry[];
  /** bundle@2: the multi-leaf inclusion proof of every entry (log/multiproof.ts); absent in @1. */
  proof?: Uint8Array[];
  /** Consistency proofs from tree `size` to the checkpoint's size. */
  consistency: Array<{ size: bigint; proof: Uint8Array[] }>;
  /** The identity log's range for calls under agent credentials (see the module comment). */
  identity?: IdentitySection;
  /** Earlier checkpoints of the log (notes with cosignatures), each consistent with `checkpoint` through `consistency`. */
  witnessed?: string[];
}

/** A contiguous range of the identity log, from `start` to its checkpoint's size, with its shared inclusion proof. */
export interface IdentitySection {
  checkpoint: string;
  start: bigint;
  entries: Uint8Array[];
  proof: Uint8Array[];
}

const TOP: ObjectSchema = { format: ['string', true], checkpoint: ['string', true], entries: ['array', true], consistency: ['array', false], identity: ['object', false], witnessed: ['array', false] };
const IDENTITY: ObjectSchema = { checkpoint: ['string', true], start: ['string', true], entries: ['array', true], proof: ['array', true] };
/** Most witnessed checkpoints in one bundle. */
const MAX_WITNESSED = 64;
const TOP_SHARED: ObjectSchema = { ...TOP, proof: ['array', true] };
const ENTRY_SHARED: ObjectSchema = { index: ['string', true], entry: ['string', false], salt: ['string', false], record: ['string', false] };
const ENTRY: ObjectSchema = { ...ENTRY_SHARED, proof: ['array', true] };
/** Most hashes of a shared proof per entry: a tree is at most 64 levels deep. */
const SHARED_HASHES_PER_ENTRY = 64;
const CONSISTENCY: ObjectSchema = { size: ['string', true], proof: ['array', true] };

function malformed(message: string, cause?: unknown): AttestError {
  return new AttestError('ERR_BUNDLE_MALFORMED', message, cause === undefined ? {} : { cause });
}

function hashes(v: unknown, where: string, max = MAX_PROOF_HASHES): Uint8Array[] {
  if (!Array.isArray(v) || v.length > max) throw malformed(`${where}: at most ${max} hashes`);
  return v.map((h, i) => {
    let b: Uint8Array;
    try {
      b = fromBase64(String(h));
    } catch (cause) {
      throw malformed(`${where}[${i}]: not canonical base64`, cause);
    }
    if (typeof h !== 'string' || b.length !== HASH_SIZE) throw malformed(`${where}[${i}]: not a 32-byte hash`);
    return b;
  });
}

function decimal(v: unknown, where: string): bigint {
  const n = typeof v === 'string' ? parseDecimal(v) : null;
  if (n === null) throw malformed(`${where}: not a uint64 decimal string`);
  return n;
}

/** The bytes of a bundle entry: `entry` (JSON text), or the `record` (JSON text) its `salt` opens. */
function entryBytes(e: Record<string, unknown>, where: string): { bytes: Uint8Array; salt?: Uint8Array } {
  // The strict parser has already refused lone surrogates: the strings are valid UTF-16.
  const text = (k: string): string | null => (typeof e[k] === 'string' ? (e[k] as string) : null);
  const [entry, salt, record] = [text('entry'), text('salt'), text('record')];
  if (entry !== null && salt === null && record === null) {
    if (!entry.startsWith('{')) throw malformed(`${where}.entry: not a JSON record`);
    return { bytes: utf8(entry) };
  }
  if (entry !== null || salt === null || record === null) throw malformed(`${where}: either "entry", or "salt" and "record"`);
  let s: Uint8Array;
  try {
    s = fromBase64(salt);
  } catch (cause) {
    throw malformed(`${where}.salt: not canonical base64`, cause);
  }
  if (s.length !== SALT_BYTES) throw malformed(`${where}.salt: not ${SALT_BYTES} bytes`);
  if (!record.startsWith('{')) throw malformed(`${where}.record: not a JSON record`);
  return { bytes: utf8(record), salt: s };
}

/** A bundle whose entries are parsed one at a time as they are read ({@link openBundle}). */
export interface OpenedBundle extends Omit<Bundle, 'entries'> {
  /** How many entries it holds. */
  count: number;
  /**
   * Its entries in order, each parsed and checked as it is reached (so a verifier holds one,
   * not all): throws `ERR_BUNDLE_MALFORMED` (or `ERR_JSON_*`) at the first bad one. Each call
   * starts again from the first entry.
   */
  entries(): Generator<BundleEntry>;
}

/**
 * Open a bundle strictly, as {@link parseBundle} checks it, but with its entries left in the
 * text until {@link OpenedBundle.entries} reads them: the rest (format, checkpoint note,
 * consistency and shared proofs, identity section, witnessed checkpoints, the number of
 * entries) is checked here. The strict parser's `entries` elements are skipped and parsed
 * later one by one (jcs/parse.ts `parseJsonDeferring`), under the same limits shared: a
 * bundle of 256 MiB is never held parsed whole. Throws `ERR_BUNDLE_MALFORMED` (or
 * `ERR_JSON_*` for text that is not JSON).
 * @see docs/bundle.md
 */
export function openBundle(text: string): OpenedBundle {
  if (text.length > MAX_BUNDLE_BYTES) throw malformed('bundle larger than 256 MiB');
  const limits = { maxBytes: MAX_BUNDLE_BYTES, maxDepth: 6, maxContainers: maxContainers(text.length) };
  const { value, count, spans, containersLeft } = parseJsonDeferring(text, 'entries', MAX_BUNDLE_ENTRIES, limits);
  const format = (value as Record<string, unknown> | null)?.['format'];
  const shared = format === BUNDLE_FORMAT_SHARED;
  if (format !== BUNDLE_FORMAT && !shared) throw malformed(`format must be ${BUNDLE_FORMAT} or ${BUNDLE_FORMAT_SHARED}`);
  const problems: string[] = [];
  const top = checkObject(value, shared ? TOP_SHARED : TOP, '', problems);
  if (!top || problems.length > 0) throw malformed(problems.join('; ') || 'not an object');
  function* elements(): Generator<unknown> {
    let left = containersLeft;
    for (let k = 0; k < count; k++) {
      const r = parseJsonSpan(text, spans[2 * k]!, spans[2 * k + 1]!, `.entries[${k}]`, 2, { ...limits, maxContainers: left });
      left = r.containersLeft;
      yield r.value;
    }
  }
  return { ...bundleHead(top, shared, count), count, entries: () => checkedEntries(elements(), shared) };
}

/**
 * Parse a bundle strictly: size limit first, then our strict JSON parser (no duplicate
 * members, depth 6, {@link maxContainers}), the closed schema above, canonical base64 32-byte hashes, uint64
 * decimals, strictly increasing entry indexes, a checkpoint that parses as a signed note.
 * Every entry is parsed ({@link openBundle} reads them one at a time instead).
 * Throws `ERR_BUNDLE_MALFORMED` (or `ERR_JSON_*` for text that is not JSON).
 * @see docs/bundle.md
 */
export function parseBundle(text: string): Bundle {
  const { entries, count: _count, ...head } = openBundle(text);
  return { ...head, entries: [...entries()] };
}

/**
 * The bundle members (`checkpoint`, `entries`, `consistency`, and with `shared` the
 * bundle@2 `proof`) of an object whose other members the caller has checked (a bundle, or
 * a session receipt that embeds one). Throws `ERR_BUNDLE_MALFORMED`.
 */
export function bundleParts(top: Record<string, unknown>, shared = false): Bundle {
  const list = top['entries'] as unknown[];
  return { ...bundleHead(top, shared, list.length), entries: [...checkedEntries(list, shared)] };
}

/** Every member of a bundle but its entries, of which it holds `count`. Throws `ERR_BUNDLE_MALFORMED`. */
function bundleHead(top: Record<string, unknown>, shared: boolean, count: number): Omit<Bundle, 'entries'> {
  const problems: string[] = [];
  try {
    parseNote(top['checkpoint'] as string);
  } catch (cause) {
    throw malformed(`checkpoint: ${(cause as Error).message}`, cause);
  }
  if (count === 0 || count > MAX_BUNDLE_ENTRIES) throw malformed(`entries: 1 to ${MAX_BUNDLE_ENTRIES}`);
  const cons = (top['consistency'] ?? []) as unknown[];
  if (cons.length > MAX_CONSISTENCY_PROOFS) throw malformed(`consistency: at most ${MAX_CONSISTENCY_PROOFS}`);
  const consistency = cons.map((x, i) => {
    const c = checkObject(x, CONSISTENCY, `.consistency[${i}]`, problems);
    if (!c || problems.length > 0) throw malformed(problems.join('; '));
    return { size: decimal(c['size'], `.consistency[${i}].size`), proof: hashes(c['proof'], `.consistency[${i}].proof`) };
  });
  const head: Omit<Bundle, 'entries'> = { checkpoint: top['checkpoint'] as string, consistency };
  if (shared) head.proof = hashes(top['proof'], '.proof', SHARED_HASHES_PER_ENTRY * count);
  if (top['identity'] !== undefined) head.identity = identitySection(top['identity']);
  if (top['witnessed'] !== undefined) head.witnessed = notes(top['witnessed'], '.witnessed', MAX_WITNESSED);
  return head;
}

/** The parsed `entries` elements, each checked as it is reached ({@link bundleEntry}). Throws `ERR_BUNDLE_MALFORMED`. */
function* checkedEntries(elements: Iterable<unknown>, shared: boolean): Generator<BundleEntry> {
  let last = -1n;
  let i = 0;
  for (const x of elements) {
    const e = bundleEntry(x, i++, shared, last);
    last = e.index;
    yield e;
  }
}

/** Element `i` of `entries` (parsed), checked: its schema, and an index above `last`. Throws `ERR_BUNDLE_MALFORMED`. */
function bundleEntry(x: unknown, i: number, shared: boolean, last: bigint): BundleEntry {
  const problems: string[] = [];
  const e = checkObject(x, shared ? ENTRY_SHARED : ENTRY, `.entries[${i}]`, problems);
  if (!e || problems.length > 0) throw malformed(problems.join('; '));
  const index = decimal(e['index'], `.entries[${i}].index`);
  if (index <= last) throw malformed(`.entries[${i}].index: indexes must be strictly increasing`);
  return { index, ...entryBytes(e, `.entries[${i}]`), proof: shared ? [] : hashes(e['proof'], `.entries[${i}].proof`) };
}

/** A list of at most `max` signed notes (strings that parse as notes). */
function notes(v: unknown, where: string, max: number): string[] {
  if (!Array.isArray(v) || v.length > max) throw malformed(`${where}: at most ${max} checkpoints`);
  return v.map((n, i) => {
    try {
      parseNote(n as string);
    } catch (cause) {
      throw malformed(`${where}[${i}]: ${(cause as Error).message}`, cause);
    }
    return n as string;
  });
}

/** The `identity` member: a checkpoint note, the range's start, its entries (JSON texts), the shared proof. */
function identitySection(v: unknown): IdentitySection {
  const problems: string[] = [];
  const o = checkObject(v, IDENTITY, '.identity', problems);
  if (!o || problems.length > 0) throw malformed(problems.join('; '));
  const [checkpoint] = notes([o['checkpoint']], '.identity.checkpoint', 1);
  const list = o['entries'] as unknown[];
  if (list.length === 0 || list.length > MAX_BUNDLE_ENTRIES) throw malformed(`.identity.entries: 1 to ${MAX_BUNDLE_ENTRIES}`);
  const entries = list.map((e, i) => {
    if (typeof e !== 'string' || !e.startsWith('{')) throw malformed(`.identity.entries[${i}]: not a JSON record`);
    return utf8(e);
  });
  return { checkpoint: checkpoint!, start: decimal(o['start'], '.identity.start'), entries, proof: hashes(o['proof'], '.identity.proof', SHARED_HASHES_PER_ENTRY * entries.length) };
}

/**
 * Serialize a bundle (compact JSON, one entry per line for readable diffs), in ASCII when its
 * characters outside ASCII are few ({@link asciiJson}). Entry bytes must be UTF-8 text (they
 * are JCS JSON); throws `ERR_BUNDLE_MALFORMED` otherwise.
 */
export function formatBundle(b: Bundle): string {
  const format = b.proof === undefined ? BUNDLE_FORMAT : BUNDLE_FORMAT_SHARED;
  return asciiJson(`{"format":${JSON.stringify(format)},\n${bundleBody(b)}}\n`);
}

/** Any UTF-16 code unit outside ASCII. */
const NON_ASCII = /[\u0080-\uffff]/g;

/**
 * `json` (a JSON text, as `JSON.stringify` writes it: a lone surrogate already escaped), in
 * ASCII when escaping adds little: each code unit outside ASCII as a `\uXXXX` escape, a pair
 * as two (RFC 8259 §7), when that adds at most 1 KiB or a thousandth of the text (5 bytes an
 * escape; e.g. a bundle's checkpoint em dashes, a few names) and keeps it within `maxBytes`
 * (default {@link MAX_BUNDLE_BYTES}, what a verifier reads); otherwise `json` as it is. The
 * same JSON value either way: outside strings JSON has no such character, and every JSON
 * reader reads a string's escapes back as the characters. One em dash makes a whole text,
 * decoded, a string of two bytes per character: a 10,000-call bundle (24 MB) in ASCII is
 * decoded in ~100 ms instead of ~180 and verified 5–8% sooner. A text rich in other scripts
 * is decoded two bytes a character anyway, and escaped it would grow up to threefold.
 * @see RFC 8259 §7
 */
export function asciiJson(json: string, maxBytes: number = MAX_BUNDLE_BYTES): string {
  const allowed = Math.min(Math.max(1024, json.length / 1000), maxBytes - json.length);
  let added = 0;
  for (NON_ASCII.lastIndex = 0; NON_ASCII.test(json); ) if ((added += 5) > allowed) return json;
  return added === 0 ? json : json.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The bundle members serialized (`"checkpoint":…,\n"entries":[…]` and `consistency` when
 * any), without braces, for a document that embeds a bundle. Throws `ERR_BUNDLE_MALFORMED`
 * for entry bytes that are not UTF-8.
 */
export function bundleBody(b: Bundle): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries = b.entries.map((e) => {
    if (e.salt === undefined && e.bytes[0] === COMMITMENT_TAG) throw malformed(`entry ${e.index} is a commitment without its opening (erased?)`);
    let text: string;
    try {
      text = decoder.decode(e.bytes);
    } catch (cause) {
      throw malformed(`entry ${e.index} is not UTF-8`, cause);
    }
    const members = e.salt !== undefined ? { index: e.index.toString(), salt: toBase64(e.salt), record: text } : { index: e.index.toString(), entry: text };
    return JSON.stringify(b.proof === undefined ? { ...members, proof: e.proof.map(toBase64) } : members);
  });
  const head = `"checkpoint":${JSON.stringify(b.checkpoint)},\n`;
  const cons = b.consistency.length === 0 ? '' : `,\n"consistency":${JSON.stringify(b.consistency.map((c) => ({ size: c.size.toString(), proof: c.proof.map(toBase64) })))}`;
  const proof = b.proof === undefined ? '' : `,\n"proof":${JSON.stringify(b.proof.map(toBase64))}`;
  const id = b.identity;
  const identity = id === undefined ? '' : `,\n"identity":{"checkpoint":${JSON.stringify(id.checkpoint)},"start":"${id.start}",\n"entries":[\n${id.entries.map((e) => JSON.stringify(decoder.decode(e))).join(',\n')}\n],\n"proof":${JSON.stringify(id.proof.map(toBase64))}}`;
  const witnessed = b.witnessed === undefined ? '' : `,\n"witnessed":${JSON.stringify(b.witnessed)}`;
  return `${head}"entries":[\n${entries.join(',\n')}\n]${cons}${proof}${identity}${witnessed}`;
}

/**
 * The C2SP tlog-proof of one entry of a bundle@1: its index, inclusion path and the
 * bundle's checkpoint, verbatim. Throws `ERR_PROOF_INVALID` as {@link formatTlogProof}, and
 * for an entry of a bundle@2 (its proof is shared: make a bundle@1 of that call).
 * @see https://c2sp.org/tlog-proof
 */
export function toTlogProof(b: Bundle, e: BundleEntry): string {
  if (b.proof !== undefined) throw new AttestError('ERR_PROOF_INVALID', 'a bundle@2 entry has no inclusion path of its own');
  return formatTlogProof({ index: e.index, proof: e.proof, checkpointNote: b.checkpoint });
}
