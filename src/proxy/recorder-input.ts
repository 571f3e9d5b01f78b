/**
 * What the recorder (proxy/recorder.ts) is given: its options, a call before it is
 * forwarded, the call's outcome, and what it remembers of a call joining a receipt session.
 */
import type { Attestation, AttestationShape } from '../attestation/schema.js';
import type { Signer } from '../envelope/sign.js';
import type { OutcomeReason, OutcomeStatus } from '../receipt/schema.js';
import type { Durability } from '../store/log-db.js';

/** Options of `Recorder.open`. */
export interface RecorderOptions {
  sub?: string;
  /** Keep argument and result payloads in the evidence store (default true). */
  evidence?: boolean;
  durability?: Durability;
  /** Batch window for checkpoints, milliseconds (default 1000). */
  checkpointMs?: number;
  /** Attestation emission profile (default `vector`; docs/attestation.md). */
  profile?: AttestationShape;
  /**
   * A fleet's log: `postgres://…` (default `$MCP_ATTEST_STORE`; docs/fleet.md). Records go
   * there, payloads to this directory's evidence store, and the fleet's integrator signs
   * the checkpoints; receipt sessions need the SQLite log (`ERR_USAGE`).
   */
  store?: string;
  /**
   * A command that appends a record or two and closes (`log checkpoint`, `log erase`,
   * `receipt list | export | attach`): the log's WAL is not allocated at open (store/sqlite.ts `prefillWal`),
   * which only pays off over many appends. Default false.
   */
  shortLived?: boolean;
}

/** A call as the proxy sees it, before it is forwarded. */
export interface CallInput {
  tool: string;
  args: unknown;
  intent: string;
  requestedCapability?: string;
  server: { name: string; fingerprint: string };
  requestDigest: string;
  /**
   * The receipt session the call joins (`ses_...`): once its receipt is logged, an action
   * naming the call is appended to it. Check it first with `Recorder.openSession`: an
   * id that cannot take the call here only fails the link (stderr), never the call.
   */
  session?: string;
  /** The attestation's subject when not the data directory's (the gateway's authenticated principal); its receipt carries the same. */
  sub?: string;
  /** The principal's own issuer key, signing in place of the data directory's (added with `Recorder.addIssuer`); `sub` stays as given. */
  issuer?: Signer;
}

/**
 * A call's outcome, for `Recorder.receipt`: the attestation it answers (as logged at
 * `attestationIndex`), its status and reason, the result; for a task's result
 * (`tasks/result`), the digest of the receipt of its task handle.
 */
export interface CallOutcome { callId: string; attestation: Attestation; attestationIndex: bigint; status: OutcomeStatus; reason?: OutcomeReason; result?: unknown; taskReceiptDigest?: string }

/** What is remembered at attestation time of a call that joins a session, until its receipt is logged. */
export interface SessionLink { sessionId: string; tool: string; attestationIndex: bigint; attestationDigest: string }
