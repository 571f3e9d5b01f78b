/**
 * The multi-party flow, for real: the agent records and seals a session over stdio with the
 * SDK client (`mcp-attest serve`); an approver and a counterparty each sign on their own copy
 * of the exported receipt with their own keys (`approve`, `countersign`, separate
 * directories); the agent logs both (the `attach_approval` tool and `receipt attach`); a
 * witness cosigns; one `verify` shows every leg verified. Then the refusals across processes:
 * no trust policy, a party the policy does not list, the agent's key used as an approver's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cli, connect, scope } from './helpers.js';
import { startWitness } from './witness-helpers.js';

const POLICY = 'Payments above 1,000 EUR need one approver.\n';

interface SessionVerdict {
  verified: boolean; level: string; dimensions: Record<string, string>;
  approvals: Array<{ target: number | 'seal'; party: string; status: string; index: string | null }>;
  confirmations: Array<{ target: number | 'seal'; party: string; status: string; index: string | null }>;
  findings: Array<{ severity: string; code: string }>;
  witnesses: Array<{ name: string }>;
}

function verifyJson(file: string, args: string[]): { status: number; v: SessionVerdict; stderr: string } {
  const r = cli(['verify', file, '--json', ...args]);
  return { status: r.status, v: (r.stdout ? JSON.parse(r.stdout) : null) as SessionVerdict, stderr: r.stderr };
}

function ok(r: { status: number; stderr: string; stdout: string }, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

test('multi-party: record and seal over stdio, approve and countersign on separate copies, log both, one verify shows every leg; a rejection shows in verify_session', async (t) => {
  const s = scope(t);
  const { client } = await connect(s, process.execPath, [CLI, 'serve', '--home', s.home]);
  const call = async (name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const r = await client.callTool({ name, arguments: args });
    assert.notEqual(r.isError, true, `${name}: ${JSON.stringify(r.content)}`);
    return r.structuredContent as Record<string, unknown>;
  };
  const sessionId = (await call('start_session', { task: 'pay invoice 7 (1,200 EUR to ACME)', delegator: 'cfo@example.com', policy: POLICY }))['sessionId'] as string;
  await call('record_action', { sessionId, name: 'invoices/read', evidence: { invoice: 7, amount: 1200 } });
  await call('record_action', { sessionId, name: 'payments/prepare', summary: 'transfer prepared, awaiting approval' });
  await call('record_action', { sessionId, name: 'payments/send', summary: 'sent' });
  await call('finalize_session', { sessionId });
  // Listed read-only beside the running server, which holds the log open for writing.
  const listed = JSON.parse(ok(cli(['receipt', 'list', '--home', s.home, '--json']), 'receipt list')) as Array<Record<string, unknown>>;
  assert.deepEqual(listed.map((r) => [r['sessionId'], r['actions'], r['sealed'], r['delegator']]), [[sessionId, 3, true, 'cfo@example.com']]);

  // A witness, run by someone else, cosigns the agent's log.
  const identity = JSON.parse(readFileSync(join(s.home, 'identity.json'), 'utf8')) as { log: { origin: string; vkey: string } };
  const w = await startWitness(s, join(s.dir, 'witness'), [`${identity.log.origin}=${identity.log.vkey}`]);
  ok(cli(['log', 'witnesses', 'add', '--home', s.home, '--url', w.url, '--vkey', w.vkey]), 'witnesses add');

  const receipt = join(s.dir, 'receipt.json');
  ok(cli(['receipt', 'export', sessionId, '--home', s.home, '--out', receipt]), 'export');
  // Each party on its own machine: its own directory, its own copy, its own key.
  const party = (name: string) => {
    const dir = join(s.dir, name);
    mkdirSync(dir);
    copyFileSync(receipt, join(dir, 'receipt.json'));
    ok(cli(['key', 'generate', '--out', join(dir, 'key.pem')]), 'key generate');
    return { dir, copy: join(dir, 'receipt.json'), key: join(dir, 'key.pem') };
  };
  const alice = party('alice');
  const bob = party('bob');
  // The entry key generate prints gives the key both roles unless told which, and says so.
  const limited = cli(['key', 'generate', '--out', join(s.dir, 'approver.pem'), '--id', 'approver:carol', '--role', 'approver']);
  assert.deepEqual([limited.status, (JSON.parse(limited.stdout) as { roles: string[] }).roles, limited.stderr], [0, ['approver'], '']);
  const both = cli(['key', 'generate', '--out', join(s.dir, 'both.pem')]);
  assert.deepEqual((JSON.parse(both.stdout) as { roles: string[] }).roles, ['approver', 'counterparty']);
  assert.match(both.stderr, /trusts this key as approver and counterparty; --role/);
  const agentTrust = join(s.dir, 'agent-trust.json');
  writeFileSync(agentTrust, ok(cli(['trust', 'export', '--home', s.home]), 'trust export'));
  ok(cli(['approve', alice.copy, '--key', alice.key, '--id', 'approver:alice', '--action', '2', '--note', 'within budget', '--trust', agentTrust]), 'approve');
  // Bob's receipt.json is a link to the file he keeps: signing in place updates that file, the link stays.
  renameSync(bob.copy, join(bob.dir, 'kept.json'));
  symlinkSync('kept.json', bob.copy);
  ok(cli(['countersign', bob.copy, '--key', bob.key, '--id', 'counterparty:acme', '--action', '3']), 'countersign');
  assert.ok(lstatSync(bob.copy).isSymbolicLink());
  assert.equal((JSON.parse(readFileSync(join(bob.dir, 'kept.json'), 'utf8')) as { attachments: unknown[] }).attachments.length, 1);
  // An approver whose policy trusts only the agent still signs a copy holding another party's statement (not theirs to judge).
  ok(cli(['approve', bob.copy, '--key', alice.key, '--id', 'approver:alice', '--action', '2', '--trust', agentTrust, '--out', join(s.dir, 'both.json')]), 'approve over another party\'s statement');

  // The agent logs both: one through its MCP server, one from the command line.
  const aliceAttachment = (JSON.parse(readFileSync(alice.copy, 'utf8')) as { attachments: unknown[] }).attachments[0];
  await call('attach_approval', { sessionId, attachment: aliceAttachment });
  ok(cli(['receipt', 'attach', sessionId, bob.copy, '--home', s.home]), 'receipt attach');
  const final = join(s.dir, 'final.json');
  ok(cli(['receipt', 'export', sessionId, '--home', s.home, '--out', final]), 'final export');

  const trust = join(s.dir, 'trust.json');
  const fragments = [['alice', alice.key, 'approver:alice', 'approver'], ['bob', bob.key, 'counterparty:acme', 'counterparty']].map(([n, key, id, role]) => {
    const f = join(s.dir, `${n!}-party.json`);
    writeFileSync(f, ok(cli(['trust', 'party', '--key', key!, '--id', id!, '--role', role!]), 'trust party'));
    return f;
  });
  // A party the verifier would refuse is not printed.
  const empty = cli(['trust', 'party', '--key', alice.key, '--id', '', '--role', 'approver']);
  assert.deepEqual([empty.status, empty.stdout, empty.stderr], [2, '', 'mcp-attest: ERR_POLICY_INVALID: .parties[0].id: expected nonempty\n']);
  writeFileSync(join(s.dir, 'agent-trust-w.json'), ok(cli(['trust', 'export', '--home', s.home]), 'trust export'));
  writeFileSync(trust, ok(cli(['trust', 'merge', join(s.dir, 'agent-trust-w.json'), ...fragments]), 'trust merge'));
  const doc = join(s.dir, 'policy.md');
  writeFileSync(doc, POLICY);

  const { status, v } = verifyJson(final, ['--trust', trust, '--policy-doc', doc]);
  assert.equal(status, 0, JSON.stringify(v.findings));
  assert.equal(v.level, 'countersigned');
  assert.deepEqual(v.dimensions, { integrity: 'pass', agentSignature: 'pass', sealCompleteness: 'pass', policyBinding: 'pass', witnessed: 'pass', approvals: 'pass', counterparty: 'pass' });
  assert.deepEqual(v.witnesses.map((x) => x.name), [w.name]);
  assert.deepEqual(v.approvals.map((a) => [a.target, a.party, a.status, a.index !== null]), [[2, 'approver:alice', 'verified', true]]);
  assert.deepEqual(v.confirmations.map((a) => [a.target, a.party, a.status, a.index !== null]), [[3, 'counterparty:acme', 'verified', true]]);
  // Alice rejects action 1: the agent's own verify_session says so, with its notice (its output schema refused the verdict before).
  ok(cli(['approve', alice.copy, '--key', alice.key, '--id', 'approver:alice', '--action', '1', '--decision', 'rejected', '--out', join(s.dir, 'rejected.json')]), 'reject');
  const rejection = (JSON.parse(readFileSync(join(s.dir, 'rejected.json'), 'utf8')) as { attachments: Array<{ decision?: string }> }).attachments.find((a) => a.decision === 'rejected');
  await call('attach_approval', { sessionId, attachment: rejection });
  const told = await call('verify_session', { sessionId, trustPolicy: readFileSync(trust, 'utf8'), policy: POLICY }) as { dimensions: Record<string, string>; findings: Array<{ code: string }> };
  assert.equal(told.dimensions['approvals'], 'rejected');
  assert.ok(told.findings.some((f) => f.code === 'NOTE_REJECTED'), JSON.stringify(told.findings));

  // Keys are never taken from the receipt: no --trust is a usage error.
  assert.equal(cli(['verify', final]).status, 2);
  // The agent's own policy does not list the parties: their logged legs prove nothing to it, are not counted, and are said to be.
  const noParties = verifyJson(final, ['--trust', join(s.dir, 'agent-trust-w.json')]);
  assert.equal(noParties.status, 0, JSON.stringify(noParties.v.findings));
  assert.equal(noParties.v.findings.filter((f) => f.code === 'NOTE_PARTY_IGNORED').length, 2);
  assert.deepEqual([noParties.v.dimensions['approvals'], noParties.v.dimensions['counterparty'], noParties.v.level], ['none', 'none', 'witnessed']);
  // The agent cannot approve its own work with its own key.
  const self = cli(['approve', alice.copy, '--key', join(s.home, 'keys', 'issuer.pem'), '--id', 'approver:alice', '--action', '1']);
  assert.equal(self.status, 2);
  assert.match(self.stderr, /ERR_APPROVER_IS_AGENT/);
  // The policy document presented must be the one the session is bound to.
  writeFileSync(doc, 'Payments of any size need no approval.\n');
  const swapped = verifyJson(final, ['--trust', trust, '--policy-doc', doc]);
  assert.equal(swapped.status, 1);
  assert.equal(swapped.v.dimensions['policyBinding'], 'fail');
});
