/**
 * An upstream's life as a relay runs it (docs/cli.md): the process (a command spawned here, an
 * HTTP upstream, or one made already), whether it has exited, and stopping it (relay-io.ts
 * `stopProcess`: SIGTERM, then SIGKILL if it is still running STOP_GRACE_MS later), so an
 * upstream that ignores both SIGTERM and the end of its input neither holds the relay open
 * nor outlives it.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { HttpUpstream } from './http-upstream.js';
import { stopProcess, type RelayIo, type UpstreamProcess } from './relay-io.js';
import { printable } from '../bytes/index.js';

/** Longest piece of an upstream's stderr line written at once; a longer line is cut in pieces of it. */
const STDERR_LINE_CHARS = 8192;

/** Write each line of `stderr` to ours as `mcp-attest: upstream LABEL: <line>`, printable (relay-io.ts `RelayIo.stderrLabel`). */
function labelLines(stderr: Readable, label: string): void {
  let line = '';
  const put = (text: string): void => void process.stderr.write(`mcp-attest: upstream ${printable(label)}: ${printable(text)}\n`);
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => {
    const parts = (line + chunk).split('\n');
    line = parts.pop()!;
    for (const p of parts) put(p);
    while (line.length > STDERR_LINE_CHARS) {
      put(line.slice(0, STDERR_LINE_CHARS));
      line = line.slice(STDERR_LINE_CHARS);
    }
  });
  stderr.on('end', () => void (line !== '' && put(line)));
  stderr.on('error', () => undefined);
}

/** The upstream of one relay: its process, whether it has exited, its stop. */
export class UpstreamRun {
  readonly process: UpstreamProcess;
  /** The upstream has exited (or could not start). */
  exited = false;
  /** Resolves once it has exited (or could not start). */
  readonly ended: Promise<void>;
  private stopping: Promise<void> | null = null;

  /** The upstream `io` names: `io.upstream` as it is, an HTTP upstream for `io.url`, else `io.argv` spawned (stderr inherited, or labelled: `io.stderrLabel`; `io.env` added). */
  constructor(io: RelayIo) {
    this.process = io.upstream ?? (io.url !== undefined ? new HttpUpstream(io.url) : this.spawned(io));
    this.ended = new Promise<void>((resolve) => {
      const end = (): void => {
        this.exited = true;
        resolve();
      };
      this.process.on('exit', end).on('error', end);
    });
  }

  private spawned(io: RelayIo): UpstreamProcess {
    const child = spawn(io.argv[0]!, io.argv.slice(1), { stdio: ['pipe', 'pipe', io.stderrLabel === undefined ? 'inherit' : 'pipe'], env: io.env === undefined ? process.env : { ...process.env, ...io.env } });
    if (io.stderrLabel !== undefined && child.stderr) labelLines(child.stderr, io.stderrLabel);
    return child;
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
