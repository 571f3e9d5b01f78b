/**
 * The attestation and receipt records a verifier keeps while it reads a log, by log
 * position, for what later entries check against them (verify/session.ts: an action's
 * captured call; verify/records.ts: a decision chained onto an attestation). A log can hold
 * millions, so a record whose position continues a dense run from 0 (every log's do) is kept
 * in typed arrays, chunk by chunk, about 45 bytes each: its digest's 32 bytes, its kind, and its tool (an
 * attestation's, interned) or the index it answers (a receipt's). Anything else (a bundle's
 * scattered indexes, a value that does not fit) is kept as given in a map.
 */
import { fromHex, toHex } from '../bytes/index.js';
import type { CallLookup } from './session.js';

/** One record as kept: its kind, `sha256:` hex digest, an attestation's tool, the attestation index (decimal) a receipt answers. */
export type CallRecord = NonNullable<ReturnType<CallLookup>>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,14})$/;
const ATTESTATION = 1;
const RECEIPT = 2;
/** Positions from here on are kept in the map. */
const MAX_DENSE = 2 ** 31;

/** Positions per chunk of the typed arrays. */
const CHUNK = 4096;

/** The records at positions `CHUNK * n` to `CHUNK * (n + 1) - 1`. */
interface Chunk {
  /** 0: none, else {@link ATTESTATION} or {@link RECEIPT}. */
  kinds: Uint8Array;
  digests: Uint8Array;
  /** An attestation's tool id (-1: none), a receipt's answered index. */
  extra: Float64Array;
}

/** Attestation and receipt records by log position (decimal string, as a session action names them). */
export class CallRecords {
  private readonly chunks: Chunk[] = [];
  private readonly toolIds = new Map<string, number>();
  private readonly tools: string[] = [];
  private readonly other = new Map<string, CallRecord>();

  /** Keep `r` as the record at `position` (each position is set at most once). */
  set(position: bigint, r: CallRecord): void {
    const p = Number(position);
    const extra = r.kind === 'attestation' ? (r.tool === null ? -1 : this.toolId(r.tool)) : r.answers !== null && DECIMAL.test(r.answers) ? Number(r.answers) : NaN;
    const n = Math.floor(p / CHUNK);
    if (p >= MAX_DENSE || n > this.chunks.length || Number.isNaN(extra) || !DIGEST.test(r.digest)) {
      this.other.set(position.toString(), r);
      return;
    }
    if (n === this.chunks.length) this.chunks.push({ kinds: new Uint8Array(CHUNK), digests: new Uint8Array(32 * CHUNK), extra: new Float64Array(CHUNK) });
    const c = this.chunks[n]!;
    const k = p % CHUNK;
    c.kinds[k] = r.kind === 'attestation' ? ATTESTATION : RECEIPT;
    c.digests.set(fromHex(r.digest.slice(7)), 32 * k);
    c.extra[k] = extra;
  }

  /** The record at `index` (a decimal string, as given: `"007"` names none), or null. */
  get(index: string): CallRecord | null {
    const kept = this.other.get(index);
    if (kept !== undefined) return kept;
    if (!DECIMAL.test(index)) return null;
    const p = Number(index);
    const c = this.chunks[Math.floor(p / CHUNK)];
    const k = p % CHUNK;
    if (c === undefined || c.kinds[k] === 0) return null;
    const digest = `sha256:${toHex(c.digests.subarray(32 * k, 32 * k + 32))}`;
    const x = c.extra[k]!;
    return c.kinds[k] === ATTESTATION ? { kind: 'attestation', digest, tool: x < 0 ? null : this.tools[x]!, answers: null } : { kind: 'receipt', digest, tool: null, answers: x.toString() };
  }

  /** The one copy of tool name `tool` kept here (the first one given). */
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
