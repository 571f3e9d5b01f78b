/**
 * Child processes of the bench and what /proc says about processes: a spawned `node` child
 * whose stderr is read line by line (waited on for a line, stopped with its whole process
 * group), process tables, CPU time, open file descriptors, VmRSS, and a free loopback port.
 * Linux only (/proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** A `node` child process, its stderr read line by line (never left to fill its pipe). */
export class Spawned {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private partial = '';
  private readonly early: string[] = [];
  private readonly watchers = new Set<(line: string) => void>();

  /** Start `node ARGS` with `env`; `detached`: in its own process group; `onLine`: every stderr line. */
  constructor(readonly name: string, args: string[], env: NodeJS.ProcessEnv, private readonly detached: boolean, private readonly onLine: (line: string) => void = () => undefined) {
    this.proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], detached });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1))));
    this.proc.stderr!.on('data', (c: Buffer) => {
      const lines = (this.partial + c.toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) this.line(l);
    });
  }

  /** Its pid. */
  get pid(): number {
    return this.proc.pid!;
  }

  /** The first stderr line (so far or to come) matching `re`; rejects when the process exits first or after `ms`. */
  waitFor(re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    for (const l of this.early) {
      const m = re.exec(l);
      if (m !== null) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.watchers.delete(watch);
        clearTimeout(timer);
      };
      const watch = (l: string): void => {
        const m = re.exec(l);
        if (m !== null) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`bench: ${this.name}: no ${re} on stderr within ${ms} ms: ${this.early.join('\n').slice(-2000)}`));
      }, ms);
      this.watchers.add(watch);
      void this.exited.then((code) => {
        if (!this.watchers.has(watch)) return;
        done();
        reject(new Error(`bench: ${this.name} exited ${String(code)}: ${this.early.join('\n').slice(-2000)}`));
      });
    });
  }

  /** {@link waitFor} `re`; when it does not come, the process is killed (SIGKILL) before the error is thrown. */
  async ready(re: RegExp): Promise<RegExpExecArray> {
    try {
      return await this.waitFor(re);
    } catch (e) {
      await this.stop('SIGKILL', 2000);
      throw e;
    }
  }

  /**
   * Stop it: `signal`, up to `graceMs` to exit, then SIGKILL (its whole process group when it
   * was started detached). For a detached one, any process left in its group after it exited
   * is killed too and reported. Resolves with its exit code and what had to be forced.
   */
  async stop(signal: NodeJS.Signals, graceMs: number): Promise<{ code: number | null; forced: string[] }> {
    const forced: string[] = [];
    const pid = this.pid;
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    const timer = sleep(graceMs, undefined, { ref: false }).then(() => 'timeout' as const); // never holds the bench open
    if (await Promise.race([this.exited.then(() => 'exited' as const), timer]) === 'timeout') {
      forced.push(`${this.name} did not exit within ${graceMs} ms of ${signal}: killed`);
      this.kill(pid, 'SIGKILL');
    }
    const code = await this.exited;
    if (this.detached) {
      await sleep(200);
      const left = groupMembers(pid);
      if (left.length > 0) {
        forced.push(`${this.name}: ${left.length} process(es) of its group still running after it exited (pids ${left.join(', ')}): killed`);
        this.kill(pid, 'SIGKILL');
      }
    }
    return { code, forced };
  }

  private kill(pid: number, signal: NodeJS.Signals): void {
    try {
      if (this.detached) process.kill(-pid, signal);
      else this.proc.kill(signal);
    } catch {
      // already gone
    }
  }

  private line(l: string): void {
    if (this.early.length < 200) this.early.push(l);
    for (const w of [...this.watchers]) w(l);
    this.onLine(l);
  }
}

/** The fields of /proc/PID/stat after `pid (comm)` (state, ppid, pgrp, ...): comm may hold spaces and parentheses, so read after the last ')'. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** pid, parent pid and process group of every process, zombies left out. */
function procStats(): Array<{ pid: number; ppid: number; pgid: number }> {
  const out: Array<{ pid: number; ppid: number; pgid: number }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let fields: string[];
    try {
      fields = statFields(name);
    } catch {
      continue; // gone meanwhile
    }
    if (fields[0] === 'Z') continue;
    out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
  }
  return out;
}

/** Pids of the processes whose process group is `pgid` (read from /proc). */
function groupMembers(pgid: number): number[] {
  return procStats().filter((p) => p.pgid === pgid).map((p) => p.pid);
}

/** Pids of the live children of `pid` (read from /proc). */
export function childrenOf(pid: number): number[] {
  return procStats().filter((p) => p.ppid === pid).map((p) => p.pid);
}

/** CPU time (user + system) `pid` has used, ms. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Open file descriptors of `pid`. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** VmRSS of `pid`, KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+([0-9]+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`bench: no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
