/**
 * `mcp-attest gateway` against two independent MCP clients (mcp.md §8, §9):
 *
 * 1. The official conformance suite, `@modelcontextprotocol/conformance` 0.1.16 in server
 *    mode (it acts as a client over Streamable HTTP), run directly against server-everything's
 *    HTTP mode, then through the gateway to server-everything started as a stdio command and,
 *    separately, to server-everything over HTTP. Every scenario that passes directly must pass
 *    through the gateway; the direct failures are pinned in
 *    test/e2e/fixtures/conformance-baseline.yml (mostly fixture tools server-everything lacks).
 *    The suite crashes at import on Node 20 (`globSync` from 'fs'), so it runs with the loader
 *    hook test/e2e/fixtures/conformance-hook.mjs; it cannot send an Authorization header, so
 *    it reaches the gateway through a header-adding forwarder ({@link authForwarder}).
 * 2. The MCP Inspector CLI 2.12.0 over HTTP through the gateway with `--header Authorization`;
 *    its printed result, and the gateway's log verifying afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CLI, EVERYTHING, INSPECTOR, RECEIPT_KEY, ROOT, codes, exportTrust, logShow, scope, verify, waitFor, type Scope } from './helpers.js';
import { everythingHttp } from './http-helpers.js';

const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const HOOK = join(ROOT, 'test/e2e/fixtures/conformance-hook.mjs');
const BASELINE = join(ROOT, 'test/e2e/fixtures/conformance-baseline.yml');
const TOKEN = 'conformance-token-0123456789abcdef';

/** A child's exit code and output. */
interface Done { status: number | null; stdout: string; stderr: string }

/** Run `node ARGS` to completion without blocking this process (the forwarder lives here), bounded. */
function run(args: string[], env: NodeJS.ProcessEnv = process.env, ms = 90_000): Promise<Done> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  return new Promise((resolve) => child.on('close', (status) => {
    clearTimeout(timer);
    resolve({ status, stdout, stderr });
  }));
}

/** `conformance ARGS` on Node 20: through the loader hook that stubs `fs.globSync` (mcp.md §9). */
function conformance(args: string[]): Promise<Done> {
  return run(['--import', HOOK, CONFORMANCE, ...args]);
}

/** Outcome of one scenario: it passes when it has checks and none is FAILURE or WARNING (the suite's own baseline rule). */
interface Outcome { pass: boolean; problems: string[] }

/**
 * Run the whole server suite (`--suite all`) against `url`, saving each scenario's checks
 * with `--output-dir` (`<dir>/server-<scenario>-<timestamp>/checks.json`, the suite's
 * structured output), and read them back: scenario → outcome. A scenario without a
 * checks.json (it crashed before saving) is a failure.
 */
async function suite(s: Scope, label: string, url: string, scenarios: string[], extra: string[] = []): Promise<{ done: Done; outcomes: Map<string, Outcome> }> {
  const out = join(s.dir, `conformance-${label}`);
  mkdirSync(out);
  const done = await conformance(['server', '--url', url, '--suite', 'all', '--output-dir', out, ...extra]);
  assert.notEqual(done.status, null, `${label}: the suite did not finish\n${done.stdout.slice(-3000)}\n${done.stderr.slice(-3000)}`);
  const saved = new Map<string, string>();
  for (const d of readdirSync(out)) {
    const name = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(d)?.[1];
    assert.ok(name !== undefined, `${label}: unexpected result directory ${d}`);
    assert.ok(!saved.has(name), `${label}: ${name} ran twice`);
    saved.set(name, join(out, d, 'checks.json'));
  }
  const outcomes = new Map<string, Outcome>();
  for (const name of scenarios) {
    const file = saved.get(name);
    if (file === undefined || !existsSync(file)) {
      outcomes.set(name, { pass: false, problems: ['no checks.json: the scenario did not run to completion'] });
      continue;
    }
    const checks = JSON.parse(readFileSync(file, 'utf8')) as Array<{ id: string; status: string; errorMessage?: string }>;
    const problems = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? ''}`);
    outcomes.set(name, { pass: checks.length > 0 && problems.length === 0, problems: checks.length === 0 ? ['no checks'] : problems });
  }
  assert.deepEqual([...saved.keys()].filter((n) => !scenarios.includes(n)), [], `${label}: scenarios not in \`list --server\``);
  return { done, outcomes };
}

/** The names of the failing scenarios, sorted. */
function failing(outcomes: Map<string, Outcome>): string[] {
  return [...outcomes].filter(([, o]) => !o.pass).map(([n]) => n).sort();
}

/**
 * A transparent HTTP forwarder that adds `Authorization: Bearer <token>` to every request.
 * The conformance suite 0.1.16 has no option to send a header (its `server` command takes
 * only --url, --scenario, --suite, --expected-failures, --output-dir, --spec-version,
 * --verbose, and its client is a bare `StreamableHTTPClientTransport(new URL(url))`), and the
 * gateway has no unauthenticated mode, so the suite talks to this forwarder and the
 * forwarder to the gateway. node:http on both sides (not fetch, which will not send a
 * caller-chosen `Host`): method, path, every header (including `Host` and `Origin`, so the
 * gateway's DNS-rebinding checks see what the suite sent) and the body go through unchanged;
 * the response's status, headers and body are streamed back as they arrive (SSE included);
 * a caller that goes away aborts the forwarded request (the gateway sees its stream close).
 */
async function authForwarder(s: Scope, token: string): Promise<{ port: number; target(port: number): void }> {
  let targetPort = 0;
  const hop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);
  const strip = (h: IncomingHttpHeaders): IncomingHttpHeaders => Object.fromEntries(Object.entries(h).filter(([k]) => !hop.has(k)));
  const server: Server = createServer((req, res) => {
    const up = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...strip(req.headers), authorization: `Bearer ${token}` } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, strip(upRes.headers));
      res.flushHeaders();
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('forwarder: the gateway is unreachable');
      else res.destroy();
    });
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.defer(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { port: (server.address() as AddressInfo).port, target: (p) => (targetPort = p) };
}

/** A running gateway (`mcp-attest gateway --config`), killed when the test ends if still running. */
async function startGateway(s: Scope, yaml: string, env: Record<string, string>): Promise<{ port: number; stderr(): string; stop(): Promise<number | null> }> {
  const file = join(s.dir, 'gateway.yaml');
  writeFileSync(file, `version: 1\nhome: ${JSON.stringify(s.home)}\nlisten: 127.0.0.1:0\n${yaml}`);
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  s.defer(async () => {
    // Still running (a failed assertion): SIGTERM first so that it stops its upstream
    // children too, SIGKILL if it does not exit; then stop reading a pipe an orphan may hold.
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    proc.stderr.destroy();
  });
  const port = await waitFor(`the gateway to listen (stderr: ${err})`, () => {
    if (proc.exitCode !== null) throw new Error(`the gateway exited ${proc.exitCode}: ${err}`);
    const m = /mcp-attest: gateway listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(err);
    return m === null ? null : Number(m[1]);
  }, 20_000);
  return {
    port, stderr: () => err,
    stop: () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** conformance-baseline.yml: `server` is the suite's --expected-failures list; `gateway` is ours (the suite ignores it). */
interface Baseline { server: string[]; gateway?: Array<{ scenario: string; upstream: 'local' | 'remote' | 'both'; reason: string }> }

test('the official MCP conformance suite: every scenario that passes directly passes through the gateway (stdio and HTTP upstreams)', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const baseline = parseYaml(readFileSync(BASELINE, 'utf8')) as Baseline;
  const gatewayBugs = baseline.gateway ?? [];
  const listed = await conformance(['list', '--server']);
  assert.equal(listed.status, 0, `conformance list: ${listed.stderr}`);
  const scenarios = [...listed.stdout.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]!);
  assert.equal(scenarios.length, 32, listed.stdout);
  assert.deepEqual(baseline.server.filter((n) => !scenarios.includes(n)), [], 'baseline names are scenarios');
  for (const g of gatewayBugs) assert.match(g.reason, /^gateway bug: /, `${g.scenario}: a gateway entry is a gateway bug`);

  // Direct: server-everything in its own Streamable HTTP mode. The suite's baseline-aware
  // exit code (0: every failure expected, no stale entry), and the same read from its output.
  const url = await everythingHttp(s);
  const direct = await suite(s, 'direct', url, scenarios, ['--expected-failures', BASELINE]);
  const directFailing = failing(direct.outcomes);
  const explain = (o: Map<string, Outcome>, names: string[]) => names.map((n) => `${n}: ${o.get(n)?.problems.join(' | ')}`).join('\n');
  assert.deepEqual(directFailing, [...baseline.server].sort(), `direct failures differ from the baseline:\n${explain(direct.outcomes, directFailing)}`);
  assert.equal(direct.done.status, 0, `the suite's own baseline check failed:\n${direct.done.stdout.slice(-3000)}`);
  const passing = scenarios.filter((n) => direct.outcomes.get(n)!.pass);
  assert.ok(passing.length >= 10, `only ${passing.length} scenarios pass directly`);

  // Through the gateway: the suite → the header-adding forwarder → the gateway → upstream.
  // The gateway accepts the Host and Origin the suite sends to the forwarder (its defaults
  // name only its own port), so that dns-rebinding-protection tests the gateway's checks.
  const fwd = await authForwarder(s, TOKEN);
  const gw = await startGateway(s, [
    'checkpointMs: 200',
    `allowedHosts: ["127.0.0.1:${fwd.port}", "localhost:${fwd.port}"]`,
    `allowedOrigins: ["http://127.0.0.1:${fwd.port}", "http://localhost:${fwd.port}"]`,
    'callers:\n  - {principal: conformance, token: {env: CONFORMANCE_TOKEN}}',
    'upstreams:',
    // One principal opens a session per scenario and leaves it open: it may hold every process (docs/gateway.md).
    `  - {name: local, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}], maxProcessesPerPrincipal: 64}`,
    `  - {name: remote, url: ${JSON.stringify(url)}}`,
    '',
  ].join('\n'), { CONFORMANCE_TOKEN: TOKEN });
  fwd.target(gw.port);

  const report: string[] = [`direct: ${passing.length}/${scenarios.length} pass`];
  for (const name of ['local', 'remote'] as const) {
    const through = await suite(s, name, `http://127.0.0.1:${fwd.port}/${name}/mcp`, scenarios);
    const known = new Set(gatewayBugs.filter((g) => g.upstream === name || g.upstream === 'both').map((g) => g.scenario));
    const lost = passing.filter((n) => !through.outcomes.get(n)!.pass);
    assert.deepEqual(lost.filter((n) => !known.has(n)), [],
      `${name}: scenarios that pass directly but fail through the gateway:\n${explain(through.outcomes, lost)}\n--- gateway stderr (tail) ---\n${gw.stderr().slice(-4000)}`);
    assert.deepEqual([...known].filter((n) => through.outcomes.get(n)!.pass), [], `${name}: stale gateway baseline entries (they pass now)`);
    const gained = failing(direct.outcomes).filter((n) => through.outcomes.get(n)!.pass);
    // What fails in both fails the same way: the same checks (status and id) fail.
    const ids = (o: Outcome) => o.problems.map((p) => p.split(':')[0]).sort();
    for (const n of failing(direct.outcomes).filter((x) => !through.outcomes.get(x)!.pass)) {
      assert.deepEqual(ids(through.outcomes.get(n)!), ids(direct.outcomes.get(n)!), `${name} ${n}: fails differently through the gateway:\n${explain(through.outcomes, [n])}\ndirectly:\n${explain(direct.outcomes, [n])}`);
    }
    // The gateway validates Host (server-everything does not): it refuses Host evil.example.com.
    assert.ok(through.outcomes.get('dns-rebinding-protection')!.pass, `${name}: ${explain(through.outcomes, ['dns-rebinding-protection'])}`);
    report.push(`${name}: ${scenarios.length - failing(through.outcomes).length}/${scenarios.length} pass${gained.length > 0 ? ` (also ${gained.join(', ')})` : ''}`);
  }
  t.diagnostic(report.join('; '));

  assert.equal(await gw.stop(), 0, gw.stderr().slice(-3000));
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.deepEqual(codes(v.report), []);
  assert.ok(v.report.calls >= 2, 'the suite\'s tools/call scenarios were attested');
});

test('the Inspector CLI over HTTP through the gateway with an Authorization header; the log then verifies', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const gw = await startGateway(s, [
    'checkpointMs: 200',
    'callers:\n  - {principal: inspector, token: {env: INSPECTOR_TOKEN}}',
    `upstreams:\n  - {name: everything, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]}`,
    '',
  ].join('\n'), { INSPECTOR_TOKEN: TOKEN });
  const inspector = realpathSync(INSPECTOR);
  const endpoint = `http://127.0.0.1:${gw.port}/everything/mcp`;
  // HOME in the scope: the Inspector may create its catalog (~/.mcp-inspector) there.
  const env = { ...process.env, HOME: s.dir };
  const call = (header: string[]) => run([inspector, '--cli', '--transport', 'http', '--server-url', endpoint, ...header,
    '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=hi'], env, 60_000);

  const ok = await call(['--header', `Authorization: Bearer ${TOKEN}`]);
  assert.equal(ok.status, 0, `inspector: ${ok.stdout}\n${ok.stderr}`);
  const result = JSON.parse(ok.stdout) as { content: unknown; isError?: boolean; _meta?: Record<string, { callId?: string; receiptIndex?: string }> };
  assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: hi' }]);
  assert.notEqual(result.isError, true);
  const ref = result._meta?.[RECEIPT_KEY];
  assert.ok(ref?.callId && ref.receiptIndex, `the receipt reference: ${ok.stdout}`);

  // Without the header the gateway answers 401 with `WWW-Authenticate: Bearer`: the Inspector
  // takes that as "OAuth required", cannot run it without a TTY, and fails.
  const refused = await call([]);
  assert.notEqual(refused.status, 0, `without a token: ${refused.stdout}`);
  assert.match(refused.stdout + refused.stderr, /"code":"auth_required"/);

  // SIGTERM: the gateway drains and writes its final checkpoint; the log verifies.
  assert.equal(await gw.stop(), 0, gw.stderr().slice(-3000));
  const rows = logShow(s.home);
  assert.deepEqual(rows.map((r) => [r.tool, r.status, r.call_id]), [['echo', 'executed', ref.callId]]);
  const v = verify(s.home, exportTrust(s.home));
  assert.equal(v.status, 0, v.stdout);
  assert.deepEqual(codes(v.report), []);
  assert.deepEqual([v.report.calls, v.report.receipts, v.report.unanswered, v.report.inFlight, v.report.checkpointSize], [1, 1, 0, 0, v.report.size]);
});
