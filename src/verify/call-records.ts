/**
 * The attestation and receipt records a verifier keeps while it reads a log, by log
 * position, for what later entries check against them (verify/session.ts: an action's
 * captured call; verify/records.ts: a decision chained onto an attestation). A log can hold
 * millions. A record is kept in typed arrays by position, chunk by chunk, 41 bytes a
 * position: its digest's 32 bytes, its kind, and its tool (an attestation's, interned) or
 * the index it answers (a receipt's). The arrays grow to a position only while it is below
 * twice the entries read so far plus a chunk, so whatever the positions (a bundle's may be
 * any indexes up to 2^64 - 1) they never cost more than 82 bytes per entry read plus a few
 * hundred KB; a log's, read in order, grow as the log does, gaps and all. A record they
 * cannot hold (past that bound, a value that does not fit) is kept as given in a map.
 */
import { fromHex, toHex } from '../bytes/index.js';
import type { CallLookup } from './session.js';

/** One record as kept: its kind, `sha256:` hex digest, an attestation's tool, the attestation index (decimal) a receipt answers. */
export type CallRecord = NonNullable<ReturnType<CallLookup>>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** A decimal index the arrays hold: canonical, below 10^15 (exact as a double). */
const DECIMAL = /^(0|[1-9][0-9]{0,14})$/;
const ATTESTATION = 1;
const RECEIPT = 2;
/** Positions per chunk of the typed arrays. */
const CHUNK = 4096;

/** The records at positions `CHUNK * n` to `CHUNK * (n + 1) - 1`. */
interface Chunk {
  /** 0: none, else {@link ATTESTATION} or {@link RECEIPT}. */
  kinds: Uint8Array;
  digests: Uint8Array;
  /** An attestation's tool id (-1: none), a receipt's answered index. */
  toolOrAnswers: Float64Array;
}

/** Attestation and receipt records by log position (decimal string, as a session action names them). */
export class CallRecords {
  private readonly chunks: Chunk[] = [];
  private readonly toolIds = new Map<string, number>();
  private readonly tools: string[] = [];
  /** The records the arrays do not hold, by position (decimal). */
  private readonly mapped = new Map<string, CallRecord>();

  /**
   * Keep `r` as the record at `position`; each position is set at most once. `read`: the
   * entries read so far, records or not, this one included.
   */
  set(position: bigint, r: CallRecord, read: number): void {
    const answers = r.kind === 'receipt' && r.answers !== null && DECIMAL.test(r.answers) ? Number(r.answers) : null;
    const fits = position < 2n * BigInt(read + CHUNK) && DIGEST.test(r.digest) && (r.kind === 'attestation' || answers !== null);
    if (!fits) {
      this.mapped.set(position.toString(), r);
      return;
    }
    const p = Number(position);
    while (this.chunks.length <= Math.floor(p / CHUNK)) this.chunks.push({ kinds: new Uint8Array(CHUNK), digests: new Uint8Array(32 * CHUNK), toolOrAnswers: new Float64Array(CHUNK) });
    const c = this.chunks[Math.floor(p / CHUNK)]!;
    const k = p % CHUNK;
    c.kinds[k] = r.kind === 'attestation' ? ATTESTATION : RECEIPT;
    c.digests.set(fromHex(r.digest.slice('sha256:'.length)), 32 * k);
    c.toolOrAnswers[k] = r.kind === 'attestation' ? (r.tool === null ? -1 : this.toolId(r.tool)) : answers!;
  }

  /** The record at `index` (a decimal string, as given: `"007"` names none), or null. */
  get(index: string): CallRecord | null {
    const kept = this.mapped.get(index);
    if (kept !== undefined) return kept;
    if (!DECIMAL.test(index)) return null;
    const p = Number(index);
    const c = this.chunks[Math.floor(p / CHUNK)];
    const k = p % CHUNK;
    if (c === undefined || c.kinds[k] === 0) return null;
    const digest = `sha256:${toHex(c.digests.subarray(32 * k, 32 * k + 32))}`;
    const x = c.toolOrAnswers[k]!;
    return c.kinds[k] === ATTESTATION ? { kind: 'attestation', digest, tool: x < 0 ? null : this.tools[x]!, answers: null } : { kind: 'receipt', digest, tool: null, answers: x.toString() };
  }

  /** How many records the map holds and how many chunks of {@link CHUNK} positions the arrays: where the memory went. */
  get footprint(): { mapped: number; chunks: number } {
    return { mapped: this.mapped.size, chunks: this.chunks.length };
  }

  /** The one copy of tool name `tool` kept here (the first one given): what the fold keeps for each call, too. */
  intern(tool: string): string {
    return this.tools[this.toolId(tool)]!;
  }

  private toolId(tool: string): number {
    let id = this.toolIds.get(tool);
    if (id === undefined) {
      this.toolIds.set(tool, (id = this.tools.length));
      this.tools.push(tool);
    }
    return id;
  }
}
