/**
 * The gate: the server-side decision for one `tools/call`, shared by the gatekeeper proxy
 * (`proxy --role server`) and the in-process middleware. Order (SEP-2787 "Verification
 * Rules", docs/gate-policy.md):
 *
 * 1. a tool the policy denies is refused (`ERR_TOOL_DENIED`), whatever it carries, and so is
 *    a tool whose definition changed since it was pinned unless `toolChanges: warn`
 *    (`ERR_TOOL_CHANGED`);
 * 2. no attestation: refused `attestation_required` when the policy requires one, else
 *    allowed unattested;
 * 3. the attestation is verified: strict parse, schema, algorithm, signature against the
 *    policy's trusted issuers, freshness (`iat`/`expSeconds`, skew), audience (the
 *    `toolCalls` entry for this server's fingerprint), tool name, argument commitment
 *    against the arguments received;
 * 4. an attestation made under an agent credential (`iss` a credential id, the key the
 *    credential's, docs/identity.md) is decided against the identity log: chain logged, no
 *    revocation, windows, scope (the `ERR_CREDENTIAL_*` codes); per-tool rules: a required
 *    `requestedCapability`;
 * 5. only then is the nonce recorded, atomically, until `iat + expSeconds + 300 s` (the
 *    largest skew a policy may set, so a reload cannot shorten a nonce's memory): a replay is refused `nonce_replay`, and a
 *    full store refuses (`ERR_NONCE_STORE_FULL`) instead of evicting a live nonce.
 *
 * So a forged, untrusted, stale or misdirected copy never touches the replay store.
 */
import type { ErrorCode } from '../errors.js';
import type { JsonValue } from '../jcs/index.js';
import { parseTimestamp } from '../envelope/time.js';
import type { KeyResolver } from '../envelope/signature.js';
import type { Attestation } from '../attestation/schema.js';
import { sepReason, verifyAttestation } from '../attestation/verify.js';
import { MAX_SKEW_SECONDS, type GatePolicy } from './policy.js';
import { checkCredentialCall, credentialKeys, namesCredential, type CredentialFacts, type IdentitySource } from '../identity/gate-check.js';

/**
 * A replay store: check-and-insert of (issuer, nonce) kept until `expiresAt` (POSIX s);
 * synchronous (SQLite, memory) or not (a fleet's PostgreSQL store, store/pg-replay.ts).
 */
export interface ReplayStore {
  record(iss: string, nonce: string, expiresAt: number, now: number): 'recorded' | 'replay' | 'full' | Promise<'recorded' | 'replay' | 'full'>;
}

/**
 * What an OAuth access token the gateway validated says of its caller (docs/identity.md
 * "Interop"): the token's issuer and subject, its digest (`sha256:` hex of the token), and
 * with DPoP (RFC 9449) the thumbprint of the key that proved possession.
 */
export interface CallerBinding { iss: string; sub: string; tokenDigest: string; jkt?: string }

/** One `tools/call` as the server received it. */
export interface GateCall {
  /** `params.name`. */
  name: unknown;
  /** `params.arguments` (undefined when absent: committed as `{}`). */
  args: unknown;
  /** `params._meta.attestation`: its exact JSON text (strict parse) or the parsed value; undefined when absent. */
  attestation: string | JsonValue | undefined;
  /** Decision time, POSIX seconds. */
  now: number;
  /** The caller's access token, when the gateway validated one. */
  caller?: CallerBinding;
}

/** The decision. `reason` is the SEP-2787 reason of a refusal; `code` our finer code. */
export type GateDecision =
  | { allowed: true; attested: true; attestation: Attestation; tool: string; message: string; projectionMatch: boolean | null; credential?: CredentialFacts }
  | { allowed: true; attested: false; attestation: null; tool: string; message: string }
  | { allowed: false; reason: string; code: ErrorCode; message: string; attestation: Attestation | null; credential?: CredentialFacts };

/** What the gate needs besides the call. */
export interface GateOptions {
  policy: GatePolicy;
  /** Trusted issuer keys (the policy's). */
  keys: KeyResolver;
  /** This server's identity: the audience an attestation must name. */
  serverFingerprint: string;
  replay: ReplayStore;
  /** Pinning status of a tool (gatekeeper proxies); absent: not checked. */
  toolChanged?: (name: string) => boolean;
  /** The identity log credential calls are decided against (docs/identity.md); absent: every credential call is refused. */
  identity?: IdentitySource;
}

function refuse(code: ErrorCode, message: string, attestation: Attestation | null = null, credential?: CredentialFacts | null): GateDecision {
  return { allowed: false, reason: sepReason(code), code, message, attestation, ...(credential ? { credential } : {}) };
}

/** The decision procedure over a policy that may be replaced at any time (SIGHUP reload). */
export class Gate {
  constructor(private o: GateOptions) {}

  /** Replace policy and keys; calls already being decided finish under the old ones. */
  reload(policy: GatePolicy, keys: KeyResolver): void {
    this.o = { ...this.o, policy, keys };
  }

  /** The policy in force. */
  get policy(): GatePolicy {
    return this.o.policy;
  }

  /** Decide one call. Never throws: every failure is a refusal with a code. */
  async check(call: GateCall): Promise<GateDecision> {
    const o = this.o;
    const { policy } = o;
    if (typeof call.name !== 'string' || call.name === '') return refuse('ERR_TOOL_MISMATCH', 'tools/call without a tool name');
    const rule = Object.hasOwn(policy.tools, call.name) ? policy.tools[call.name]! : {};
    if (rule.deny === true) return refuse('ERR_TOOL_DENIED', `tool ${call.name} is denied by policy`);
    if (policy.toolChanges !== 'warn' && o.toolChanged?.(call.name) === true) return refuse('ERR_TOOL_CHANGED', `tool ${call.name} changed since it was pinned`);
    if (call.attestation === undefined) {
      if (policy.required) return refuse('ERR_ATTESTATION_REQUIRED', 'this server requires an attestation on every tools/call');
      return { allowed: true, attested: false, attestation: null, tool: call.name, message: 'unattested call allowed by policy' };
    }
    const v = await verifyAttestation(call.attestation, {
      keys: credentialKeys(o.identity ?? null, policy, o.keys), acceptedAlgs: policy.acceptedAlgorithms, now: call.now, skewSeconds: policy.clockSkewSeconds,
      maxExpSeconds: policy.maxTtlSeconds, serverFingerprint: o.serverFingerprint, toolName: call.name,
      args: call.args === undefined ? {} : call.args, redacted: policy.redacted, requireLowS: policy.requireLowS,
    });
    const failed = v.checks.find((c) => c.status === 'fail');
    if (!v.ok || v.attestation === null) return refuse(failed?.code ?? 'ERR_SIGNATURE_INVALID', `${failed?.dimension ?? 'attestation'}: ${failed?.message ?? 'not verified'}`, v.attestation);
    const a = v.attestation;
    let credential: CredentialFacts | undefined;
    if (namesCredential(a.issuerAsserted.iss, policy)) {
      const c = await checkCredentialCall(a, o.identity ?? null, policy, { server: o.serverFingerprint, tool: call.name, now: call.now, caller: call.caller });
      if (!c.ok) return refuse(c.code, `credential: ${c.message}`, a, c.facts);
      credential = c.facts;
    }
    const capability = a.plannerDeclared.requestedCapability;
    if (rule.requireCapability !== undefined && (typeof capability !== 'string' || capability === ''
      || (Array.isArray(rule.requireCapability) && !rule.requireCapability.includes(capability)))) {
      return refuse('ERR_CAPABILITY_MISSING', `tool ${call.name} requires a declared requestedCapability${Array.isArray(rule.requireCapability) ? ` (one of ${rule.requireCapability.join(', ')})` : ''}`, a);
    }
    const { iss, nonce, iat, expSeconds } = a.issuerAsserted;
    let outcome: 'recorded' | 'replay' | 'full';
    try {
      // Kept until iat + expSeconds + the largest skew any policy may set: a reload that widens
      // the skew cannot reopen a window in which this nonce would already be forgotten.
      outcome = await o.replay.record(iss, nonce, parseTimestamp(iat) + expSeconds + MAX_SKEW_SECONDS, call.now);
    } catch (e) {
      // The store failed: fail closed, the nonce's freshness cannot be established.
      process.stderr.write(`mcp-attest: replay store failed: ${(e as Error).message}\n`);
      return refuse('ERR_NONCE_STORE_FULL', 'replay store unavailable', a);
    }
    if (outcome === 'replay') return refuse('ERR_NONCE_REPLAY', 'nonce already accepted within its validity window', a);
    if (outcome === 'full') return refuse('ERR_NONCE_STORE_FULL', 'replay store is full of live nonces', a);
    return { allowed: true, attested: true, attestation: a, tool: call.name, message: 'attestation verified', projectionMatch: v.projectionMatch, ...(credential ? { credential } : {}) };
  }
}

/**
 * An in-memory {@link ReplayStore} (middleware, tests): the same semantics as the SQLite
 * `NonceStore` (kept until `expiresAt`, purged only once expired, bounded, never evicts a
 * live nonce) without persistence across restarts.
 */
export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 1_000_000) {}

  /** @see ReplayStore.record */
  record(iss: string, nonce: string, expiresAt: number, now: number): 'recorded' | 'replay' | 'full' {
    const key = `${iss}\n${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until >= now) return 'replay';
    if (this.seen.size >= this.maxEntries) for (const [k, t] of this.seen) if (t < now) this.seen.delete(k);
    if (this.seen.size >= this.maxEntries) return 'full';
    this.seen.set(key, expiresAt);
    return 'recorded';
  }
}
