/**
 * Hostile wire, root causes 1 and 2 (docs/wire.md §2, §3), with real processes: the
 * gatekeeper and the client proxy in front of stand-in upstreams that read stdio the way
 * the official Python SDK (universal newlines, jiter: NaN, exact big integers) and Go SDK
 * (streaming decoder, case-insensitive struct fields) do (test/e2e/fixtures/*-like-upstream.mjs,
 * SDK sources cited there). Each attack worked against the relays before this fix; now the
 * upstream never runs an unattested or differently-read call, the log records each refusal,
 * and the relay lives on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAttestation } from '../../src/attestation/verify.js';
import { RawPeer, ROOT, readLog, refusals, scope, type Scope } from './helpers.js';
import { agentKey, attest, gatekeeperArgs, serverHome, writePolicy } from './gate-helpers.js';

const FIXTURES = join(ROOT, 'test/e2e/fixtures');
const UPSTREAMS = { python: 'python-like-upstream.mjs', go: 'go-like-upstream.mjs' } as const;

/** A stand-in upstream's argv (after `node`) and what it read, message by message. */
function lenientUpstream(s: Scope, kind: keyof typeof UPSTREAMS): { argv: string[]; read(): Array<Record<string, unknown>> } {
  const record = join(s.dir, `${kind}-read.jsonl`);
  writeFileSync(record, '');
  const read = (): Array<Record<string, unknown>> => readFileSync(record, 'utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { read: Record<string, unknown> }).read);
  return { argv: [join(FIXTURES, UPSTREAMS[kind]), record], read };
}

/** The JSON-RPC ids of the attacks of {@link gateAttacks}, in order. */
const ATTACK_IDS = [11, 12, 13, 14, 15, 16, 17, 21, 22, 23, 24];
const call = (id: number, params: string): string => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":${params}}`;
const note = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

/** Attacks on a gatekeeper that requires attestations: [what, bytes (LF added), the code refusing it]. */
async function gateAttacks(signer: Awaited<ReturnType<typeof agentKey>>['signer']): Promise<Array<[string, Buffer, string]>> {
  const forMessage = (m: string): Promise<string> => attest(signer, 'echo', { message: m }).then((a) => JSON.stringify(a));
  const big = JSON.stringify(await attest(signer, 'echo', { message: 'ok', amount: 9007199254740992 }));
  const empty = JSON.stringify(await attest(signer, 'echo', {}));
  const b = (s: string): Buffer => Buffer.from(s, 'utf8');
  return [
    // Root cause 1: a line one reader sees as harmless, another as an unattested call.
    ['bare CR: two lines to universal newlines', b(`${note}\r${call(11, '{"name":"echo","arguments":{"message":"smuggled"}}')}`), 'ERR_JSON_SYNTAX'],
    ['two values on one line', b(`${note} ${call(12, '{"name":"echo","arguments":{"message":"smuggled"}}')}`), 'ERR_JSON_SYNTAX'],
    ['NaN, which JSON.parse refuses and jiter reads', b(call(13, '{"name":"echo","arguments":{"message":"smuggled","n":NaN}}')), 'ERR_JSON_SYNTAX'],
    ['a METHOD member Go folds onto method', b(`{"jsonrpc":"2.0","id":14,"method":"ping","METHOD":"tools/call","params":{"name":"echo","arguments":{"message":"smuggled"}}}`), 'ERR_WIRE_MALFORMED'],
    ['a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b(call(15, '{"name":"echo","arguments":{"message":"smuggled"}}'))]), 'ERR_JSON_SYNTAX'],
    ['invalid UTF-8', Buffer.concat([b('{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'), Buffer.from([0xc3, 0x28]), b('"}}}')]), 'ERR_ENCODING_INVALID'],
    ['a NUL byte', b(call(17, '{"name":"echo","arguments":{"message":"smug\u0000gled"}}')), 'ERR_JSON_SYNTAX'],
    // Root cause 2: a valid attestation, arguments another reader reads differently.
    ['an integer beyond 2^53 (exact to Python)', b(call(21, `{"name":"echo","arguments":{"message":"ok","amount":9007199254740993},"_meta":{"attestation":${big}}}`)), 'ERR_JSON_NUMBER'],
    ['a duplicate member', b(call(22, `{"name":"echo","arguments":{"message":"evil","message":"ok"},"_meta":{"attestation":${await forMessage('ok')}}}`)), 'ERR_JSON_DUPLICATE_KEY'],
    ['an ARGUMENTS member Go folds onto arguments', b(call(23, `{"name":"echo","arguments":{},"ARGUMENTS":{"message":"evil"},"_meta":{"attestation":${empty}}}`)), 'ERR_WIRE_AMBIGUOUS'],
    ['a Kelvin-sign member name folding onto another', b(call(24, `{"name":"echo","arguments":{"message":"ok","\u212aey":1,"key":2},"_meta":{"attestation":${await forMessage('ok')}}}`)), 'ERR_WIRE_AMBIGUOUS'],
  ];
}

for (const kind of ['python', 'go'] as const) {
  test(`gatekeeper before a ${kind}-like upstream: no attack runs a call, each is refused and logged, the marker call runs`, { timeout: 90_000 }, async (t) => {
    const s = scope(t);
    const upstream = lenientUpstream(s, kind);
    const { signer, issuer } = await agentKey();
    const policy = writePolicy(s, [issuer]);
    const proc = spawn(process.execPath, gatekeeperArgs(s, policy, upstream.argv), { cwd: ROOT, stdio: 'pipe' });
    const peer = new RawPeer(proc);
    s.defer(async () => { if (proc.exitCode === null) proc.kill('SIGKILL'); await peer.exited; });
    const attacks = await gateAttacks(signer);
    for (const [, bytes] of attacks) proc.stdin.write(Buffer.concat([bytes, Buffer.from('\n')]));
    const marker = await attest(signer, 'echo', { message: 'marker' });
    peer.send({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'echo', arguments: { message: 'marker' }, _meta: { attestation: marker } } });
    const ran = JSON.parse(await peer.response(99)) as { result?: { structuredContent?: unknown } };
    assert.deepEqual(ran.result?.structuredContent, { ran: { name: 'echo', arguments: { message: 'marker' } } });

    const calls = upstream.read().filter((m) => m['method'] === 'tools/call');
    assert.equal(calls.length, 1, `only the marker ran: ${JSON.stringify(calls).slice(0, 500)}`);
    assert.deepEqual(refusals(serverHome(s)), attacks.map(([, , code]) => ['client', code]));
    // Each attack was answered with an error naming its code: addressed to its id where
    // JSON.parse reads one, else to id null (JSON-RPC's answer to what cannot be parsed).
    const errors = peer.lines.map((l) => JSON.parse(l) as { id: unknown; error?: { data?: { code?: string } } }).filter((m) => m.error);
    assert.deepEqual(errors.map((m) => [m.id, m.error?.data?.code]), attacks.map(([, , code], i) => [[14, 16, 21, 22, 23, 24].includes(ATTACK_IDS[i]!) ? ATTACK_IDS[i] : null, code]));
    proc.stdin.end();
    assert.equal(await peer.exited, 0);
  });
}

test('client proxy before a python-like upstream: every call the upstream runs is the one attested', { timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const upstream = lenientUpstream(s, 'python');
  const peer = RawPeer.proxy(s, upstream.argv, ['--attach', 'never']);
  const lines = [
    call(1, '{"name":"echo","arguments":{"amount":9007199254740993}}'),
    call(2, '{"name":"echo","arguments":{"to":"eve","to":"bob"}}'),
    `${note}\r${call(3, '{"name":"echo","arguments":{"smuggled":true}}')}`,
    call(4, '{"name":"echo","arguments":{"s":"\u2028\u0085 caf\u00e9","n":1.50,"e":1E2,"deep":[[{"x":null}]]}}'),
    call(5, '{"name":"echo","arguments":{"amount":"9007199254740993"}}'),
  ];
  for (const l of lines) peer.proc.stdin.write(l + '\n');
  for (const id of [1, 2, 4, 5]) await peer.response(id); // 3 is answered to id null: its line does not parse
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);

  const ran = upstream.read().filter((m) => m['method'] === 'tools/call') as unknown as Array<{ params: { arguments: unknown } }>;
  const attested = readLog(s.home).entries.filter((e) => e['type'] === 'mcp-attest/attestation@1');
  assert.equal(ran.length, 2, 'the two unambiguous calls ran, nothing else');
  assert.equal(attested.length, 2);
  for (const [i, r] of ran.entries()) {
    const server = attested[i]!['server'] as { fingerprint: string };
    const v = await verifyAttestation(attested[i]!['attestation'] as never, { keys: () => Promise.resolve(null), args: r.params.arguments, serverFingerprint: server.fingerprint, toolName: 'echo' });
    const commitment = v.checks.find((c) => c.dimension === 'args_commitment');
    assert.equal(commitment?.status, 'pass', `call ${i}: the arguments the upstream read are the ones attested: ${JSON.stringify(r.params.arguments)}`);
  }
  assert.deepEqual(refusals(s.home).map(([, c]) => c), ['ERR_JSON_NUMBER', 'ERR_JSON_DUPLICATE_KEY', 'ERR_JSON_SYNTAX']);
});
