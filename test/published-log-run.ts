/**
 * Runs the published C2SP signed-note and cosignature/v1 vectors, the transparency-dev Merkle
 * proof probes, and the published RFC 8785
 * (JCS) vectors through the library, reporting every case's outcome as a string, so the same
 * vectors run in Node and in a browser give comparable lists (test/e2e/browser-parity.test.ts).
 * The vectors' own expectations are checked on Node by test/unit/log-note.test.ts,
 * log-cosignature.test.ts and jcs-vectors.test.ts; here the browser must give Node's outcomes.
 */
import { fromBase64, fromHex, toHex, utf8 } from '../src/bytes/index.js';
import { isAttestError } from '../src/errors.js';
import { canonicalize, canonicalBytes, parseJsonBytes } from '../src/jcs/index.js';
import { ed25519NoteVerifier, openNote, parseNoteBytes } from '../src/log/note.js';
import { cosignatureVerifier } from '../src/log/cosignature.js';
import { verifyConsistency, verifyInclusion } from '../src/log/proof.js';
import { ed25519NoteSigner, importEd25519Seed, signNote } from '../src/log/note-sign.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../src/log/vkey.js';

/** What the runner is given: the vector files' contents (text); `probes` the transparency-dev Merkle proof files (`inclusion/…` or `consistency/…`). */
export interface PublishedLogVectors { signedNote: string; cosignature: string; jcs: Array<{ name: string; input: string }>; es6: string; probes: Array<{ path: string; text: string }> }

/** The code of what `f` throws or rejects with, or `ok: <value>`. */
async function outcome(f: () => unknown): Promise<string> {
  try {
    return `ok: ${JSON.stringify(await f())}`;
  } catch (e) {
    return isAttestError(e) ? e.code : `throws ${(e as Error).name}`;
  }
}

/** IEEE-754 binary64 from lowercase hex bits (the es6testfile format). */
function double(hex: string): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt(`0x${hex}`));
  return v.getFloat64(0);
}

/** Every case's outcome, in file order (see the module comment). */
export async function runPublishedLog(v: PublishedLogVectors): Promise<string[]> {
  const out: string[] = [];
  const note = JSON.parse(v.signedNote) as {
    verify: Array<{ note: string; vkeys: string[]; vkeyFromSeedHex?: string; wantVerified: string[] }>;
    sign: Array<{ goSkey: string; text: string }>;
    malformed: Array<{ note?: string; noteRepeat?: { text: string; sigLine: string; count: number } }>;
  };
  for (const c of note.verify) {
    const vkeys = [...c.vkeys];
    if (c.vkeyFromSeedHex) vkeys.push(formatVerifierKey(c.wantVerified[0]!, SIG_TYPE_ED25519, (await importEd25519Seed(fromHex(c.vkeyFromSeedHex))).publicKey));
    out.push(await outcome(async () => {
      const o = await openNote(c.note, vkeys.map(ed25519NoteVerifier));
      return [o.text, o.verified.map((s) => s.name), o.ignored];
    }));
  }
  for (const c of note.sign) {
    const parts = c.goSkey.split('+');
    const { privateKey, publicKey } = await importEd25519Seed(fromBase64(parts.slice(4).join('+')).slice(1));
    out.push(await outcome(() => signNote(c.text, [ed25519NoteSigner(parts[2]!, privateKey, publicKey)])));
  }
  for (const c of note.malformed) {
    const text = c.noteRepeat ? c.noteRepeat.text + '\n' + c.noteRepeat.sigLine.repeat(c.noteRepeat.count) : c.note!;
    out.push(await outcome(() => parseNoteBytes(utf8(text)).text));
  }
  const cos = JSON.parse(v.cosignature) as { vectors: Array<{ checkpointBody: string; witnessVkey: string; lines: Array<{ line: string }> }> };
  for (const w of cos.vectors) {
    for (const { line } of w.lines) out.push(await outcome(async () => (await openNote(`${w.checkpointBody}\n${line}\n`, [cosignatureVerifier(w.witnessVkey)])).verified.length));
  }
  for (const j of v.jcs) out.push(`${j.name}: ${await outcome(() => toHex(canonicalBytes(parseJsonBytes(utf8(j.input)))))}`);
  for (const line of v.es6.split('\n').filter((l) => l !== '')) out.push(await outcome(() => canonicalize(double(line.split(',')[0]!))));
  for (const { path, text } of v.probes) {
    // Sizes reach 2^64-1: integers kept as strings, then BigInt.
    const p = JSON.parse(text.replace(/("(?:leafIdx|treeSize|size1|size2)":\s*)(\d+)/g, '$1"$2"')) as Record<string, string | string[] | null>;
    const h = (list: unknown): Uint8Array[] => ((list as string[] | null) ?? []).map(fromBase64);
    const b = (k: string): Uint8Array => fromBase64(p[k] as string);
    out.push(`${path}: ${await outcome(() => (path.startsWith('inclusion/')
      ? verifyInclusion(BigInt(p['leafIdx'] as string), BigInt(p['treeSize'] as string), b('leafHash'), h(p['proof']), b('root'))
      : verifyConsistency(BigInt(p['size1'] as string), BigInt(p['size2'] as string), b('root1'), b('root2'), h(p['proof']))))}`);
  }
  return out;
}
