/**
 * The transport-level relay both proxies are built on (DESIGN.md data flow; MCP notes §2
 * shape B; docs/wire.md): spawns the upstream stdio server, frames both directions into
 * capped lines, reads each as one strict JSON-RPC message, and relays only what it read,
 * re-serialized ({@link writeMessage}), in order per direction. Anything else is refused,
 * never forwarded: answered with a JSON-RPC error where there is someone to answer, and
 * logged as a refused input. Every request id pending in a direction (any method) is
 * reserved until its response: a reuse is refused, a response to no pending request is
 * dropped, so a response is bound to the one request it answers. Subclasses decide what
 * happens to a `tools/call` ({@link StdioRelay.onCall}) and to the response to a request
 * ({@link StdioRelay.onResponse}); the base records the calls left unanswered on shutdown.
 * Diagnostics go to stderr only.
 */
import type { CallerBinding } from '../gate/gate.js';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { OutcomeReason } from '../receipt/schema.js';
import type { Frame, Oversize } from './frames.js';
import { Lane } from './lane.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_MESSAGE_BYTES, idKey, lenientRef, readMessage, writeMessage, type RpcId, type RpcMessage } from './message.js';
import { RefusalLog } from './refusals.js';
import { FreedIds } from './freed-ids.js';
import { OpenTasks, taskOf } from './tasks.js';
import { sha256Tagged } from '../bytes/digest.js';
import { UpstreamRun } from './upstream-run.js';
import {
  CANCEL_GRACE_MS, CONNECTION_LOST, DEFAULT_MAX_PENDING, EXIT_READ_MS, INPUT_REFUSED, RECORD_FAILED, STOP_GRACE_MS, describe, report, settlesWithin,
  type CallMessage, type Outstanding, type PendingCall, type RelayIo, type UpstreamProcess,
} from './relay-io.js';
import type { Recorder } from './recorder.js';
import type { ToolWatch } from './tool-watch.js';

export * from './relay-io.js';

/** Where an input came from. */
type Side = 'client' | 'upstream';

/** Runs one upstream behind the relay until either side goes away. */
export abstract class StdioRelay<P extends PendingCall = PendingCall> {
  protected readonly child: UpstreamProcess;
  /** Client requests forwarded upstream, by {@link idKey}. */
  protected readonly pending = new Map<string, Outstanding<P>>();
  /** Ids whose answer is being receipted and released right now. */
  private readonly settling = new Set<string>();
  /** Ids freed by a cancellation, still reserved. */
  private readonly freed = new FreedIds();
  /** Upstream requests relayed to the client, awaiting its response. */
  private readonly asked = new Set<string>();
  /** Task handles receipted, awaiting their `tasks/result` (proxy/tasks.ts). */
  protected readonly tasks = new OpenTasks<P>((m) => report(new Error(m)));
  /** Tool definition pinning, when the subclass has it. */
  protected tools: ToolWatch | null = null;
  private lanes: { client: Lane; upstream: Lane } | null = null;
  private readonly refusals: RefusalLog;
  protected closing: Promise<number> | null = null;
  private releaseOutputs!: () => void;
  private readonly outputsReleased = new Promise<void>((r) => (this.releaseOutputs = r));
  protected clientGone = false;
  /** The upstream's life: once it has exited its output is still read ({@link upstreamRead}), no request goes to it. */
  private readonly upstream: UpstreamRun;
  private readonly limits: { maxBytes: number; maxDepth: number };
  private readonly maxPending: number;
  /** Resolves with the exit code once the relay has shut down. */
  readonly done: Promise<number>;

  constructor(protected readonly recorder: Recorder, protected readonly io: RelayIo) {
    this.limits = { maxBytes: io.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, maxDepth: DEFAULT_MAX_DEPTH };
    this.maxPending = io.maxPending ?? DEFAULT_MAX_PENDING;
    this.refusals = new RefusalLog(recorder, () => this.serverRef(), report);
    this.upstream = new UpstreamRun(io);
    this.child = this.upstream.process;
    let resolveDone!: (code: number) => void;
    this.done = new Promise((r) => (resolveDone = r));
    this.child.on('error', (e) => {
      process.stderr.write(`mcp-attest: cannot start upstream: ${e.message}\n`);
      void this.shutdown('upstream_exited', 3).then(resolveDone);
    });
    // Its exit code, or as a shell reports a signal: 128 + its number.
    this.child.on('exit', (code, signal) => void this.upstreamRead().then(() => this.shutdown('upstream_exited', code ?? (signal ? 128 + constants.signals[signal] : 1))).then(resolveDone));
    // Start reading on the next tick, once the subclass constructor has run.
    queueMicrotask(() => this.start());
  }

  private start(): void {
    // Not spawned, for want of file descriptors (EMFILE, ENFILE): no pipes were made, and its
    // 'error' shuts this relay down alone (it threw here, and took a gateway's every session).
    if (this.child.stdout == null || this.child.stdin == null) return;
    const { maxBytes } = this.limits;
    // A lane may hold one full frame and a little more before its source is paused. It waits
    // on the output it forwards to at that bound; on the other one (our own error answers)
    // only at a larger one, so two peers that each answer before reading cannot deadlock it.
    const queue = maxBytes + 65_536;
    const toClient = (): Writable => this.io.output ?? process.stdout;
    const upstream = new Lane(this.child.stdout!, maxBytes, queue, (f) => this.fromUpstreamFrame(f),
      () => [[toClient(), queue], [this.child.stdin!, 4 * queue]], this.outputsReleased, report);
    const client = new Lane(this.io.input ?? process.stdin, maxBytes, queue, (f) => this.fromClientFrame(f),
      () => [[this.child.stdin!, queue], [toClient(), 4 * queue]], this.outputsReleased, report, () => {
      this.clientGone = true;
      void client.chain.then(() => this.child.stdin?.end());
      // Give the upstream a moment to answer what it has, then stop it.
      setTimeout(() => void this.upstream.stop(), STOP_GRACE_MS).unref();
    });
    this.lanes = { client, upstream };
    this.child.stdin!.on('error', () => undefined);
  }

  /**
   * Resolves once the exited upstream's output has all been read and queued (its stdout
   * ended), or after {@link EXIT_READ_MS} (a descendant holding the pipe open, a client that
   * stopped reading), or at once when the relay is closing already: what it wrote before it
   * exited is relayed and recorded, not dropped with the pipe.
   */
  private async upstreamRead(): Promise<void> {
    const lane = this.lanes?.upstream;
    if (lane !== undefined && this.closing === null) await settlesWithin(lane.ended, EXIT_READ_MS);
  }

  /** Send SIGKILL to the upstream now (a relay standing as another's upstream passes it on: gateway/upstreams.ts). */
  killUpstream(): void {
    this.upstream.kill();
  }

  /** Decide a `tools/call` (its id is free and the relay is not closing): record it, then {@link forward} it or answer it. */
  protected abstract onCall(msg: CallMessage, caller?: CallerBinding): Promise<void>;

  /** Relay the response to a client request (`o` was removed from {@link pending}); default: as is. */
  protected async onResponse(msg: RpcMessage, o: Outstanding<P>): Promise<void> {
    void o;
    this.writeClient(msg);
  }

  /** Client -> upstream, one frame. */
  private async fromClientFrame(frame: Frame): Promise<void> {
    const read = await this.read('client', frame);
    if (read === null) return;
    const { msg, kind } = read;
    const key = idKey(msg.id);
    if (kind === 'response') {
      if (!this.asked.delete(key)) return this.refuseInput('client', frame, 'ERR_WIRE_UNSOLICITED', 'a response to no pending upstream request', undefined);
      return this.writeUpstream(msg);
    }
    if (kind === 'notification') {
      if (msg.method === 'tools/call') return this.refuseInput('client', frame, 'ERR_WIRE_MALFORMED', 'tools/call without an id is not relayed', undefined);
      if (msg.method === 'notifications/cancelled') this.cancelled(msg.params?.['requestId']);
      return this.writeUpstream(msg);
    }
    if (this.pending.has(key) || this.settling.has(key) || this.freed.has(key)) return this.refuseInput('client', frame, 'ERR_WIRE_ID_IN_USE', `id ${key.slice(0, 64)} is already pending`, msg.id!);
    if (this.pending.size >= this.maxPending) return this.refuseInput('client', frame, 'ERR_WIRE_TOO_MANY_PENDING', `${this.maxPending} requests already pending`, msg.id!);
    if (this.upstream.exited) return this.errorToClient(msg.id!, CONNECTION_LOST, 'mcp-attest: the upstream exited, request not forwarded');
    if (msg.method !== 'tools/call') return this.forward(msg, this.tasks.take(msg));
    if (this.closing) return this.errorToClient(msg.id!, RECORD_FAILED, 'mcp-attest: shutting down, call not forwarded');
    try {
      await this.onCall(msg as CallMessage, 'line' in frame ? frame.caller : undefined);
    } catch (e) {
      // Never a call left unanswered: whatever failed, nothing was forwarded.
      report(e);
      if (!this.pending.has(key)) this.errorToClient(msg.id!, RECORD_FAILED, `mcp-attest: call not forwarded (${describe(e)})`);
    }
  }

  /** Upstream -> client, one frame. */
  private async fromUpstreamFrame(frame: Frame): Promise<void> {
    if ('lost' in frame) return this.lost(frame.lost);
    const read = await this.read('upstream', frame);
    if (read === null) return;
    const { msg, kind } = read;
    const key = idKey(msg.id);
    if (kind === 'notification') {
      if (msg.method === 'notifications/cancelled') this.asked.delete(idKey(msg.params?.['requestId'] as RpcId));
      return this.writeClient(msg);
    }
    if (kind === 'request') {
      if (this.asked.has(key)) return this.refuseInput('upstream', frame, 'ERR_WIRE_ID_IN_USE', `upstream request id ${key.slice(0, 64)} is already pending`, null);
      if (this.asked.size >= this.maxPending) {
        this.writeUpstream({ jsonrpc: '2.0', id: msg.id!, error: { code: INPUT_REFUSED, message: 'mcp-attest: too many requests pending', data: { code: 'ERR_WIRE_TOO_MANY_PENDING' } } });
        return this.refuseInput('upstream', frame, 'ERR_WIRE_TOO_MANY_PENDING', `${this.maxPending} upstream requests already pending`, null);
      }
      this.asked.add(key);
      return this.writeClient(msg);
    }
    const o = this.pending.get(key);
    if (o === undefined) return this.refuseInput('upstream', frame, 'ERR_WIRE_UNSOLICITED', `a response to no pending request (id ${key.slice(0, 64)})`, null);
    // The id stays taken until the answer is receipted and released: a request reusing it
    // meanwhile could otherwise be handed this answer. A cancelled call's id stays reserved.
    this.pending.delete(key);
    this.settling.add(key);
    try {
      await this.onResponse(msg, o);
    } finally {
      this.settling.delete(key);
      if (o.call?.cancelled === true) this.free(key);
    }
  }

  /**
   * An HTTP upstream's response stream for request `id` ended without an answer: the request
   * is closed (unless answered already); a call is receipted unanswered (`connection_lost`,
   * or `cancelled` when the client cancelled it), and the client told, unless it cancelled.
   */
  private async lost(id: RpcId): Promise<void> {
    const key = idKey(id);
    const o = this.pending.get(key);
    if (o === undefined) return;
    const cancelled = o.call?.cancelled === true;
    // Its stream is closed: no answer can come on it, reserved or not.
    if (!cancelled || !this.free(key)) this.pending.delete(key);
    const p = o.call;
    if (p !== null && !this.tasks.unanswered(p)) {
      await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: cancelled ? 'cancelled' : 'connection_lost' })
        .catch((e: unknown) => report(e));
    }
    if (!cancelled) this.errorToClient(id, CONNECTION_LOST, 'mcp-attest: the upstream\'s response stream ended without an answer');
  }

  /** The checked message of a frame, or null when it was refused here (or was blank). */
  private async read(side: Side, frame: Frame): Promise<{ msg: RpcMessage; kind: 'request' | 'notification' | 'response' } | null> {
    if ('lost' in frame) return null;
    if ('oversize' in frame) {
      await this.refusedFrame(side, frame.oversize, 'ERR_WIRE_TOO_LARGE', `a message of ${frame.oversize.size} bytes, over the cap of ${this.limits.maxBytes}`);
      return null;
    }
    const line = frame.line;
    // A blank line (CRLF framing's empty line included) carries nothing: skipped.
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return null;
    const r = readMessage(line, this.limits);
    if (r.ok) return r;
    await this.refusedFrame(side, { size: line.length, digest: sha256Tagged(line), ...lenientRef(line) }, r.code, r.message);
    return null;
  }

  /**
   * Refuse an input: log it, answer the client's request with an error; an unreadable
   * answer from the upstream to a pending request closes that request (a call gets its
   * `response_refused` receipt) and the client gets an error in its place.
   */
  private async refusedFrame(side: Side, f: Oversize, code: ErrorCode, message: string): Promise<void> {
    const key = idKey(f.id);
    const pendingHere = f.id !== null && this.pending.has(key);
    if (side === 'client') return this.logRefusal(side, f, code, message, pendingHere ? null : f.id);
    this.logRefusal(side, f, code, message, undefined);
    // Only what reads as a response answers a request: an upstream request may reuse the id.
    const o = f.request || !pendingHere ? undefined : this.pending.get(key);
    if (o === undefined) return;
    this.pending.delete(key);
    await this.withheld(f.id!, o, { code, size: f.size, digest: f.digest });
  }

  /** The upstream's answer to `o` was refused: receipt it as such (for a call) and tell the client. */
  protected async withheld(id: RpcId, o: Outstanding<P>, refused: { code: ErrorCode; size: number; digest: string }): Promise<void> {
    const p = o.call;
    if (p !== null) {
      try {
        await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: 'response_refused', result: { refusedResponse: refused }, ...taskOf(p) });
      } catch (e) {
        report(e);
      }
    }
    this.errorToClient(id, INPUT_REFUSED, `mcp-attest: response withheld, the upstream's answer was refused (${refused.code})`, { code: refused.code });
  }

  /** Log a refused input and, unless `answerId` is undefined, answer the client with an error addressed to it. */
  private logRefusal(side: Side, f: Oversize, code: ErrorCode, message: string, answerId: RpcId | null | undefined): void {
    report(new Error(`refused input from the ${side}: ${message} (${code})`));
    this.refusals.add({ direction: side, code, size: f.size, digest: f.digest, id: f.id });
    if (side === 'client' && answerId !== undefined) this.errorToClient(answerId, INPUT_REFUSED, `mcp-attest: message not relayed: ${message}`, { code });
  }

  /** Refuse a message that was read but may not pass; `answerId` as in {@link logRefusal}. */
  private refuseInput(side: Side, frame: Frame, code: ErrorCode, message: string, answerId: RpcId | null | undefined): void {
    const line = 'line' in frame ? frame.line : Buffer.alloc(0);
    this.logRefusal(side, { size: line.length, digest: sha256Tagged(line), ...lenientRef(line) }, code, message, answerId);
  }

  /** The server name and fingerprint refused inputs are logged under. */
  protected abstract serverRef(): { name: string; fingerprint: string };

  /**
   * Forward a request upstream, reserving its id until the response (`call`: the recorded
   * call it is; `text`: its serialization when the caller already made it, for a digest).
   */
  protected forward(msg: RpcMessage, call: P | null, text = writeMessage(msg)): void {
    this.pending.set(idKey(msg.id), { method: msg.method!, call });
    if (this.child.stdin?.writable) this.child.stdin.write(text + '\n');
  }

  /**
   * The client cancelled a request: a plain request's slot is freed at once (a late answer
   * is then unsolicited); a call keeps its slot for {@link CANCEL_GRACE_MS}, answered or not,
   * then is receipted `cancelled` and freed, so cancelled calls cannot exhaust the slots.
   */
  private cancelled(requestId: unknown): void {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const key = idKey(requestId);
    const o = this.pending.get(key);
    if (o === undefined) return;
    if (o.call === null || o.call.taskId !== undefined) {
      if (this.free(key) && o.call !== null) this.tasks.unanswered(o.call);
      return;
    }
    o.call.cancelled = true;
    setTimeout(() => this.lanes?.upstream.run(async () => {
      // Not freed (every reserved id still reserved): it stays pending, receipted when answered.
      if (this.pending.get(key) !== o || this.closing || !this.free(key)) return;
      const p = o.call!;
      await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: 'cancelled' });
    }, report), CANCEL_GRACE_MS).unref();
  }

  /**
   * Release a pending id that may still be answered, reserved ({@link FreedIds}); false when
   * no reservation can be taken now: it then stays pending, where the pending cap bounds what follows.
   */
  private free(key: string): boolean {
    if (!this.freed.reserve(key)) return false;
    this.pending.delete(key);
    return true;
  }

  /**
   * Record every unanswered call (errored, `cancelled` or `why`) and close the stores; false
   * when something failed. A call that joins a receipt session gets its action there as
   * with any receipt (Recorder.appendReceipt), before the log is closed. Each request left
   * unanswered and not cancelled is then answered `-32005` (`data.code` `ERR_UPSTREAM`,
   * `data.reason` `why`), as the gateway answers its callers: the client learns it got no
   * answer, and why, rather than only that the stream closed.
   */
  private async finish(why: OutcomeReason): Promise<boolean> {
    let ok = true;
    for (const [key, { call: p }] of this.pending) {
      this.pending.delete(key);
      if (p !== null && !this.tasks.unanswered(p)) {
        await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: p.cancelled === true ? 'cancelled' : why })
          .catch((e: unknown) => { report(e); ok = false; });
      }
      // A cancelled request is not answered (MCP: the receiver of a cancellation sends no response).
      if (p?.cancelled !== true) this.errorToClient(JSON.parse(key) as RpcId, CONNECTION_LOST, `mcp-attest: no answer came before the relay ended (${why})`, { code: 'ERR_UPSTREAM', reason: why });
    }
    this.refusals.close();
    if (this.io.shared === true) return ok;
    this.tools?.close();
    await this.recorder.close().catch((e: unknown) => { report(e); ok = false; });
    return ok;
  }

  /** Write a message (or our own line) to the client. */
  protected writeClient(msg: RpcMessage | string): void {
    const out = this.io.output ?? process.stdout;
    // Responses still go out after the client closed its input: it may still be reading.
    if (out.writable) out.write((typeof msg === 'string' ? msg : writeMessage(msg)) + '\n');
  }

  private writeUpstream(msg: RpcMessage | { jsonrpc: '2.0'; id: RpcId; error: { code: number; message: string; data: Record<string, string> } }): void {
    if (this.child.stdin?.writable) this.child.stdin.write(writeMessage(msg) + '\n');
  }

  protected errorToClient(id: RpcId | null, code: number, message: string, data?: Record<string, string>): void {
    this.writeClient({ jsonrpc: '2.0', id, error: { code, message, ...(data ? { data } : {}) } });
  }

  /** Answer a request the relay will not forward, with a note on stderr (`message` starts `mcp-attest: `, said once there). */
  protected refuse(id: RpcId, code: number, message: string): void {
    report(new Error(message.replace(/^mcp-attest: /, '')));
    this.errorToClient(id, code, message);
  }

  /**
   * Finish both directions, record what is unfinished, stop the upstream, and let the
   * client's output drain. Idempotent; never rejects (a failure is reported and exits 3).
   */
  shutdown(reason: OutcomeReason, code: number): Promise<number> {
    this.closing ??= (async () => {
      // Outputs are no longer waited for: a peer that stopped reading cannot hold the shutdown.
      this.releaseOutputs();
      // Nothing read from now on is handled: what is logged is settled before the final checkpoint.
      this.lanes?.client.stop();
      this.lanes?.upstream.stop();
      await this.lanes?.client.chain;
      await this.lanes?.upstream.chain;
      const why: OutcomeReason = this.clientGone && reason === 'upstream_exited' ? 'client_disconnected' : reason;
      const ok = await this.finish(why).catch((e: unknown) => { report(e); return false; });
      await this.upstream.stop();
      const out = this.io.output ?? process.stdout;
      // Let what was written reach the client (bounded: a client that stopped reading).
      if (out.writable) await new Promise<void>((r) => { out.write('', () => r()); setTimeout(r, 5000).unref(); });
      return ok ? code : 3;
    })();
    return this.closing;
  }
}
