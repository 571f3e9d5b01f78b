/**
 * The log side of C2SP tlog-witness: send a checkpoint to one witness and keep its
 * cosignature only if it verifies under that witness's configured key.
 *
 * - `old` is the size the log last saw the witness cosign (0 when unknown). A 409 answer
 *   names the witness's size: when it is within our tree we retry once from there (a log
 *   restarted, or lost its record); when it is beyond our tree the witness has seen a larger
 *   tree for our origin, a rollback or a fork: `ERR_WITNESS_CONFLICT`, an alarm.
 * - 422 (the proof or the roots do not agree with what the witness holds) is also an alarm.
 * - 400/403/404 and a cosignature that does not verify: `ERR_WITNESS_REFUSED`.
 * - No answer within `timeoutMs`, a refused connection: `ERR_WITNESS_UNREACHABLE`.
 * Nothing here throws for a witness's behaviour: the log never stops for a witness.
 * @see https://c2sp.org/tlog-witness ("add-checkpoint", client behaviour)
 */
import { printable } from '../bytes/index.js';
import type { ErrorCode } from '../errors.js';
import { cosignatureVerifier } from '../log/cosignature.js';
import { openNote, parseNote, formatSignatureLine } from '../log/note.js';
import { parseVerifierKey } from '../log/vkey.js';
import { formatAddCheckpointRequest, parseConflictBody } from './protocol.js';

/** A witness the log submits to: its cosigner name, cosignature/v1 vkey and submission URL prefix. */
export interface WitnessEndpoint {
  name: string;
  vkey: string;
  /** Submission prefix; the request goes to `<url>/add-checkpoint`. */
  url: string;
}

/** What became of one submission. */
export type SubmitOutcome =
  | { ok: true; line: string; witnessSize: bigint; /** Set when the witness was found below the size it had cosigned for us (it lost or rolled back its state): the alarm's text. */ alarm?: string }
  | { ok: false; code: Extract<ErrorCode, 'ERR_WITNESS_UNREACHABLE' | 'ERR_WITNESS_REFUSED' | 'ERR_WITNESS_CONFLICT'>; message: string; witnessSize?: bigint };

/** Options of {@link submitCheckpoint}. */
export interface SubmitOptions {
  /** Per-request time limit, milliseconds (default 10,000). */
  timeoutMs?: number;
}

/** Longest answer body read from a witness, in bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

async function readCapped(res: Response): Promise<string | null> {
  const reader = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
    if (done || value === undefined) break;
    total += value.length;
    if (total > MAX_ANSWER_BYTES) {
      await reader!.cancel();
      return null;
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
}

async function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string } | { error: string }> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/add-checkpoint`, {
      method: 'POST', body, redirect: 'error', headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await readCapped(res);
    return text === null ? { error: `answer larger than ${MAX_ANSWER_BYTES} bytes` } : { status: res.status, text };
  } catch (e) {
    // fetch says "fetch failed" and keeps why (ECONNREFUSED, a name not found) in its cause.
    const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : null;
    return { error: (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${(e as Error).message}${why === null ? '' : ` (${why})`}` };
  }
}

/**
 * The witness's own cosignature line from a 200 body: the lines must parse as signature
 * lines and the one of the witness's key must verify over `note`'s text. Returns the line,
 * or null when there is none that verifies.
 */
async function ownCosignature(w: WitnessEndpoint, note: string, body: string): Promise<string | null> {
  // Signature lines only: an empty line in the answer would move the note's separator and
  // make the witness's "signed text" include our signature lines (a planted bad cosignature).
  if (body === '' || body.startsWith('\n') || body.includes('\n\n') || !body.endsWith('\n')) return null;
  try {
    const key = parseVerifierKey(w.vkey);
    const opened = await openNote(note + body, [cosignatureVerifier(w.vkey)]);
    if (opened.text !== parseNote(note).text) return null;
    const sig = opened.verified.find((s) => s.name === key.name && s.keyId === key.keyId);
    return sig ? formatSignatureLine(sig.name, sig.keyId, sig.signature) : null;
  } catch {
    return null;
  }
}


/**
 * Submit the checkpoint `note` (of tree `size`) to witness `w`, believing it last cosigned
 * `old`. `proofFrom(m)` returns the RFC 6962 consistency proof from size `m` to `size`
 * (empty for m = 0 or m = size; it may be asynchronous). Retries once after a 409 that names a size within the tree.
 * A 409 below `old` (the witness lost or rolled back its state) is retried too, and is an
 * alarm whatever follows: `alarm` on a cosignature, else `ERR_WITNESS_CONFLICT` with it.
 * @see https://c2sp.org/tlog-witness
 */
export async function submitCheckpoint(
  w: WitnessEndpoint, note: string, size: bigint, old: bigint, proofFrom: (m: bigint) => Uint8Array[] | Promise<Uint8Array[]>, o: SubmitOptions = {},
): Promise<SubmitOutcome> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  let from = old > size ? 0n : old;
  let alarm: string | undefined;
  const outcome = (out: SubmitOutcome): SubmitOutcome => {
    if (alarm === undefined) return out;
    return out.ok ? { ...out, alarm } : { ok: false, code: 'ERR_WITNESS_CONFLICT', message: `${alarm}; then ${out.message}`, witnessSize: from };
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = from === 0n || from === size ? [] : await proofFrom(from);
    const res = await post(w.url, formatAddCheckpointRequest({ oldSize: from, proof, checkpointNote: note }), timeoutMs);
    if ('error' in res) return outcome({ ok: false, code: 'ERR_WITNESS_UNREACHABLE', message: `${w.name}: ${res.error}` });
    if (res.status === 200) {
      const line = await ownCosignature(w, note, res.text);
      return outcome(line ? { ok: true, line, witnessSize: size } : { ok: false, code: 'ERR_WITNESS_REFUSED', message: `${w.name}: answered 200 without a cosignature that verifies under its key` });
    }
    if (res.status === 409) {
      const theirs = parseConflictBody(res.text);
      if (theirs === null) return outcome({ ok: false, code: 'ERR_WITNESS_REFUSED', message: `${w.name}: 409 without a size` });
      if (theirs > size) return outcome({ ok: false, code: 'ERR_WITNESS_CONFLICT', message: `${w.name} has cosigned a tree of ${theirs} entries for this origin; ours has ${size}: rollback or fork`, witnessSize: theirs });
      if (attempt === 0 && theirs !== from) {
        // Below the size it cosigned for us: a witness never goes back, unless it lost its state.
        if (theirs < from) alarm = `${w.name} answered 409 at size ${theirs}, below the size ${from} it had cosigned for this origin: it lost or rolled back its state (what it saw before vouches for nothing now)`;
        from = theirs;
        continue;
      }
      return outcome({ ok: false, code: 'ERR_WITNESS_REFUSED', message: `${w.name}: 409 again at size ${theirs}`, witnessSize: theirs });
    }
    if (res.status === 422) return outcome({ ok: false, code: 'ERR_WITNESS_CONFLICT', message: `${w.name} refused the checkpoint as inconsistent with the tree it cosigned (422): possible fork`, witnessSize: from });
    return outcome({ ok: false, code: res.status >= 500 ? 'ERR_WITNESS_UNREACHABLE' : 'ERR_WITNESS_REFUSED', message: `${w.name}: HTTP ${res.status} ${printable(res.text.slice(0, 200).trim())}` });
  }
  return outcome({ ok: false, code: 'ERR_WITNESS_REFUSED', message: `${w.name}: no agreement on the old size` });
}
