/**
 * The client-side attesting proxy: a transport-level relay between the client's stdio and
 * an upstream MCP server's stdio (DESIGN.md data flow). Every line passes unchanged except
 * `tools/call` requests (the attestation is logged, then added at `params._meta.attestation`)
 * and their responses (the receipt is logged, then referenced at
 * `result._meta["dev.mcp-attest/receipt"]`). Era-agnostic: `initialize` and modern `_meta`
 * pass verbatim. Diagnostics go to stderr only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { sha256Tagged } from '../bytes/digest.js';
import { isAttestError } from '../errors.js';
import type { Attestation } from '../attestation/schema.js';
import type { OutcomeReason, OutcomeStatus } from '../receipt/schema.js';
import { LineSplitter, idKey, parseMessage, type RpcMessage } from './lines.js';
import { addMeta } from './splice.js';
import { fingerprintOf, type Recorder } from './recorder.js';

/** The `_meta` key of the receipt reference we add to results. */
export const RECEIPT_META_KEY = 'dev.mcp-attest/receipt';
/** `_meta` keys a client may use to declare the intent and capability of a call. */
export const INTENT_META_KEY = 'dev.mcp-attest/intent';
export const CAPABILITY_META_KEY = 'dev.mcp-attest/requestedCapability';
/** Intent recorded when the client declares none. */
export const DEFAULT_INTENT = 'undeclared: tools/call relayed by mcp-attest proxy';

/** Options of {@link AttestingProxy}. */
export interface ProxyOptions {
  /** Upstream command line. */
  argv: string[];
  /** Server name for the log (default: serverInfo.name from `initialize`, else the command). */
  name?: string;
  /** Overrides the derived server fingerprint. */
  fingerprint?: string;
  /** Add the receipt reference to results (default true). */
  receiptMeta?: boolean;
  /** Client side streams (default: process stdin/stdout). */
  input?: Readable;
  output?: Writable;
}

/** JSON-RPC error code (implementation-defined range) for a call the proxy could not record. */
export const RECORD_FAILED = -32001;

function describe(e: unknown): string {
  return isAttestError(e) ? e.code : e instanceof Error ? e.message : String(e);
}

function report(e: unknown): void {
  process.stderr.write(`mcp-attest: ${e instanceof Error ? e.message : String(e)}${isAttestError(e) ? ` (${e.code})` : ''}\n`);
}

interface PendingCall { callId: string; attestation: Attestation; index: bigint; cancelled: boolean }

/** Runs one upstream behind the relay until either side goes away. */
export class AttestingProxy {
  private readonly child: ChildProcess;
  private readonly pending = new Map<string, PendingCall>();
  private readonly initIds = new Set<string>();
  private serverName: string;
  private readonly fingerprint: string;
  private toUpstream: Promise<void> = Promise.resolve();
  private toClient: Promise<void> = Promise.resolve();
  private closing: Promise<number> | null = null;
  private clientGone = false;
  /** Resolves with the exit code once the proxy has shut down. */
  readonly done: Promise<number>;

  constructor(private readonly recorder: Recorder, private readonly o: ProxyOptions) {
    this.serverName = o.name ?? basename(o.argv[0] ?? 'upstream');
    this.fingerprint = o.fingerprint ?? fingerprintOf(o.argv);
    this.child = spawn(o.argv[0]!, o.argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
    let resolveDone!: (code: number) => void;
    this.done = new Promise((r) => (resolveDone = r));
    this.child.on('error', (e) => {
      process.stderr.write(`mcp-attest: cannot start upstream: ${e.message}\n`);
      void this.shutdown('upstream_exited', 3).then(resolveDone);
    });
    this.child.on('exit', (code) => void this.shutdown('upstream_exited', code ?? 1).then(resolveDone));
    this.pipe(this.child.stdout!, (line) => (this.toClient = this.toClient.then(() => this.fromUpstream(line)).catch(report)));
    const input = o.input ?? process.stdin;
    this.pipe(input, (line) => (this.toUpstream = this.toUpstream.then(() => this.fromClient(line)).catch(report)), () => {
      this.clientGone = true;
      void this.toUpstream.then(() => this.child.stdin?.end());
      // Give the upstream a moment to answer what it has, then stop it.
      setTimeout(() => this.child.kill('SIGTERM'), 2000).unref();
    });
    this.child.stdin!.on('error', () => undefined);
  }

  private pipe(stream: Readable, onLine: (line: string) => void, onEnd?: () => void): void {
    const split = new LineSplitter();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => { for (const l of split.push(chunk)) onLine(l); });
    stream.on('end', () => {
      const tail = split.flush();
      if (tail !== null) onLine(tail);
      onEnd?.();
    });
  }

  private writeClient(line: string): void {
    const out = this.o.output ?? process.stdout;
    // Responses still go out after the client closed its input: it may still be reading.
    if (out.writable) out.write(line + '\n');
  }

  private writeUpstream(line: string): void {
    if (this.child.stdin?.writable) this.child.stdin.write(line + '\n');
  }

  private errorToClient(id: unknown, code: number, message: string): void {
    this.writeClient(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }));
  }

  /** Answer a request the proxy will not forward (notifications are dropped, with a note). */
  private refuse(id: unknown, code: number, message: string): void {
    report(new Error(message));
    if (id !== undefined) this.errorToClient(id, code, message);
  }

  /** Client -> upstream: attest `tools/call`, note `initialize` ids and cancellations. */
  private async fromClient(line: string): Promise<void> {
    const msg = parseMessage(line);
    if (msg?.method === 'initialize' && msg.id !== undefined) this.initIds.add(idKey(msg.id));
    if (msg?.method === 'notifications/cancelled') {
      const p = this.pending.get(idKey((msg.params ?? {})['requestId']));
      if (p) p.cancelled = true;
    }
    if (msg === null && isBatchWithCall(line)) return this.refuse(null, -32600, 'mcp-attest: batches containing tools/call are not relayed');
    if (msg?.method !== 'tools/call') return this.writeUpstream(line);
    // A tools/call that cannot be answered with a receipt is never forwarded unrecorded.
    if (msg.id === undefined || msg.id === null) return this.refuse(msg.id ?? null, -32600, 'mcp-attest: tools/call without an id is not relayed');
    if (this.closing) return this.refuse(msg.id, RECORD_FAILED, 'mcp-attest: shutting down, call not forwarded');
    if (this.pending.has(idKey(msg.id))) return this.refuse(msg.id, -32600, 'mcp-attest: id already in use by a pending call');
    const params = (msg.params ?? {}) as Record<string, unknown>;
    const meta = (typeof params['_meta'] === 'object' && params['_meta'] !== null ? params['_meta'] : {}) as Record<string, unknown>;
    if (typeof params['name'] !== 'string' || params['name'] === '') return this.errorToClient(msg.id, -32602, 'mcp-attest: tools/call without a tool name');
    const intent = typeof meta[INTENT_META_KEY] === 'string' && meta[INTENT_META_KEY] !== '' ? (meta[INTENT_META_KEY] as string) : DEFAULT_INTENT;
    const capability = typeof meta[CAPABILITY_META_KEY] === 'string' ? (meta[CAPABILITY_META_KEY] as string) : undefined;
    let recorded;
    try {
      recorded = await this.recorder.attest({
        tool: params['name'], args: params['arguments'], intent, server: { name: this.serverName, fingerprint: this.fingerprint },
        requestDigest: sha256Tagged(line), ...(capability === undefined ? {} : { requestedCapability: capability }),
      });
    } catch (e) {
      // Fail closed: a call that cannot be recorded is not forwarded.
      report(e);
      return this.errorToClient(msg.id, RECORD_FAILED, `mcp-attest: call not forwarded, it could not be recorded (${describe(e)})`);
    }
    const { attestation, callId, index } = recorded;
    this.pending.set(idKey(msg.id), { callId, attestation, index, cancelled: false });
    // A client-supplied attestation is never replaced; ours is then only in the log.
    this.writeUpstream(addMeta(line, 'params', 'attestation', attestation) ?? line);
  }

  /** Upstream -> client: learn the server name, write receipts for `tools/call` responses. */
  private async fromUpstream(line: string): Promise<void> {
    if (this.pending.size === 0 && this.initIds.size === 0) return this.writeClient(line);
    const msg = parseMessage(line);
    if (!msg || msg.method !== undefined || msg.id === undefined) return this.writeClient(line);
    const key = idKey(msg.id);
    if (this.initIds.delete(key)) this.learnServerName(msg);
    const p = this.pending.get(key);
    if (!p) return this.writeClient(line);
    this.pending.delete(key);
    const { status, reason, value } = outcomeOf(msg, p.cancelled);
    let receiptIndex: bigint;
    try {
      receiptIndex = await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status, ...(reason ? { reason } : {}), result: value });
    } catch (e) {
      // Fail closed: an unrecorded response is not released; the client learns why.
      report(e);
      return this.errorToClient(msg.id, RECORD_FAILED, `mcp-attest: response withheld, its receipt could not be recorded (${describe(e)})`);
    }
    if (this.o.receiptMeta === false) return this.writeClient(line);
    const ref = { callId: p.callId, origin: this.recorder.identity.log.origin, attestationIndex: p.index.toString(), receiptIndex: receiptIndex.toString() };
    this.writeClient(addMeta(line, 'result', RECEIPT_META_KEY, ref) ?? line);
  }

  private learnServerName(msg: RpcMessage): void {
    const info = (msg.result ?? {})['serverInfo'] as { name?: unknown } | undefined;
    if (this.o.name === undefined && typeof info?.name === 'string' && info.name !== '') this.serverName = info.name;
  }

  /**
   * Record every unanswered call, write the final checkpoint, close, and let the client's
   * output drain. Idempotent; never rejects (a failure is reported and exits 3).
   */
  shutdown(reason: OutcomeReason, code: number): Promise<number> {
    this.closing ??= (async () => {
      await this.toUpstream.catch(() => undefined);
      await this.toClient.catch(() => undefined);
      const why: OutcomeReason = this.clientGone && reason === 'upstream_exited' ? 'client_disconnected' : reason;
      let failed = false;
      for (const [key, p] of this.pending) {
        this.pending.delete(key);
        await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: p.cancelled ? 'cancelled' : why })
          .catch((e: unknown) => { report(e); failed = true; });
      }
      await this.recorder.close().catch((e: unknown) => { report(e); failed = true; });
      if (this.child.exitCode === null) this.child.kill('SIGTERM');
      const out = this.o.output ?? process.stdout;
      // Let what was written reach the client (bounded: a client that stopped reading).
      if (out.writable) await new Promise<void>((r) => { out.write('', () => r()); setTimeout(r, 5000).unref(); });
      return failed ? 3 : code;
    })();
    return this.closing;
  }
}

/**
 * Map a JSON-RPC response to a receipt outcome and the value committed to (the `result`
 * object as received, or `{error}`). A 2026-07-28 `input_required` result is interim:
 * `errored` with reason `input_required` (the retried request carries its own attestation).
 * A response to a call the client cancelled keeps its outcome, with reason `cancelled`.
 */
export function outcomeOf(msg: RpcMessage, cancelled = false): { status: OutcomeStatus; reason?: OutcomeReason; value: unknown } {
  const o = baseOutcome(msg);
  return cancelled && o.status !== 'refused' ? { ...o, reason: 'cancelled' } : o;
}

function baseOutcome(msg: RpcMessage): { status: OutcomeStatus; reason?: OutcomeReason; value: unknown } {
  if (msg.error !== undefined || !msg.result) return { status: 'errored', reason: 'jsonrpc_error', value: { error: msg.error ?? null } };
  if (msg.result['resultType'] === 'input_required') return { status: 'errored', reason: 'input_required', value: msg.result };
  if (msg.result['isError'] !== true) return { status: 'executed', value: msg.result };
  if (isAttestationRefusal(msg.result)) return { status: 'refused', reason: 'attestation_refused', value: msg.result };
  return { status: 'errored', reason: 'tool_error', value: msg.result };
}

const SEP_REASONS = ['signature_invalid', 'nonce_replay', 'expired', 'tool_mismatch', 'server_mismatch', 'key_unavailable', 'attestation_required', 'args_commitment_mismatch'];

/** Exactly the SEP-2787 refusal: one text block `{"attestationError":true,"reason":<SEP reason>}`. */
function isAttestationRefusal(result: Record<string, unknown>): boolean {
  const content = result['content'];
  if (!Array.isArray(content) || content.length !== 1) return false;
  const text = (content[0] as { text?: unknown }).text;
  if (typeof text !== 'string') return false;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    return Object.keys(v).length === 2 && v['attestationError'] === true && SEP_REASONS.includes(v['reason'] as string);
  } catch {
    return false;
  }
}

/** True when `line` is a JSON-RPC batch (array) with a `tools/call` in it. */
function isBatchWithCall(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return Array.isArray(v) && v.some((m) => (m as { method?: unknown } | null)?.method === 'tools/call');
  } catch {
    return false;
  }
}
