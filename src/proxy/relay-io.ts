/**
 * What a relay is made of and speaks with (docs/wire.md, docs/http.md): its upstream (a
 * child process, an HTTP upstream, or another relay), its streams and limits, the shapes of
 * pending requests, the JSON-RPC error codes it answers with, its stderr reporting, and how an
 * upstream is stopped ({@link stopProcess}).
 */
import type { Readable, Writable } from 'node:stream';
import { isAttestError } from '../errors.js';
import type { Attestation } from '../attestation/schema.js';
import type { HttpUpstreamOptions } from './http-upstream.js';
import type { RpcId, RpcMessage } from './message.js';

/**
 * The upstream as the relay drives it: a child process (its stdin takes lines, its stdout
 * gives bytes) or anything shaped like one (an `HttpUpstream`: its stdout gives frames).
 */
export interface UpstreamProcess {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly exitCode: number | null;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal?: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
}

/** Streams, command and limits of a relay. */
export interface RelayIo {
  /** Upstream command line (with {@link RelayIo.url}: empty). */
  argv: string[];
  /** A Streamable HTTP upstream instead of a command (docs/http.md). */
  url?: HttpUpstreamOptions;
  /** Variables added to the upstream command's environment (it inherits the relay's). */
  env?: Record<string, string>;
  /**
   * The upstream command's stderr: inherited (absent), or each line written to this process's
   * stderr as `mcp-attest: upstream LABEL: <line>`, control characters escaped (a gateway,
   * whose stderr carries its access log: an upstream must not write lines of it).
   */
  stderrLabel?: string;
  /** An upstream already made (another relay in the same process: the gateway's attest-then-gate chain), instead of a command. */
  upstream?: UpstreamProcess;
  /** Client side streams (default: process stdin/stdout). */
  input?: Readable;
  output?: Writable;
  /** Largest message relayed in either direction, bytes (default 4 MiB, `DEFAULT_MAX_MESSAGE_BYTES`). */
  maxMessageBytes?: number;
  /** Most requests pending per direction (default {@link DEFAULT_MAX_PENDING}). */
  maxPending?: number;
  /** The recorder and tool watch are shared with other relays (a gateway's): they stay open when this relay ends. */
  shared?: boolean;
}

/** Default cap of requests pending in one direction. */
export const DEFAULT_MAX_PENDING = 1024;
/** JSON-RPC error code (implementation-defined range) for a call the proxy could not record. */
export const RECORD_FAILED = -32001;
/** JSON-RPC error code for a request whose HTTP response stream ended without an answer, or sent after the upstream exited. */
export const CONNECTION_LOST = -32005;
/** JSON-RPC error code for an input the relay refused (docs/wire.md); `data.code` names why. */
export const INPUT_REFUSED = -32600;

/** The code of an error, for messages to the client. */
export function describe(e: unknown): string {
  return isAttestError(e) ? e.code : e instanceof Error ? e.message : String(e);
}

/** Write an error to stderr with its code. */
export function report(e: unknown): void {
  process.stderr.write(`mcp-attest: ${e instanceof Error ? e.message : String(e)}${isAttestError(e) ? ` (${e.code})` : ''}\n`);
}

/** A forwarded `tools/call` awaiting its response. */
export interface PendingCall {
  callId: string;
  attestation: Attestation;
  /** Log index of the record the receipt answers (attestation or decision). */
  index: bigint;
  /** The client cancelled it (`notifications/cancelled`). */
  cancelled?: boolean;
  /** A task-augmented call (`params.task`): its answer is a task handle, not the tool's result. */
  task?: boolean;
  /** A `tasks/result` request for the call's task (proxy/tasks.ts): its `taskId`, and the digest of the receipt of its task handle, which its answer's receipt names. */
  taskId?: string;
  taskReceiptDigest?: string;
}

/** A client request forwarded upstream, awaiting its response: its method, and the call when it is a recorded `tools/call`. */
export interface Outstanding<P extends PendingCall = PendingCall> { method: string; call: P | null }

/** A `tools/call` request as `StdioRelay.onCall` receives it. */
export type CallMessage = RpcMessage & { id: RpcId; method: 'tools/call'; params: Record<string, unknown> };

/** How long a cancelled call may still be answered before its slot is freed and it is receipted `cancelled`, ms. */
export const CANCEL_GRACE_MS = 30_000;
/** How long an upstream asked to stop (SIGTERM) has to exit before it is killed (SIGKILL), ms. */
export const STOP_GRACE_MS = 2000;
/** How long the relay keeps reading an upstream that exited, for what it wrote before, ms. */
export const EXIT_READ_MS = 1000;
/** How long an id freed by a cancellation stays reserved, ms. */
export const FREED_MS = 10 * 60_000;
/** Most ids reserved after a cancellation at once; past it a cancelled request keeps its pending slot. */
export const MAX_FREED = 4096;

/** True when `p` settles (resolved or rejected) within `ms`, false when the time runs out first; no timer is left behind. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stop a process whose end `ended` tells: `kill('SIGTERM')`, then `kill('SIGKILL')` if it has
 * not ended `graceMs` later. Resolves once it has ended, or `graceMs` after SIGKILL (a process
 * in uninterruptible sleep outlives even SIGKILL for a while: the wait stays bounded).
 */
export async function stopProcess(kill: (signal: NodeJS.Signals) => unknown, ended: Promise<void>, graceMs = STOP_GRACE_MS): Promise<void> {
  kill('SIGTERM');
  if (await settlesWithin(ended, graceMs)) return;
  kill('SIGKILL');
  await settlesWithin(ended, graceMs);
}
