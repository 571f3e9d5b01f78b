/**
 * An upstream command started before its relay exists (`mcp-attest proxy`): the upstream's
 * own start-up (often a few hundred milliseconds) then runs while the proxy loads its modules
 * and opens its data directory, instead of after. Nothing is written to the upstream, and
 * nothing it writes is read, until the relay takes it over (stdio-relay.ts reads its stdout,
 * which buffers meanwhile), so write-ahead and fail-closed hold as for an upstream
 * the relay starts itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { UpstreamProcess } from './relay-io.js';

type Event = 'exit' | 'error';

/**
 * A child process as the relay drives it ({@link UpstreamProcess}), spawned now. Its `exit`
 * and `error` events are kept from the start: a listener added after one happened (the
 * command was not found, or exited during the proxy's own start-up) is called with it at the next
 * turn of the event loop (as the child's own events come), and with any later one, so the
 * relay sees it as if it had been listening. The child's `error` never goes unhandled.
 */
export class EarlyUpstream implements UpstreamProcess {
  private readonly child: ChildProcess;
  private readonly happened = new Map<Event, unknown[]>();

  /**
   * Spawn `argv` (command and arguments) with this process's environment, its stdin and stdout
   * piped, its stderr inherited (as the relay spawns one). Throws what `spawn` throws
   * synchronously (an argument it refuses); a command that cannot run is an `error` event.
   */
  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    for (const event of ['exit', 'error'] as const) this.child.on(event, (...args: unknown[]) => void (this.happened.has(event) || this.happened.set(event, args)));
  }

  get stdin(): Writable | null {
    return this.child.stdin;
  }

  get stdout(): Readable | null {
    return this.child.stdout;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  kill(signal?: NodeJS.Signals): boolean {
    return this.child.kill(signal);
  }

  on(event: 'exit', listener: (code: number | null) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  on(event: Event, listener: (...args: never[]) => void): this {
    const args = this.happened.get(event);
    if (args !== undefined) setImmediate(() => (listener as (...a: unknown[]) => void)(...args));
    this.child.on(event, listener as (...a: unknown[]) => void);
    return this;
  }

  /** Stop the child (SIGTERM) when the proxy cannot start after all; nothing when it has exited. */
  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}
