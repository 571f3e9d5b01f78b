/**
 * An upstream command started before its relay exists (`mcp-attest proxy`): the upstream's
 * own start-up (often a few hundred milliseconds) then runs while the proxy loads its modules
 * and opens its data directory, instead of after. Nothing is written to the upstream until
 * the relay takes it over, and what the upstream writes meanwhile is kept for the relay to
 * read (stdio-relay.ts: strict parsing, refusals logged), even when the upstream exits before
 * that, so write-ahead and fail-closed hold as for an upstream the relay starts itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { STOP_GRACE_MS, stopProcess, type UpstreamProcess } from './relay-io.js';

type Event = 'exit' | 'error';

/**
 * A child process as the relay drives it ({@link UpstreamProcess}), spawned now. Its `exit`
 * and `error` events are kept from the start: a listener added after one happened (the
 * command was not found, or exited during the proxy's own start-up) is called with it at the
 * next turn of the event loop (as the child's own events come), and with any later one, so
 * the relay sees it as if it had been listening. The child's `error` never goes unhandled.
 * Its stdout is read from the start into a buffer the relay reads (`stdout`): Node discards
 * the unread output of a child that exits, and the buffer holds what came before.
 */
export class EarlyUpstream implements UpstreamProcess {
  private readonly child: ChildProcess;
  private readonly happened = new Map<Event, unknown[]>();
  /** The child's stdout, piped (with its backpressure) from the spawn on. */
  readonly stdout: Readable;
  private termSent = false;
  private stopping: Promise<void> | null = null;

  /**
   * Spawn `argv` (command and arguments) with this process's environment, its stdin and stdout
   * piped, its stderr inherited (as the relay spawns one). Throws what `spawn` throws
   * synchronously (an argument it refuses); a command that cannot run is an `error` event.
   */
  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    for (const event of ['exit', 'error'] as const) this.child.on(event, (...args: unknown[]) => void (this.happened.has(event) || this.happened.set(event, args)));
    // A read error ends the relay's reading as it would have on the child's own stream (and is
    // no uncaught exception while no relay listens yet).
    const out = new PassThrough().on('error', () => undefined);
    this.child.stdout!.on('error', (e) => out.destroy(e)).pipe(out);
    this.stdout = out;
  }

  /** The child's stdin: nothing is written to it before the relay takes it over. */
  get stdin(): Writable | null {
    return this.child.stdin;
  }

  /** The child's exit code once it has exited (Node's negative errno when it never started), else null. */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /**
   * Send `signal` (default SIGTERM) to the child; false when it could not be sent. SIGTERM is
   * sent once: {@link stop} and the relay may both ask.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (signal === 'SIGTERM') {
      if (this.termSent) return true;
      this.termSent = true;
    }
    return this.child.kill(signal);
  }

  /** Listen for the child's `exit` (code, signal) or `error`, including one that happened before (see the class). */
  on(event: 'exit', listener: (code: number | null, signal?: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  on(event: Event, listener: (...args: never[]) => void): this {
    const args = this.happened.get(event);
    if (args !== undefined) setImmediate(() => (listener as (...a: unknown[]) => void)(...args));
    this.child.on(event, listener as (...a: unknown[]) => void);
    return this;
  }

  /** Whether the child has ended (exited, killed, or never started). */
  get ended(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Stop the child when the proxy cannot start after all, or is signalled while it starts:
   * its stdin ended, then relay-io.ts `stopProcess`: SIGTERM, SIGKILL after `graceMs`
   * (default {@link STOP_GRACE_MS}) if it is still running. Resolves once it has ended (at once
   * when it had), or `graceMs` after SIGKILL. Once: a later call gets the same promise.
   */
  stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping ??= (async () => {
      if (this.ended) return;
      const ended = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.stdin?.on('error', () => undefined).end();
      await stopProcess((signal) => this.kill(signal), ended, graceMs);
    })();
    return this.stopping;
  }
}
