/**
 * Start `mcp-attest gateway` as a real process for the e2e tests: a configuration written
 * into the test's scope, the bound port read from stderr, every access-log line kept.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, waitFor, type Scope } from './helpers.js';

/** A running gateway. */
export interface GatewayProc {
  proc: ChildProcessWithoutNullStreams;
  /** `http://127.0.0.1:PORT` */
  base: string;
  port: number;
  stderr(): string;
  /** Parsed access-log lines so far. */
  access(): Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Tokens of the test callers (`ALICE_TOKEN`, `BOB_TOKEN` in the gateway's environment). */
export const ALICE = 'alice-token-0123456789abcdef';
export const BOB = 'bob-token-0123456789abcdef';
export const CALLERS = 'callers:\n  - {principal: alice, token: {env: ALICE_TOKEN}}\n  - {principal: bob, token: {env: BOB_TOKEN}}\n';

/**
 * Write `yaml` as the configuration (`home` set to the scope's unless given) and start the
 * gateway on a free port, with `env` added to its environment; with `fdLimit`, under that many
 * file descriptors (bash's `ulimit -n`).
 */
export async function startGateway(s: Scope, yaml: string, file = 'gateway.yaml', env: Record<string, string> = {}, fdLimit?: number): Promise<GatewayProc> {
  const path = join(s.dir, file);
  writeFileSync(path, `${yaml.includes('\nhome:') || yaml.startsWith('home:') ? '' : `home: ${s.home}\n`}${yaml}`);
  const argv = [process.execPath, CLI, 'gateway', '--config', path];
  const o = { cwd: ROOT, env: { ...process.env, ALICE_TOKEN: ALICE, BOB_TOKEN: BOB, ...env }, stdio: 'pipe' as const };
  const proc = fdLimit === undefined ? spawn(argv[0]!, argv.slice(1), o) : spawn('bash', ['-c', `ulimit -n ${fdLimit} && exec "$@"`, 'bash', ...argv], o);
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  s.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  const port = Number(await waitFor(`the gateway to listen (stderr: ${err})`, () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? (proc.exitCode !== null ? 'exited' : null), 20_000));
  if (Number.isNaN(port)) throw new Error(`the gateway exited: ${err}`);
  return {
    proc, port, base: `http://127.0.0.1:${port}`, stderr: () => err, exited,
    access: () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Headers of an MCP POST with a bearer token. */
export function mcpHeaders(token: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...extra };
}

/** The JSON-RPC messages of an SSE or JSON response body. */
export async function messagesOf(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return [JSON.parse(text) as Record<string, unknown>];
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}
