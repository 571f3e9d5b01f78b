/**
 * The client-side attesting proxy: a transport-level relay between the client's stdio and
 * an upstream MCP server's stdio (DESIGN.md data flow). Every message is read strictly and
 * relayed as read (docs/wire.md), unchanged in value except `tools/call` requests (the
 * attestation is logged, then, when the upstream asks for it, added at
 * `params._meta.attestation`) and their responses (the gatekeeper's response receipt, if
 * any, is verified and logged; our receipt is logged, then referenced at
 * `result._meta["dev.mcp-attest/receipt"]`). Era-agnostic: `initialize`, `server/discover`
 * and modern `_meta` pass with every member they carry.
 *
 * Receipt sessions (docs/session.md): a call joins the session named by its
 * `params._meta["dev.mcp-attest/session"]` or, without one, the proxy's `--session`; its action
 * is appended once its receipt is logged (Recorder). The key is left in the request. A
 * session that cannot take the call (not a session id, unknown, sealed, another key's) is a
 * one-line warning on stderr: the call is attested, forwarded and receipted as usual, and
 * joins no session (a per-call id never falls back to `--session`).
 */
import { basename } from 'node:path';
import { sha256Tagged } from '../bytes/digest.js';
import type { OutcomeReason, OutcomeStatus } from '../receipt/schema.js';
import { ATTESTATION_EXTENSION, isTaskHandle } from '../gate/wire.js';
import { isObject } from '../envelope/schema.js';
import { isAttestError } from '../errors.js';
import { nowSeconds } from '../envelope/time.js';
import type { JsonValue } from '../jcs/index.js';
import { writeMessage, type RpcId, type RpcMessage } from './message.js';
import { setNested } from './meta.js';
import type { Recorder } from './recorder.js';
import { fingerprintOf } from './fingerprint.js';
import { RECORD_FAILED, StdioRelay, describe, report, type CallMessage, type Outstanding, type PendingCall, type RelayIo } from './stdio-relay.js';
import { taskOf } from './tasks.js';
import type { ResponseReceiptCheck, ResponseReceiptChecker } from './response-receipt.js';
import { ToolWatch, pinKeyOf } from './tool-watch.js';
import type { ToolChangeAction } from '../gate/policy.js';
import type { Signer } from '../envelope/sign.js';

export { RECORD_FAILED } from './stdio-relay.js';

/** The `_meta` key of the receipt reference we add to results. */
export const RECEIPT_META_KEY = 'dev.mcp-attest/receipt';
/** `_meta` keys a client may use to declare the intent and capability of a call. */
export const INTENT_META_KEY = 'dev.mcp-attest/intent';
export const CAPABILITY_META_KEY = 'dev.mcp-attest/requestedCapability';
/** `_meta` key of `tools/call` params naming the receipt session (`ses_...`) the call joins; wins over {@link ProxyOptions.session}. */
export const SESSION_META_KEY = 'dev.mcp-attest/session';
/** Intent recorded when the client declares none. */
export const DEFAULT_INTENT = 'undeclared: tools/call relayed by mcp-attest proxy';

/**
 * When the attestation goes on the wire (it is always logged): `auto` when the upstream
 * advertised `extensions["attestation/tool-call"]`, `always`, or `never`.
 */
export type AttachMode = 'auto' | 'always' | 'never';

/** Options of {@link AttestingProxy}. */
export interface ProxyOptions extends RelayIo {
  /** Server name for the log (default: serverInfo.name from `initialize`, else the command). */
  name?: string;
  /** Pins the server fingerprint attested (default: the one the upstream advertises, else derived from the command line). */
  fingerprint?: string;
  /** Add the receipt reference to results (default true). */
  receiptMeta?: boolean;
  /** Default `auto`. */
  attach?: AttachMode;
  /** Verifies the gatekeeper's response receipts (absent: they are relayed unchecked). */
  responseReceipts?: ResponseReceiptChecker;
  /** Pins file of tool definitions (absent: no pinning). */
  pinsPath?: string;
  /** A tool watch shared with other relays (the gateway's, per upstream), used instead of `pinsPath`. */
  tools?: ToolWatch;
  /** The attestation's subject (`issuerAsserted.sub`) for every call: the gateway's authenticated principal (default: the data directory's). */
  sub?: string;
  /** The principal's own issuer key (the gateway's `issuers`; its receipts too are signed with it): default the data directory's. */
  issuer?: Signer;
  /** A tool changed since pinned: `warn`, `hide` from tools/list, or `refuse` calls to it (default warn). */
  toolChanges?: ToolChangeAction;
  /** Receipt session every call joins unless it names its own in `_meta` (checked at startup by the caller, again at each call). */
  session?: string;
  /** The calls' authenticated principal (the gateway's): a call joins only a receipt session that principal started over HTTP (absent: any open session). */
  principal?: string;
}

/** JSON-RPC error code (implementation-defined range) for a call to a tool whose definition changed. */
export const TOOL_CHANGED = -32002;
/** JSON-RPC error code for a response withheld because its response receipt did not verify (`--response-receipts require`). */
export const RESPONSE_RECEIPT_FAILED = -32003;

interface ClientCall extends PendingCall { cancelled: boolean; attached: boolean }

/** Runs one upstream behind the attesting relay until either side goes away. */
export class AttestingProxy extends StdioRelay<ClientCall> {
  private serverName: string;
  private fingerprint: string;
  /** The upstream advertised the attestation extension. */
  private upstreamAsks = false;

  constructor(recorder: Recorder, private readonly o: ProxyOptions) {
    const url = o.url?.url;
    // Pins are kept under a key our side fixes (never the fingerprint the upstream advertises);
    // shared with a fleet only under a configured name or fingerprint (a bare command line may name different servers on different machines).
    // Opened before the relay attaches to anything: a pins file that cannot be opened leaves no relay reading.
    const tools = o.tools !== undefined ? o.tools : o.pinsPath === undefined ? null : new ToolWatch(o.pinsPath, pinKeyOf({ argv: o.argv, url, name: o.name, fingerprint: o.fingerprint }), nowSeconds, o.name !== undefined || o.fingerprint !== undefined ? recorder.fleetPins() : null);
    super(recorder, o);
    this.tools = tools;
    this.serverName = o.name ?? (url !== undefined ? url.host : basename(o.argv[0] ?? 'upstream'));
    this.fingerprint = o.fingerprint ?? fingerprintOf(o.argv, url);
    if (o.issuer !== undefined) recorder.addIssuer(o.issuer);
  }

  protected serverRef(): { name: string; fingerprint: string } {
    return { name: this.serverName, fingerprint: this.fingerprint };
  }

  /**
   * Client -> upstream, a `tools/call`: attest exactly the message that will be forwarded
   * (its strict reading, re-serialized; the request digest is of that text before our
   * attestation is added), log it, then forward it.
   */
  protected async onCall(call: CallMessage): Promise<void> {
    const params = call.params;
    const meta = (isObject(params['_meta']) ? params['_meta'] : {});
    if (typeof params['name'] !== 'string' || params['name'] === '') return this.errorToClient(call.id, -32602, 'mcp-attest: tools/call without a tool name');
    if ((this.o.toolChanges ?? 'warn') !== 'warn' && this.tools?.changed(params['name']) === true) {
      return this.refuse(call.id, TOOL_CHANGED, `mcp-attest: call not forwarded, tool ${params['name']} changed since it was pinned (mcp-attest tools diff)`);
    }
    const intent = typeof meta[INTENT_META_KEY] === 'string' && meta[INTENT_META_KEY] !== '' ? (meta[INTENT_META_KEY] as string) : DEFAULT_INTENT;
    const capability = typeof meta[CAPABILITY_META_KEY] === 'string' ? (meta[CAPABILITY_META_KEY] as string) : undefined;
    const session = this.sessionOf(meta, call.id);
    const text = writeMessage(call);
    let recorded;
    try {
      recorded = await this.recorder.attest({
        tool: params['name'], args: params['arguments'], intent, server: { name: this.serverName, fingerprint: this.fingerprint },
        requestDigest: sha256Tagged(text), ...(capability === undefined ? {} : { requestedCapability: capability }), ...(session === null ? {} : { session }),
        ...(this.o.sub === undefined ? {} : { sub: this.o.sub }), ...(this.o.issuer === undefined ? {} : { issuer: this.o.issuer }),
      });
    } catch (e) {
      // Fail closed: a call that cannot be recorded is not forwarded.
      report(e);
      return this.errorToClient(call.id, RECORD_FAILED, `mcp-attest: call not forwarded, it could not be recorded (${describe(e)})`);
    }
    const { attestation, callId, index } = recorded;
    const mode = this.o.attach ?? 'auto';
    const wanted = mode === 'always' || (mode === 'auto' && this.upstreamAsks);
    // A client-supplied attestation is never replaced; ours is then only in the log.
    const attached = wanted && setNested(call, ['params', '_meta'], 'attestation', attestation as unknown as JsonValue);
    // Unchanged when nothing was attached: the text digested is the text forwarded.
    this.forward(call, { callId, attestation, index, cancelled: false, attached, task: call.params['task'] !== undefined }, attached ? writeMessage(call) : text);
  }

  /** Upstream -> client, a response: learn the server, pin tools, check response receipts, write receipts. */
  protected override async onResponse(msg: RpcMessage, o: Outstanding<ClientCall>): Promise<void> {
    if (o.method === 'initialize' || o.method === 'server/discover') this.learnServer(msg);
    if (o.method === 'tools/list' && this.tools) return this.writeClient(await this.tools.onList(writeMessage(msg), msg, this.o.toolChanges ?? 'warn'));
    const p = o.call;
    if (p === null) return this.writeClient(msg);
    // Our receipt first, always: nothing the upstream sends can leave the call without one.
    let receiptIndex: bigint;
    try {
      const { status, reason, value } = outcomeOf(msg, p.cancelled, p.task === true);
      const logged = await this.recorder.receiptWith({ callId: p.callId, attestation: p.attestation, attestationIndex: p.index, status, ...(reason ? { reason } : {}), result: value, ...taskOf(p) });
      receiptIndex = logged.index;
      this.tasks.created(value, p, logged.receipt);
    } catch (e) {
      // Fail closed: an unrecorded response is not released; the client learns why.
      report(e);
      return this.errorToClient(msg.id ?? null, RECORD_FAILED, `mcp-attest: response withheld, its receipt could not be recorded (${describe(e)})`);
    }
    const check = await this.checkResponseReceipt(p, msg);
    // Recorded as received, then withheld: the log says what came back and why it did not pass.
    if (check?.refuse) return this.errorToClient(msg.id ?? null, RESPONSE_RECEIPT_FAILED, `mcp-attest: response withheld, ${check.message}`);
    if (this.o.receiptMeta === false) return this.writeClient(msg);
    const ref = { callId: p.callId, origin: this.recorder.logOrigin, attestationIndex: p.index.toString(), receiptIndex: receiptIndex.toString() };
    // Ours to set: a value the upstream put there is an impostor and is replaced.
    setNested(msg.result, ['_meta'], RECEIPT_META_KEY, ref, true);
    this.writeClient(msg);
  }

  /**
   * The gatekeeper's response receipt of an attested call, checked and logged (null when
   * none is checked). A gatekeeper (the upstream advertised the extension) signs its
   * responses to attested calls; under `--response-receipts require`, an upstream that did
   * not advertise it, or a receipt that cannot be logged, fails the check.
   */
  private async checkResponseReceipt(p: ClientCall, msg: RpcMessage): Promise<ResponseReceiptCheck | null> {
    const checker = this.o.responseReceipts;
    if (checker === undefined) return null;
    if (!p.attached || !this.upstreamAsks) return checker.unadvertised();
    const check = await checker.check(p.attestation, msg);
    if (check.receipt === null) return check;
    try {
      await this.recorder.responseReceipt({ callId: p.callId, attestationIndex: p.index, receipt: check.receipt, code: check.code });
      return check;
    } catch (e) {
      report(e);
      return checker.failedToLog(describe(e));
    }
  }

  /**
   * The session a call joins: its `_meta` value when the key is present, else `--session`;
   * null for none, or (with a warning naming the code) when that session cannot take it.
   */
  private sessionOf(meta: Record<string, unknown>, id: RpcId): string | null {
    const own = Object.hasOwn(meta, SESSION_META_KEY);
    const wanted = own ? meta[SESSION_META_KEY] : this.o.session;
    if (wanted === undefined) return null;
    try {
      return this.recorder.openSession(wanted, this.o.principal);
    } catch (e) {
      const shown = typeof wanted === 'string' ? JSON.stringify(wanted.slice(0, 64)) : `(${wanted === null ? 'null' : typeof wanted})`;
      const why = `${isAttestError(e) ? `${e.code}: ` : ''}${e instanceof Error ? e.message : String(e)}`.replace(/\s+/g, ' ');
      process.stderr.write(`mcp-attest: warning: call ${JSON.stringify(id).slice(0, 64)} joins no session, ${own ? `_meta["${SESSION_META_KEY}"]` : '--session'} ${shown}: ${why}\n`);
      return null;
    }
  }

  /** From an `initialize` / `server/discover` result: the server name, the attestation extension and fingerprint. */
  private learnServer(msg: RpcMessage): void {
    const result = msg.result ?? {};
    const info = result['serverInfo'] as { name?: unknown } | undefined;
    if (this.o.name === undefined && typeof info?.name === 'string' && info.name !== '') this.serverName = info.name;
    const caps = isObject(result['capabilities']) ? result['capabilities'] : {};
    const ext = isObject(caps['extensions']) ? caps['extensions'][ATTESTATION_EXTENSION] : undefined;
    if (!isObject(ext)) return;
    this.upstreamAsks = true;
    const advertised = ext['serverFingerprint'];
    if (typeof advertised !== 'string' || advertised === '') return;
    this.tools?.observeFingerprint(advertised);
    if (this.o.fingerprint === undefined) this.fingerprint = advertised;
    else if (advertised !== this.o.fingerprint) report(new Error(`upstream advertises server fingerprint ${advertised}; attestations name the pinned ${this.o.fingerprint}`));
  }

}

/**
 * Map a JSON-RPC response to a receipt outcome and the value committed to (the `result`
 * object as received, or `{error}`). A 2026-07-28 `input_required` result is interim:
 * `errored` with reason `input_required` (the retried request carries its own attestation); so
 * is the task handle answering a task-augmented call (`task`), reason `task_created` (its
 * result is not receipted).
 * A response to a call the client cancelled keeps its outcome, with reason `cancelled`.
 */
export function outcomeOf(msg: RpcMessage, cancelled = false, task = false): { status: OutcomeStatus; reason?: OutcomeReason; value: unknown } {
  const o = baseOutcome(msg, task);
  return cancelled && o.status !== 'refused' ? { ...o, reason: 'cancelled' } : o;
}

function baseOutcome(msg: RpcMessage, task: boolean): { status: OutcomeStatus; reason?: OutcomeReason; value: unknown } {
  if (msg.error !== undefined || !msg.result) return { status: 'errored', reason: 'jsonrpc_error', value: { error: msg.error ?? null } };
  if (msg.result['resultType'] === 'input_required') return { status: 'errored', reason: 'input_required', value: msg.result };
  // To a task-augmented call, a task handle says the call was accepted, not what it did.
  if (task && isTaskHandle(msg.result)) return { status: 'errored', reason: 'task_created', value: msg.result };
  if (msg.result['isError'] !== true) return { status: 'executed', value: msg.result };
  if (isAttestationRefusal(msg.result)) return { status: 'refused', reason: 'attestation_refused', value: msg.result };
  return { status: 'errored', reason: 'tool_error', value: msg.result };
}

const SEP_REASONS = ['signature_invalid', 'nonce_replay', 'expired', 'tool_mismatch', 'server_mismatch', 'key_unavailable', 'attestation_required', 'args_commitment_mismatch'];

/** Exactly the SEP-2787 refusal: `isError: true` and one text block `{"attestationError":true,"reason":<SEP reason>}`. */
export function isAttestationRefusal(result: Record<string, unknown>): boolean {
  const content = result['content'];
  if (result['isError'] !== true || !Array.isArray(content) || content.length !== 1 || !isObject(content[0])) return false;
  const text = content[0]['text'];
  if (typeof text !== 'string') return false;
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) && Object.keys(v).length === 2 && v['attestationError'] === true && SEP_REASONS.includes(v['reason'] as string);
  } catch {
    return false;
  }
}
