/**
 * The human form of a session receipt verdict (`mcp-attest verify FILE`): the level, each
 * dimension with its status, the actions, approvals and confirmations, then every finding
 * with its code. `--json` prints the report object instead.
 */
import type { SessionReceiptReport } from '../verify/session-receipt.js';
import type { PartyResult } from '../verify/session.js';
import { out } from './output.js';

const clip = (s: string, n = 80): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function party(p: PartyResult): string {
  const where = p.index === null ? 'attached, not logged' : `entry ${p.index}`;
  return `      ${p.status === 'verified' ? 'ok  ' : p.status === 'declared' ? 'decl' : p.status === 'ignored' ? 'ign ' : 'FAIL'}  ${p.target === 'seal' ? 'seal    ' : `action ${p.target}`.padEnd(8)}  ${clip(p.party, 40)}  ${p.decision}  (${where})${p.code ? `  ${p.code}` : ''}`;
}

/** Print the dimensions, actions and parties of a session receipt report (after the common header). */
export function printSession(r: SessionReceiptReport): void {
  const s = r.session;
  out(`  session ${r.sessionId ?? '?'}  level: ${r.level}`);
  if (s) out(`  task ${JSON.stringify(clip(s.task ?? ''))}, delegator ${JSON.stringify(clip(s.delegator ?? ''))}, agent ${s.agent ? `${s.agent.id} (${s.agent.alg} ${s.agent.keyId})` : 'unknown'}`);
  const d = r.dimensions;
  const rows: Array<[string, string]> = [
    ['integrity', d.integrity], ['agent signature', d.agentSignature],
    ['seal completeness', `${d.sealCompleteness}${s?.seal ? ` (${s.actions.length} actions, sealed at entry ${s.seal.index})` : ''}`],
    ['policy binding', `${d.policyBinding}${s?.policyDigest ? ` (${s.policyDigest})` : ''}`],
    ['witnessed', `${d.witnessed}${r.witnesses.length > 0 ? ` (${r.witnesses.map((w) => w.name).join(', ')})` : ''}`],
    ['approvals', d.approvals], ['counterparty', d.counterparty],
  ];
  for (const [name, status] of rows) out(`    ${name.padEnd(18)} ${status}`);
  for (const a of s?.actions ?? []) out(`      #${a.seq}  entry ${a.index}  ${clip(a.name, 60)}${a.call ? '  (captured call)' : ''}${a.evidence ? '  evidence ' + a.evidence.slice(0, 19) + '…' : ''}`);
  for (const p of [...r.approvals, ...r.confirmations]) out(party(p));
}
