/**
 * The decisions of a C2SP tlog-witness, without HTTP: an `add-checkpoint` body in, a status,
 * content type and body out. Checks, in the order of the spec table (docs/witness.md,
 * transparency-log.md §7):
 *
 * | condition                                                         | status |
 * |-------------------------------------------------------------------|--------|
 * | body outside the add-checkpoint grammar                           | 400    |
 * | origin not configured                                             | 404    |
 * | no valid signature by a configured log key, or a known one fails  | 403    |
 * | checkpoint text malformed                                         | 400    |
 * | `old` > checkpoint size                                           | 400    |
 * | `old` ≠ stored size (0 if none)                                   | 409, body `<stored size>\n`, `text/x.tlog.size` |
 * | size 0 with a root other than SHA-256("")                         | 422    |
 * | `old` = 0 with a non-empty proof                                  | 422    |
 * | `old` = size with another root (or a non-empty proof)             | 422    |
 * | consistency proof (old, stored root) -> (size, root) fails        | 422    |
 * | all pass                                                          | 200, cosignature line(s) |
 *
 * The 409/422 checks and the update of the stored checkpoint run in one atomic state
 * transaction, committed before the cosignature is made, so a checkpoint is cosigned only
 * once the witness is durably committed to it, and never one that failed a check.
 * @see https://c2sp.org/tlog-witness ("add-checkpoint")
 */
import { equalBytes, fromBase64, toBase64, utf8 } from '../bytes/index.js';
import { AttestError, isAttestError } from '../errors.js';
import { parseCheckpoint, type Checkpoint } from '../log/checkpoint.js';
import { EMPTY_ROOT, HASH_SIZE } from '../log/hash.js';
import type { NoteSigner } from '../log/note-sign.js';
import { ed25519NoteVerifier, formatSignatureLine, openNote, parseNote, type NoteVerifier } from '../log/note.js';
import { verifyConsistency } from '../log/proof.js';
import { formatConflictBody, parseAddCheckpointRequest, TLOG_SIZE_CONTENT_TYPE, type AddCheckpointRequest } from './protocol.js';
import type { StateDecision, StoredCheckpoint, WitnessState } from './state.js';

/** Content type of every answer except the 409 Conflict. */
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** An HTTP answer: status code, `Content-Type`, UTF-8 body. */
export interface WitnessResponse {
  status: number;
  contentType: string;
  body: string;
}

/** One decision, for the operator's log: what was asked and what was answered. */
export interface WitnessDecision {
  /** The checkpoint origin, when the body got that far. */
  origin: string | null;
  /** The request's `old` size, when it parsed. */
  oldSize: bigint | null;
  /** The checkpoint's size, when it parsed. */
  size: bigint | null;
  status: number;
  /** Short reason ("cosigned", "unknown origin", "consistency proof does not verify", ...). */
  reason: string;
}

/**
 * Configuration of a {@link Witness}.
 * @see https://c2sp.org/tlog-witness ("Each witness is configured with a list of supported log public keys")
 */
export interface WitnessConfig {
  /** The cosigner key name (as in the witness vkey); must equal `signer.name`. */
  name: string;
  /** A cosignature/v1 signer (`cosignatureSigner`), timestamps from its clock. */
  signer: NoteSigner;
  /** Per origin, the accepted Ed25519 (type 0x01) log vkeys (several: key rotation). */
  logs: ReadonlyMap<string, readonly string[]>;
  /** The durable state. */
  state: WitnessState;
  /** Called once per decision (after the state commit for accepted ones). */
  onDecision?: (d: WitnessDecision) => void;
}

type Outcome = { status: 200 | 409 | 422; reason: string; stored: bigint };

/**
 * Parse checkpoint text, tolerating one defect that the witness answers with 422 rather
 * than 400: size 0 with a root other than SHA-256(""). Throws `ERR_CHECKPOINT_MALFORMED`.
 */
function readCheckpoint(text: string): { checkpoint: Checkpoint; badEmptyRoot: boolean } {
  try {
    return { checkpoint: parseCheckpoint(text), badEmptyRoot: false };
  } catch (e) {
    const lines = text.split('\n');
    if (!isAttestError(e, 'ERR_CHECKPOINT_MALFORMED') || lines[1] !== '0' || lines[2] === undefined) throw e;
    let root: Uint8Array;
    try {
      root = fromBase64(lines[2]);
    } catch {
      throw e;
    }
    if (root.length !== HASH_SIZE) throw e;
    lines[2] = toBase64(EMPTY_ROOT);
    const checkpoint = parseCheckpoint(lines.join('\n')); // the rest must be well-formed
    return { checkpoint: { ...checkpoint, rootHash: root }, badEmptyRoot: true };
  }
}

/**
 * The §7 checks that depend on the stored state, in table order, and the write when they
 * pass. Synchronous: it runs inside the state transaction.
 */
function decide(
  req: AddCheckpointRequest,
  cp: Checkpoint,
  badEmptyRoot: boolean,
  stored: StoredCheckpoint | null,
): StateDecision<Outcome> {
  const size = stored?.size ?? 0n;
  const refuse = (status: 409 | 422, reason: string): StateDecision<Outcome> => ({ result: { status, reason, stored: size } });
  if (req.oldSize !== size) return refuse(409, `old ${req.oldSize} is not the stored size ${size}`);
  if (badEmptyRoot) return refuse(422, 'size 0 with a root other than the empty-tree hash');
  if (req.oldSize === 0n) {
    if (req.proof.length > 0) return refuse(422, 'old 0 with a non-empty proof');
  } else if (req.oldSize === cp.size) {
    if (!equalBytes(cp.rootHash, stored!.rootHash)) return refuse(422, 'same size, different root');
    if (req.proof.length > 0) return refuse(422, 'same size with a non-empty proof');
  } else if (!verifyConsistency(req.oldSize, cp.size, stored!.rootHash, cp.rootHash, req.proof)) {
    return refuse(422, 'consistency proof does not verify');
  }
  return {
    result: { status: 200, reason: 'cosigned', stored: cp.size },
    write: { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note: req.checkpointNote },
  };
}

/**
 * A tlog-witness: verifies submitted checkpoints against configured log keys and its
 * durable state, and cosigns (cosignature/v1) those consistent with what it cosigned before.
 * @see https://c2sp.org/tlog-witness
 */
export class Witness {
  private readonly verifiers = new Map<string, NoteVerifier[]>();

  /**
   * Throws `ERR_USAGE` when `config.name` is not the signer's name, `ERR_VKEY_MALFORMED`
   * for a log vkey that is not a valid Ed25519 (0x01) vkey.
   */
  constructor(private readonly config: WitnessConfig) {
    if (config.signer.name !== config.name) throw new AttestError('ERR_USAGE', 'the witness name must be its signer\'s key name');
    for (const [origin, vkeys] of config.logs) this.verifiers.set(origin, vkeys.map(ed25519NoteVerifier));
  }

  /**
   * Decide one `add-checkpoint` request body (already decoded from UTF-8) and return the
   * HTTP answer (table above). A 200 body is one cosignature/v1 line
   * `— <name> base64(keyID || u64be timestamp || Ed25519 signature)\n` over the checkpoint
   * text. Throws (HTTP 500) only on state failures (`ERR_STORE_IO`, `ERR_STORE_CORRUPT`,
   * `ERR_LOG_ROLLBACK`) or a signer failure; an accepted checkpoint is then already stored,
   * and a retry with `old` = its size, the same checkpoint and no proof gets it cosigned.
   * @see https://c2sp.org/tlog-witness ("add-checkpoint")
   */
  async addCheckpoint(body: string): Promise<WitnessResponse> {
    const d: WitnessDecision = { origin: null, oldSize: null, size: null, status: 0, reason: '' };
    let req: AddCheckpointRequest;
    try {
      req = parseAddCheckpointRequest(body);
    } catch (e) {
      if (!isAttestError(e, 'ERR_WITNESS_REQUEST_MALFORMED')) throw e;
      return this.answer(d, 400, `malformed request: ${e.message}`);
    }
    d.oldSize = req.oldSize;
    const text = parseNote(req.checkpointNote).text;
    d.origin = text.slice(0, text.indexOf('\n'));
    const verifiers = this.verifiers.get(d.origin);
    if (verifiers === undefined) return this.answer(d, 404, 'unknown origin');
    let logLines: string;
    try {
      // Only the log signatures that verified are kept: the monitoring note republishes what was stored.
      logLines = (await openNote(req.checkpointNote, verifiers)).verified.map((v) => formatSignatureLine(v.name, v.keyId, v.signature)).join('');
    } catch (e) {
      if (!isAttestError(e, 'ERR_NOTE_UNVERIFIED') && !isAttestError(e, 'ERR_NOTE_SIGNATURE_INVALID')) throw e;
      return this.answer(d, 403, 'no valid signature by a trusted log key');
    }
    let read: ReturnType<typeof readCheckpoint>;
    try {
      read = readCheckpoint(text);
    } catch (e) {
      if (!isAttestError(e, 'ERR_CHECKPOINT_MALFORMED')) throw e;
      return this.answer(d, 400, `malformed checkpoint: ${e.message}`);
    }
    const cp = read.checkpoint;
    d.size = cp.size;
    if (req.oldSize > cp.size) return this.answer(d, 400, 'old size larger than the checkpoint size');
    const outcome = this.config.state.update(cp.origin, (stored) => decide({ ...req, checkpointNote: `${text}\n${logLines}` }, cp, read.badEmptyRoot, stored));
    if (outcome.status === 409) return this.answer(d, 409, outcome.reason, formatConflictBody(outcome.stored), TLOG_SIZE_CONTENT_TYPE);
    if (outcome.status === 422) return this.answer(d, 422, outcome.reason);
    return this.answer(d, 200, outcome.reason, await this.cosign(text));
  }

  /**
   * The latest checkpoint this witness cosigned for the origin whose lowercase hex
   * SHA-256 is `originHashHex`, as a note: the stored checkpoint with the log signatures it verified
   * and a fresh cosignature of this witness (timestamp now; any older line of this key is
   * dropped). Null when it never cosigned one. Throws `ERR_STORE_IO`, `ERR_STORE_CORRUPT`.
   * @see c2sp.org/tlog-witness main, `GET <monitoring prefix>/<origin hash>/checkpoint`
   */
  async latestCheckpoint(originHashHex: string): Promise<string | null> {
    const stored = this.config.state.latestByOriginHash(originHashHex);
    if (stored === null) return null;
    const note = parseNote(stored.note);
    const own = (s: { name: string; keyId: number }): boolean => s.name === this.config.name && s.keyId === this.config.signer.keyId;
    const others = note.signatures.filter((s) => !own(s)).map((s) => formatSignatureLine(s.name, s.keyId, s.signature));
    return `${note.text}\n${others.join('')}${await this.cosign(note.text)}`;
  }

  /** One cosignature line over the checkpoint text. */
  private async cosign(text: string): Promise<string> {
    const signature = await this.config.signer.sign(utf8(text));
    return formatSignatureLine(this.config.name, this.config.signer.keyId, signature);
  }

  private answer(d: WitnessDecision, status: number, reason: string, body?: string, contentType = TEXT_CONTENT_TYPE): WitnessResponse {
    d.status = status;
    d.reason = reason;
    this.config.onDecision?.(d);
    return { status, contentType, body: body ?? `${reason}\n` };
  }
}
