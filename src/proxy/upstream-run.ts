/**
 * An upstream's life as a relay runs it (docs/cli.md): the process (a command spawned here, an
 * HTTP upstream, or one made already), whether it has exited, and stopping it (relay-io.ts
 * `stopProcess`: SIGTERM, then SIGKILL if it is still running STOP_GRACE_MS later), so an
 * upstream that ignores both SIGTERM and the end of its input neither holds the relay open
 * nor outlives it.
 */
import { spawn } from 'node:child_process';
import { HttpUpstream } from './http-upstream.js';
import { stopProcess, type RelayIo, type UpstreamProcess } from './relay-io.js';

/** The upstream of one relay: its process, whether it has exited, its stop. */
export class UpstreamRun {
  readonly process: UpstreamProcess;
  /** The upstream has exited (or could not start). */
  exited = false;
  /** Resolves once it has exited (or could not start). */
  readonly ended: Promise<void>;
  private stopping: Promise<void> | null = null;

  /** The upstream `io` names: `io.upstream` as it is, an HTTP upstream for `io.url`, else `io.argv` spawned (stderr inherited, `io.env` added). */
  constructor(io: RelayIo) {
    this.process = io.upstream ?? (io.url !== undefined ? new HttpUpstream(io.url) : spawn(io.argv[0]!, io.argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: io.env === undefined ? process.env : { ...process.env, ...io.env } }));
    this.ended = new Promise<void>((resolve) => {
      const end = (): void => {
        this.exited = true;
        resolve();
      };
      this.process.on('exit', end).on('error', end);
    });
  }

  /** {@link stopProcess} unless it has exited; once: a later call gets the same promise. */
  stop(): Promise<void> {
    this.stopping ??= this.exited ? Promise.resolve() : stopProcess((signal) => this.process.kill(signal), this.ended);
    return this.stopping;
  }

  /** SIGKILL now, unless it has exited. */
  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }
}
