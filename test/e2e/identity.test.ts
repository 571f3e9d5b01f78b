/**
 * Agent credentials end to end, real processes (docs/identity.md): an issuer's data directory
 * (the gatekeeper's, holding the identity log) issues a credential to an agent's data
 * directory; an SDK client -> client proxy (`--credential`) -> gatekeeper -> server-everything
 * chain. Calls within the credential's tools go through; a tool outside it is refused
 * (ERR_CREDENTIAL_SCOPE); after `agent revoke` every call is refused (ERR_CREDENTIAL_REVOKED)
 * and the credential is not renewed; a new one written into the same file resumes the calls
 * without restarting the proxy, as does renewal by the proxy itself (`--renew-home`); a
 * sub-agent's credential that widens its parent is never logged (the gate's refusal of one is
 * test/unit/identity-gate.test.ts). Both logs verify offline,
 * including the identity dimension, and an identity log with the revocation removed is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, EVERYTHING, cli, codes, connectProxied, exportTrust, logShow, scope, verify, waitCheckpointed, type Scope } from './helpers.js';
import { assertEchoed, assertRefused, gatekeeperArgs, serverHome } from './gate-helpers.js';

/** An issuer (the gatekeeper's home), an agent home with a credential for `echo`, a gate policy trusting the issuer's grants. */
function world(s: Scope, credentialFlags: string[] = []) {
  const idp = serverHome(s);
  for (const h of [s.home, idp]) assert.equal(cli(['init', '--home', h]).status, 0);
  const issuer = cli(['agent', 'issuer', 'init', '--home', idp, '--id', 'idp:acme', '--subject-prefix', 'agent:acme/', '--tools', 'echo,get-*', '--max-depth', '1']);
  assert.equal(issuer.status, 0, issuer.stderr);
  const credential = join(s.dir, 'cred.json');
  const issued = cli(['agent', 'issue', '--home', idp, '--agent-home', s.home, '--subject', 'agent:acme/bot1', '--tools', 'echo', '--ttl', '3600', '--out', credential, ...credentialFlags]);
  assert.equal(issued.status, 0, issued.stderr);
  const idpTrust = exportTrust(idp, join(s.dir, 'idp-trust.json'));
  const policy = join(s.dir, 'policy.yaml');
  writeFileSync(policy, 'version: 1\ntrustFiles: [idp-trust.json]\n');
  return { idp, credential, idpTrust, policy };
}

const call = async (client: { callTool: (p: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> }, name: string, args: Record<string, unknown>): Promise<CallToolResult> =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

test('agent revoke of a credential whose key a renewal still names says so; a revoked credential is not revoked again', { timeout: 60_000 }, (t) => {
  const s = scope(t);
  const { idp, credential } = world(s);
  const renewal = join(s.dir, 'renewed.json');
  assert.equal(cli(['agent', 'renew', credential, '--home', idp, '--out', renewal]).status, 0);
  const renewedId = (JSON.parse(readFileSync(renewal, 'utf8')) as { id: string }).id;
  // A data directory that is not there is said to be (exit 3); a lifetime of 0 is refused as the range says.
  const nohome = cli(['agent', 'issue', '--home', join(s.dir, 'nohome'), '--agent-home', s.home, '--subject', 'agent:acme/x']);
  assert.equal(nohome.status, 3);
  assert.match(nohome.stderr, /ERR_HOME_MISSING/);
  assert.deepEqual([cli(['agent', 'issue', '--home', idp, '--agent-home', s.home, '--subject', 'agent:acme/x', '--ttl', '0']).stderr], ['mcp-attest: ERR_USAGE: --ttl takes a whole number from 1 to 86400\n']);
  const revoked = cli(['agent', 'revoke', credential, '--home', idp, '--reason', 'key leaked']);
  assert.equal(revoked.status, 0);
  assert.equal(revoked.stderr, `mcp-attest: warning: ${renewedId} names the same key and stays valid: if the key leaked, revoke it too ("mcp-attest agent revoke ID" takes an id)\n`);
  const twice = cli(['agent', 'revoke', credential, '--home', idp]);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /ERR_CREDENTIAL_REVOKED: credential \S+ is revoked already/);
  // The renewal revoked too, by its id (its file may be gone): nothing else names the key.
  rmSync(renewal);
  const unknown = cli(['agent', 'revoke', `cred_${'A'.repeat(22)}`, '--home', idp]);
  assert.deepEqual([unknown.status, unknown.stderr], [2, `mcp-attest: ERR_USAGE: credential cred_${'A'.repeat(22)} is not in the identity log of ${idp}\n`]);
  const last = cli(['agent', 'revoke', renewedId, '--home', idp]);
  assert.deepEqual([last.status, last.stderr, last.stdout], [0, '', `revoked ${renewedId} at identity entry 4\n`]);
  const list = cli(['agent', 'list', '--home', idp]);
  assert.match(list.stdout, /^identity log \S+\/identity, size 5\n +1 {2}cred_\S+ {2}agent:acme\/bot1 {2}until \S+ {2}revoked at 3\n +2 {2}cred_\S+ {2}agent:acme\/bot1 {2}until \S+ {2}revoked at 4\n$/);
});

test('a credential call is allowed within its scope, refused outside it, refused once revoked (and not renewed), and resumes under a new credential without a restart', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s);
  const first = JSON.parse(readFileSync(credential, 'utf8')) as { id: string };
  const { client } = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential]);
  assertEchoed(await call(client, 'echo', { message: 'under a credential' }), 'under a credential');
  // get-sum is within the issuer's grant, not within this credential's.
  assertRefused(await call(client, 'get-sum', { a: 1, b: 2 }), 'tool_mismatch', 'ERR_CREDENTIAL_SCOPE');

  assert.equal(cli(['agent', 'revoke', credential, '--home', idp, '--reason', 'key leaked']).status, 0);
  assertRefused(await call(client, 'echo', { message: 'after revocation' }), 'key_unavailable', 'ERR_CREDENTIAL_REVOKED');

  // A revoked credential is not renewed, and its key gets no new one unless asked to.
  const again = cli(['agent', 'renew', credential, '--home', idp, '--out', credential]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /ERR_CREDENTIAL_REVOKED/);
  const issueArgs = ['agent', 'issue', '--home', idp, '--agent-home', s.home, '--subject', 'agent:acme/bot1', '--tools', 'echo', '--ttl', '3600', '--out', credential];
  assert.equal(cli(issueArgs).status, 2);
  const reissued = cli([...issueArgs, '--allow-revoked-key']);
  assert.equal(reissued.status, 0, reissued.stderr);
  assert.notEqual((JSON.parse(readFileSync(credential, 'utf8')) as { id: string }).id, first.id);
  // The proxy reads the new file at its next call: no restart.
  assertEchoed(await call(client, 'echo', { message: 'reissued' }), 'reissued');
  await client.close();

  const list = JSON.parse(cli(['agent', 'list', '--home', idp, '--json']).stdout) as { credentials: Array<{ id: string; status: string }> };
  assert.deepEqual(list.credentials.map((c) => c.status), ['revoked at 2', 'valid']);

  // The gatekeeper's log verifies offline, identity and all: the refusals are refusals, the allowed calls were allowed under a valid credential.
  await waitCheckpointed(idp);
  const { status, report } = verify(idp, idpTrust);
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.equal(report.calls, 2);
  assert.equal(report.refused, 2);
  // log show lists the refusals too, with their codes; the agent's own log shows them refused by the gatekeeper.
  assert.deepEqual(logShow(idp).map((r) => [r.tool, r.status, r.reason]).filter((r) => r[1] === 'refused'), [['get-sum', 'refused', 'ERR_CREDENTIAL_SCOPE'], ['echo', 'refused', 'ERR_CREDENTIAL_REVOKED']]);
  const agentShow = cli(['log', 'show', '--home', s.home]).stdout.split('\n');
  const entriesAt = agentShow[0]!.indexOf('ENTRIES');
  const refusedLines = agentShow.slice(1).filter((l) => l.includes('refused (attestation_refused)'));
  assert.ok(refusedLines.length >= 2 && refusedLines.every((l) => l[entriesAt - 1] === ' ' && l[entriesAt] !== ' '), agentShow.join('\n'));

  // A bundle of the whole log carries the identity range its calls need, and verifies offline.
  const bundle = join(s.dir, 'all.json');
  const size = Number(JSON.parse(cli(['log', 'status', '--home', idp, '--json']).stdout).size);
  const made = cli(['bundle', '--home', idp, '--range', `0..${size - 1}`, '--out', bundle]);
  assert.equal(made.status, 0, made.stderr);
  const b = JSON.parse(readFileSync(bundle, 'utf8')) as { identity: { start: string; entries: string[] } };
  assert.equal(b.identity.start, '1', 'the range starts at the first credential used');
  assert.ok(b.identity.entries.some((e) => e.includes('mcp-attest/revocation@1')));
  const good = verify(bundle, idpTrust);
  assert.equal(good.status, 0, JSON.stringify(good.report.findings));
  // Leaving the revocation out of the range, cutting the range short, or dropping it: caught.
  const mutants: Array<[string, (x: typeof b) => void, string]> = [
    ['omitted', (x) => void x.identity.entries.splice(x.identity.entries.findIndex((e) => e.includes('revocation@1')), 1), 'ERR_INCLUSION_INVALID'],
    ['short', (x) => void x.identity.entries.pop(), 'ERR_INCLUSION_INVALID'],
    ['none', (x) => void delete (x as Partial<typeof b>).identity, 'ERR_CREDENTIAL_UNLOGGED'],
  ];
  for (const [name, edit, code] of mutants) {
    const copy = JSON.parse(readFileSync(bundle, 'utf8')) as typeof b;
    edit(copy);
    const path = join(s.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(copy));
    const r = verify(path, idpTrust);
    assert.equal(r.status, 1, name);
    assert.ok(codes(r.report).includes(code), `${name}: ${JSON.stringify(r.report.findings)}`);
  }

  // An identity log with the revocation taken out is read up to the gap, short of its checkpoints: nothing is decided against it.
  const cut = join(s.dir, 'cut');
  cpSync(idp, cut, { recursive: true });
  const db = new Database(join(cut, 'identity.db'));
  db.prepare('DELETE FROM entries WHERE idx = 2').run();
  db.close();
  const tampered = verify(cut, idpTrust);
  assert.equal(tampered.status, 1);
  assert.ok(tampered.report.findings.some((f) => f.code === 'ERR_STORE_CORRUPT' && f.message.includes('entry 2 is missing')), JSON.stringify(tampered.report.findings));
  assert.ok(codes(tampered.report).includes('ERR_LOG_TRUNCATED'));
  assert.ok(codes(tampered.report).includes('ERR_CREDENTIAL_UNLOGGED'));
  // Without its identity log, a call under a credential cannot be decided: it fails, never passes.
  rmSync(join(cut, 'identity.db'));
  const alone = verify(cut, idpTrust);
  assert.equal(alone.status, 1);
  assert.deepEqual([...new Set(codes(alone.report))].sort(), ['ERR_CREDENTIAL_UNLOGGED', 'ERR_KEY_UNAVAILABLE']);
});

test('a sub-agent\'s credential, signed by its parent\'s key, works within its parent\'s rights; one that widens them is never logged', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  // The parent credential may delegate once, for echo and get-sum.
  const { idp, credential, idpTrust, policy } = world(s, ['--max-depth', '1', '--tools', 'echo,get-sum']);
  const subHome = join(s.dir, 'sub');
  assert.equal(cli(['init', '--home', subHome]).status, 0);
  const narrow = join(s.dir, 'narrow.json');
  const subArgs = (tools: string, file: string) => ['agent', 'issue', '--home', idp, '--parent', credential, '--signer-home', s.home, '--agent-home', subHome, '--subject', 'agent:acme/bot1/reader', '--tools', tools, '--ttl', '600', '--out', file];
  const issued = cli(subArgs('get-sum', narrow));
  assert.equal(issued.status, 0, issued.stderr);
  // A sub-agent's credential wider than its parent is never logged: the issuer checks it as a verifier would.
  const wide = cli(subArgs('get-sum,get-env', join(s.dir, 'wide.json')));
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /ERR_CREDENTIAL_WIDENED: refused, not logged: credential cred_\S+: tools not within its parent.s \("get-env"\)/);
  // Signing with a key that is not the parent's is refused before anything is logged.
  assert.equal(cli(['agent', 'issue', '--home', idp, '--parent', credential, '--signer-home', subHome, '--agent-home', subHome, '--subject', 'agent:acme/bot1/x']).status, 2);
  // A sub-agent issued for as long as its parent lives is renewed, later, to end with it too.
  const whole = join(s.dir, 'whole.json');
  assert.equal(cli(subArgs('get-sum', whole).filter((a, i, all) => a !== '--ttl' && all[i - 1] !== '--ttl')).status, 0);
  await new Promise((r) => setTimeout(r, 1100));
  const renewed = cli(['agent', 'renew', whole, '--home', idp, '--parent', credential, '--signer-home', s.home, '--out', whole]);
  assert.equal(renewed.status, 0, renewed.stderr);
  const parentEnd = (JSON.parse(readFileSync(credential, 'utf8')) as { notAfter: number }).notAfter;
  assert.equal((JSON.parse(readFileSync(whole, 'utf8')) as { notAfter: number }).notAfter, parentEnd);

  const sub = { ...s, home: subHome };
  const ok = await connectProxied(sub, gatekeeperArgs(s, policy), ['--credential', narrow]);
  const sum = await call(ok.client, 'get-sum', { a: 40, b: 2 });
  assert.notEqual(sum.isError, true, JSON.stringify(sum));
  assertRefused(await call(ok.client, 'echo', { message: 'not delegated' }), 'tool_mismatch', 'ERR_CREDENTIAL_SCOPE');
  await ok.client.close();

  await waitCheckpointed(idp);
  const { status, report } = verify(idp, idpTrust);
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.deepEqual([report.calls, report.refused], [1, 1]);
});

test('a proxy with --renew-home renews its credential before it expires: calls spanning three lifetimes all go through', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s, ['--ttl', '6']);
  const first = (JSON.parse(readFileSync(credential, 'utf8')) as { id: string }).id;
  const { client } = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential, '--renew-home', idp]);
  for (let i = 0; i < 16; i++) {
    assertEchoed(await call(client, 'echo', { message: `call ${i}` }), `call ${i}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await client.close();
  const list = JSON.parse(cli(['agent', 'list', '--home', idp, '--json']).stdout) as { credentials: Array<{ id: string }> };
  assert.ok(list.credentials.length >= 3, `renewed at least twice: ${JSON.stringify(list)}`);
  assert.notEqual((JSON.parse(readFileSync(credential, 'utf8')) as { id: string }).id, first);
  await waitCheckpointed(idp);
  const { status, report } = verify(idp, idpTrust);
  assert.equal(status, 0, JSON.stringify(report.findings));
  assert.equal(report.calls, 16);
});

test('a call signed with a credentialed agent\'s key under no credential fails, though the agent\'s trust export (its key on its own) is merged in', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s);
  const gated = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential]);
  assertEchoed(await call(gated.client, 'echo', { message: 'under the credential' }), 'under the credential');
  await gated.client.close();
  // The same data directory straight to the server, no credential: the credential's key, and a tool it does not grant.
  const plain = await connectProxied(s);
  await call(plain.client, 'get-sum', { a: 1, b: 2 });
  await plain.client.close();
  await waitCheckpointed(s.home);
  const trust = join(s.dir, 'both.json');
  writeFileSync(trust, cli(['trust', 'merge', exportTrust(s.home, join(s.dir, 'agent-trust.json')), idpTrust]).stdout);
  const around = logShow(s.home).find((c) => c.tool === 'get-sum')!.attestation_idx;
  const untrusted = (r: { status: number; report: { findings: Array<{ code: string; index?: string }> } }): string[] => r.report.findings.filter((f) => f.code === 'ERR_CREDENTIAL_UNTRUSTED').map((f) => f.index!);
  const r = cli(['verify', s.home, '--trust', trust, '--identity', idp, '--json']);
  assert.equal(r.status, 1);
  assert.deepEqual(untrusted({ status: r.status, report: JSON.parse(r.stdout) }), [String(around)]);
  // Bundled: decided against the identity log given with --identity.
  const size = Number(JSON.parse(cli(['log', 'status', '--home', s.home, '--json']).stdout).size);
  const out = join(s.dir, 'plain.json');
  assert.equal(cli(['bundle', '--home', s.home, '--range', `${around}..${size - 1}`, '--out', out]).status, 0);
  const b = cli(['verify', out, '--trust', trust, '--identity', idp, '--json']);
  assert.equal(b.status, 1);
  assert.deepEqual(untrusted({ status: b.status, report: JSON.parse(b.stdout) }), [String(around)]);
});

test('an agent\'s own log of calls under a credential verifies against the issuer\'s identity log named with --identity, and bundles with it', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s);
  // A gatekeeper outside the issuer's data directory has no identity log to decide credentials against: it says so at start.
  const elsewhere = cli(['proxy', '--role', 'server', '--policy', policy, '--home', join(s.dir, 'gate-elsewhere'), '--', process.execPath, '-e', '0']);
  assert.match(elsewhere.stderr, /1 credential issuer\(s\); .*\nmcp-attest: warning: the policy trusts credential issuers, and \S+ holds no identity log: every call under a credential is refused/);
  const { client } = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential]);
  for (let i = 0; i < 3; i++) assertEchoed(await call(client, 'echo', { message: `call ${i}` }), `call ${i}`);
  await client.close();
  await waitCheckpointed(s.home);
  const trust = join(s.dir, 'both.json');
  const merged = cli(['trust', 'merge', exportTrust(s.home, join(s.dir, 'agent-trust.json')), idpTrust]);
  assert.equal(merged.status, 0, merged.stderr);
  writeFileSync(trust, merged.stdout);
  const run = (args: string[]) => {
    const r = cli(['verify', s.home, '--trust', trust, '--json', ...args]);
    return { status: r.status, stderr: r.stderr, report: r.status === 0 || r.status === 1 ? JSON.parse(r.stdout) as Parameters<typeof codes>[0] : null };
  };
  // The agent's directory holds no identity log: its calls cannot be decided, and fail.
  const alone = run([]);
  assert.equal(alone.status, 1);
  assert.ok(codes(alone.report!).includes('ERR_CREDENTIAL_UNLOGGED'), JSON.stringify(alone.report!.findings));
  assert.match(alone.stderr, /give --identity DIR, its data directory/);
  // Against the issuer's, as a directory or as the file itself: verified, each call said to be the agent's own record.
  for (const at of [idp, join(idp, 'identity.db')]) {
    const r = run(['--identity', at]);
    assert.equal(r.status, 0, JSON.stringify(r.report?.findings ?? r.stderr));
    assert.equal(r.report!.calls, 3);
    assert.equal(codes(r.report!, 'notice').filter((c) => c === 'NOTE_IDENTITY_UNGATED').length, 3);
    // Which identity log, at which size, and (no witnesses here) that nothing shows it is the latest.
    const said = r.report!.findings.filter((f) => f.code === 'NOTE_IDENTITY_LOG');
    assert.equal(said.length, 1);
    assert.match(said[0]!.message, /decided against identity log \S+\/identity at size 2; with no witness quorum nothing shows it is the latest/);
  }
  // A path with no identity log, and a policy without the issuer: nothing is decided.
  assert.equal(run(['--identity', join(s.dir, 'nowhere')]).status, 3);
  assert.equal(run(['--identity', s.home]).status, 3, 'a data directory without identity.db');
  const notDb = run(['--identity', credential]);
  assert.deepEqual([notDb.status, notDb.stderr], [2, `mcp-attest: ERR_USAGE: --identity ${credential}: not an identity log (no SQLite header): give the credential issuer's data directory, or its identity.db\n`]);
  const agentOnly = cli(['verify', s.home, '--trust', join(s.dir, 'agent-trust.json'), '--identity', idp]);
  assert.equal(agentOnly.status, 2);
  assert.match(agentOnly.stderr, /lists no credential issuer/);

  // A bundle of the agent's calls: refused without the identity log, made with it, verified offline.
  const size = Number(JSON.parse(cli(['log', 'status', '--home', s.home, '--json']).stdout).size);
  const out = join(s.dir, 'agent.json');
  const refused = cli(['bundle', '--home', s.home, '--range', `0..${size - 1}`, '--out', out]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /give --identity DIR/);
  for (const at of [idp, join(idp, 'identity.db')]) {
    const made = cli(['bundle', '--home', s.home, '--range', `0..${size - 1}`, '--identity', at, '--out', out]);
    assert.equal(made.status, 0, made.stderr);
    const b = verify(out, trust);
    assert.equal(b.status, 0, JSON.stringify(b.report.findings));
    assert.equal(b.report.calls, 3);
  }
  // Another issuer's identity log holds none of the credentials: said so, nothing written.
  const other = join(s.dir, 'other-idp');
  assert.equal(cli(['init', '--home', other]).status, 0);
  assert.equal(cli(['agent', 'issuer', 'init', '--home', other, '--id', 'idp:other', '--subject-prefix', 'agent:other/']).status, 0);
  assert.equal(cli(['agent', 'issue', '--home', other, '--agent-home', s.home, '--subject', 'agent:other/x', '--out', join(s.dir, 'x.json')]).status, 0);
  const wrong = cli(['bundle', '--home', s.home, '--range', `0..${size - 1}`, '--identity', other, '--out', join(s.dir, 'wrong.json')]);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /the calls name credentials \(cred_\S+ first\) that are not in the identity log \S+: is it their issuer's\?/);
  // A hostile identity.db (an endless view in place of its entries) is refused unqueried, and not written to.
  const hostile = join(s.dir, 'hostile');
  cpSync(idp, hostile, { recursive: true });
  const hdb = new Database(join(hostile, 'identity.db'));
  hdb.exec('ALTER TABLE entries RENAME TO real_entries; CREATE VIEW entries AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS idx, zeroblob(10) AS data, zeroblob(32) AS leaf FROM c;');
  hdb.close();
  const refusedView = cli(['bundle', '--home', s.home, '--range', `0..${size - 1}`, '--identity', hostile, '--out', join(s.dir, 'h.json')], 20_000);
  assert.equal(refusedView.status, 3, refusedView.stderr);
  assert.match(refusedView.stderr, /ERR_STORE_CORRUPT: .*view "entries"/);
  const againstIssuer = cli(['verify', out, '--trust', trust, '--identity', idp]);
  assert.equal(againstIssuer.status, 0, `a bundle decided against the issuer's identity log: ${againstIssuer.stdout}`);

  // A call outside the credential: the gatekeeper refuses it, and the agent's log records that it did. Its receipt is the
  // agent's own (from the server's answer), nothing the gatekeeper signed: the call is still decided, and the failure says so.
  const again = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential]);
  assertRefused(await call(again.client, 'get-sum', { a: 1, b: 2 }), 'tool_mismatch', 'ERR_CREDENTIAL_SCOPE');
  await again.client.close();
  await waitCheckpointed(s.home);
  const outside = run(['--identity', idp]);
  assert.deepEqual([outside.status, outside.report!.calls, outside.report!.refused, codes(outside.report!)], [1, 4, 1, ['ERR_CREDENTIAL_SCOPE']]);
  assert.match(outside.report!.findings.find((f) => f.code === 'ERR_CREDENTIAL_SCOPE')!.message, /the agent's receipt says the gatekeeper refused this call: if so, nothing ran under it, as the gatekeeper's log shows/);

  // An agent's own record says nothing a gatekeeper checked, so a revocation logged after its
  // calls fails them too (they could be back-dated): the gatekeeper's log is the record that
  // rests on what was checked when.
  assert.equal(cli(['agent', 'revoke', credential, '--home', idp, '--reason', 'key leaked']).status, 0);
  const revoked = run(['--identity', idp]);
  assert.equal(revoked.status, 1);
  const revocations = revoked.report!.findings.filter((f) => f.code === 'ERR_CREDENTIAL_REVOKED');
  assert.equal(revocations.length, 4, 'every call, the refused one too');
  assert.match(revocations[0]!.message, /revoked at identity entry 2, in the identity log given \(an agent's own record/);
});

test('a gatekeeper of the agent\'s own, over an old copy of the identity log, saves no call made after a revocation: its decisions count as the agent\'s own record', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s);
  // The agent copies the issuer's identity log while its credential is valid, then the issuer revokes it.
  const ownGate = join(s.dir, 'own-gate');
  assert.equal(cli(['init', '--home', ownGate]).status, 0);
  const copy = new Database(join(idp, 'identity.db'), { readonly: true });
  await copy.backup(join(ownGate, 'identity.db'));
  copy.close();
  assert.equal(cli(['agent', 'revoke', credential, '--home', idp, '--reason', 'key leaked']).status, 0);
  const gate = [CLI, 'proxy', '--role', 'server', '--policy', policy, '--home', ownGate, '--', process.execPath, EVERYTHING];
  const { client } = await connectProxied(s, gate, ['--credential', credential]);
  assertEchoed(await call(client, 'echo', { message: 'after revocation' }), 'after revocation');
  await client.close();
  await waitCheckpointed(ownGate);
  const trust = join(s.dir, 'both.json');
  const merged = cli(['trust', 'merge', exportTrust(ownGate, join(s.dir, 'gate-trust.json')), idpTrust]);
  assert.equal(merged.status, 0, merged.stderr);
  writeFileSync(trust, merged.stdout);
  // Its decision recorded the old size; its log is not the issuer's, nor one the issuer names: decided against the whole identity log.
  const r = cli(['verify', ownGate, '--trust', trust, '--identity', idp, '--json']);
  assert.equal(r.status, 1, r.stdout);
  const report = JSON.parse(r.stdout) as Parameters<typeof codes>[0];
  assert.deepEqual(codes(report), ['ERR_CREDENTIAL_REVOKED']);
  assert.ok(codes(report, 'notice').includes('NOTE_GATEKEEPER_UNDESIGNATED'), JSON.stringify(report.findings));
  // Named among the issuer's gatekeepers (its operator vouches for it), its decision stands on the size it recorded.
  const named = JSON.parse(merged.stdout) as { logs: Array<{ vkey: string }>; credentialIssuers: Array<Record<string, unknown>> };
  const gateKey = (JSON.parse(readFileSync(join(s.dir, 'gate-trust.json'), 'utf8')) as { logs: Array<{ vkey: string }> }).logs[0]!.vkey;
  named.credentialIssuers[0]!['gatekeepers'] = [gateKey];
  writeFileSync(trust, JSON.stringify(named));
  const vouched = cli(['verify', ownGate, '--trust', trust, '--identity', idp, '--json']);
  assert.equal(vouched.status, 0, vouched.stdout);
  // A bundle carries the identity range its maker chose (here the old copy): verify --identity decides against the issuer's log instead.
  writeFileSync(trust, merged.stdout);
  const size = Number(JSON.parse(cli(['log', 'status', '--home', ownGate, '--json']).stdout).size);
  const bundle = join(s.dir, 'own-gate.json');
  assert.equal(cli(['bundle', '--home', ownGate, '--range', `0..${size - 1}`, '--out', bundle]).status, 0);
  assert.equal(cli(['verify', bundle, '--trust', trust]).status, 0, 'its own range holds no revocation');
  const decided = cli(['verify', bundle, '--trust', trust, '--identity', idp, '--json']);
  assert.equal(decided.status, 1, decided.stdout);
  assert.deepEqual(codes(JSON.parse(decided.stdout) as Parameters<typeof codes>[0]), ['ERR_CREDENTIAL_REVOKED']);
  // An identity log older than the bundle's own range is refused, not decided against.
  const newer = join(s.dir, 'newer.json');
  assert.equal(cli(['bundle', '--home', ownGate, '--range', `0..${size - 1}`, '--identity', idp, '--out', newer]).status, 0);
  const behind = cli(['verify', newer, '--trust', trust, '--identity', ownGate, '--json']);
  assert.equal(behind.status, 1, behind.stdout);
  const rolled = JSON.parse(behind.stdout) as Parameters<typeof codes>[0];
  assert.ok(rolled.findings.some((f) => f.code === 'ERR_LOG_ROLLBACK' && f.message.startsWith('identity log: ')), behind.stdout);
  assert.ok(codes(rolled).includes('ERR_CREDENTIAL_UNLOGGED'), 'no call is decided against it');
});

test('verify --state remembers the identity log the calls were decided against: an older copy of it, given later, is refused', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { idp, credential, idpTrust, policy } = world(s);
  const { client } = await connectProxied(s, gatekeeperArgs(s, policy), ['--credential', credential]);
  assertEchoed(await call(client, 'echo', { message: 'one' }), 'one');
  await client.close();
  await waitCheckpointed(s.home);
  // A copy of the identity log as it stands (size 2), then another credential logged (size 3).
  const old = join(s.dir, 'old-identity.db');
  const copy = new Database(join(idp, 'identity.db'), { readonly: true });
  await copy.backup(old);
  copy.close();
  assert.equal(cli(['agent', 'issue', '--home', idp, '--agent-home', s.home, '--subject', 'agent:acme/bot2', '--tools', 'echo', '--out', join(s.dir, 'cred2.json')]).status, 0);
  const trust = join(s.dir, 'both.json');
  writeFileSync(trust, cli(['trust', 'merge', exportTrust(s.home, join(s.dir, 'agent-trust.json')), idpTrust]).stdout);
  const state = join(s.dir, 'state');
  const run = (args: string[]) => {
    const r = cli(['verify', '--trust', trust, '--state', state, '--json', ...args]);
    return { status: r.status, report: JSON.parse(r.stdout) as Parameters<typeof codes>[0] };
  };
  // The older copy verifies while nothing newer was seen; the current log is then remembered.
  assert.equal(run([s.home, '--identity', old]).status, 0);
  const now = run([s.home, '--identity', idp]);
  assert.equal(now.status, 0, JSON.stringify(now.report.findings));
  const rolled = run([s.home, '--identity', old]);
  assert.equal(rolled.status, 1);
  assert.ok(rolled.report.findings.some((f) => f.code === 'ERR_LOG_ROLLBACK' && f.message.startsWith('identity log: ')), JSON.stringify(rolled.report.findings));
  assert.ok(codes(rolled.report).includes('ERR_CREDENTIAL_UNLOGGED'), 'no call is decided against it');
  // A bundle carrying the older identity range: refused the same way.
  const size = Number(JSON.parse(cli(['log', 'status', '--home', s.home, '--json']).stdout).size);
  const bundle = join(s.dir, 'old.json');
  assert.equal(cli(['bundle', '--home', s.home, '--range', `0..${size - 1}`, '--identity', old, '--out', bundle]).status, 0);
  const b = run([bundle]);
  assert.equal(b.status, 1);
  assert.ok(b.report.findings.some((f) => f.code === 'ERR_CONSISTENCY_MISSING' && f.message.startsWith('identity log: the identity range\'s checkpoint (size 2) is older than one accepted earlier (size 3)')), JSON.stringify(b.report.findings));
});
