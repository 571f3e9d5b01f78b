/**
 * Test helper for receipt sessions: a data directory with a sealed session made by the real
 * session store, its exported receipt, party keys, and ways to tamper with a receipt.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { initHome, loadIdentity } from '../../src/store/identity.js';
import { SessionHome } from '../../src/store/session-export.js';
import { partyFromPem, partySigner } from '../../src/store/party-key.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import { mergeTrustPolicies } from '../../src/verify/policy.js';
import { policyKeyResolver, type PartyRole, type TrustPolicy } from '../../src/verify/policy.js';
import { verifySessionReceipt, type SessionReceiptOptions, type SessionReceiptReport } from '../../src/verify/session-receipt.js';
import { signStatementSync } from '../../src/receipt/session-build.js';
import type { Statement, Target } from '../../src/receipt/session.js';
import type { Signer } from '../../src/envelope/sign.js';
import { tempDir } from './log-helper.js';

/** A new Ed25519 private key (PKCS#8 PEM). */
export function newPartyKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** A trust policy trusting `home`'s own keys plus the given parties. */
export function policyWith(home: string, parties: Array<{ pem: string; id: string; roles: PartyRole[] }> = []): TrustPolicy {
  const own = trustPolicyOf(loadIdentity(home));
  return mergeTrustPolicies([own, { ...own, issuers: [], logs: [], parties: parties.map((p) => partyFromPem(p.pem, p.id, p.roles)) }]);
}

/** Verify receipt text under `policy`. */
export function verify(text: string, policy: TrustPolicy, o: SessionReceiptOptions = {}): Promise<SessionReceiptReport> {
  return verifySessionReceipt(text, policy, policyKeyResolver(policy), o);
}

/** A party's signed approval or confirmation of `sessionId`. */
export function partyStatement(pem: string, id: string, sessionId: string, kind: 'approval' | 'confirmation', target: Target, decision = kind === 'approval' ? 'approved' : 'confirmed'): Statement {
  return signStatementSync(partySigner(pem, id), sessionId, 1_790_000_000, { kind, party: id, declared: false, target, decision } as never, id);
}

/** Sign any statement body with `signer` (an attacker holding some key). */
export function forge(signer: Signer, sessionId: string, body: Record<string, unknown>, id?: string): Statement {
  return signStatementSync(signer, sessionId, 1_790_000_000, body as never, id);
}

/** A data directory with one session of `actions` actions (sealed unless `seal` is false), opened. */
export async function sessionHome(t: TestContext, actions = 3, o: { seal?: boolean; policyDigest?: string } = {}): Promise<{ home: string; h: SessionHome; sessionId: string }> {
  const home = join(tempDir(t), 'home');
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'normal' });
  t.after(() => h.close());
  const { sessionId } = h.sessions.start({ task: 'refund order 42', delegator: 'ops@example.com', ...(o.policyDigest ? { policyDigest: o.policyDigest } : {}) });
  for (let i = 1; i <= actions; i++) h.sessions.action(sessionId, { name: `step/${i}`, summary: `step ${i}`, evidence: { step: i } });
  if (o.seal !== false && actions > 0) h.sessions.seal(sessionId);
  return { home, h, sessionId };
}

/** The receipt as JSON, edited by `f`, back to text. */
export function edit(text: string, f: (r: { entries: Array<{ index: string; record: string; salt: string; proof: string[] }>; attachments?: unknown[] }) => void): string {
  const r = JSON.parse(text) as { entries: Array<{ index: string; record: string; salt: string; proof: string[] }>; attachments?: unknown[] };
  f(r);
  return JSON.stringify(r);
}

/** The kinds of the session statements in a receipt's entries, by position (the log's parameters entry, always first, left out). */
export function kinds(text: string): string[] {
  return (JSON.parse(text) as { entries: Array<{ record: string }> }).entries.slice(1).map((e) => {
    const rec = JSON.parse(e.record) as { type: string; statement?: { kind: string } };
    return rec.statement?.kind ?? rec.type;
  });
}

/** Error codes of the report's error findings. */
export function codes(r: SessionReceiptReport): string[] {
  return [...new Set(r.findings.filter((f) => f.severity === 'error').map((f) => f.code))].sort();
}
