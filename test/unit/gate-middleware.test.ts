/**
 * The in-process gate (src/gate/middleware.ts) around real SDK servers, driven by the real SDK
 * Client over `InMemoryTransport.createLinkedPair()`: allowed calls carry a verifiable
 * response receipt, each SEP-2787 refusal reason comes back as the SEP error result without
 * running the handler, tools registered before or after wrapping (McpServer and low-level
 * Server) are gated alike, the capability extension reaches the client, reload applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolRequestSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { issueAttestation, type AttestationInput } from '../../src/attestation/build.js';
import type { Attestation } from '../../src/attestation/schema.js';
import type { KeyResolver } from '../../src/envelope/signature.js';
import type { Signer } from '../../src/envelope/sign.js';
import { exportPublicJwk } from '../../src/keys/material.js';
import { policyKeyResolver, type TrustPolicy } from '../../src/verify/policy.js';
import { verifyReceipt } from '../../src/receipt/verify.js';
import { isAttestError } from '../../src/errors.js';
import { parseGatePolicy, type GatePolicy } from '../../src/gate/policy.js';
import { ATTESTATION_EXTENSION, REFUSAL_META_KEY, RESPONSE_RECEIPT_META_KEY, committedResult, responseReceipt } from '../../src/gate/wire.js';
import { withAttestationGate, type GateDecisionEvent, type GateMiddlewareOptions } from '../../src/gate/middleware.js';
import { signerFor } from './keys-helper.js';

const T0 = Date.parse('2026-11-21T12:00:00Z') / 1000;
const FP = 'sha256:' + 'ab'.repeat(32);
const OTHER_FP = 'sha256:' + 'cd'.repeat(32);
const TRACE = { 'example.com/trace': 't-1' };

interface Keys { agent: Signer; jwk: object; server: Signer; serverKeys: KeyResolver }
let cached: Promise<Keys> | undefined;

/** The agent's ES256 key (trusted by the policies below) and the server's EdDSA receipt key. */
function keys(): Promise<Keys> {
  cached ??= (async () => {
    const agent = await signerFor('ES256');
    const pub = await agent.keys({ iss: 'issuer://t', alg: 'ES256', keyId: 'k1' });
    const server = await signerFor('EdDSA');
    return { agent: agent.signer, jwk: await exportPublicJwk(pub!), server: server.signer, serverKeys: server.keys };
  })();
  return cached;
}

/** A gate policy trusting the agent's key, as policy text would give it, and its key resolver. */
async function policyWith(extra: Record<string, unknown> = {}): Promise<{ policy: GatePolicy; keys: KeyResolver }> {
  const { jwk } = await keys();
  const policy = parseGatePolicy(JSON.stringify({ version: 1, issuers: [{ iss: 'issuer://t', alg: 'ES256', keyId: 'k1', publicKeyJwk: jwk }], ...extra }));
  return { policy, keys: policyKeyResolver({ issuers: policy.issuers } as TrustPolicy) };
}

let nonce = 0;
/** An attestation from the trusted agent (or `signer`) for `echo {text: 'hi'}` at T0, overridable. */
async function attest(over: Partial<AttestationInput> = {}, signer?: Signer): Promise<Attestation> {
  const input: AttestationInput = { tool: 'echo', args: { text: 'hi' }, serverFingerprint: FP, intent: 'test', now: T0, nonceBytes: new Uint8Array(16).fill(++nonce), ...over };
  return issueAttestation(signer ?? (await keys()).agent, input);
}

/** Connect a client to `server`, recording every message the server sends. */
async function connect(server: McpServer | Server): Promise<{ client: Client; sent: JSONRPCMessage[] }> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const sent: JSONRPCMessage[] = [];
  const send = serverSide.send.bind(serverSide);
  serverSide.send = async (m, opts) => {
    sent.push(structuredClone(m));
    return send(m, opts);
  };
  await server.connect(serverSide);
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(clientSide);
  return { client, sent };
}

interface Harness { client: Client; sent: JSONRPCMessage[]; runs: { echo: number }; events: GateDecisionEvent[]; gate: ReturnType<typeof withAttestationGate>; server: McpServer }

/** An McpServer with an `echo` tool (registered after wrapping when `late`), gated under `policyExtra`. */
async function harness(policyExtra: Record<string, unknown> = {}, o: Partial<GateMiddlewareOptions> & { late?: boolean } = {}): Promise<Harness> {
  const runs = { echo: 0 };
  const events: GateDecisionEvent[] = [];
  const server = new McpServer({ name: 'gated', version: '1.0.0' });
  const register = (): void => {
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => {
      runs.echo++;
      return { content: [{ type: 'text', text }], _meta: TRACE };
    });
  };
  if (o.late !== true) register();
  const p = await policyWith(policyExtra);
  const gate = withAttestationGate(server, { ...p, serverFingerprint: FP, signer: (await keys()).server, now: () => T0 + 1, onDecision: (e) => events.push(e), ...o });
  if (o.late === true) register();
  return { ...(await connect(server)), runs, events, gate, server };
}

/** Call a tool with an attestation (none when undefined). */
function call(client: Client, attestation: Attestation | undefined, name = 'echo', args: Record<string, unknown> = { text: 'hi' }): Promise<Record<string, unknown>> {
  return client.callTool({ name, arguments: args, ...(attestation ? { _meta: { attestation } } : {}) }) as Promise<Record<string, unknown>>;
}

/** The SEP-2787 reason of a refusal result; fails unless it has exactly the SEP shape. */
function refusalReason(result: Record<string, unknown>): { reason: string; code: string } {
  assert.equal(result['isError'], true);
  const content = result['content'] as Array<{ type: string; text: string }>;
  assert.equal(content.length, 1);
  const body = JSON.parse(content[0]!.text) as { attestationError: boolean; reason: string };
  assert.deepEqual(Object.keys(body), ['attestationError', 'reason']);
  assert.equal(body.attestationError, true);
  const detail = (result['_meta'] as Record<string, { code: string }>)[REFUSAL_META_KEY]!;
  return { reason: body.reason, code: detail.code };
}

test('an allowed attested call returns the handler result plus a response receipt that verifies', async () => {
  const h = await harness();
  const att = await attest();
  const result = await call(h.client, att);
  assert.deepEqual(result['content'], [{ type: 'text', text: 'hi' }]);
  assert.equal(result['isError'], undefined);
  const meta = result['_meta'] as Record<string, unknown>;
  assert.deepEqual(Object.keys(meta).sort(), [RESPONSE_RECEIPT_META_KEY, 'example.com/trace'].sort());
  assert.equal(meta['example.com/trace'], 't-1');
  const receipt = meta[RESPONSE_RECEIPT_META_KEY];
  const v = await verifyReceipt(JSON.stringify(receipt), { keys: (await keys()).serverKeys, attestation: att, result: committedResult(result) });
  assert.deepEqual(v.checks.filter((c) => c.status === 'fail'), []);
  assert.equal(v.ok, true);
  assert.equal(v.receipt?.outcomeDerived.status, 'executed');
  const altered = await verifyReceipt(JSON.stringify(receipt), { keys: (await keys()).serverKeys, attestation: att, result: { ...committedResult(result) as object, isError: true } });
  assert.equal(altered.ok, false);
  assert.equal(h.runs.echo, 1);
  assert.equal(h.events.length, 1);
  assert.equal(h.events[0]!.decision.allowed, true);
  assert.deepEqual(h.events[0]!.receipt, receipt);
});

interface RefusalCase { name: string; reason: string; code: string; policy?: Record<string, unknown>; attestation: () => Promise<Attestation | undefined>; tool?: string; args?: Record<string, unknown> }
const refusals: RefusalCase[] = [
  { name: 'missing attestation when required', reason: 'attestation_required', code: 'ERR_ATTESTATION_REQUIRED', attestation: async () => undefined },
  { name: 'untrusted issuer', reason: 'key_unavailable', code: 'ERR_KEY_UNAVAILABLE', attestation: async () => attest({}, { ...(await keys()).agent, iss: 'issuer://rogue' }) },
  { name: 'wrong key under a trusted key id', reason: 'signature_invalid', code: 'ERR_SIGNATURE_INVALID', attestation: async () => attest({}, (await signerFor('ES256')).signer) },
  { name: 'expired', reason: 'expired', code: 'ERR_TTL_EXPIRED', attestation: () => attest({ now: T0 - 400, expSeconds: 300 }) },
  { name: 'another server\'s fingerprint', reason: 'server_mismatch', code: 'ERR_SERVER_MISMATCH', attestation: () => attest({ serverFingerprint: OTHER_FP }) },
  { name: 'another tool', reason: 'tool_mismatch', code: 'ERR_TOOL_MISMATCH', attestation: () => attest({ tool: 'other' }) },
  { name: 'altered arguments', reason: 'args_commitment_mismatch', code: 'ERR_ARGS_COMMITMENT_MISMATCH', attestation: () => attest(), args: { text: 'bye' } },
  { name: 'denied tool (valid attestation)', reason: 'tool_mismatch', code: 'ERR_TOOL_DENIED', policy: { tools: { echo: { deny: true } } }, attestation: () => attest() },
  { name: 'missing required capability', reason: 'tool_mismatch', code: 'ERR_CAPABILITY_MISSING', policy: { tools: { echo: { requireCapability: ['text.echo'] } } }, attestation: () => attest({ requestedCapability: 'text.shout' }) },
];

for (const c of refusals) {
  test(`refused, handler not run: ${c.name} -> ${c.reason}`, async () => {
    const h = await harness(c.policy);
    const result = await call(h.client, await c.attestation(), c.tool, c.args);
    assert.deepEqual(refusalReason(result), { reason: c.reason, code: c.code });
    assert.equal(h.runs.echo, 0);
    assert.equal(h.events.length, 1);
    const d = h.events[0]!.decision;
    assert.ok(!d.allowed && d.reason === c.reason && d.code === c.code);
    assert.equal(h.events[0]!.receipt, undefined);
  });
}

test('replay: the same attestation twice runs the handler once, then nonce_replay', async () => {
  const h = await harness();
  const att = await attest();
  assert.equal((await call(h.client, att))['isError'], undefined);
  assert.deepEqual(refusalReason(await call(h.client, att)), { reason: 'nonce_replay', code: 'ERR_NONCE_REPLAY' });
  assert.equal(h.runs.echo, 1);
  assert.deepEqual(h.events.map((e) => e.decision.allowed), [true, false]);
});

test('a declared capability the policy lists is allowed', async () => {
  const h = await harness({ tools: { echo: { requireCapability: ['text.echo'] } } });
  const result = await call(h.client, await attest({ requestedCapability: 'text.echo' }));
  assert.deepEqual(result['content'], [{ type: 'text', text: 'hi' }]);
  assert.equal(h.runs.echo, 1);
});

test('the commitment is checked against the arguments as sent, before the tool schema drops members', async () => {
  const h = await harness();
  const args = { text: 'hi', note: 'not in the input schema' };
  const result = await call(h.client, await attest({ args }), 'echo', args);
  assert.deepEqual(result['content'], [{ type: 'text', text: 'hi' }]);
  assert.equal(refusalReason(await call(h.client, await attest(), 'echo', args)).reason, 'args_commitment_mismatch');
  assert.equal(h.runs.echo, 1);
});

test('required: false: an unattested call runs, unsigned; an attested one is still verified', async () => {
  const h = await harness({ required: false });
  const result = await call(h.client, undefined);
  assert.deepEqual(result, { content: [{ type: 'text', text: 'hi' }], _meta: TRACE });
  const d = h.events[0]!.decision;
  assert.ok(d.allowed && !d.attested);
  assert.deepEqual(refusalReason(await call(h.client, await attest({ tool: 'other' }))), { reason: 'tool_mismatch', code: 'ERR_TOOL_MISMATCH' });
  assert.equal(h.runs.echo, 1);
});

test('no receipt without a signer, nor when the policy turns receipts off', async () => {
  for (const [extra, o] of [[{}, { signer: undefined }], [{ responseReceipts: false }, {}]] as const) {
    const h = await harness(extra, o);
    const result = await call(h.client, await attest());
    assert.deepEqual(result, { content: [{ type: 'text', text: 'hi' }], _meta: TRACE });
    assert.equal(h.events[0]!.receipt, undefined);
  }
});

test('a tool registered after wrapping is gated; so is one added after the first', async () => {
  const h = await harness({}, { late: true });
  h.server.registerTool('later', {}, async () => ({ content: [{ type: 'text', text: 'later' }] }));
  assert.deepEqual(refusalReason(await call(h.client, undefined)), { reason: 'attestation_required', code: 'ERR_ATTESTATION_REQUIRED' });
  assert.deepEqual(refusalReason(await call(h.client, undefined, 'later', {})), { reason: 'attestation_required', code: 'ERR_ATTESTATION_REQUIRED' });
  const ok = await call(h.client, await attest({ tool: 'later', args: {} }), 'later', {});
  assert.deepEqual(ok['content'], [{ type: 'text', text: 'later' }]);
  assert.ok(RESPONSE_RECEIPT_META_KEY in (ok['_meta'] as object));
  assert.equal(h.runs.echo, 0);
});

test('an McpServer tool that throws: its isError result gets an errored receipt', async () => {
  const server = new McpServer({ name: 'gated', version: '1.0.0' });
  const events: GateDecisionEvent[] = [];
  withAttestationGate(server, { ...(await policyWith()), serverFingerprint: FP, signer: (await keys()).server, now: () => T0, onDecision: (e) => events.push(e) });
  server.registerTool('echo', {}, async () => {
    throw new Error('boom');
  });
  const { client } = await connect(server);
  const result = await call(client, await attest({ args: {} }), 'echo', {});
  assert.equal(result['isError'], true);
  assert.equal(events[0]!.receipt?.outcomeDerived.status, 'errored');
  assert.equal(events[0]!.receipt?.outcomeDerived.reason, 'tool_error');
});

for (const when of ['before', 'after'] as const) {
  test(`low-level Server: a tools/call handler set ${when} wrapping is gated`, async () => {
    const server = new Server({ name: 'low', version: '1.0.0' }, { capabilities: { tools: {} } });
    let runs = 0;
    const install = (): void => server.setRequestHandler(CallToolRequestSchema, async (req) => {
      runs++;
      return { content: [{ type: 'text', text: String(req.params.arguments?.['text']) }] };
    });
    if (when === 'before') install();
    const events: GateDecisionEvent[] = [];
    withAttestationGate(server, { ...(await policyWith()), serverFingerprint: FP, signer: (await keys()).server, now: () => T0, onDecision: (e) => events.push(e) });
    if (when === 'after') install();
    const { client } = await connect(server);
    assert.deepEqual(refusalReason(await call(client, undefined)), { reason: 'attestation_required', code: 'ERR_ATTESTATION_REQUIRED' });
    assert.deepEqual(refusalReason(await call(client, await attest(), 'echo', { text: 'altered' })).reason, 'args_commitment_mismatch');
    assert.equal(runs, 0);
    const att = await attest();
    const ok = await call(client, att);
    assert.deepEqual(ok['content'], [{ type: 'text', text: 'hi' }]);
    const receipt = (ok['_meta'] as Record<string, unknown>)[RESPONSE_RECEIPT_META_KEY];
    assert.equal((await verifyReceipt(receipt as never, { keys: (await keys()).serverKeys, attestation: att, result: committedResult(ok) })).ok, true);
    assert.equal(runs, 1);
    assert.equal(events.length, 3);
  });
}

test('low-level Server: a handler that throws stays a JSON-RPC error; the decision is still reported', async () => {
  const server = new Server({ name: 'low', version: '1.0.0' }, { capabilities: { tools: {} } });
  const events: GateDecisionEvent[] = [];
  withAttestationGate(server, { ...(await policyWith()), serverFingerprint: FP, signer: (await keys()).server, now: () => T0, onDecision: (e) => events.push(e) });
  server.setRequestHandler(CallToolRequestSchema, async () => {
    throw new Error('boom');
  });
  const { client } = await connect(server);
  await assert.rejects(call(client, await attest()), /boom/);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.decision.allowed, true);
  assert.equal(events[0]!.receipt, undefined);
});

test('the capability extension is in the raw initialize result and reaches the client; the server\'s own capabilities are untouched', async () => {
  const h = await harness({ acceptedAlgorithms: ['ES256', 'EdDSA'] });
  const init = h.sent.find((m) => 'result' in m && 'protocolVersion' in (m.result as object)) as { result: { capabilities: Record<string, unknown> } } | undefined;
  const want = { algorithms: ['ES256', 'EdDSA'], required: true, multiServer: true, serverFingerprint: FP };
  assert.deepEqual((init?.result.capabilities['extensions'] as Record<string, unknown>)[ATTESTATION_EXTENSION], want);
  assert.deepEqual(h.client.getServerCapabilities()?.extensions?.[ATTESTATION_EXTENSION], want);
  assert.ok(init?.result.capabilities['tools'] !== undefined);
  // Our copy, not the SDK's own capabilities object (internal in 1.32.x), carries the extension.
  assert.equal((h.server.server as unknown as { _capabilities: Record<string, unknown> })._capabilities['extensions'], undefined);
});

test('other extensions the server registered are kept beside ours', async () => {
  const server = new McpServer({ name: 'gated', version: '1.0.0' }, { capabilities: { extensions: { 'example.com/x': { on: true } } } });
  withAttestationGate(server, { ...(await policyWith()), serverFingerprint: FP });
  const { client } = await connect(server);
  const ext = client.getServerCapabilities()?.extensions ?? {};
  assert.deepEqual(Object.keys(ext).sort(), [ATTESTATION_EXTENSION, 'example.com/x'].sort());
});

test('gate.reload: later calls and later initialize results follow the new policy', async () => {
  const h = await harness();
  assert.equal(refusalReason(await call(h.client, undefined)).reason, 'attestation_required');
  const open = await policyWith({ required: false });
  h.gate.reload(open.policy, open.keys);
  assert.deepEqual((await call(h.client, undefined))['content'], [{ type: 'text', text: 'hi' }]);
  const deny = await policyWith({ tools: { echo: { deny: true } } });
  h.gate.reload(deny.policy, deny.keys);
  assert.deepEqual(refusalReason(await call(h.client, await attest())), { reason: 'tool_mismatch', code: 'ERR_TOOL_DENIED' });
  assert.equal(h.runs.echo, 1);
  assert.deepEqual(h.events.map((e) => e.decision.allowed), [false, true, false]);
  const advertised = async (): Promise<unknown> => {
    await h.server.close();
    const { client } = await connect(h.server);
    return (client.getServerCapabilities()?.extensions?.[ATTESTATION_EXTENSION] as { required?: unknown } | undefined)?.required;
  };
  assert.equal(await advertised(), true);
  h.gate.reload(open.policy, open.keys);
  assert.equal(await advertised(), false);
});

test('an onDecision hook that throws goes to onerror; the call is answered', async () => {
  const errors: Error[] = [];
  const h = await harness({}, { onDecision: () => { throw new Error('audit down'); } });
  h.server.server.onerror = (e) => errors.push(e);
  assert.deepEqual((await call(h.client, await attest()))['content'], [{ type: 'text', text: 'hi' }]);
  assert.deepEqual(errors.map((e) => e.message), ['audit down']);
});

test('SDK internals other than 1.32.x, or a second gate, fail loudly at wrap time (ERR_USAGE)', async () => {
  const o = { ...(await policyWith()), serverFingerprint: FP };
  const bogus = { _requestHandlers: {} } as unknown as Server;
  assert.throws(() => withAttestationGate(bogus, o), (e) => isAttestError(e, 'ERR_USAGE') && /_requestHandlers/.test(e.message));
  assert.throws(() => withAttestationGate({} as unknown as Server, o), (e) => isAttestError(e, 'ERR_USAGE'));
  const server = new McpServer({ name: 'gated', version: '1.0.0' });
  withAttestationGate(server, o);
  assert.throws(() => withAttestationGate(server.server, o), (e) => isAttestError(e, 'ERR_USAGE') && /already gated/.test(e.message));
  // The assumption the whole module rests on: the SDK keeps handlers in a Map keyed by method.
  const map = (new Server({ name: 'x', version: '1' }) as unknown as { _requestHandlers: unknown })._requestHandlers;
  assert.ok(map instanceof Map && map.has('initialize'));
});

test('responseReceipt: a task handle answering a task-augmented call is errored task_created; to a plain call, or with content, it is not', async () => {
  const { server } = await keys();
  const a = await attest();
  const handle = { task: { taskId: 't1', status: 'working', createdAt: '2026-11-21T12:00:00Z', ttl: 60000 } };
  const outcome = async (result: unknown, task: boolean) => (await responseReceipt(server, a, { result }, T0, task)).outcomeDerived;
  assert.deepEqual([(await outcome(handle, true)).status, (await outcome(handle, true)).reason], ['errored', 'task_created']);
  assert.equal((await outcome(handle, false)).status, 'executed');
  assert.equal((await outcome({ ...handle, content: [] }, true)).status, 'executed');
});

test('a call the client cancels while its handler runs: the SDK sends no result, and no receipt is signed for it (onDecision says cancelled)', async () => {
  const events: GateDecisionEvent[] = [];
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const server = new McpServer({ name: 'gated', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => {
    await new Promise((r) => setTimeout(r, 100));
    setImmediate(finished);
    return { content: [{ type: 'text', text }] };
  });
  withAttestationGate(server, { ...(await policyWith()), serverFingerprint: FP, signer: (await keys()).server, now: () => T0 + 1, onDecision: (e) => events.push(e) });
  const { client, sent } = await connect(server);
  const abort = new AbortController();
  const pending = client.callTool({ name: 'echo', arguments: { text: 'hi' }, _meta: { attestation: await attest() } }, undefined, { signal: abort.signal });
  setTimeout(() => abort.abort(), 20);
  await assert.rejects(pending);
  await done;
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(events.map((e) => [e.decision.allowed, e.receipt !== undefined, e.cancelled ?? false]), [[true, false, true]]);
  assert.equal(sent.some((m) => 'id' in m && m.id === 1 && 'result' in m), false, 'no result was sent');
});
