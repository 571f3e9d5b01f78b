/**
 * The transport-level relay both proxies are built on (DESIGN.md data flow; MCP notes §2
 * shape B): spawns the upstream stdio server, splits both directions into lines, handles
 * each line in order per direction, and shuts down when either side goes away. Subclasses
 * decide what happens to a line ({@link StdioRelay.fromClient}, {@link StdioRelay.fromUpstream});
 * the base records the calls left unanswered on shutdown. Diagnostics go to stderr only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { isAttestError } from '../errors.js';
import type { OutcomeReason } from '../receipt/schema.js';
import type { Attestation } from '../attestation/schema.js';
import { LineSplitter, idKey, type RpcMessage } from './lines.js';
import type { Recorder } from './recorder.js';
import type { ToolWatch } from './tool-watch.js';

/** Streams and command of a relay. */
export interface RelayIo {
  /** Upstream command line. */
  argv: string[];
  /** Client side streams (default: process stdin/stdout). */
  input?: Readable;
  output?: Writable;
}

/** JSON-RPC error code (implementation-defined range) for a call the proxy could not record. */
export const RECORD_FAILED = -32001;

/** The code of an error, for messages to the client. */
export function describe(e: unknown): string {
  return isAttestError(e) ? e.code : e instanceof Error ? e.message : String(e);
}

/** Write an error to stderr with its code. */
export function report(e: unknown): void {
  process.stderr.write(`mcp-attest: ${e instanceof Error ? e.message : String(e)}${isAttestError(e) ? ` (${e.code})` : ''}\n`);
}

/** A forwarded `tools/call` awaiting its response, by JSON-RPC id. */
export interface PendingCall {
  callId: string;
  attestation: Attestation;
  /** Log index of the record the receipt answers (attestation or decision). */
  index: bigint;
  /** The client cancelled it (`notifications/cancelled`). */
  cancelled?: boolean;
}

/** Runs one upstream behind the relay until either side goes away. */
export abstract class StdioRelay<P extends PendingCall = PendingCall> {
  protected readonly child: ChildProcess;
  protected readonly pending = new Map<string, P>();
  /** Tool definition pinning, when the subclass has it. */
  protected tools: ToolWatch | null = null;
  private toUpstream: Promise<void> = Promise.resolve();
  private toClient: Promise<void> = Promise.resolve();
  protected closing: Promise<number> | null = null;
  protected clientGone = false;
  /** Resolves with the exit code once the relay has shut down. */
  readonly done: Promise<number>;

  constructor(protected readonly recorder: Recorder, protected readonly io: RelayIo) {
    this.child = spawn(io.argv[0]!, io.argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
    let resolveDone!: (code: number) => void;
    this.done = new Promise((r) => (resolveDone = r));
    this.child.on('error', (e) => {
      process.stderr.write(`mcp-attest: cannot start upstream: ${e.message}\n`);
      void this.shutdown('upstream_exited', 3).then(resolveDone);
    });
    this.child.on('exit', (code) => void this.shutdown('upstream_exited', code ?? 1).then(resolveDone));
    // Start reading on the next tick, once the subclass constructor has run.
    queueMicrotask(() => this.start());
  }

  private start(): void {
    this.pipe(this.child.stdout!, (line) => (this.toClient = this.toClient.then(() => this.fromUpstream(line)).catch(report)));
    this.pipe(this.io.input ?? process.stdin, (line) => (this.toUpstream = this.toUpstream.then(() => this.fromClient(line)).catch(report)), () => {
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

  /** Handle one line from the client (in order). */
  protected abstract fromClient(line: string): Promise<void>;
  /** Handle one line from the upstream (in order). */
  protected abstract fromUpstream(line: string): Promise<void>;
  /**
   * A `tools/call` this relay must decide, or null when the line was handled here: anything
   * else is forwarded as is; a batch holding a call, a call without an id, a call while
   * shutting down, or one reusing a pending id is refused (never forwarded unrecorded).
   */
  protected incomingCall(line: string, msg: RpcMessage | null): (RpcMessage & { id: string | number }) | null {
    if (msg === null && isBatchWithCall(line)) return this.refuse(null, -32600, 'mcp-attest: batches containing tools/call are not relayed'), null;
    if (msg?.method !== 'tools/call') return this.writeUpstream(line), null;
    if (msg.id === undefined || msg.id === null) return this.refuse(msg.id ?? null, -32600, 'mcp-attest: tools/call without an id is not relayed'), null;
    if (this.closing) return this.refuse(msg.id, RECORD_FAILED, 'mcp-attest: shutting down, call not forwarded'), null;
    if (this.pending.has(idKey(msg.id))) return this.refuse(msg.id, -32600, 'mcp-attest: id already in use by a pending call'), null;
    return msg as RpcMessage & { id: string | number };
  }

  /**
   * Record every unanswered call (errored, `cancelled` or `why`) and close the stores; false
   * when something failed. A call that joins a receipt session gets its action there as
   * with any receipt (Recorder.appendReceipt), before the log is closed.
   */
  private async finish(why: OutcomeReason): Promise<boolean> {
    let ok = true;
    for (const [key, p] of this.pending) {
      this.pending.delete(key);
      await this.recorder.receipt({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status: 'errored', reason: p.cancelled === true ? 'cancelled' : why })
        .catch((e: unknown) => { report(e); ok = false; });
    }
    this.tools?.close();
    await this.recorder.close().catch((e: unknown) => { report(e); ok = false; });
    return ok;
  }

  protected writeClient(line: string): void {
    const out = this.io.output ?? process.stdout;
    // Responses still go out after the client closed its input: it may still be reading.
    if (out.writable) out.write(line + '\n');
  }

  protected writeUpstream(line: string): void {
    if (this.child.stdin?.writable) this.child.stdin.write(line + '\n');
  }

  protected errorToClient(id: unknown, code: number, message: string): void {
    this.writeClient(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }));
  }

  /** Answer a request the relay will not forward (notifications are dropped, with a note). */
  protected refuse(id: unknown, code: number, message: string): void {
    report(new Error(message));
    if (id !== undefined) this.errorToClient(id, code, message);
  }

  /**
   * Finish both directions, record what is unfinished, stop the upstream, and let the
   * client's output drain. Idempotent; never rejects (a failure is reported and exits 3).
   */
  shutdown(reason: OutcomeReason, code: number): Promise<number> {
    this.closing ??= (async () => {
      await this.toUpstream.catch(() => undefined);
      await this.toClient.catch(() => undefined);
      const why: OutcomeReason = this.clientGone && reason === 'upstream_exited' ? 'client_disconnected' : reason;
      const ok = await this.finish(why).catch((e: unknown) => { report(e); return false; });
      if (this.child.exitCode === null) this.child.kill('SIGTERM');
      const out = this.io.output ?? process.stdout;
      // Let what was written reach the client (bounded: a client that stopped reading).
      if (out.writable) await new Promise<void>((r) => { out.write('', () => r()); setTimeout(r, 5000).unref(); });
      return ok ? code : 3;
    })();
    return this.closing;
  }
}

/** True when `line` is a JSON-RPC batch (array) with a `tools/call` in it. */
export function isBatchWithCall(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return Array.isArray(v) && v.some((m) => (m as { method?: unknown } | null)?.method === 'tools/call');
  } catch {
    return false;
  }
}
