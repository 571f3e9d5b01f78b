/**
 * Shared helpers of the end-to-end tests: temporary homes, the built CLI run as a separate
 * process, SDK clients (official `@modelcontextprotocol/sdk` v1) over stdio, a raw
 * line-level peer, and a tiny scriptable stdio MCP server that records what it receives.
 * Every test gets its own temporary directory, removed (after its processes) when it ends.
 * The CLI under test is `dist/` (run `npx tsc -p tsconfig.json` first).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.cjs');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const FILESYSTEM = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
export const INSPECTOR = join(ROOT, 'node_modules/.bin/mcp-inspector');
export const RECEIPT_KEY = 'dev.mcp-attest/receipt';

assert.ok(existsSync(CLI), `build first: ${CLI} is missing (npx tsc -p tsconfig.json)`);

/** A test's temporary directory; `defer` registers cleanups, run last-in first-out. */
export interface Scope { dir: string; home: string; defer(fn: () => unknown): void }

/** A fresh temporary directory (and a home path inside it) removed when the test ends. */
export function scope(t: TestContext): Scope {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-e2e-'));
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch { /* best effort: the directory goes regardless */ }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, home: join(dir, 'home'), defer: (fn) => cleanups.push(fn) };
}

/** Result of a finished CLI run. */
export interface Run { status: number; stdout: string; stderr: string }

/** Run `mcp-attest ARGS...` to completion (bounded); `o.preload`: a module node loads first (`--require`), `o.env`: added to the environment. */
export function cli(args: string[], timeoutMs = 60_000, o: { preload?: string; env?: Record<string, string> } = {}): Run {
  const node = o.preload === undefined ? [] : ['--require', o.preload];
  const r = spawnSync(process.execPath, [...node, CLI, ...args], { encoding: 'utf8', timeout: timeoutMs, cwd: ROOT, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...o.env } });
  assert.ok(r.status !== null, `mcp-attest ${args.join(' ')} did not finish: ${String(r.error ?? r.signal)}\n${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Copy the data directory `home` to `copy` and edit the copy's log.db with `edit`, in one transaction; returns `copy`. */
export function editedCopy(home: string, copy: string, edit: (db: Database.Database) => void): string {
  cpSync(home, copy, { recursive: true });
  const db = new Database(join(copy, 'log.db'));
  try {
    db.transaction(() => edit(db))();
  } finally {
    db.close();
  }
  return copy;
}

/** The `verify --json` report. */
export interface Finding { severity: 'error' | 'notice'; code: string; message: string; index?: string; expected?: unknown; found?: unknown }
export interface Report {
  verified: boolean; size: string; checkpointSize: string | null; calls: number; receipts: number;
  unanswered: number; inFlight: number; refused: number; findings: Finding[];
}

/** Export the home's trust policy to `<dir>/trust.json` (or `file`); returns the path. */
export function exportTrust(home: string, file = join(dirname(home), 'trust.json')): string {
  const r = cli(['trust', 'export', '--home', home]);
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(file, r.stdout);
  return file;
}

/** `mcp-attest verify TARGET --trust FILE --json`: exit code and parsed report. */
export function verify(target: string, trust: string): { status: number; report: Report; stdout: string } {
  const r = cli(['verify', target, '--trust', trust, '--json']);
  assert.ok(r.status === 0 || r.status === 1, `verify exited ${r.status}: ${r.stderr}`);
  return { status: r.status, report: JSON.parse(r.stdout) as Report, stdout: r.stdout };
}

/** Codes of the findings of one severity. */
export function codes(report: Report, severity: 'error' | 'notice' = 'error'): string[] {
  return report.findings.filter((f) => f.severity === severity).map((f) => f.code);
}

/** A row of `log show --json`. */
export interface CallRow {
  call_id: string; attestation_idx: number; receipt_idx: number | null; task_result_idx: number | null; server: string | null;
  tool: string | null; status: string | null; reason: string | null;
}

/** `mcp-attest log show --home HOME --json`. */
export function logShow(home: string): CallRow[] {
  const r = cli(['log', 'show', '--home', home, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as CallRow[];
}

/**
 * The log's records (parsed, in idx order, so `entries[i]` is index i: a private entry's
 * record, an erased one as `{type: "erased"}`, a v2 log's parameters entry as it is),
 * `records` (how many are not a parameters entry) and checkpoints, read directly.
 */
export function readLog(home: string): { entries: Array<Record<string, unknown>>; records: number; checkpoints: Array<{ size: number; note: string }> } {
  const db = new Database(join(home, 'log.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT idx, coalesce(record, data) AS data FROM entries ORDER BY idx').all() as Array<{ idx: number; data: Buffer }>;
    const checkpoints = db.prepare('SELECT size, note FROM checkpoints ORDER BY size').all() as Array<{ size: number; note: string }>;
    const parse = (b: Buffer): Record<string, unknown> => (b[0] === 1 ? { type: 'erased' } : JSON.parse(b.toString('utf8')) as Record<string, unknown>);
    const entries = rows.map((r) => parse(r.data));
    return { entries, records: entries.filter((r) => r['type'] !== 'mcp-attest/log@2').length, checkpoints };
  } finally {
    db.close();
  }
}

/** The refused-input records of a log (docs/wire.md), as [direction, code]. */
export function refusals(home: string): Array<[string, string]> {
  return readLog(home).entries.filter((e) => e['type'] === 'mcp-attest/refused-input@1').map((e) => [e['direction'] as string, e['code'] as string]);
}

/** Poll `cond` every 25 ms until it returns a truthy value, or fail after `ms`. */
export async function waitFor<T>(what: string, cond: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A copy of a value with the receipt reference (and an emptied `_meta`) removed. */
export function stripReceipt<T>(value: T): T {
  const v = structuredClone(value) as Record<string, unknown>;
  const meta = v['_meta'] as Record<string, unknown> | undefined;
  if (meta) {
    delete meta[RECEIPT_KEY];
    if (Object.keys(meta).length === 0) delete v['_meta'];
  }
  return v as T;
}

/**
 * An SDK client connected over stdio to `command args` (closed when the test ends); every
 * message it receives is kept in `received`, the child's stderr in `stderr()`.
 */
export async function connect(s: Scope, command: string, args: string[], capabilities: Record<string, unknown> = {}) {
  const client = new Client({ name: 'mcp-attest-e2e', version: '1.0.0' }, { capabilities });
  const transport = new StdioClientTransport({ command, args, stderr: 'pipe', cwd: ROOT });
  let err = '';
  transport.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  s.defer(() => client.close());
  await client.connect(transport);
  // Keep every message the client receives, as it arrived on the wire.
  const received: Array<Record<string, unknown>> = [];
  const onmessage = transport.onmessage!;
  transport.onmessage = (m) => {
    received.push(structuredClone(m) as Record<string, unknown>);
    onmessage(m);
  };
  return { client, transport, received, stderr: () => err };
}

/** An SDK client talking to server-everything directly. */
export function connectDirect(s: Scope, capabilities: Record<string, unknown> = {}) {
  return connect(s, process.execPath, [EVERYTHING], capabilities);
}

/** An SDK client talking to `upstream` through `mcp-attest proxy --home`. */
export function connectProxied(s: Scope, upstream: string[] = [EVERYTHING], proxyFlags: string[] = [], capabilities: Record<string, unknown> = {}) {
  return connect(s, process.execPath, [CLI, 'proxy', '--home', s.home, ...proxyFlags, '--', process.execPath, ...upstream], capabilities);
}

/** A line-level stdio peer: writes raw lines, collects the lines the process prints. */
export class RawPeer {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private rest = '';

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (c: string) => {
      const parts = (this.rest + c).split('\n');
      this.rest = parts.pop()!;
      this.lines.push(...parts);
    });
    proc.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    proc.stdin.on('error', () => undefined);
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  /** Start `mcp-attest proxy --home HOME FLAGS -- node UPSTREAM...` with raw stdio. */
  static proxy(s: Scope, upstream: string[], flags: string[] = []): RawPeer {
    const proc = spawn(process.execPath, [CLI, 'proxy', '--home', s.home, ...flags, '--', process.execPath, ...upstream], { cwd: ROOT, stdio: 'pipe' });
    const peer = new RawPeer(proc);
    s.defer(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await peer.exited;
    });
    return peer;
  }

  /** Write one line (an object is serialized compactly). */
  send(msg: string | object): string {
    const line = typeof msg === 'string' ? msg : JSON.stringify(msg);
    this.proc.stdin.write(line + '\n');
    return line;
  }

  /** The first line (raw) matching `pred` on its parsed form. */
  async line(what: string, pred: (m: Record<string, unknown>) => boolean, ms = 15_000): Promise<string> {
    try {
      return await waitFor(what, () => this.lines.find((l) => pred(JSON.parse(l) as Record<string, unknown>)), ms);
    } catch (e) {
      const state = this.proc.exitCode ?? this.proc.signalCode ?? 'running';
      throw new Error(`${(e as Error).message}; proxy ${state}; stderr: ${this.stderr.slice(-2000)}`);
    }
  }

  /** The response line to request `id`. */
  response(id: unknown, ms?: number): Promise<string> {
    return this.line(`response ${JSON.stringify(id)}`, (m) => m['id'] === id && m['method'] === undefined, ms);
  }
}

/** A legacy `initialize` request line. */
export function initializeRequest(id: number | string = 0): object {
  return { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-e2e', version: '1.0.0' } } };
}

/**
 * A scriptable stdio MCP server (legacy and modern) that appends every line it receives to
 * `<file>` and its pid to `<file>.pid`. tools/call by name: `hang` never answers, `crash`
 * exits 1, `last` writes `arguments.notes` notifications of ~1 KB, answers and exits 0 at once,
 * `fail` answers a JSON-RPC error, `ask` first sends a server->client `roots/list`
 * request (reusing the call's id) and answers with the client's reply, `raw` answers with
 * `arguments.line` (`$ID` replaced by the request id; it may hold several lines), `big` with
 * a text result of `arguments.bytes` bytes, anything else answers with the
 * `_meta` it received. Exits when its stdin ends.
 */
const RAW_SERVER = String.raw`
import { appendFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
writeFileSync(file + '.pid', String(process.pid));
const send = (m) => process.stdout.write((typeof m === 'string' ? m : JSON.stringify(m)) + '\n');
const asked = new Map();
let rest = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => {
  const parts = (rest + c).split('\n');
  rest = parts.pop();
  for (const line of parts) onLine(line);
});
process.stdin.on('end', () => process.exit(0));
function onLine(line) {
  appendFileSync(file, line + '\n');
  const m = JSON.parse(line);
  if (m.method === undefined) {
    const call = asked.get(JSON.stringify(m.id));
    asked.delete(JSON.stringify(m.id));
    if (call) send({ jsonrpc: '2.0', id: call.id, result: { content: [{ type: 'text', text: JSON.stringify(m.result) }] } });
    return;
  }
  if (m.id === undefined) return;
  if (m.method === 'initialize') return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'raw-recorder', version: '1.0.0' } } });
  if (m.method === 'server/discover') return send({ jsonrpc: '2.0', id: m.id, result: { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: { tools: {} } } });
  if (m.method === 'tools/list') return send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'meta', inputSchema: { type: 'object' } }] } });
  if (m.method !== 'tools/call') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
  const name = m.params.name;
  if (name === 'hang') return;
  if (name === 'crash') process.exit(1);
  if (name === 'killed') process.kill(process.pid, 'SIGKILL');
  if (name === 'last') {
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'n'.repeat(1000) } });
    for (let i = 0; i < m.params.arguments.notes; i++) send(note);
    // Exits once all of it is in the pipe (process.exit would drop what Node still queues).
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'last' }] } }) + '\n', () => process.exit(0));
    return;
  }
  if (name === 'fail') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32000, message: 'boom', data: { tool: name } } });
  if (name === 'raw') return send(m.params.arguments.line.replaceAll('$ID', JSON.stringify(m.id)));
  if (name === 'big') return send('{"jsonrpc":"2.0","id":' + JSON.stringify(m.id) + ',"result":{"content":[{"type":"text","text":"' + 'x'.repeat(m.params.arguments.bytes) + '"}]}}');
  if (name === 'ask') {
    asked.set(JSON.stringify(m.id), m);
    return send({ jsonrpc: '2.0', id: m.id, method: 'roots/list', params: { x_unknown: 1 } });
  }
  send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'ok' }], structuredContent: { seen: m.params._meta ?? null } } });
}
`;

/** Write the raw server into the scope; returns `[script, recordFile]` (node argv). */
export function rawServer(s: Scope): { argv: string[]; record: string; received(): string[]; pid(): number | null } {
  const script = join(s.dir, 'raw-server.mjs');
  const record = join(s.dir, 'received.jsonl');
  writeFileSync(script, RAW_SERVER);
  writeFileSync(record, '');
  const pid = (): number | null => (existsSync(record + '.pid') ? Number(readFileSync(record + '.pid', 'utf8')) : null);
  s.defer(() => {
    // Kill a leftover server only if that pid is still this script (never a reused pid).
    const p = pid();
    const cmdline = p === null ? '' : (() => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { return ''; } })();
    if (p !== null && cmdline.includes(script)) process.kill(p, 'SIGKILL');
  });
  return { argv: [script, record], record, received: () => readFileSync(record, 'utf8').split('\n').filter((l) => l !== ''), pid };
}

/** Wait until the log has `entries` records (if given; its parameters entry not counted) and its latest checkpoint covers all of them. */
export async function waitCheckpointed(home: string, entries?: number, ms = 15_000): Promise<ReturnType<typeof readLog>> {
  return waitFor(`a checkpoint covering ${entries ?? 'all'} entries of ${home}`, () => {
    let log: ReturnType<typeof readLog>;
    try {
      log = readLog(home);
    } catch {
      return null; // not created yet
    }
    const last = log.checkpoints[log.checkpoints.length - 1];
    const ok = (entries === undefined || log.records === entries) && last !== undefined && last.size === log.entries.length;
    return ok ? log : null;
  }, ms);
}
