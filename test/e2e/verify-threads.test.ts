/**
 * `verify --threads`: a log's or a bundle's per-entry checks spread over worker threads give
 * exactly the report of the single-threaded path, for an intact log and for tampered copies
 * (a signature changed, a back link changed, entries swapped, an entry that does not
 * decode, a published entry its stored opening does not make, in a worker's batch and of a
 * length checked here), and for a whole-log bundle intact, tampered and with an entry near its
 * end malformed (refused whole, one finding); `--threads N` starts
 * N - 1 workers, this thread checking batches too (a preload counts them), and none for
 * fewer than 4,096 entries; a log of receipt sessions, whose
 * statements' signatures the workers check, intact and with one signature changed; a worker
 * bundle missing or older than the compiled worker gives way to the compiled worker; a bundle
 * of calls under an agent credential signed with a key id it does not have, the same; a worker whose replies cannot be sent
 * fails the verification undecided (exit 3) instead of hanging it; `--threads` outside 1..16
 * is a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import '../../src/platform/node.js';
import { initHome, loadIdentity, loadIssuerSigner, trustPolicyOf } from '../../src/store/identity.js';
import { initCredentialIssuer, withOwnCredentialIssuer } from '../../src/store/credential-issuer.js';
import { agentKeyOf, issueCredential } from '../../src/store/agent-credentials.js';
import { IdentityLog } from '../../src/store/identity-log.js';
import { issueAttestation } from '../../src/attestation/build.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { SessionHome } from '../../src/store/session-export.js';
import { ROOT, cli, codes, editedCopy, exportTrust, scope, type Report } from './helpers.js';

const CALLS = 2100; // 4,200 entries: more than the 4,096 below which one thread checks them all, so the workers run
const FP = `sha256:${'11'.repeat(32)}`;

async function buildHome(home: string): Promise<void> {
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 60_000 });
  for (let i = 0; i < CALLS; i++) {
    const { attestation, callId, index } = await r.attest({ tool: 'echo', args: { message: `m${i}` }, intent: 'test', server: { name: 's', fingerprint: FP }, requestDigest: FP });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { content: [{ type: 'text', text: `m${i}` }] } });
  }
  await r.close();
}

/** Counts the worker threads a process starts (on its standard error). */
const COUNT_WORKERS = join(ROOT, 'test/e2e/fixtures/count-workers.cjs');

/** `verify TARGET --threads N --json`: exit code and report; asserts it started `workers` worker threads (default: N - 1). */
function verifyWith(target: string, trust: string, threads: string, workers = Number(threads) - 1): { status: number; report: Report } {
  const r = cli(['verify', target, '--trust', trust, '--json', '--threads', threads], 60_000, { preload: COUNT_WORKERS });
  assert.ok(r.status === 0 || r.status === 1, `verify --threads ${threads} exited ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr.split('worker thread started').length - 1, workers, `verify --threads ${threads} of ${target}: worker threads started`);
  return { status: r.status, report: JSON.parse(r.stdout) as Report };
}

const edited = (home: string, name: string, edit: (db: Database.Database) => void): string => editedCopy(home, join(home, '..', name), edit);

/** The record at `idx` (a private entry's opened record), and its replacement. */
const get = (db: Database.Database, idx: number): Buffer => (db.prepare('SELECT record FROM entries WHERE idx = ?').get(idx) as { record: Buffer }).record;
const put = (db: Database.Database, idx: number, b: Buffer): void => void db.prepare('UPDATE entries SET record = ? WHERE idx = ?').run(b, idx);
/** The entry the log publishes at `idx` (a private entry's commitment), and its replacement. */
const data = (db: Database.Database, idx: number): Buffer => (db.prepare('SELECT data FROM entries WHERE idx = ?').get(idx) as { data: Buffer }).data;
const setData = (db: Database.Database, idx: number, b: Buffer): void => void db.prepare('UPDATE entries SET data = ? WHERE idx = ?').run(b, idx);
/** `b` with the hex digit right after `prefix` changed (to another digit, whatever it was). */
const flipped = (b: Buffer, prefix: string): Buffer => {
  const text = b.toString('utf8');
  const at = text.indexOf(prefix) + prefix.length;
  assert.ok(at >= prefix.length, `${prefix} not in the entry`);
  return Buffer.from(text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1));
};

test('verify --threads 2 reports exactly what --threads 1 does, intact and tampered', async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  await buildHome(home);
  const trust = exportTrust(home);
  const cases: Array<[string, string, string | null]> = [
    ['intact', home, null],
    ['signature', edited(home, 'sig', (db) => put(db, 301, flipped(get(db, 301), '"signature":"'))), 'ERR_SIGNATURE_INVALID'],
    ['back link', edited(home, 'link', (db) => put(db, 604, flipped(get(db, 604), '"attestationDigest":"sha256:'))), 'ERR_BACK_LINK_MISMATCH'],
    ['swapped', edited(home, 'swap', (db) => { const a = get(db, 500); put(db, 500, get(db, 700)); put(db, 700, a); }), 'ERR_LOG_ENTRY_REORDERED'],
    ['malformed', edited(home, 'bad', (db) => put(db, 777, Buffer.from('{"type":'))), 'ERR_ENTRY_MALFORMED'],
    // Entries 0-511 are the first two batches, which go to the worker; 512-767, the third, is checked
    // here while the worker still has both (it is still starting); a published entry of 34 bytes always is.
    ['published', edited(home, 'pub', (db) => {
      for (const i of [300, 600]) setData(db, i, Buffer.concat([data(db, i).subarray(0, 32), Buffer.from([data(db, i)[32]! ^ 1])]));
      setData(db, 3000, Buffer.concat([data(db, 3000), Buffer.from([0])]));
    }), 'ERR_OPENING_MISMATCH'],
  ];
  for (const [name, target, code] of cases) {
    const one = verifyWith(target, trust, '1');
    const two = verifyWith(target, trust, '2');
    assert.deepEqual(two, one, `${name}: the reports differ`);
    if (code === null) {
      assert.equal(one.status, 0, JSON.stringify(one.report.findings.slice(0, 3)));
      assert.equal(one.report.calls, CALLS);
    } else if (code === 'ERR_OPENING_MISMATCH') {
      assert.deepEqual(one.report.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.index]), [[code, '300'], [code, '600'], [code, '3000']]);
    } else {
      assert.equal(one.status, 1);
      assert.ok(codes(one.report).includes(code), `${name}: ${code} not in ${codes(one.report).join(', ')}`);
    }
  }
});

test('a bundle verified over worker threads reports what one thread does, intact and tampered', async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  await buildHome(home);
  const trust = exportTrust(home);
  const file = join(s.dir, 'all.bundle.json');
  const made = cli(['bundle', '--home', home, '--range', `0..${2 * CALLS - 1}`, '--out', file, '--json']);
  assert.equal(made.status, 0, made.stderr);
  assert.equal((JSON.parse(made.stdout) as { format: string }).format, 'mcp-attest/bundle@2');
  const bad = join(s.dir, 'bad.bundle.json');
  writeFileSync(bad, flipped(readFileSync(file), '"signature\\":\\"'));
  for (const [target, code] of [[file, null], [bad, 'ERR_INCLUSION_INVALID']] as const) {
    const one = verifyWith(target, trust, '1');
    const two = verifyWith(target, trust, '2');
    assert.deepEqual(two, one, `${target}: the reports differ`);
    assert.equal(one.status, code === null ? 0 : 1, JSON.stringify(one.report.findings.slice(0, 3)));
    if (code !== null) assert.ok(codes(one.report).includes(code), codes(one.report).join(', '));
  }
  // An entry near the end that does not parse, or breaks the schema: its entries are read one
  // at a time, so this is found after thousands were checked, and the bundle is still refused
  // whole, with that one finding, the workers stopped.
  const last = `{"index":"${2 * CALLS - 2}"`;
  for (const [name, replacement, code] of [['syntax', `{"index":"${2 * CALLS - 2}",,`, 'ERR_JSON_SYNTAX'], ['schema', `{"index":${2 * CALLS - 2}`, 'ERR_BUNDLE_MALFORMED']] as const) {
    const broken = join(s.dir, `${name}.bundle.json`);
    const text = readFileSync(file, 'utf8');
    assert.ok(text.includes(last));
    writeFileSync(broken, text.replace(last, replacement));
    const one = verifyWith(broken, trust, '1');
    assert.deepEqual(verifyWith(broken, trust, '2'), one, `${name}: the reports differ`);
    assert.equal(one.status, 1);
    assert.deepEqual(one.report.findings.map((f) => f.code), [code], JSON.stringify(one.report.findings));
    assert.equal((one.report as Report & { entries: number }).entries, 0);
  }
  // Below 4,096 entries one thread checks them all: no worker starts, and the report is the same.
  const small = join(s.dir, 'small.bundle.json');
  assert.equal(cli(['bundle', '--home', home, '--range', '0..4094', '--out', small]).status, 0);
  const one = verifyWith(small, trust, '1');
  assert.deepEqual(verifyWith(small, trust, '2', 0), one, 'a small bundle: the reports differ');
  assert.equal(one.status, 0, JSON.stringify(one.report.findings.slice(0, 3)));
});

test('a session log verified over worker threads reports what one thread does, intact and with a statement\'s signature changed', async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'sessions');
  await initHome(home);
  const h = await SessionHome.open(home, { durability: 'normal' });
  // 6 sessions of 700 actions: 4,213 entries with the parameters entry, so the workers run.
  for (let k = 0; k < 6; k++) {
    const { sessionId } = h.sessions.start({ task: `task ${k}`, delegator: 'ops@example.com' });
    for (let i = 1; i <= 700; i++) h.sessions.action(sessionId, { name: `step/${i}` });
    h.sessions.seal(sessionId);
  }
  await h.recorder.checkpoint();
  await h.close();
  const trust = exportTrust(home);
  const cases: Array<[string, string, string | null]> = [
    ['intact', home, null],
    ['signature', edited(home, 'sig', (db) => put(db, 2500, flipped(get(db, 2500), '"signature":"'))), 'ERR_SIGNATURE_INVALID'],
  ];
  for (const [name, target, code] of cases) {
    const one = verifyWith(target, trust, '1');
    assert.deepEqual(verifyWith(target, trust, '2'), one, `${name}: the reports differ`);
    assert.equal(one.status, code === null ? 0 : 1, JSON.stringify(one.report.findings.slice(0, 3)));
    if (code !== null) assert.ok(one.report.findings.some((f) => f.code === code && f.index === '2500'), codes(one.report).join(', '));
  }
});

test('a worker bundle missing, or older than the compiled worker (a build by tsc alone), gives way to the compiled worker', async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  await buildHome(home);
  const trust = exportTrust(home);
  const want = verifyWith(home, trust, '2');
  // A copy of the package whose worker bundle is first older than the compiled worker, then gone.
  const pkg = join(s.dir, 'pkg');
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const bundle = join(pkg, 'dist/platform/verify-worker.bundle.js');
  // A bundle that would fail every batch, were it used.
  writeFileSync(bundle, 'process.exit(7);\n');
  utimesSync(bundle, new Date(2000, 0, 1), new Date(2000, 0, 1));
  for (const state of ['older', 'missing']) {
    if (state === 'missing') rmSync(bundle);
    const r = spawnSync(process.execPath, ['--require', COUNT_WORKERS, join(pkg, 'dist/cli/main.cjs'), 'verify', home, '--trust', trust, '--json', '--threads', '2'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, `${state}: ${r.stderr}`);
    assert.equal(r.stderr.split('worker thread started').length - 1, 1, `${state}: workers started`);
    assert.deepEqual(JSON.parse(r.stdout), want.report, `${state}: the reports differ`);
  }
});

test('a worker whose replies cannot be sent fails the verification undecided (exit 3), never hangs it', async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'home');
  await buildHome(home);
  const trust = exportTrust(home);
  const BREAK = join(ROOT, 'test/e2e/fixtures/break-worker-replies.cjs');
  for (const [mode, message] of [['facts', /verification worker failed: reply refused by the test/], ['all', /verification worker exited \(1\)/]] as const) {
    const r = cli(['verify', home, '--trust', trust, '--json', '--threads', '2'], 60_000, { preload: BREAK, env: { BREAK_REPLIES: mode } });
    assert.equal(r.status, 3, `${mode}: exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, message, mode);
    assert.match(r.stderr, /ERR_VERIFY_WORKER/, mode);
  }
});

test('verify --threads outside 1..16 is a usage error', () => {
  for (const v of ['0', '17', 'x', '-1', '2.5']) {
    const r = cli(['verify', '--home', '/nonexistent', '--threads', v]);
    assert.equal(r.status, 2, `--threads ${v}: ${r.stderr}`);
    assert.match(r.stderr, /--threads takes an integer from 1 to 16/);
  }
});

test('a bundle of calls under an agent credential, signed with a key id the credential does not have, reports the same in one thread and two', async (t) => {
  const s = scope(t);
  const [home, agent] = [join(s.dir, 'gate'), join(s.dir, 'agent')];
  for (const h of [home, agent]) await initHome(h);
  await initCredentialIssuer(home, { id: 'idp:acme', subjectPrefix: 'agent:acme/' });
  const { credential, index } = await issueCredential(home, { subject: 'agent:acme/bot', key: agentKeyOf(agent), ttl: 3600, tools: ['echo'] });
  const log = IdentityLog.open(home, false)!;
  await log.checkpoint(home, loadIdentity(home));
  log.close();
  const signer = { ...loadIssuerSigner(agent, loadIdentity(agent)), iss: credential.id, sub: credential.subject, keyId: 'not-the-credential-key' };
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 60_000, evidence: false });
  for (let i = 0; i < CALLS * 2; i++) {
    const a = await issueAttestation(signer, { tool: 'echo', args: { message: `m${i}` }, serverFingerprint: FP, intent: 'test', now: Math.floor(Date.now() / 1000), nonceBytes: crypto.getRandomValues(new Uint8Array(16)) });
    await r.decision({ callId: a.issuerAsserted.nonce, server: { name: 'echo', fingerprint: FP }, tool: 'echo', requestDigest: FP, decision: 'allowed', reason: null, code: null, attestation: a as never,
      credential: { chain: [{ id: credential.id, index: index.toString() }], identitySize: (index + 1n).toString() } });
  }
  await r.close();
  const trust = join(s.dir, 'trust.json');
  writeFileSync(trust, JSON.stringify(withOwnCredentialIssuer(home, trustPolicyOf(loadIdentity(home)))));
  const file = join(s.dir, 'cred.bundle.json');
  assert.equal(cli(['bundle', '--home', home, '--range', `0..${2 * CALLS}`, '--out', file]).status, 0);
  const one = verifyWith(file, trust, '1');
  assert.deepEqual(verifyWith(file, trust, '2'), one, 'the reports differ');
  // The attestation names a key the credential does not have: no key, in either thread, and the decision says why.
  assert.ok(codes(one.report).includes('ERR_KEY_UNAVAILABLE') && codes(one.report).includes('ERR_CREDENTIAL_KEY'), codes(one.report).join(', '));
});
