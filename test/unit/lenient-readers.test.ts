/**
 * Self-test of the SDK reading models in test/support/lenient-readers.ts and of the stand-in
 * upstreams test/e2e/fixtures/{python,go}-like-upstream.mjs that run them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { goSdkRead, pythonSdkRead } from '../support/lenient-readers.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../e2e/fixtures');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...parts: Array<string | number[] | Uint8Array>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...enc(p)] : [...p])));
const req = (id: number, method: string, params?: object): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
const FATAL = { unreadable: true, fatal: true };
const fatal = (reason: string) => ({ ...FATAL, reason });

test('python: "\\n", "\\r\\n" and a bare "\\r" each end a line; an empty line is unreadable', () => {
  const read = pythonSdkRead(enc(`${req(1, 'ping')}\r${req(2, 'ping')}\r\n${req(3, 'ping')}\n\n`));
  assert.deepEqual(read.slice(0, 3).map((m) => (m as { id: number }).id), [1, 2, 3]);
  assert.equal(read.length, 4);
  assert.equal((read[3] as { unreadable: boolean }).unreadable, true);
});

test('go: a streaming decoder: "\\r" or "\\n" after a value, any whitespace before one', () => {
  assert.deepEqual(
    goSdkRead(enc(`${req(1, 'ping')}\r${req(2, 'ping')}\n \t\r\n${req(3, 'ping')}`)),
    [1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'ping' })),
  );
  // Anything else right after a value ends the session (transport.go newIOConn).
  assert.deepEqual(goSdkRead(enc(`${req(1, 'ping')} ${req(2, 'ping')}\n${req(3, 'ping')}\n`)), [
    fatal('invalid trailing data at the end of stream'),
  ]);
  assert.deepEqual(goSdkRead(enc(`${req(1, 'ping')}${req(2, 'ping')}\n`)), [fatal('invalid trailing data at the end of stream')]);
});

test('go: member names fold (go-sdk <= v1.3.0), the last match wins; exact from v1.3.1', () => {
  const line = enc('{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call","params":{"name":"x"}}\n');
  assert.deepEqual(goSdkRead(line), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }]);
  assert.deepEqual(goSdkRead(line, { fieldMatching: 'exact' }), [{ jsonrpc: '2.0', id: 1, method: 'ping', params: { name: 'x' } }]);
  // Unicode simple folding: LONG S U+017F ~ s, KELVIN SIGN U+212A ~ k.
  const unicode = enc('{"jsonrpc":"2.0","id":1,"method":"tools/call","param\u017f":{"NAME":"x","_meta":{"a":1},"_META":{"b":2}}}\n');
  assert.deepEqual(goSdkRead(unicode), [
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', _meta: { a: 1, b: 2 } } },
  ]);
  assert.deepEqual(goSdkRead(enc('{"jsonrpc":"2.0","id":1,"method":"a","\u212aey":1,"params":{"\u212a":2}}\n')), [
    { jsonrpc: '2.0', id: 1, method: 'a', params: { '\u212a': 2 } }, // inside generic maps, keys stay exact
  ]);
  // Python matches exactly: the case variant is just an extra member.
  assert.deepEqual(pythonSdkRead(line), [
    { jsonrpc: '2.0', id: 1, method: 'ping', METHOD: 'tools/call', params: { name: 'x' } },
  ]);
});

test('both: a duplicate member, the last one wins', () => {
  const line = enc(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","arguments":{},"name":"danger"}}\n`);
  for (const read of [pythonSdkRead(line), goSdkRead(line)]) {
    assert.deepEqual(read, [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'danger', arguments: {} } }]);
  }
  // Go: null into a string field changes nothing, so a later "name": null keeps the earlier name.
  const nulled = enc('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":null}}\n');
  assert.deepEqual(goSdkRead(nulled), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a' } }]);
  assert.deepEqual(pythonSdkRead(nulled), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: null } }]);
});

test('numbers: 2^53+1 exact in Python (an int), 2^53 in Go (float64; ids are int64(float64))', () => {
  const line = enc('{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"n","arguments":{"v":9007199254740993,"f":1.5}}}\n');
  assert.deepEqual(pythonSdkRead(line), [{
    jsonrpc: '2.0', id: 9007199254740993n, method: 'tools/call', params: { name: 'n', arguments: { v: 9007199254740993n, f: 1.5 } },
  }]);
  assert.deepEqual(goSdkRead(line), [{
    jsonrpc: '2.0', id: 9007199254740992, method: 'tools/call', params: { name: 'n', arguments: { v: 9007199254740992, f: 1.5 } },
  }]);
  assert.equal((goSdkRead(enc(req(2.7 as number, 'ping')))[0] as { id: number }).id, 2);
});

test('NaN and Infinity: read by Python (jiter allow_inf_nan), fatal for Go', () => {
  const line = enc('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"n","arguments":{"a":NaN,"b":-Infinity}}}\n');
  const [msg] = pythonSdkRead(line) as Array<{ params: { arguments: { a: number; b: number } } }>;
  assert.ok(Number.isNaN(msg!.params.arguments.a));
  assert.equal(msg!.params.arguments.b, -Infinity);
  assert.deepEqual(goSdkRead(line).map((m) => (m as { fatal?: boolean }).fatal), [true]);
});

test('invalid UTF-8: Python one U+FFFD per broken sequence, Go one per byte; a BOM is unreadable', () => {
  // "a", E2 82 (a truncated 3-byte sequence), "A", FF, then a lone surrogate escape.
  const line = bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a', [0xe2, 0x82], 'A', [0xff], '"}}\n');
  assert.deepEqual(pythonSdkRead(line), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a\ufffdA\ufffd' } }]);
  assert.deepEqual(goSdkRead(line), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a\ufffd\ufffdA\ufffd' } }]);
  // Before python-sdk PR #2302 (errors="strict") the bad byte ends the server.
  assert.deepEqual(pythonSdkRead(bytes(`${req(1, 'ping')}\n`, line), { invalidUtf8: 'strict' }).map((m) => (m as { fatal?: boolean }).fatal), [true]);
  // A lone surrogate escape: an error for jiter, U+FFFD for Go.
  const lone = enc('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x\\ud800"}}\n');
  assert.equal((pythonSdkRead(lone)[0] as { unreadable?: boolean }).unreadable, true);
  assert.deepEqual(goSdkRead(lone), [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x\ufffd' } }]);
  const bom = bytes([0xef, 0xbb, 0xbf], `${req(1, 'ping')}\n`);
  assert.equal((pythonSdkRead(bom)[0] as { unreadable?: boolean }).unreadable, true);
  assert.equal((goSdkRead(bom)[0] as { fatal?: boolean }).fatal, true);
});

test('an unreadable message: Python reads on, Go stops there', () => {
  const stream = enc(`not json\n${req(1, 'ping')}\n{"jsonrpc":"1.0","id":2,"method":"ping"}\n${req(3, 'ping')}\n`);
  const py = pythonSdkRead(stream) as Array<{ unreadable?: boolean; id?: number }>;
  assert.deepEqual(py.map((m) => m.unreadable ?? m.id), [true, 1, true, 3]);
  const go = goSdkRead(enc(`${req(1, 'ping')}\n{"jsonrpc":"1.0","id":2,"method":"ping"}\n${req(3, 'ping')}\n`));
  assert.deepEqual(go, [{ jsonrpc: '2.0', id: 1, method: 'ping' }, fatal('invalid message version tag "1.0"')]);
  // Go: a tools/call whose params the typed struct rejects is read (answered invalid params).
  assert.deepEqual(goSdkRead(enc(`${req(4, 'tools/call', { name: 5 })}\n`)), [{
    jsonrpc: '2.0', id: 4, method: 'tools/call', params: { unreadable: true, reason: 'cannot unmarshal number into name (string)' },
  }]);
});

/** Runs a stand-in upstream with `input` on stdin; returns its replies, record and exit code. */
async function runUpstream(script: string, input: Uint8Array, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'lenient-upstream-'));
  try {
    const record = join(dir, 'record.jsonl');
    const child = spawn(process.execPath, [join(FIXTURES, script), record, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stdin.on('error', () => { /* the Go stand-in may stop reading early */ });
    child.stdin.end(input);
    const code = await new Promise<number | null>((res) => child.on('close', res));
    let recorded: unknown[] = [];
    try {
      recorded = readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l).read);
    } catch { /* nothing recorded */ }
    return { out, replies: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)), recorded, code };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SESSION = [
  req(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } }),
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","METHOD":"nope","params":{"name":"echo","NAME":"other","arguments":{"n":9007199254740993}}}',
].join('\n');

test('python-like upstream: records what it read and answers as the Python SDK', async () => {
  const { out, replies, recorded, code } = await runUpstream('python-like-upstream.mjs', enc(`${SESSION}\rnot json\n${req(3, 'tools/list')}\n`));
  assert.equal(code, 0);
  assert.match(out, /"arguments":\{"n":9007199254740993\}/); // written back exactly, as Python would
  assert.equal(recorded.length, 5);
  assert.deepEqual(recorded[2], {
    jsonrpc: '2.0', id: 2, method: 'tools/call', METHOD: 'nope',
    params: { name: 'echo', NAME: 'other', arguments: { n: { $bigint: '9007199254740993' } } },
  });
  assert.deepEqual(recorded[3], { unreadable: true, reason: 'bad literal at 0' });
  assert.deepEqual(replies.map((r) => r.id ?? r.method), [1, 2, 'notifications/message', 3]);
  assert.deepEqual(replies[0].result.serverInfo.name, 'python-like');
  assert.equal(replies[0].result.protocolVersion, '2025-06-18');
  assert.deepEqual(replies[1].result.structuredContent, { ran: { name: 'echo', arguments: { n: 9007199254740993 } } });
  assert.deepEqual(replies[2].params, { level: 'error', logger: 'mcp.server.exception_handler', data: 'Internal Server Error' });
  assert.deepEqual(replies[3].result.tools, [{ name: 'echo', inputSchema: { type: 'object' } }]);
});

test('go-like upstream: records what it read, answers as the Go SDK, ends at the first unreadable message', async () => {
  const input = enc(`${SESSION}\r${req(3, 'nope')}\n${req(4, 'ping')} ${req(5, 'ping')}\n${req(6, 'ping')}\n`);
  const { replies, recorded, code } = await runUpstream('go-like-upstream.mjs', input);
  assert.equal(code, 1);
  assert.deepEqual(recorded.slice(1), [
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    // Not a tools/call any more, so its params are a generic map: exact keys, float64 numbers.
    { jsonrpc: '2.0', id: 2, method: 'nope', params: { name: 'echo', NAME: 'other', arguments: { n: 9007199254740992 } } },
    { jsonrpc: '2.0', id: 3, method: 'nope' },
    fatal('invalid trailing data at the end of stream'),
  ]);
  assert.equal(replies[0].result.serverInfo.name, 'go-like');
  assert.deepEqual(replies.slice(1), [
    { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'method not found: "nope"' } },
    { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'method not found: "nope"' } },
  ]);

  const exact = await runUpstream('go-like-upstream.mjs', enc(`${SESSION}\n`), ['--exact']);
  assert.equal(exact.code, 0);
  assert.deepEqual(exact.recorded[2], { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { n: 9007199254740992 } } });
  assert.deepEqual(exact.replies[1].result.structuredContent, { ran: { name: 'echo', arguments: { n: 9007199254740992 } } });
});
