/**
 * A second real client: the MCP Inspector CLI 2.12.0 (mcp.md §8) run against
 * server-everything directly and through `mcp-attest proxy`. Its printed results must be
 * the same (apart from the receipt reference); the log the proxy sessions leave verifies.
 * The Inspector strips every `--` from the server command line: the proxy must not need it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import {
  CLI, EVERYTHING, INSPECTOR, RECEIPT_KEY, ROOT, codes, exportTrust, logShow, readLog, scope, stripReceipt, verify, waitCheckpointed,
} from './helpers.js';

const inspectorJs = realpathSync(INSPECTOR);

/**
 * Run the Inspector CLI against `server` (argv) with `method` flags (bounded); its exit code
 * and the JSON it printed (a result on stdout, or an `{"error":...}` line on stderr).
 */
function inspect(server: string[], method: string[]): Promise<{ status: number; output: Record<string, unknown> }> {
  const child = spawn(process.execPath, [inspectorJs, '--cli', ...server, ...method], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => child.on('close', (status) => {
    clearTimeout(timer);
    const json = stdout.trim() || stderr.split('\n').filter((l) => l.startsWith('{')).pop() || '';
    if (status === null || !json.startsWith('{')) return reject(new Error(`inspector exited ${status}, no JSON:\n${stdout}\n${stderr}`));
    resolve({ status, output: JSON.parse(json) as Record<string, unknown> });
  }));
}

const CASES: Array<{ label: string; method: string[]; status: number }> = [
  { label: 'echo', method: ['--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=hi from the inspector'], status: 0 },
  { label: 'get-sum', method: ['--method', 'tools/call', '--tool-name', 'get-sum', '--tool-arg', 'a=2', '--tool-arg', 'b=40'], status: 0 },
  { label: 'tool error', method: ['--method', 'tools/call', '--tool-name', 'get-sum', '--tool-arg', 'a=2', '--tool-arg', 'b=x'], status: 5 },
];

test('the Inspector CLI sees the same tools and results through the proxy; the log verifies', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const direct = [process.execPath, EVERYTHING];
  // With `--` as a user would write it: the Inspector strips it before starting the proxy.
  const proxied = [process.execPath, CLI, 'proxy', '--home', s.home, '--', process.execPath, EVERYTHING];

  const [listDirect, listProxied] = await Promise.all([inspect(direct, ['--method', 'tools/list']), inspect(proxied, ['--method', 'tools/list'])]);
  assert.equal(listProxied.status, 0);
  assert.deepEqual(listProxied.output, listDirect.output);
  assert.ok((listDirect.output['tools'] as Array<{ name: string }>).some((x) => x.name === 'echo'));
  assert.equal(readLog(s.home).records, 0, 'tools/list is not a tool call: nothing logged');

  for (const c of CASES) {
    const [want, got] = await Promise.all([inspect(direct, c.method), inspect(proxied, c.method)]);
    assert.deepEqual([want.status, got.status], [c.status, c.status], c.label);
    const ref = (got.output['_meta'] as Record<string, Record<string, string>>)[RECEIPT_KEY];
    assert.ok(ref?.['callId'] && ref['receiptIndex'], `${c.label}: receipt reference`);
    assert.deepEqual(stripReceipt(got.output), want.output, c.label);
    if (c.label === 'echo') assert.deepEqual(want.output['content'], [{ type: 'text', text: 'Echo: hi from the inspector' }]);
  }

  // Each Inspector run was one proxy session appending to the same home.
  await waitCheckpointed(s.home, 6);
  const rows = logShow(s.home);
  assert.deepEqual(rows.map((r) => [r.tool, r.status, r.reason]), [['echo', 'executed', null], ['get-sum', 'executed', null], ['get-sum', 'errored', 'tool_error']]);
  const { status, report } = verify(s.home, exportTrust(s.home));
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.size, report.checkpointSize, report.calls, report.receipts, report.unanswered, report.inFlight], ['7', '7', 3, 3, 0, 0]);
  assert.deepEqual(codes(report), []);
  assert.ok(readLog(s.home).checkpoints.length >= 3, 'every session wrote its final checkpoint');
});

test('an unknown tool fails the same way (Inspector exit 5) through the proxy and is never called', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const method = ['--method', 'tools/call', '--tool-name', 'no-such-tool'];
  const [want, got] = await Promise.all([
    inspect([process.execPath, EVERYTHING], method),
    inspect([process.execPath, CLI, 'proxy', '--home', s.home, process.execPath, EVERYTHING], method),
  ]);
  assert.deepEqual([want.status, got.status], [5, 5]);
  assert.deepEqual(got.output, want.output);
  assert.deepEqual(logShow(s.home), []);
});
