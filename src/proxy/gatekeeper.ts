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
import type { Gate, GateDecision } from '../gate/gate.js';
import { ATTESTATION_EXTENSION, RESPONSE_RECEIPT_META_KEY, attestationExtension, refusalResult, responseReceipt } from '../gate/wire.js';
import { idKey, parseMessage } from './lines.js';
import { addMeta, addNested, memberText } from './splice.js';
import type { Recorder } from './recorder.js';
import { RECORD_FAILED, StdioRelay, describe, report, type RelayIo } from './stdio-relay.js';
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
  private readonly capabilityIds = new Set<string>();
  private readonly listIds = new Set<string>();
  private readonly name: string;
  private readonly now: () => number;

  constructor(recorder: Recorder, private readonly o: GatekeeperOptions) {
    super(recorder, o);
    this.tools = o.tools ?? null;
    this.name = o.name ?? basename(o.argv[0] ?? 'upstream');
    this.now = o.now ?? nowSeconds;
  }

  /** Client -> upstream: decide `tools/call`, note handshake and `tools/list` ids. */
  protected async fromClient(line: string): Promise<void> {
    const msg = parseMessage(line);
    if ((msg?.method === 'initialize' || msg?.method === 'server/discover') && msg.id !== undefined) this.capabilityIds.add(idKey(msg.id));
    if (msg?.method === 'tools/list' && msg.id !== undefined) this.listIds.add(idKey(msg.id));
    const call = this.incomingCall(line, msg);
    if (!call) return;
    const id = call.id;
    const params = isObject(call.params) ? call.params : {};
    const meta = isObject(params['_meta']) ? params['_meta'] : {};
    const attestation = meta['attestation'] === undefined ? undefined : memberText(line, ['params', '_meta', 'attestation']);
    const decision = await this.o.gate.check({ name: params['name'], args: params['arguments'], attestation, now: this.now() });
    let index: bigint;
    try {
      index = this.logDecision(decision, params['name'], line);
    } catch (e) {
      // Fail closed: an unlogged decision lets nothing through.
      report(e);
      return this.errorToClient(id, RECORD_FAILED, `mcp-attest: call not forwarded, the decision could not be recorded (${describe(e)})`);
    }
    if (!decision.allowed) {
      report(new Error(`refused tools/call ${String(params['name'])}: ${decision.reason}: ${decision.message}`));
      return this.writeClient(JSON.stringify({ jsonrpc: '2.0', id, result: refusalResult(decision.reason, decision.code, decision.message) }));
    }
    if (decision.attested) this.pending.set(idKey(id), { callId: decision.attestation.issuerAsserted.nonce, attestation: decision.attestation, index });
    this.writeUpstream(line);
  }

  private logDecision(d: GateDecision, tool: unknown, line: string): bigint {
    const a = d.attestation as unknown as Record<string, JsonValue> | null;
    const base = {
      callId: d.attestation?.issuerAsserted.nonce ?? '', server: { name: this.name, fingerprint: this.o.serverFingerprint },
      tool: typeof tool === 'string' ? tool : '', requestDigest: sha256Tagged(line),
    };
    if (d.allowed) return this.recorder.decision({ ...base, decision: 'allowed', reason: null, code: null, attestation: a });
    const refused = { ...base, decision: 'refused' as const, reason: d.reason, code: d.code };
    try {
      return this.recorder.decision({ ...refused, attestation: a });
    } catch {
      // A refused attestation too large to log with its wrapper: the request digest still binds it.
      return this.recorder.decision({ ...refused, attestation: null });
    }
  }

  /** Upstream -> client: advertise the extension, pin tools, sign response receipts. */
  protected async fromUpstream(line: string): Promise<void> {
    if (this.pending.size === 0 && this.capabilityIds.size === 0 && this.listIds.size === 0) return this.writeClient(line);
    const msg = parseMessage(line);
    if (!msg || msg.method !== undefined || msg.id === undefined) return this.writeClient(line);
    const key = idKey(msg.id);
    if (this.capabilityIds.delete(key)) {
      const ext = attestationExtension(this.o.gate.policy, this.o.serverFingerprint);
      return this.writeClient(addNested(line, ['result', 'capabilities', 'extensions'], ATTESTATION_EXTENSION, ext) ?? line);
    }
    if (this.listIds.delete(key)) return this.writeClient(this.tools?.onList(line, msg, this.o.gate.policy.toolChanges) ?? line);
    const p = this.pending.get(key);
    if (!p) return this.writeClient(line);
    this.pending.delete(key);
    try {
      const receipt = await responseReceipt(this.recorder.issuerSigner, p.attestation, msg, this.now(), crypto.getRandomValues(new Uint8Array(16)));
      this.recorder.appendReceipt({ callId: p.callId, attestationIndex: p.index, receipt, ...(msg.result !== undefined ? { result: msg.result } : {}) });
      if (!this.o.gate.policy.responseReceipts) return this.writeClient(line);
      this.writeClient(addMeta(line, 'result', RESPONSE_RECEIPT_META_KEY, receipt) ?? line);
    } catch (e) {
      report(e);
      this.errorToClient(msg.id, RECORD_FAILED, `mcp-attest: response withheld, its receipt could not be recorded (${describe(e)})`);
    }
  }

}
