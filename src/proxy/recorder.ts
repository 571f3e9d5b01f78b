/**
 * The recorder: what the proxy writes, in order. `attest` signs an attestation and appends
 * it durably before the call may be forwarded; `receipt` signs a receipt and appends it
 * before the response may be released. Checkpoints (C2SP signed notes by the Ed25519 log
 * key) are published in batches, at most one per `checkpointMs`, and on close.
 *
 * Receipt sessions (docs/session.md): a call attested with `session` set joins that
 * session. Once its receipt is logged (whatever the path: answered, errored, cancelled, or
 * unanswered at shutdown), an agent-signed `action` statement is appended to the session,
 * named after the tool, whose `call` names the attestation and receipt records by log index
 * and digest. Linking is best effort: a failure (the session was sealed meanwhile, ...) is
 * one line on stderr and never affects the call or its records.
 */
import type { Credential } from '../identity/credential.js';
import { sha256Tagged } from '../bytes/digest.js';
import { AttestError, isAttestError } from '../errors.js';
import { nowSeconds as now } from '../envelope/time.js';
import { canonicalBytes, CanonicalMemo } from '../jcs/index.js';
import { issueAttestation } from '../attestation/build.js';
import { attestationDigest, issueReceipt } from '../receipt/build.js';
import type { CallRef } from '../receipt/session.js';
import type { Attestation, AttestationShape } from '../attestation/schema.js';
import type { Signer } from '../envelope/sign.js';
import { formatCheckpoint } from '../log/checkpoint.js';
import { ed25519NoteSigner, signNote, type NoteSigner } from '../log/note-sign.js';
import { parseVerifierKey } from '../log/vkey.js';
import { ATTESTATION_RECORD, DECISION_RECORD, RECEIPT_RECORD, REFUSED_INPUT_RECORD, RESPONSE_RECEIPT_RECORD, encodeRecord, type DecisionRecord, type RefusedInputRecord } from '../records/record.js';
import type { Receipt } from '../receipt/schema.js';
import type { JsonValue } from '../jcs/index.js';
import { LogDb, type Durability } from '../store/log-db.js';
import { isFleetStore, SqliteLogStore, type LogStore } from '../store/log-store.js';
import { NonceStore } from '../store/nonce-store.js';
import { PgReplayStore } from '../store/pg-replay.js';
import { FleetPins } from '../store/pg-pins.js';
import type { PgLog } from '../store/pg-log.js';
import type { ReplayStore } from '../gate/gate.js';
import { EvidenceStore } from '../store/evidence.js';
import { CallsInFlight } from './in-flight.js';
import { homePaths } from '../store/home.js';
import { checkMode, claimForFleet, fleetOrigin, refuseMoved } from './log-home.js';
import { SessionStore, checkSessionId } from '../store/sessions.js';
import { allowedSession, SessionOwners } from '../store/session-owners.js';
import { loadIdentity, loadIssuerSigner, loadLogKey, type Identity } from '../store/identity.js';
import type { CallInput, CallOutcome, RecorderOptions, SessionLink } from './recorder-input.js';

export type { CallInput, CallOutcome, RecorderOptions } from './recorder-input.js';

/** Appends attestations, receipts and checkpoints for one proxy process. */
export class Recorder {
  private timer: NodeJS.Timeout | null = null;
  private checkpointing: Promise<void> = Promise.resolve();
  private sessionStore: SessionStore | null = null;
  /** Who started which receipt session over HTTP (store/session-owners.ts), opened on first use. */
  private owners: SessionOwners | undefined;
  /** Calls that join a session, by call id, from attestation until their receipt is logged. */
  private readonly links = new Map<string, SessionLink>();
  /** The canonical texts each attestation was issued with, until its receipt (reused there: the back link, the record). */
  private readonly memos = new WeakMap<object, CanonicalMemo>();
  private sqliteStore: SqliteLogStore | undefined;
  /** Further issuer keys (principals' own), by `iss` and key id: a receipt is signed by its attestation's key. */
  private readonly issuers = new Map<string, Signer>();

  private constructor(
    /** The data directory. */
    readonly home: string,
    readonly identity: Identity,
    private readonly local: LogDb | null,
    private readonly remote: LogStore | null,
    private readonly signer: Signer,
    private readonly logSigner: NoteSigner,
    readonly evidence: EvidenceStore | null,
    private readonly checkpointMs: number,
    private readonly profile: AttestationShape,
    /** The origin of the log appended to, as a receipt reference names it: the data directory's, or a fleet's (its integrator's, from its latest checkpoint; the data directory's until it has one). */
    readonly logOrigin: string = identity.log.origin,
  ) {}

  /**
   * Open the data directory's log and keys, or the fleet's log `o.store`. Throws
   * `ERR_HOME_MISSING`, `ERR_STORE_IO`, `ERR_STORE_CORRUPT` (a log whose format is not the
   * one identity.json says, or a key file that is not the key it names), and `ERR_USAGE` for
   * a data directory whose calls went to a fleet's log when no store is named (its log moved,
   * or it keeps payloads and no log.db).
   */
  static async open(home: string, o: RecorderOptions = {}): Promise<Recorder> {
    const identity = loadIdentity(home);
    const p = homePaths(home);
    const signer = loadIssuerSigner(home, identity, o.sub);
    const vkey = parseVerifierKey(identity.log.vkey);
    const logSigner = ed25519NoteSigner(vkey.name, await loadLogKey(home, identity), vkey.publicKey);
    const store = o.store ?? process.env['MCP_ATTEST_STORE'];
    if (store !== undefined && store !== '') {
      if (!isFleetStore(store)) throw new AttestError('ERR_USAGE', 'a fleet\'s log is a postgres://… URL (--store, $MCP_ATTEST_STORE)');
      // The PostgreSQL client is loaded by a fleet's processes only.
      const { PgLog } = await import('../store/pg-log.js');
      const log = await PgLog.open(store, identity.log.entries ? { entries: identity.log.entries } : {});
      checkMode(identity, await log.mode(), () => void log.close(), true);
      claimForFleet(home, store, { size: await log.size(), id: await log.logId() });
      const evidence = o.evidence === false ? null : new EvidenceStore(p.evidence, false);
      return new Recorder(home, identity, null, log, signer, logSigner, evidence, o.checkpointMs ?? 1000, o.profile ?? 'vector', await fleetOrigin(log, identity));
    }
    refuseMoved(home);
    // Looked at again under the log's write lock before the first call is appended: a fleet's claim made since (log-home.ts) wins.
    const db = new LogDb(p.db, o.durability ?? 'full', false, { groupCommit: true, backgroundCheckpoints: [p.evidence], prefill: o.shortLived !== true, firstAppend: () => refuseMoved(home), ...(identity.log.entries ? { entries: identity.log.entries } : {}) });
    checkMode(identity, db.mode(), () => db.close());
    const evidence = o.evidence === false ? null : new EvidenceStore(p.evidence, false, db.db);
    return new Recorder(home, identity, db, null, signer, logSigner, evidence, o.checkpointMs ?? 1000, o.profile ?? 'vector');
  }

  /**
   * The data directory's SQLite log. Throws `ERR_USAGE` for a recorder on a fleet's log
   * (what needs it: receipt sessions, erasure, bundles, witnessing from this process).
   */
  get db(): LogDb {
    if (this.local === null) throw new AttestError('ERR_USAGE', 'this needs the data directory\'s SQLite log: a recorder on a fleet\'s PostgreSQL log has none (docs/fleet.md)');
    return this.local;
  }

  /** The log this recorder appends to, behind the store interface (either driver). */
  get store(): LogStore {
    return this.remote ?? (this.sqliteStore ??= new SqliteLogStore(this.local!));
  }

  /**
   * The gatekeeper's replay store (gate/gate.ts): on a fleet's log the fleet's shared one
   * (store/pg-replay.ts: a nonce accepted on one machine is a replay on all), else the data
   * directory's `nonces.db` (`durability` applies there). At most `maxEntries` live pairs.
   * Close it before the recorder. Throws `ERR_STORE_CORRUPT` (a bad `nonces.db`).
   */
  replayStore(maxEntries: number, durability: Durability): ReplayStore & { close(): void } {
    if (this.remote?.driver === 'postgres') return Object.assign(new PgReplayStore((this.remote as PgLog).pool, maxEntries), { close: () => undefined });
    return new NonceStore(homePaths(this.home).nonces, { maxEntries, durability });
  }

  /** On a fleet's log, the tool pins the fleet shares (store/pg-pins.ts); else null. */
  fleetPins(): FleetPins | null {
    return this.remote?.driver === 'postgres' ? new FleetPins((this.remote as PgLog).pool) : null;
  }

  /** Whether the fleet's log is open under a role that reads private openings (the owner's: docs/fleet.md "Roles"); false on SQLite. Throws `ERR_STORE_IO`-worthy database errors. */
  async readsOpenings(): Promise<boolean> {
    if (this.remote?.driver !== 'postgres') return false;
    const r = await (this.remote as PgLog).pool.query("SELECT has_column_privilege('mcp_attest.entries', 'record', 'SELECT') AS ok");
    return r.rows[0]?.ok === true;
  }

  /**
   * Append the record `build` makes (and keep `payload` in the evidence store: with the entry,
   * in its transaction, on SQLite); resolves with its index once it is durable.
   */
  private async put(build: (index: bigint) => Uint8Array, payload?: unknown, memo?: CanonicalMemo, alone = this.inFlight.alone): Promise<bigint> {
    if (this.remote !== null) {
      if (payload !== undefined) this.evidence?.put(payload, memo);
      this.scheduleCheckpoint(); // on a fleet's log: only the evidence settled
      return this.remote.append(build);
    }
    const index = this.local!.appendDurable(build, payload === undefined ? undefined : () => this.evidence?.put(payload, memo), alone);
    this.scheduleCheckpoint();
    return index;
  }

  /**
   * The agent credential this data directory's attestations are made under (`proxy
   * --credential`), read at each call; null: none (`iss` is the data directory's issuer id).
   */
  credential: ((tool: string) => Credential) | null = null;

  /** Calls being recorded or upstream: which thread signs and syncs (proxy/in-flight.ts). */
  private readonly inFlight = new CallsInFlight();

  /** Sign and durably log an attestation for `call`. */
  async attest(call: CallInput): Promise<{ attestation: Attestation; callId: string; index: bigint }> {
    return this.inFlight.recording(() => this.attestNow(call));
  }

  private async attestNow(call: CallInput): Promise<{ attestation: Attestation; callId: string; index: bigint }> {
    const args = call.args === undefined ? {} : call.args;
    const input = { tool: call.tool, args, serverFingerprint: call.server.fingerprint, intent: call.intent, now: now(), profile: this.profile };
    const credential = call.issuer === undefined ? this.credential?.(call.tool) : undefined;
    const base = call.issuer ?? this.signer;
    // Under an agent credential: the credential names the call (iss) and its subject (docs/identity.md).
    const signer = credential ? { ...base, iss: credential.id, sub: credential.subject } : call.sub === undefined ? base : { ...base, sub: call.sub };
    // Each value is canonicalized once: the arguments for their commitment and the evidence
    // store, the envelope's members for signing, its record and its receipt's back link.
    const memo = new CanonicalMemo();
    const attestation = await issueAttestation(this.inFlight.signing(signer), call.requestedCapability === undefined ? input : { ...input, requestedCapability: call.requestedCapability }, memo);
    const callId = attestation.issuerAsserted.nonce;
    const index = await this.put((i) => encodeRecord({
      type: ATTESTATION_RECORD, index: i.toString(), callId, server: call.server, tool: call.tool, requestDigest: call.requestDigest, attestation: attestation as unknown as Record<string, JsonValue>,
    }, memo), args, memo);
    if (call.session !== undefined) this.links.set(callId, { sessionId: call.session, tool: call.tool, attestationIndex: index, attestationDigest: attestationDigest(attestation, memo) });
    // Kept for the receipt: the envelope's texts, not the arguments' bytes (stored by now).
    if (typeof args === 'object' && args !== null) memo.hashed.delete(args);
    this.memos.set(attestation, memo);
    this.inFlight.logged(attestation);
    return { attestation, callId, index };
  }

  /** Sign and durably log the receipt answering an attestation (and link the call to its session, if any: {@link appendReceipt}). */
  async receipt(p: CallOutcome): Promise<bigint> {
    return (await this.receiptWith(p)).index;
  }

  /** {@link receipt}, with the receipt signed: what a task's result names (receipt/build.ts `receiptDigest`). */
  receiptWith(p: CallOutcome): Promise<{ index: bigint; receipt: Receipt }> {
    return this.inFlight.recording(() => this.receiptNow(p));
  }

  private async receiptNow(p: CallOutcome): Promise<{ index: bigint; receipt: Receipt }> {
    const input = { attestation: p.attestation, status: p.status, now: now() };
    // Our own attestation's receipt is signed by the same key and names the same subject (a gateway signs for many principals).
    const asserted = p.attestation.issuerAsserted;
    const own = this.issuers.get(`${asserted.iss}\n${asserted.secretVersion}`) ?? this.signer;
    const signer = asserted.iss === own.iss && asserted.sub !== own.sub ? { ...own, sub: asserted.sub } : own;
    const memo = this.memos.get(p.attestation) ?? new CanonicalMemo();
    this.memos.delete(p.attestation);
    this.inFlight.answered(p.attestation);
    const extra = { ...(p.reason ? { reason: p.reason } : {}), ...(p.result !== undefined ? { result: p.result } : {}), ...(p.taskReceiptDigest ? { taskReceiptDigest: p.taskReceiptDigest } : {}) };
    const receipt = await issueReceipt(this.inFlight.signing(signer), { ...input, ...extra }, memo)
      .catch((e: unknown) => { this.links.delete(p.callId); throw e; }); // never receipted: nothing to link
    const index = await this.appendReceipt({ callId: p.callId, attestationIndex: p.attestationIndex, receipt, ...(p.result !== undefined ? { result: p.result } : {}), memo });
    return { index, receipt };
  }

  /**
   * Sign with a further issuer key when a call names it ({@link CallInput.issuer}): its
   * receipts are then signed with it too. Its public key must also be recorded in the data
   * directory (`recordIssuer`) for `trust export` to list it. Kept for the process's life.
   */
  addIssuer(signer: Signer): void {
    this.issuers.set(`${signer.iss}\n${signer.keyId}`, signer);
  }

  /**
   * Resolves once everything appended so far is on disk (the log uses group commit:
   * store/wal-sync.ts). The recorder's own methods wait for it; a writer through
   * {@link sessions} calls it before answering (`soon`: see `LogDb.durable`). Rejects with
   * `ERR_STORE_IO`.
   */
  durable(soon = false): Promise<void> {
    return this.local === null ? Promise.resolve() : this.local.durable(soon);
  }

  /** Resolves once the syncs asked for so far have ended, starting none (`LogDb.settled`); rejects with `ERR_STORE_IO` after a failed one. */
  settled(): Promise<void> {
    return this.local === null ? Promise.resolve() : this.local.settled();
  }

  /** The issuer signer of this data directory (the gatekeeper signs response receipts with it). */
  get issuerSigner(): Signer {
    return this.signer;
  }

  /**
   * Durably log a gatekeeper decision (before the call is forwarded or refused); resolves once
   * it is on disk. `alone`: the caller has no other call in flight (the gatekeeper's relay
   * knows), so unless this recorder has calls of its own the append syncs on this thread.
   */
  async decision(d: Omit<DecisionRecord, 'type' | 'index'>, alone = false): Promise<bigint> {
    return this.put((i) => encodeRecord({ type: DECISION_RECORD, index: i.toString(), ...d }), undefined, undefined, alone && this.inFlight.idle);
  }

  /**
   * Durably log a receipt (signed here by {@link receipt}, or elsewhere: the gatekeeper's
   * own, answering a decision). When the call joins a session, the session action naming it
   * is appended next (best effort, see {@link CallInput.session}). Resolves once both are on disk.
   * `memo`: the canonical texts the receipt was signed with (jcs/canonicalize.ts), reused for
   * its record, the result's evidence and the session link. `alone`: as {@link decision}'s
   * (absent: the recorder's own count, for a receipt it signed).
   */
  async appendReceipt(p: { callId: string; attestationIndex: bigint; receipt: Receipt; result?: unknown; memo?: CanonicalMemo; alone?: boolean }): Promise<bigint> {
    const link = this.links.get(p.callId);
    // Forgotten whatever happens: a receipt that cannot be logged is never retried.
    this.links.delete(p.callId);
    const index = await this.put((i) => encodeRecord({
      type: RECEIPT_RECORD, index: i.toString(), callId: p.callId, attestationIndex: p.attestationIndex.toString(), receipt: p.receipt as unknown as Record<string, JsonValue>,
    }, p.memo), p.result, p.memo, p.alone === undefined ? this.inFlight.alone : p.alone && this.inFlight.idle);
    if (link) {
      this.link(p.callId, link, index, p.receipt, p.memo);
      await this.durable();
    }
    return index;
  }

  /**
   * The receipt sessions of this data directory, written with the issuer key (the agent's),
   * created on first use. Its appends share this recorder's log and are on disk once
   * {@link durable} resolves (or the recorder is closed).
   */
  get sessions(): SessionStore {
    return (this.sessionStore ??= new SessionStore(this.db, this.signer, this.evidence));
  }

  /**
   * Check that calls can join session `sessionId` now: a session id, started in this log with
   * this recorder's issuer key, not sealed, and, for calls of an authenticated `principal` (the
   * gateway's), started by that principal over HTTP. Returns the id. Throws
   * `ERR_SESSION_UNKNOWN` (not a session id, no such session, or not the principal's), `ERR_SESSION_SEALED`, `ERR_SESSION_SIGNER` (started by
   * another key: its actions could not be signed).
   */
  openSession(sessionId: unknown, principal?: string): string {
    const id = this.sessions.checkOpen(checkSessionId(sessionId)).session_id;
    // Another principal's session, or one no principal started, is unknown to this one (store/session-owners.ts).
    return principal === undefined ? id : allowedSession((this.owners ??= new SessionOwners(this.db.db)).of(principal), id);
  }

  /** Append the session action naming a call whose receipt was just logged; a failure is one line on stderr. */
  private link(callId: string, l: SessionLink, receiptIndex: bigint, receipt: Receipt, memo?: CanonicalMemo): void {
    const call: CallRef = {
      tool: l.tool, attestationIndex: l.attestationIndex.toString(), attestationDigest: l.attestationDigest,
      receiptIndex: receiptIndex.toString(), receiptDigest: sha256Tagged(canonicalBytes(receipt, memo)),
    };
    try {
      this.sessions.action(l.sessionId, { name: l.tool, call });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      process.stderr.write(`mcp-attest: warning: call ${callId} not linked to session ${l.sessionId}: ${why.replace(/\s+/g, ' ')}${isAttestError(e) ? ` (${e.code})` : ''}\n`);
    }
  }

  /** Durably log a gatekeeper's response receipt as received, with the code the check found (null: verified); resolves once on disk. */
  async responseReceipt(p: { callId: string; attestationIndex: bigint; receipt: Record<string, unknown>; code: string | null }): Promise<bigint> {
    return this.put((i) => encodeRecord({
      type: RESPONSE_RECEIPT_RECORD, index: i.toString(), callId: p.callId, attestationIndex: p.attestationIndex.toString(),
      receipt: p.receipt as Record<string, JsonValue>, code: p.code,
    }));
  }

  /** Durably log an input a relay refused to relay (docs/wire.md), stamped now; resolves once on disk. Rejects with `ERR_STORE_IO`. */
  async refusedInput(r: Omit<RefusedInputRecord, 'type' | 'index' | 'time'>): Promise<bigint> {
    return this.put((i) => encodeRecord({ type: REFUSED_INPUT_RECORD, index: i.toString(), ...r, time: now() }));
  }

  private scheduleCheckpoint(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.checkpoint().catch((e: unknown) => process.stderr.write(`mcp-attest: checkpoint failed: ${String(e)}\n`));
    }, this.checkpointMs);
    this.timer.unref();
  }

  /**
   * Sign and store a checkpoint for the current size, unless one exists for it, then settle
   * the evidence store (store/evidence.ts: one row written; on a fleet's log the integrator
   * signs, and only that is done).
   */
  checkpoint(): Promise<void> {
    if (this.local === null) {
      this.settleEvidence();
      return Promise.resolve();
    }
    // A failed checkpoint must not stop later ones (the final one above all).
    this.checkpointing = this.checkpointing.catch(() => undefined).then(async () => {
      const size = this.db.size();
      if (this.db.latestCheckpointSize() >= size) return;
      // Never sign a tree that is not on disk yet: a power loss could lose what a witness cosigned.
      await this.db.durable();
      const text = formatCheckpoint({ origin: this.identity.log.origin, size, rootHash: this.db.root(size), extensions: [] });
      const note = await signNote(text, [this.logSigner]);
      // Looked at again once the log's write lock is held, then the row stored: a fleet's integrator may have claimed the key since this log was opened.
      this.db.db.transaction(() => {
        refuseMoved(this.home);
        this.db.addCheckpoint(size, note, now());
      }).immediate();
      await this.db.durable();
      this.settleEvidence();
    });
    return this.checkpointing;
  }

  /** {@link EvidenceStore.settle}; a failure is one line on stderr (a lookup then reads more of the table, nothing is lost). */
  private settleEvidence(): void {
    try {
      this.evidence?.settle();
    } catch (e) {
      process.stderr.write(`mcp-attest: warning: evidence store not settled: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }

  /** Write a final checkpoint and close the log. */
  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.checkpoint();
      await this.durable(); // what sessions and CLI commands appended without waiting
    } finally {
      this.local?.close();
      await this.remote?.close();
      this.evidence?.close();
    }
  }
}
