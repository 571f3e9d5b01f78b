/**
 * The gatekeeper in-process: middleware for MCP server authors on the v1 TypeScript SDK
 * (`@modelcontextprotocol/sdk`, verified against 1.32.2). Every `tools/call` goes through the
 * same {@link Gate} as the gatekeeper proxy before the tool handler runs (docs/middleware.md,
 * docs/gate-policy.md); a refusal is the SEP-2787 error result, never a JSON-RPC error.
 *
 * How it hooks in, and what it relies on (SDK internals, pinned to 1.32.x):
 * - `Protocol._requestHandlers` (private) is a `Map` from method to a stored handler that the
 *   SDK calls as `handler(request, extra)` with the JSON-RPC request as received (before the
 *   per-method zod parse), and looks up with `.get(method)` for each incoming request.
 * - Every registration (`setRequestHandler`, which `McpServer` calls lazily at its first
 *   `tool()`/`registerTool()`) ends in `_requestHandlers.set(method, …)`.
 * So the middleware wraps the stored `tools/call` and `initialize` entries present at wrap
 * time, and overrides `set` on that one Map instance so that a later registration of either
 * method is wrapped too, whatever path registered it. The wrapper is the outermost layer:
 * it sees the raw `params` (`_meta.attestation`, `arguments` as sent) and its refusal
 * result bypasses the SDK's result validation. If `_requestHandlers` is not a Map holding an
 * `initialize` handler, wrapping throws `ERR_USAGE` instead of silently not gating; the
 * tests (test/unit/gate-middleware.test.ts) exercise every assumption above.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AttestError } from '../errors.js';
import type { JsonValue } from '../jcs/index.js';
import { isObject } from '../envelope/schema.js';
import { nowSeconds } from '../envelope/time.js';
import type { Signer } from '../envelope/sign.js';
import type { KeyResolver } from '../envelope/signature.js';
import type { Attestation } from '../attestation/schema.js';
import type { Receipt } from '../receipt/schema.js';
import { Gate, MemoryReplayStore, type GateDecision, type ReplayStore } from './gate.js';
import type { GatePolicy } from './policy.js';
import { ATTESTATION_EXTENSION, RESPONSE_RECEIPT_META_KEY, attestationExtension, refusalResult, responseReceipt } from './wire.js';

/** One gate decision, reported to {@link GateMiddlewareOptions.onDecision}. */
export interface GateDecisionEvent {
  /** `params.name` as received (`''` when it is not a string). */
  tool: string;
  decision: GateDecision;
  /** The response receipt added to the result, when one was signed. */
  receipt?: Receipt;
  /** Set when the client cancelled the call while its handler ran: the SDK sends no result, so none is signed. */
  cancelled?: true;
}

/** Options of {@link withAttestationGate}. */
export interface GateMiddlewareOptions {
  /** The parsed gate policy (`parseGatePolicy`, `loadGatePolicy`). */
  policy: GatePolicy;
  /** Trusted issuer keys (`loadGatePolicy(...).keys`, or `policyKeyResolver`). */
  keys: KeyResolver;
  /** This server's identity: the `serverFingerprint` an attestation's `toolCalls` entry must name. Advertised in the capability. */
  serverFingerprint: string;
  /**
   * Replay store. Default: a {@link MemoryReplayStore} of `policy.nonceStore.maxEntries`
   * (lost on restart, not shared). Pass the SQLite `NonceStore` (src/store/nonce-store.ts)
   * to survive restarts and to share one nonce space among several instances.
   */
  replay?: ReplayStore;
  /** Signs response receipts when `policy.responseReceipts` is true; absent: no receipts. */
  signer?: Signer;
  /**
   * Audit hook, called once per `tools/call`: a refusal before it is answered, an allowed
   * call once its handler settled (with the receipt, if any). Must not throw; if it does,
   * the error goes to the SDK server's `onerror` and the call proceeds.
   */
  onDecision?: (event: GateDecisionEvent) => void;
  /** Clock, POSIX seconds (default `Math.floor(Date.now() / 1000)`). */
  now?: () => number;
}

/** A handler as stored in the SDK's `Protocol._requestHandlers` (1.32.x). */
type StoredHandler = (request: unknown, extra: unknown) => Promise<unknown>;

/** What a wrapped handler needs. */
interface GateContext {
  gate: Gate;
  serverFingerprint: string;
  signer: Signer | undefined;
  now: () => number;
  report: (event: GateDecisionEvent) => void;
  fail: (error: unknown) => void;
}

/** SDK servers already gated: a second gate would be silently skipped, so it is refused. */
const gated = new WeakSet<object>();

/**
 * Wrap an SDK v1 server so that every `tools/call` goes through the {@link Gate} before the
 * tool handler runs; tools registered before or after wrapping are gated alike. Call it
 * before `connect()` (the capability is added to the `initialize` result).
 *
 * - Refused (order in docs/gate-policy.md; SEP-2787 §"Verification Rules"): the handler does
 *   not run; the result is {@link refusalResult} (`isError`, text
 *   `{"attestationError":true,"reason":…}`, our code in `_meta["dev.mcp-attest/refusal"]`).
 * - Allowed: the handler's result, unchanged; when the call was attested, a `signer` is
 *   given and `policy.responseReceipts` holds, plus
 *   `_meta["dev.mcp-attest/response-receipt"]`: a receipt committing to the result as sent
 *   (see {@link responseReceipt}; existing `_meta` members are kept). Not for task-augmented
 *   calls (their result is a task handle). A handler that throws is left to the SDK.
 * - `initialize` results carry `capabilities.extensions["attestation/tool-call"]` =
 *   {@link attestationExtension} of the policy in force.
 *
 * Returns the {@link Gate}: `gate.reload(policy, keys)` (e.g. on SIGHUP) applies to the
 * calls decided afterwards. Throws `ERR_USAGE` when the server is already gated or the SDK's
 * internals are not those of 1.32.x (see the file comment).
 * @see SEP-2787 §"Verification Rules", §"Error result"; docs/middleware.md
 */
export function withAttestationGate(server: McpServer | Server, o: GateMiddlewareOptions): Gate {
  const low: Server = 'server' in server ? server.server : server;
  const handlers = handlerMap(low);
  if (gated.has(low)) throw new AttestError('ERR_USAGE', 'this MCP server is already gated');
  gated.add(low);
  const gate = new Gate({
    policy: o.policy, keys: o.keys, serverFingerprint: o.serverFingerprint,
    replay: o.replay ?? new MemoryReplayStore(o.policy.nonceStore.maxEntries),
  });
  const fail = (error: unknown): void => low.onerror?.(error instanceof Error ? error : new Error(String(error)));
  const ctx: GateContext = {
    gate, serverFingerprint: o.serverFingerprint, signer: o.signer, fail,
    now: o.now ?? nowSeconds,
    report: (event) => {
      try {
        o.onDecision?.(event);
      } catch (e) {
        fail(e);
      }
    },
  };
  interceptHandlers(handlers, (method, handler) =>
    method === 'tools/call' ? gateToolsCall(ctx, handler) : method === 'initialize' ? advertise(ctx, handler) : handler);
  return gate;
}

/** The SDK's handler Map, checked to be what 1.32.x has. Throws `ERR_USAGE`. */
function handlerMap(low: Server): Map<string, StoredHandler> {
  const map = (low as unknown as { _requestHandlers?: unknown } | null)?._requestHandlers;
  if (!(map instanceof Map) || typeof map.get('initialize') !== 'function') {
    throw new AttestError('ERR_USAGE', 'unsupported MCP SDK: Server._requestHandlers is not a Map with an initialize handler (withAttestationGate supports @modelcontextprotocol/sdk 1.32.x)');
  }
  return map as Map<string, StoredHandler>;
}

/** Wrap the stored handlers now, and every later `set` on this Map instance. */
function interceptHandlers(map: Map<string, StoredHandler>, wrap: (method: string, h: StoredHandler) => StoredHandler): void {
  const set = Map.prototype.set;
  for (const [method, handler] of [...map]) set.call(map, method, wrap(method, handler));
  Object.defineProperty(map, 'set', {
    configurable: true, writable: true,
    value: (method: string, handler: StoredHandler) => set.call(map, method, typeof handler === 'function' ? wrap(method, handler) : handler),
  });
}

/** `params` of a raw JSON-RPC request (`{}` when absent or not an object). */
function paramsOf(request: unknown): Record<string, unknown> {
  return isObject(request) && isObject(request['params']) ? request['params'] : {};
}

/** `params._meta.attestation` as received; undefined when absent. */
function attestationOf(params: Record<string, unknown>): JsonValue | undefined {
  const meta = params['_meta'];
  return isObject(meta) ? meta['attestation'] as JsonValue | undefined : undefined;
}

/** The gated `tools/call` handler around the stored one. */
function gateToolsCall(ctx: GateContext, inner: StoredHandler): StoredHandler {
  return async (request, extra) => {
    const params = paramsOf(request);
    const tool = typeof params['name'] === 'string' ? params['name'] : '';
    const policy = ctx.gate.policy;
    const decision = await ctx.gate.check({ name: params['name'], args: params['arguments'], attestation: attestationOf(params), now: ctx.now() });
    if (!decision.allowed) {
      ctx.report({ tool, decision });
      return refusalResult(decision.reason, decision.code, decision.message);
    }
    let result: unknown;
    try {
      result = await inner(request, extra);
    } catch (e) {
      ctx.report({ tool, decision });
      throw e;
    }
    const signer = ctx.signer;
    // A cancelled request's result is dropped by the SDK (MCP: no response after a cancellation): no receipt for what is never sent.
    const cancelled = isObject(extra) && (extra['signal'] as AbortSignal | undefined)?.aborted === true;
    const signed = decision.attested && policy.responseReceipts && signer !== undefined && params['task'] === undefined && !cancelled
      ? await signResult(ctx, signer, decision.attestation, result) : null;
    ctx.report(signed === null ? { tool, decision, ...(cancelled ? { cancelled: true as const } : {}) } : { tool, decision, receipt: signed.receipt });
    return signed === null ? result : signed.result;
  };
}

/**
 * The result as it goes on the wire (a JSON round trip, so the commitment covers exactly
 * what the client receives) with the response receipt in `_meta`. A result that cannot be
 * committed (not JSON, lone surrogate) goes out unsigned and the error to `onerror`: the
 * tool has run, its result is not withheld for want of a receipt.
 */
async function signResult(ctx: GateContext, signer: Signer, attestation: Attestation, result: unknown): Promise<{ result: Record<string, unknown>; receipt: Receipt } | null> {
  try {
    const sent: unknown = JSON.parse(JSON.stringify(result) ?? 'null');
    if (!isObject(sent)) throw new AttestError('ERR_JSON_VALUE', 'tools/call result is not a JSON object');
    const receipt = await responseReceipt(signer, attestation, { result: sent }, ctx.now());
    const meta = isObject(sent['_meta']) ? sent['_meta'] : {};
    return { result: { ...sent, _meta: { ...meta, [RESPONSE_RECEIPT_META_KEY]: receipt } }, receipt };
  } catch (e) {
    ctx.fail(e);
    return null;
  }
}

/** The `initialize` handler around the stored one: adds the attestation extension (policy in force). */
function advertise(ctx: GateContext, inner: StoredHandler): StoredHandler {
  return async (request, extra) => {
    const result = await inner(request, extra);
    if (!isObject(result)) return result;
    // A copy: the SDK returns its own capabilities object, which must not change.
    const caps = isObject(result['capabilities']) ? result['capabilities'] : {};
    const extensions = isObject(caps['extensions']) ? caps['extensions'] : {};
    const value = attestationExtension(ctx.gate.policy, ctx.serverFingerprint);
    return { ...result, capabilities: { ...caps, extensions: { ...extensions, [ATTESTATION_EXTENSION]: value } } };
  };
}
