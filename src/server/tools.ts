/**
 * The tools of the receipt-session MCP server (session-server.ts) and their plumbing: result
 * and error shaping, output schemas that admit the error shape, input limits. Every handler
 * taking a `sessionId` checks it first (`ERR_SESSION_UNKNOWN` for anything that is not
 * `ses_` and 22 base64url characters, `/` and `..` included) and none throws: failures are
 * `isError` results carrying their code. Annotations (`openWorldHint` false everywhere):
 *
 * | tool | readOnly | destructive | idempotent | why |
 * |---|---|---|---|---|
 * | `start_session` | no | no | no | appends; each call starts a new session |
 * | `record_action` | no | no | no | appends the next action |
 * | `record_approval`, `record_counterparty_confirmation` | no | no | no | a signed statement is logged once, but each declared one appends |
 * | `finalize_session` | no | no | yes | appends the seal once; again returns it |
 * | `verify_session` | yes | no | yes | records nothing in the session |
 * | `attach_approval`, `attach_counterparty_confirmation` | no | no | no | as the record_ tools, after sealing |
 *
 * Nothing is ever deleted or rewritten (the log is append-only), hence no destructive tool.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AttestError, isAttestError } from '../errors.js';
import { TAGGED_DIGEST } from '../bytes/digest.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import {
  MAX_ID_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS, parseStatement, policyDocDigest, type SealStatement, type StartStatement, type Target,
} from '../receipt/session.js';
import { allowedSession } from '../store/session-owners.js';
import { checkSessionId, MAX_EVIDENCE_BYTES, MAX_EVIDENCE_DEPTH, type SessionStore } from '../store/sessions.js';
import { homePaths } from '../store/home.js';
import { loadIdentity, loadIssuers, trustPolicyOf } from '../store/identity.js';
import { loadWitnesses } from '../store/witnesses.js';
import { importSecret } from '../keys/material.js';
import { mergeTrustPolicies, parseTrustPolicy, policyKeyResolver, secretId, type TrustPolicy } from '../verify/policy.js';
import { verifySessionReceipt } from '../verify/session-receipt.js';
import type { SessionServerContext } from './session-server.js';

/** The structured content of an error result. */
export interface ToolErrorContent { code: string; message: string }

/** What a tool body returns: the structured content, and optional guidance text for the agent. */
export interface ToolOutput { data: Record<string, unknown>; note?: string }

/** JSON text of a value; bigints become decimal strings. */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent);
}

/** The error result of a failed tool call: the code and message of an `AttestError`, else `ERR_STORE_IO`. */
export function toolError(e: unknown): CallToolResult {
  const err: ToolErrorContent = isAttestError(e)
    ? { code: e.code, message: e.message }
    : { code: 'ERR_STORE_IO', message: e instanceof Error ? e.message : String(e) };
  return { isError: true, content: [{ type: 'text', text: `${err.code}: ${err.message}` }], structuredContent: { ...err } };
}

/**
 * Run a tool body and shape its result: the structured content (bigints as decimal strings),
 * its JSON as the first text block (for clients without structured output), then `note`
 * when given. Any exception becomes {@link toolError}; nothing escapes to the transport.
 */
export async function runTool(body: () => Promise<ToolOutput> | ToolOutput): Promise<CallToolResult> {
  try {
    const { data, note } = await body();
    const text = jsonText(data);
    const content: CallToolResult['content'] = [{ type: 'text', text }];
    if (note) content.push({ type: 'text', text: note });
    return { content, structuredContent: JSON.parse(text) as Record<string, unknown> };
  } catch (e) {
    return toolError(e);
  }
}

/**
 * A writing tool's body, answered only once what it appended is on disk: synced at the end of
 * the event loop's turn, shared by every request of that turn (`Recorder.durable(true)`). A
 * body that fails is answered once the syncs pending meanwhile have ended (`settled`): its
 * error may rest on a statement not yet on disk (a seal: "the session is sealed"), and when
 * that sync fails the answer is its `ERR_STORE_IO`.
 */
function written(ctx: SessionServerContext, body: () => ToolOutput): () => Promise<ToolOutput> {
  return async () => {
    let output: ToolOutput;
    try {
      output = body();
    } catch (e) {
      await ctx.sessions.recorder.settled();
      throw e;
    }
    await ctx.sessions.recorder.durable(true);
    return output;
  };
}

/**
 * An output schema admitting the tool's success shape or the error shape `{code, message}`.
 * The v1 SDK client (1.32) validates `structuredContent` against the advertised schema even
 * when `isError` is set, so a success-only schema would turn every coded error into a
 * protocol error. The JSON Schema lists every property, none required at the root, with
 * `anyOf: [{required: <success fields>}, {required: [code, message]}]`; the refinement
 * checks the full success shape on the server (which validates success results only).
 */
export function outputSchema(shape: z.ZodRawShape) {
  const success = z.object(shape);
  const required = Object.entries(shape).filter(([, s]) => !z.safeParse(s, undefined).success).map(([k]) => k);
  return z.object(shape).partial()
    .extend({ code: z.string().optional().describe('on error only: the stable error code (ERR_...)'), message: z.string().optional().describe('on error only: what went wrong') })
    .superRefine((v, ctx) => {
      if (v.code !== undefined && v.message !== undefined) return;
      const r = success.safeParse(v);
      if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    })
    .meta({ anyOf: [{ required }, { required: ['code', 'message'] }] });
}

/** Tool annotations; `openWorldHint` is always false (only this data directory is touched). */
export function annotations(title: string, readOnlyHint: boolean, destructiveHint: boolean, idempotentHint: boolean): ToolAnnotations {
  return { title, readOnlyHint, destructiveHint, idempotentHint, openWorldHint: false };
}

/**
 * `raw` as a session id this client may use: checked (`checkSessionId`), and one of its own
 * when the server has an access rule; another's is `ERR_SESSION_UNKNOWN`, as one that does
 * not exist (nothing tells a client which ids others hold).
 */
export function usableSession(ctx: SessionServerContext, raw: unknown): string {
  const id = checkSessionId(raw);
  return ctx.access === undefined ? id : allowedSession(ctx.access, id);
}

/** The `sessionId` input field. */
export const SESSION_ID_FIELD = z.string().describe('the session id start_session returned (ses_ and 22 base64url characters)');
/** A log index in outputs: a decimal string (log indexes are uint64). */
export const INDEX_FIELD = z.string().describe('log index of the entry (decimal string)');

function startSession(ctx: SessionServerContext, a: { task: string; delegator: string; policy?: string; policyDigest?: string }): ToolOutput {
  if (a.policy !== undefined && a.policyDigest !== undefined) throw new AttestError('ERR_USAGE', 'give policy (the document text) or policyDigest, not both');
  if (a.policyDigest !== undefined && !TAGGED_DIGEST.test(a.policyDigest)) throw new AttestError('ERR_USAGE', 'policyDigest must be sha256: and 64 lowercase hex digits');
  const policyDigest = a.policy !== undefined ? policyDocDigest(a.policy) : a.policyDigest;
  const access = ctx.access;
  const r = ctx.sessions.sessions.start({ task: a.task, delegator: a.delegator, ...(policyDigest ? { policyDigest } : {}) }, access && ((id) => access.claim(id)));
  ctx.changed();
  const s = r.statement as StartStatement;
  return {
    data: { sessionId: r.sessionId, index: r.index, genesis: s.genesis, ...(policyDigest ? { policyDigest } : {}) },
    note: `Session ${r.sessionId} started. Record each step with record_action. Tool calls can join the session by themselves: run the tool server behind \`mcp-attest proxy --session ${r.sessionId} -- <server command>\`, or pass params._meta["dev.mcp-attest/session"] = "${r.sessionId}" on a tools/call through the proxy. Call finalize_session when the task is done.`,
  };
}

function recordAction(ctx: SessionServerContext, a: { sessionId: string; name: string; summary?: string; evidence?: unknown }): ToolOutput {
  const id = usableSession(ctx, a.sessionId);
  const r = ctx.sessions.sessions.action(id, { name: a.name, ...(a.summary !== undefined ? { summary: a.summary } : {}), ...(a.evidence !== undefined ? { evidence: a.evidence } : {}) });
  ctx.changed();
  return { data: { seq: r.seq, index: r.index, actionDigest: r.digest } };
}

function finalizeSession(ctx: SessionServerContext, a: { sessionId: string }): ToolOutput {
  const r = ctx.sessions.sessions.seal(usableSession(ctx, a.sessionId));
  if (!r.already) ctx.changed();
  const s = r.statement as SealStatement;
  return {
    data: { index: r.index, sealDigest: r.digest, actionCount: s.actionCount, actionsDigest: s.actionsDigest, alreadySealed: r.already },
    note: `Sealed: no action can be added. The receipt is the resource mcp-attest://sessions/${s.sessionId}/receipt; approvals and confirmations that come later go through attach_approval / attach_counterparty_confirmation.`,
  };
}

/** One of the four party tools: which statement kind, which session phase, the input field of the signed statement. */
interface PartySpec { name: string; title: string; kind: 'approval' | 'confirmation'; phase: 'open' | 'sealed'; field: string; description: string }

const PARTY_TOOLS: PartySpec[] = [
  {
    name: 'record_approval', title: 'Record an approval', kind: 'approval', phase: 'open', field: 'approval',
    description: 'Record, in an open session, that a party approved (or rejected) one of its actions. Pass the approval statement the party signed with their own key (approval), or, when you only have their word, declare it yourself (declared): verifiers then report it as declared by you, never as the party\'s signature. After finalize_session use attach_approval instead.',
  },
  {
    name: 'record_counterparty_confirmation', title: 'Record a counterparty confirmation', kind: 'confirmation', phase: 'open', field: 'confirmation',
    description: 'Record, in an open session, that a counterparty confirmed (or disputed) one of its actions. Pass the confirmation statement the counterparty signed (confirmation), or declare it yourself (declared: reported as your own record, never as their signature). After finalize_session use attach_counterparty_confirmation (which can also confirm the whole sealed session).',
  },
  {
    name: 'attach_approval', title: 'Attach an approval to a sealed session', kind: 'approval', phase: 'sealed', field: 'attachment',
    description: 'Log an approval that arrived after the session was sealed (deferred approval), e.g. one a party made with `mcp-attest approve` on the exported receipt: pass the signed statement (attachment), or declare it yourself (declared). Only for sealed sessions; in an open one use record_approval.',
  },
  {
    name: 'attach_counterparty_confirmation', title: 'Attach a counterparty confirmation to a sealed session', kind: 'confirmation', phase: 'sealed', field: 'attachment',
    description: 'Log a counterparty confirmation that arrived after the session was sealed, e.g. from `mcp-attest countersign`: pass the signed statement (attachment), or declare it yourself (declared; omit seq to confirm the whole sealed session). Only for sealed sessions; in an open one use record_counterparty_confirmation.',
  },
];

/** What an approval or confirmation declared by the agent is bound to: action `seq` (by its digest) or, with no `seq`, the seal. Throws `ERR_APPROVAL_TARGET`. */
function declaredTarget(store: SessionStore, sessionId: string, seq: number | undefined, kind: 'approval' | 'confirmation'): Target {
  if (seq === undefined) {
    const seal = store.row(sessionId).seal_digest;
    if (kind === 'confirmation' && seal !== null) return { sealDigest: seal };
    throw new AttestError('ERR_APPROVAL_TARGET', kind === 'approval' ? 'an approval is bound to one action: give seq' : 'give seq (only a sealed session can be confirmed as a whole)');
  }
  const hit = store.entries(sessionId).find((e) => e.kind === 'action' && e.seq === seq);
  if (!hit) throw new AttestError('ERR_APPROVAL_TARGET', `session ${sessionId} has no action ${seq}`, { found: seq });
  return { seq, actionDigest: hit.digest };
}

interface DeclaredInput { party: string; seq?: number; decision: string; note?: string }

function partyAction(ctx: SessionServerContext, spec: PartySpec, a: { sessionId: string; declared?: DeclaredInput } & Record<string, unknown>): ToolOutput {
  const id = usableSession(ctx, a.sessionId);
  const store = ctx.sessions.sessions;
  const sealed = store.row(id).seal_idx !== null;
  if (spec.phase === 'open' && sealed) throw new AttestError('ERR_SESSION_SEALED', `session ${id} is sealed: use ${spec.kind === 'approval' ? 'attach_approval' : 'attach_counterparty_confirmation'}`);
  if (spec.phase === 'sealed' && !sealed) throw new AttestError('ERR_SESSION_UNSEALED', `session ${id} is not sealed yet: use ${spec.kind === 'approval' ? 'record_approval' : 'record_counterparty_confirmation'}`);
  const signed = a[spec.field];
  if ((signed === undefined) === (a.declared === undefined)) throw new AttestError('ERR_USAGE', `give exactly one of ${spec.field} (a statement the party signed) or declared`);
  if (signed !== undefined) {
    const s = parseStatement(signed);
    if (s.kind !== spec.kind) throw new AttestError('ERR_USAGE', `this is a${s.kind === 'approval' ? 'n' : ''} ${s.kind} statement: ${spec.name} takes ${spec.kind}s`);
    const r = store.attach(id, s, spec.phase);
    if (!r.already) ctx.changed();
    return { data: { index: r.index, digest: r.digest, status: 'signed', already: r.already }, note: 'Logged. Its signature is checked by verifiers, against the party keys their trust policy lists.' };
  }
  const d = a.declared!;
  const target = declaredTarget(store, id, d.seq, spec.kind);
  const r = store.declare(id, { kind: spec.kind, party: d.party, target, decision: d.decision, ...(d.note !== undefined ? { note: d.note } : {}) }, spec.phase);
  ctx.changed();
  return {
    data: { index: r.index, digest: r.digest, status: 'declared' },
    note: `Declared: your own signed record that ${d.party} agreed; verifiers report it as declared, never as ${d.party}'s signature. For that, the party signs the exported receipt with \`mcp-attest ${spec.kind === 'approval' ? 'approve' : 'countersign'}\`.`,
  };
}

/** Register the party tools of one phase: record_approval and record_counterparty_confirmation (open), or attach_approval and attach_counterparty_confirmation (sealed). */
function registerPartyTools(server: McpServer, ctx: SessionServerContext, phase: 'open' | 'sealed'): void {
  for (const spec of PARTY_TOOLS.filter((p) => p.phase === phase)) {
    const decisions = spec.kind === 'approval' ? (['approved', 'rejected'] as const) : (['confirmed', 'disputed'] as const);
    const seq = z.number().int().describe('the action number (seq) the party agreed to');
    const declared = z.strictObject({
      party: z.string().describe(`the party's id, e.g. approver:alice (1 to ${MAX_ID_CHARS} characters)`),
      seq: spec.kind === 'confirmation' && spec.phase === 'sealed' ? seq.optional().describe('the action number confirmed; omit to confirm the whole sealed session') : seq,
      decision: z.enum(decisions).default(decisions[0]).describe(`${decisions.join(' or ')} (default ${decisions[0]})`),
      note: z.string().optional().describe(`the party's words, if any (up to ${MAX_TEXT_CHARS} characters)`),
    });
    server.registerTool(spec.name, {
      title: spec.title,
      description: spec.description,
      inputSchema: z.strictObject({
        sessionId: SESSION_ID_FIELD,
        [spec.field]: z.record(z.string(), z.unknown()).optional().describe(`the ${spec.kind} statement the party signed with their own key (mcp-attest/session-statement@1, as \`mcp-attest ${spec.kind === 'approval' ? 'approve' : 'countersign'}\` appends it to a receipt's attachments)`),
        declared: declared.optional().describe('instead of a signed statement: your own record that the party agreed (reported as declared, never as their signature)'),
      }),
      outputSchema: outputSchema({
        index: INDEX_FIELD, digest: z.string().describe('digest of the logged statement'),
        status: z.enum(['signed', 'declared']).describe('signed: the party\'s own statement; declared: your record of it'),
        already: z.boolean().optional().describe('signed only: true when this exact statement was logged before (nothing appended)'),
      }),
      annotations: annotations(spec.title, false, false, false),
    }, (a) => runTool(written(ctx, () => partyAction(ctx, spec, a as { sessionId: string; declared?: DeclaredInput }))));
  }
}

const DIMENSION = z.enum(['pass', 'fail', 'none', 'unchecked']);
const PARTY_DIMENSION = z.enum(['pass', 'fail', 'none', 'unchecked', 'declared', 'rejected']);
const PARTY_RESULT = z.looseObject({
  kind: z.string(), party: z.string(), target: z.union([z.number(), z.literal('seal')]), decision: z.string(),
  status: z.enum(['verified', 'declared', 'failed', 'ignored']), index: z.string().nullable(), code: z.string().optional(),
});
const VERIFY_OUTPUT = outputSchema({
  ok: z.boolean().describe('true when no finding is an error'),
  level: z.enum(['failed', 'sealed', 'witnessed', 'countersigned']).describe('the summary level'),
  sessionId: z.string().nullable(),
  actionCount: z.number().int().nullable().describe('actions in the receipt'),
  dimensions: z.object({
    integrity: DIMENSION, agentSignature: DIMENSION, sealCompleteness: DIMENSION, policyBinding: DIMENSION, witnessed: DIMENSION,
    approvals: PARTY_DIMENSION, counterparty: PARTY_DIMENSION,
  }).describe('each dimension of the verdict'),
  approvals: z.array(PARTY_RESULT), confirmations: z.array(PARTY_RESULT),
  findings: z.array(z.looseObject({ severity: z.enum(['error', 'notice']), code: z.string(), message: z.string(), index: z.string().optional() })).describe('every finding, with its code'),
});

/** This data directory's trust (its issuer and log; witnesses listed, quorum 0), merged with `extra` (JSON text). Throws `ERR_POLICY_INVALID`. */
function trustOf(home: string, extra: string | undefined): TrustPolicy {
  const own = trustPolicyOf(loadIdentity(home), loadWitnesses(home), 0, loadIssuers(home));
  return extra === undefined ? own : mergeTrustPolicies([own, parseTrustPolicy(extra)]);
}

async function verifySession(ctx: SessionServerContext, a: { sessionId: string; policy?: string; trustPolicy?: string }): Promise<ToolOutput> {
  const id = usableSession(ctx, a.sessionId);
  const policy = trustOf(ctx.home, a.trustPolicy);
  const identity = ctx.sessions.recorder.identity;
  const secrets = new Map<string, CryptoKey>();
  if (identity.issuer.alg === 'HS256') secrets.set(secretId(identity.iss, identity.issuer.keyId), await importSecret(new Uint8Array(readRegularFile(homePaths(ctx.home).issuerSecret, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'issuer secret', secret: true }))));
  const { text } = await ctx.sessions.exportReceipt(id, { witness: false });
  const r = await verifySessionReceipt(text, policy, policyKeyResolver(policy, secrets), a.policy !== undefined ? { policyDocDigest: policyDocDigest(a.policy) } : {});
  const errors = r.findings.filter((f) => f.severity === 'error').map((f) => f.code);
  return {
    data: { ok: r.ok, level: r.level, sessionId: r.sessionId, actionCount: r.session?.actions.length ?? null, dimensions: r.dimensions, approvals: r.approvals, confirmations: r.confirmations, findings: r.findings },
    note: r.ok ? `Verified: level ${r.level}.` : `Does NOT verify: ${[...new Set(errors)].join(', ')}.`,
  };
}

/** Register the eight session tools on `server`, in workflow order (tools/list keeps it). */
export function registerSessionTools(server: McpServer, ctx: SessionServerContext): void {
  server.registerTool('start_session', {
    title: 'Start a receipt session',
    description: 'Start a receipt session before working on a delegated task: a signed, hash-chained record of every step, verifiable offline by the delegator. Call it once per task; keep the returned sessionId for every other session tool. Optionally bind the session to the policy document you work under (its text, or its sha256 digest).',
    inputSchema: z.strictObject({
      task: z.string().describe(`what the delegator asked for (up to ${MAX_TEXT_CHARS} characters)`),
      delegator: z.string().describe(`who delegated the task: a user or service id (1 to ${MAX_ID_CHARS} characters)`),
      policy: z.string().optional().describe('the text of the policy document the session runs under; the SHA-256 of its UTF-8 bytes is recorded so a verifier holding the same text can check the binding. Give policy or policyDigest, not both'),
      policyDigest: z.string().optional().describe('sha256:<64 lowercase hex> of the policy document, when its text is not at hand'),
    }),
    outputSchema: outputSchema({
      sessionId: z.string().describe('the new session id'), index: INDEX_FIELD, genesis: z.string().describe('the genesis digest the action chain starts from'),
      policyDigest: z.string().optional().describe('the recorded policy digest'),
    }),
    annotations: annotations('Start a receipt session', false, false, false),
  }, (a) => runTool(written(ctx, () => startSession(ctx, a))));
  server.registerTool('record_action', {
    title: 'Record an action',
    description: 'Record one step you took in an open session (what you did, optionally a summary and evidence such as the inputs and results). Call it after each step, in order: actions are numbered 1, 2, ... and each is chained to the previous one. Not for sealed sessions.',
    inputSchema: z.strictObject({
      sessionId: SESSION_ID_FIELD,
      name: z.string().describe(`the action, e.g. a tool name such as payments/refund (1 to ${MAX_NAME_CHARS} characters, any characters, / allowed)`),
      summary: z.string().optional().describe(`what was done and why, in words (up to ${MAX_TEXT_CHARS} characters)`),
      evidence: z.unknown().optional().describe(`any JSON value backing the action (inputs, results); kept in this data directory and committed by its digest (up to ${MAX_EVIDENCE_BYTES} bytes, ${MAX_EVIDENCE_DEPTH} levels deep)`),
    }),
    outputSchema: outputSchema({
      seq: z.number().int().describe('the action number in the session (1, 2, ...)'), index: INDEX_FIELD, actionDigest: z.string().describe('digest of the signed action statement (approvals bind to it)'),
    }),
    annotations: annotations('Record an action', false, false, false),
  }, (a) => runTool(written(ctx, () => recordAction(ctx, a))));
  registerPartyTools(server, ctx, 'open');
  server.registerTool('finalize_session', {
    title: 'Finalize (seal) a session',
    description: 'Seal a session when the task is done: signs the action count and the ordered action digests, so nothing can be added, removed or reordered afterwards. Needs at least one action. Calling it again on a sealed session returns the existing seal.',
    inputSchema: z.strictObject({ sessionId: SESSION_ID_FIELD }),
    outputSchema: outputSchema({
      index: INDEX_FIELD, sealDigest: z.string().describe('digest of the seal statement'), actionCount: z.number().int().describe('actions sealed'),
      actionsDigest: z.string().describe('digest of the ordered action digests'), alreadySealed: z.boolean().describe('true when the session was sealed before this call'),
    }),
    annotations: annotations('Finalize (seal) a session', false, false, true),
  }, (a) => runTool(written(ctx, () => finalizeSession(ctx, a))));
  server.registerTool('verify_session', {
    title: 'Verify a session',
    description: 'Verify a session the way its recipient will: export its receipt in memory and check log integrity, the agent signatures, the seal, the policy binding and every approval and confirmation. Use it before handing over a receipt. Give the policy text to check the binding, and a trust policy (JSON) to trust approver and counterparty keys. Records nothing in the session (it may sign a log checkpoint, as every export does).',
    inputSchema: z.strictObject({
      sessionId: SESSION_ID_FIELD,
      policy: z.string().optional().describe('the policy document text, to check the session is bound to it (without it the binding is unchecked)'),
      trustPolicy: z.string().optional().describe('JSON text of a trust policy (mcp-attest trust export / trust party) whose issuers, logs and parties (approvers, counterparties) are trusted besides this data directory\'s own keys'),
    }),
    outputSchema: VERIFY_OUTPUT,
    annotations: annotations('Verify a session', true, false, true),
  }, (a) => runTool(() => verifySession(ctx, a)));
  registerPartyTools(server, ctx, 'sealed');
}
