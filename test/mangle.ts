/**
 * Mangling sweeps (the golang.org/x/mod sumdb/note style of adversarial test): enumerate
 * every single-byte change and every truncation of a valid input, hand each mutant to a
 * verifier, and require that it is rejected, or, when accepted, that the caller's predicate
 * proves the change harmless (outside what is signed). A verifier that throws where it must
 * not, or accepts a harmful mutant, fails the sweep with the offset and value named.
 */
import assert from 'node:assert/strict';
import { fromUtf8 } from '../src/bytes/index.js';
import { isAttestError, type ErrorCode } from '../src/errors.js';
import { canonicalBytes, parseJson, type JsonValue, type ParseLimits } from '../src/jcs/index.js';
import { openNote, type NoteVerifier, type OpenedNote } from '../src/log/note.js';

/**
 * One mutation of a byte string. `change`: byte `offset` replaced by `value` (0..255,
 * never the original byte). `truncate`: the first `offset` bytes (0 <= offset < n).
 */
export interface Mutant {
  kind: 'change' | 'truncate';
  offset: number;
  /** Replacement byte for `change`; undefined for `truncate`. */
  value?: number;
  bytes: Uint8Array;
}

/** Replacement values tried at one offset; default: every byte value but the original. */
export type ValuePicker = (offset: number, original: number) => Iterable<number>;

/** Every byte value other than `original`: 255 values. */
export const everyOtherByte: ValuePicker = function* (_offset, original) {
  for (let v = 0; v < 256; v++) if (v !== original) yield v;
};

/**
 * One value of every byte class the parsers under test distinguish: JSON structure and
 * escapes, the four JSON whitespace bytes (all of them, so whitespace sweeps stay exact),
 * number syntax, hex and base64/base64url alphabets and padding, the note separators
 * (LF, `+`, space), C0 controls and DEL, and every kind of UTF-8 lead/continuation byte
 * (continuation, overlong leads C0/C1/E0, surrogate lead ED, F4, invalid F5..FF).
 */
const CLASS_REPRESENTATIVES: readonly number[] = [
  ...Buffer.from('{}[]:,"\\/ \t\n\r0129-+.eEaAfFgzZ_=~'),
  0x00, 0x01, 0x08, 0x0b, 0x1f, 0x7f,
  0x80, 0x9f, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
];

/**
 * A subset for costly verifiers: {@link CLASS_REPRESENTATIVES}, plus the original's
 * neighbours (+-1, the near miss), its case flip (^ 0x20) and its top-bit flip (^ 0x80).
 * About 60 values per offset instead of 255.
 */
export const representativeBytes: ValuePicker = (_offset, original) =>
  new Set([...CLASS_REPRESENTATIVES, original - 1, original + 1, original ^ 0x20, original ^ 0x80]);

/** Human-readable name of a mutant, for failure messages: offset, old and new byte. */
export function describeMutant(m: Mutant, original: Uint8Array): string {
  if (m.kind === 'truncate') return `truncated to ${m.offset} of ${original.length} bytes`;
  const hex = (b: number | undefined) => `0x${(b ?? 0).toString(16).padStart(2, '0')}`;
  const around = new TextDecoder().decode(original.slice(Math.max(0, m.offset - 12), m.offset + 12));
  return `byte ${m.offset} ${hex(original[m.offset])} -> ${hex(m.value)} near ${JSON.stringify(around)}`;
}

/**
 * Every truncation (proper prefixes, lengths 0..n-1), then every single-byte change of
 * `original` (offsets ascending, values from `pick`). Each mutant's bytes are a fresh copy.
 */
export function* mutations(original: Uint8Array, pick: ValuePicker = everyOtherByte): Generator<Mutant> {
  for (let len = 0; len < original.length; len++) yield { kind: 'truncate', offset: len, bytes: original.slice(0, len) };
  for (let i = 0; i < original.length; i++) {
    for (const value of new Set(pick(i, original[i]!))) {
      if (value === original[i] || value < 0 || value > 255) continue;
      const bytes = original.slice();
      bytes[i] = value;
      yield { kind: 'change', offset: i, value, bytes };
    }
  }
}

/** Number of mutants {@link mutations} yields with the default picker: n truncations + 255 n. */
export function exhaustiveCount(length: number): number {
  return length + 255 * length;
}

/** Number of mutants {@link mutations} yields for `original` with `pick`. */
export function mutantCount(original: Uint8Array, pick: ValuePicker): number {
  let count = original.length;
  original.forEach((b, i) => {
    count += new Set([...pick(i, b)].filter((v) => v !== b && v >= 0 && v <= 255)).size;
  });
  return count;
}

/**
 * The picker for sweeps too slow to run exhaustively on every test run (more than ~5 s):
 * {@link representativeBytes}, or every byte value when `MANGLE_EXHAUSTIVE=1`.
 */
export const costlyPicker: ValuePicker = process.env['MANGLE_EXHAUSTIVE'] === '1' ? everyOtherByte : representativeBytes;

/**
 * A sweep's inputs. `verify` returns what the verifier accepted (the verdict, the opened
 * note) or null when it rejected the mutant; any throw out of `verify` is a failure, so a
 * caller whose API rejects by throwing catches its expected codes (see {@link rejectCodes}).
 * `harmless` decides whether an accepted mutant is provably harmless.
 */
export interface SweepOptions<T> {
  verify: (bytes: Uint8Array) => Promise<T | null>;
  harmless: (m: Mutant, accepted: T) => boolean;
  pick?: ValuePicker;
  /** Verifications in flight at once (WebCrypto runs on the thread pool). Default 64. */
  concurrency?: number;
}

/** Counts of one sweep; when it passes, `tried = rejected + harmless`. `ms` is wall time. */
export interface SweepCounts {
  tried: number;
  rejected: number;
  harmless: number;
  ms: number;
}

/** One failed mutant: accepted though not harmless, or the verifier threw. */
interface Failure {
  what: string;
  why: string;
}

/** Verify one mutant and classify it; failures are pushed, not thrown. */
async function classify<T>(original: Uint8Array, m: Mutant, o: SweepOptions<T>, c: SweepCounts, failures: Failure[]): Promise<void> {
  c.tried++;
  let accepted: T | null;
  try {
    accepted = await o.verify(m.bytes);
  } catch (e) {
    failures.push({ what: describeMutant(m, original), why: `verifier threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` });
    return;
  }
  if (accepted === null) c.rejected++;
  else if (o.harmless(m, accepted)) c.harmless++;
  else failures.push({ what: describeMutant(m, original), why: `accepted though not harmless: ${JSON.stringify(new TextDecoder().decode(m.bytes))}` });
}

/**
 * Run a sweep: checks that `original` itself is accepted, then verifies every mutant,
 * `concurrency` at a time. Throws an AssertionError listing (up to 20 of) the mutants that
 * made the verifier throw or were accepted though not harmless; otherwise returns counts.
 */
export async function sweep<T>(original: Uint8Array, o: SweepOptions<T>): Promise<SweepCounts> {
  assert.notEqual(await o.verify(original), null, 'the unmangled input must be accepted');
  const counts: SweepCounts = { tried: 0, rejected: 0, harmless: 0, ms: 0 };
  const failures: Failure[] = [];
  const start = performance.now();
  const source = mutations(original, o.pick);
  const worker = async (): Promise<void> => {
    for (let next = source.next(); !next.done; next = source.next()) await classify(original, next.value, o, counts, failures);
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 64 }, worker));
  counts.ms = Math.round(performance.now() - start);
  if (failures.length > 0) {
    const list = failures.slice(0, 20).map((f) => `  ${f.what}: ${f.why}`).join('\n');
    assert.fail(`${failures.length} mangled input(s) failed, of ${counts.tried} tried:\n${list}`);
  }
  return counts;
}

/**
 * For verifiers whose API rejects by throwing: runs `open`, returns null when it throws an
 * AttestError with one of `codes`, and rethrows anything else (a sweep failure).
 */
export async function rejectCodes<T>(codes: readonly ErrorCode[], open: () => Promise<T>): Promise<T | null> {
  try {
    return await open();
  } catch (e) {
    if (isAttestError(e) && codes.includes(e.code)) return null;
    throw e;
  }
}

/**
 * Harmlessness for JSON envelopes: the mutant, decoded by `decode` (as the verifier decodes
 * it) and strictly parsed with `limits`, canonicalizes (RFC 8785) to exactly the bytes of
 * `original`, i.e. the change is outside what is signed (insignificant whitespace).
 */
export function jcsHarmless(original: JsonValue, limits: ParseLimits, decode: (b: Uint8Array) => string = fromUtf8): (m: Mutant) => boolean {
  const want = canonicalBytes(original);
  return (m) => {
    try {
      return Buffer.from(canonicalBytes(parseJson(decode(m.bytes), limits))).equals(want);
    } catch {
      return false;
    }
  };
}

/**
 * Harmlessness for signed notes: the verified text is exactly `signedText`, the mutation
 * lies beyond it and its blank separator line (in the signature lines), and `sameSigners`
 * confirms the verified signers are unchanged.
 */
export function noteHarmless<T extends { text: string }>(signedText: string, sameSigners: (accepted: T) => boolean): (m: Mutant, accepted: T) => boolean {
  const textBytes = Buffer.byteLength(signedText, 'utf8');
  return (m, accepted) => {
    const outside = m.kind === 'change' ? m.offset > textBytes : m.offset > textBytes + 1;
    return outside && accepted.text === signedText && sameSigners(accepted);
  };
}

/** The codes a signed-note (or checkpoint) opener may reject a mangled note with. */
export const NOTE_REJECT: readonly ErrorCode[] = ['ERR_NOTE_MALFORMED', 'ERR_NOTE_UNVERIFIED', 'ERR_NOTE_SIGNATURE_INVALID', 'ERR_CHECKPOINT_MALFORMED'];

/** Inputs of {@link sweepNote}. */
export interface NoteSweepOptions {
  /** The keys openNote is given. */
  verifiers: NoteVerifier[];
  /** Accepted only when exactly these keys verified (default: `verifiers`). */
  required?: NoteVerifier[];
  /** Further checks of the opened note (e.g. parseCheckpoint); throw a NOTE_REJECT code. */
  check?: (opened: OpenedNote) => void;
  pick?: ValuePicker;
}

/**
 * Sweep a signed note (C2SP signed-note) through openNote: a mutant is accepted when it
 * opens, passes `check`, and exactly the `required` keys verified it; it is harmless only
 * when the mutation lies in the signature lines and the verified text is unchanged.
 */
export async function sweepNote(note: string, o: NoteSweepOptions): Promise<SweepCounts> {
  const signers = (vs: Array<{ name: string; keyId: number }>) => vs.map((v) => `${v.name}+${v.keyId}`).sort().join(' ');
  const want = signers(o.required ?? o.verifiers);
  const open = async (b: Uint8Array): Promise<OpenedNote | null> => {
    const opened = await openNote(b, o.verifiers);
    o.check?.(opened);
    return signers(opened.verified) === want ? opened : null;
  };
  const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
  const harmless = noteHarmless(text, (opened: OpenedNote) => signers(opened.verified) === want);
  return sweep(new TextEncoder().encode(note), { verify: (b) => rejectCodes(NOTE_REJECT, () => open(b)), harmless, ...(o.pick ? { pick: o.pick } : {}) });
}
