/**
 * The recorder: what the proxy writes, in order. `attest` signs an attestation and appends
 * it durably before the call may be forwarded; `receipt` signs a receipt and appends it
 * before the response may be released. Checkpoints (C2SP signed notes by the Ed25519 log
 * key) are published in batches, at most one per `checkpointMs`, and on close.
 */
import { basename } from 'node:path';
import { sha256Tagged } from '../bytes/digest.js';
import { nowSeconds as now } from '../envelope/time.js';
import { canonicalize } from '../jcs/index.js';
import { issueAttestation } from '../attestation/build.js';
import { issueReceipt } from '../receipt/build.js';
import type { OutcomeReason, OutcomeStatus } from '../receipt/schema.js';
import type { Attestation, AttestationShape } from '../attestation/schema.js';
import type { Signer } from '../envelope/sign.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { ed25519NoteSigner, signNote, type NoteSigner } from '../log/note-sign.js';
import { parseVerifierKey } from '../log/vkey.js';
import { ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, RESPONSE_RECEIPT_RECORD, encodeRecord, type DecisionRecord } from '../records/record.js';
import type { Receipt } from '../receipt/schema.js';
import type { JsonValue } from '../jcs/index.js';
import { LogDb, type Durability } from '../store/log-db.js';
import { EvidenceStore } from '../store/evidence.js';
import { homePaths } from '../store/home.js';
import { loadIdentity, loadIssuerSigner, loadLogKey, type Identity } from '../store/identity.js';

/** Options of {@link Recorder.open}. */
export interface RecorderOptions {
  sub?: string;
  /** Keep argument and result payloads in the evidence store (default true). */
  evidence?: boolean;
  durability?: Durability;
  /** Batch window for checkpoints, milliseconds (default 1000). */
  checkpointMs?: number;
  /** Attestation emission profile (default `vector`; docs/attestation.md). */
  profile?: AttestationShape;
}

/** A call as the proxy sees it, before it is forwarded. */
export interface CallInput {
  tool: string;
  args: unknown;
  intent: string;
  requestedCapability?: string;
  server: { name: string; fingerprint: string };
  requestDigest: string;
}

/** Derive the default server fingerprint from the upstream command line (docs/attestation.md). */
export function fingerprintOf(argv: string[]): string {
  return sha256Tagged(canonicalize({ argv: [basename(argv[0] ?? ''), ...argv.slice(1)] }));
}

function nonceBytes(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** Appends attestations, receipts and checkpoints for one proxy process. */
export class Recorder {
  private timer: NodeJS.Timeout | null = null;
  private checkpointing: Promise<void> = Promise.resolve();

  private constructor(
    readonly identity: Identity,
    readonly db: LogDb,
    private readonly signer: Signer,
    private readonly logSigner: NoteSigner,
    readonly evidence: EvidenceStore | null,
    private readonly checkpointMs: number,
    private readonly profile: AttestationShape,
  ) {}

  /** Open the data directory's log and keys. Throws `ERR_HOME_MISSING`, `ERR_STORE_IO`. */
  static async open(home: string, o: RecorderOptions = {}): Promise<Recorder> {
    const identity = loadIdentity(home);
    const p = homePaths(home);
    const signer = loadIssuerSigner(home, identity, o.sub);
    const vkey = parseVerifierKey(identity.log.vkey);
    const logSigner = ed25519NoteSigner(vkey.name, await loadLogKey(home), vkey.publicKey);
    const db = new LogDb(p.db, o.durability ?? 'full');
    const evidence = o.evidence === false ? null : new EvidenceStore(p.evidence);
    return new Recorder(identity, db, signer, logSigner, evidence, o.checkpointMs ?? 1000, o.profile ?? 'vector');
  }

  /** Sign and durably log an attestation for `call`. */
  async attest(call: CallInput): Promise<{ attestation: Attestation; callId: string; index: bigint }> {
    const args = call.args === undefined ? {} : call.args;
    const input = { tool: call.tool, args, serverFingerprint: call.server.fingerprint, intent: call.intent, now: now(), nonceBytes: nonceBytes(), profile: this.profile };
    const attestation = await issueAttestation(this.signer, call.requestedCapability === undefined ? input : { ...input, requestedCapability: call.requestedCapability });
    const callId = attestation.issuerAsserted.nonce;
    this.evidence?.put(args);
    const index = this.db.append(
      (i) => encodeRecord({ type: ATTESTATION_RECORD, index: i.toString(), callId, server: call.server, tool: call.tool, requestDigest: call.requestDigest, attestation: attestation as unknown as Record<string, JsonValue> }),
      (i) => this.db.upsertCall({ call_id: callId, attestation_idx: Number(i), server: call.server.name, tool: call.tool, started: attestation.issuerAsserted.iat }),
    );
    this.scheduleCheckpoint();
    return { attestation, callId, index };
  }

  /** Sign and durably log the receipt answering an attestation. */
  async receipt(p: { callId: string; attestation: Attestation; attestationIndex: bigint; status: OutcomeStatus; reason?: OutcomeReason; result?: unknown }): Promise<bigint> {
    const input = { attestation: p.attestation, status: p.status, now: now(), nonceBytes: nonceBytes() };
    const receipt = await issueReceipt(this.signer, { ...input, ...(p.reason ? { reason: p.reason } : {}), ...(p.result !== undefined ? { result: p.result } : {}) });
    return this.appendReceipt({ callId: p.callId, attestationIndex: p.attestationIndex, receipt, ...(p.result !== undefined ? { result: p.result } : {}) });
  }

  /** The issuer signer of this data directory (the gatekeeper signs response receipts with it). */
  get issuerSigner(): Signer {
    return this.signer;
  }

  /** Durably log a gatekeeper decision (before the call is forwarded or refused). */
  decision(d: Omit<DecisionRecord, 'type' | 'index'>): bigint {
    const index = this.db.append(
      (i) => encodeRecord({ type: DECISION_RECORD, index: i.toString(), ...d }),
      (i) => { if (d.decision === 'allowed' && d.attestation !== null) this.db.upsertCall({ call_id: d.callId, attestation_idx: Number(i), server: d.server.name, tool: d.tool }); },
    );
    this.scheduleCheckpoint();
    return index;
  }

  /** Durably log a receipt signed elsewhere (the gatekeeper's own, answering a decision). */
  appendReceipt(p: { callId: string; attestationIndex: bigint; receipt: Receipt; result?: unknown }): bigint {
    if (p.result !== undefined) this.evidence?.put(p.result);
    const o = p.receipt.outcomeDerived;
    const index = this.db.append(
      (i) => encodeRecord({ type: RECEIPT_RECORD, index: i.toString(), callId: p.callId, attestationIndex: p.attestationIndex.toString(), receipt: p.receipt as unknown as Record<string, JsonValue> }),
      (i) => this.db.upsertCall({ call_id: p.callId, attestation_idx: Number(p.attestationIndex), receipt_idx: Number(i), status: o.status, reason: o.reason ?? null, completed: o.completedAt }),
    );
    this.scheduleCheckpoint();
    return index;
  }

  /** Durably log a gatekeeper's response receipt as received, with the code the check found (null: verified). */
  responseReceipt(p: { callId: string; attestationIndex: bigint; receipt: Record<string, unknown>; code: string | null }): bigint {
    const index = this.db.append((i) => encodeRecord({
      type: RESPONSE_RECEIPT_RECORD, index: i.toString(), callId: p.callId, attestationIndex: p.attestationIndex.toString(),
      receipt: p.receipt as Record<string, JsonValue>, code: p.code,
    }));
    this.scheduleCheckpoint();
    return index;
  }

  private scheduleCheckpoint(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.checkpoint().catch((e: unknown) => process.stderr.write(`mcp-attest: checkpoint failed: ${String(e)}\n`));
    }, this.checkpointMs);
    this.timer.unref();
  }

  /** Sign and store a checkpoint for the current size, unless one exists for it. */
  checkpoint(): Promise<void> {
    // A failed checkpoint must not stop later ones (the final one above all).
    this.checkpointing = this.checkpointing.catch(() => undefined).then(async () => {
      const size = this.db.size();
      if (this.db.latestCheckpointSize() >= size) return;
      const text = formatCheckpoint({ origin: this.identity.log.origin, size, rootHash: this.db.root(size), extensions: [] });
      this.db.addCheckpoint(size, await signNote(text, [this.logSigner]), now());
    });
    return this.checkpointing;
  }

  /** Write a final checkpoint and close the log. */
  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.checkpoint();
    } finally {
      this.db.close();
      this.evidence?.close();
    }
  }
}
