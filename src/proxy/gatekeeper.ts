/**
 * The server-side gatekeeper (`mcp-attest proxy --role server`): a transport-level relay in
 * front of an unmodified stdio MCP server. Every `tools/call` is decided by the {@link Gate}
 * (docs/gate-policy.md) and the decision durably logged before anything else happens; a
 * refused call never reaches the upstream and is answered with the SEP-2787 `isError`
 * result. The response to an allowed call gets a response receipt signed with this data
 * directory's issuer key, logged, and returned in `result._meta`. The server's capabilities
 * (`initialize` and `server/discover` results) gain `extensions["attestation/tool-call"]`.
 * Tool definitions in `tools/list` results are pinned (docs/tool-pinning.md).
 */
import { basename } from 'node:path';
import { sha256Tagged } from '../bytes/digest.js';
import { isObject } from '../envelope/schema.js';
import { nowSeconds } from '../envelope/time.js';
import type { JsonValue } from '../jcs/index.js';
import type { CallerBinding, Gate, GateDecision } from '../gate/gate.js';
import { ATTESTATION_EXTENSION, RESPONSE_RECEIPT_META_KEY, attestationExtension, refusalResult, responseReceipt } from '../gate/wire.js';
import { writeMessage, type RpcMessage } from './message.js';
import { setNested } from './meta.js';
import type { Recorder } from './recorder.js';
import { RECORD_FAILED, StdioRelay, describe, report, type CallMessage, type Outstanding, type RelayIo } from './stdio-relay.js';
import type { ToolWatch } from './tool-watch.js';

/** Options of {@link Gatekeeper}. */
export interface GatekeeperOptions extends RelayIo {
  gate: Gate;
  /** This server's identity (the audience attestations must name). */
  serverFingerprint: string;
  /** Server name in the log (default: the command). */
  name?: string;
  /** Tool definition pinning (absent: not pinned). */
  tools?: ToolWatch;
  /** POSIX seconds clock (default: the system clock). */
  now?: () => number;
}

/** Runs one upstream behind the gate until either side goes away. */
export class Gatekeeper extends StdioRelay {
  private readonly name: string;
  private readonly now: () => number;

  constructor(recorder: Recorder, private readonly o: GatekeeperOptions) {
    super(recorder, o);
    this.tools = o.tools ?? null;
    this.name = o.name ?? (o.url !== undefined ? o.url.url.host : basename(o.argv[0] ?? 'upstream'));
    this.now = o.now ?? nowSeconds;
  }

  protected serverRef(): { name: string; fingerprint: string } {
    return { name: this.name, fingerprint: this.o.serverFingerprint };
  }

  /**
   * Decide a `tools/call` on exactly the message that will be forwarded (its strict reading,
   * re-serialized), with the access token of the request it came in (`caller`, the gateway's
   * OAuth callers), log the decision, then forward it or answer the refusal.
   */
  protected async onCall(call: CallMessage, caller?: CallerBinding): Promise<void> {
    const { id, params } = call;
    const meta = isObject(params['_meta']) ? params['_meta'] : {};
    const attestation = meta['attestation'] as JsonValue | undefined;
    const decision = await this.o.gate.check({ name: params['name'], args: params['arguments'], attestation, now: this.now(), ...(caller ? { caller } : {}) });
    const text = writeMessage(call);
    let index: bigint;
    try {
      index = await this.logDecision(decision, params['name'], text, caller);
    } catch (e) {
      // Fail closed: an unlogged decision lets nothing through.
      report(e);
      return this.errorToClient(id, RECORD_FAILED, `mcp-attest: call not forwarded, the decision could not be recorded (${describe(e)})`);
    }
    if (!decision.allowed) {
      report(new Error(`refused tools/call ${String(params['name'])}: ${decision.reason}: ${decision.message}`));
      return this.writeClient({ jsonrpc: '2.0', id, result: refusalResult(decision.reason, decision.code, decision.message) as Record<string, JsonValue> });
    }
    const pending = decision.attested ? { callId: decision.attestation.issuerAsserted.nonce, attestation: decision.attestation, index, task: params['task'] !== undefined } : null;
    this.forward(call, pending, text);
  }

  private async logDecision(d: GateDecision, tool: unknown, text: string, caller: CallerBinding | undefined): Promise<bigint> {
    const a = d.attestation as unknown as Record<string, JsonValue> | null;
    const base = {
      callId: d.attestation?.issuerAsserted.nonce ?? '', server: this.serverRef(),
      tool: typeof tool === 'string' ? tool : '', requestDigest: sha256Tagged(text),
      ...('credential' in d && d.credential ? { credential: d.credential } : {}), ...(caller ? { caller } : {}),
    };
    const alone = this.noCallUpstream();
    if (d.allowed) return this.recorder.decision({ ...base, decision: 'allowed', reason: null, code: null, attestation: a }, alone);
    const refused = { ...base, decision: 'refused' as const, reason: d.reason, code: d.code };
    try {
      return await this.recorder.decision({ ...refused, attestation: a }, alone);
    } catch {
      // A refused attestation too large to log with its wrapper: the request digest still binds it.
      return this.recorder.decision({ ...refused, attestation: null }, alone);
    }
  }

  /** True when no recorded call is upstream (its decision logged, its response not yet): an append then has nothing to share a sync with (Recorder `decision`). */
  private noCallUpstream(): boolean {
    for (const o of this.pending.values()) if (o.call !== null) return false;
    return true;
  }

  /** Upstream -> client, a response: advertise the extension, pin tools, sign response receipts. */
  protected override async onResponse(msg: RpcMessage, o: Outstanding): Promise<void> {
    if (o.method === 'initialize' || o.method === 'server/discover') {
      const ext = attestationExtension(this.o.gate.policy, this.o.serverFingerprint) as unknown as JsonValue;
      // Ours to advertise: an upstream's own entry is replaced.
      setNested(msg.result, ['capabilities', 'extensions'], ATTESTATION_EXTENSION, ext, true);
      return this.writeClient(msg);
    }
    if (o.method === 'tools/list' && this.tools) return this.writeClient(await this.tools.onList(writeMessage(msg), msg, this.o.gate.policy.toolChanges));
    const p = o.call;
    if (p === null) return this.writeClient(msg);
    try {
      const receipt = await responseReceipt(this.recorder.issuerSigner, p.attestation, msg, this.now(), p.task === true, p.taskReceiptDigest);
      await this.recorder.appendReceipt({ callId: p.callId, attestationIndex: p.index, receipt, ...(msg.result !== undefined ? { result: msg.result } : {}), alone: this.noCallUpstream() });
      this.tasks.created(msg.result, p, receipt);
      if (this.o.gate.policy.responseReceipts) setNested(msg.result, ['_meta'], RESPONSE_RECEIPT_META_KEY, receipt as unknown as JsonValue, true);
      this.writeClient(msg);
    } catch (e) {
      report(e);
      this.errorToClient(msg.id ?? null, RECORD_FAILED, `mcp-attest: response withheld, its receipt could not be recorded (${describe(e)})`);
    }
  }
}
