/**
 * The verify page (dist/verify.html, docs/verify-page.md) in a real headless Chromium: a
 * receipt bundle (as its text or gzip'd), a countersigned session receipt (with its policy document), a published
 * tiles folder, one attestation; each gives the CLI's verdict and codes, and a tampered copy
 * of each fails with the CLI's code. The page makes no request but its own load (and its
 * worker's blob:), and shows what each finding means.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { ROOT, cli, scope, waitFor, type Scope } from './helpers.js';
import { launchBrowser, openPage } from '../support/browser.js';
import { recordCalls } from '../unit/log-helper.js';
import { sessionHome } from '../unit/session-helper.js';
import { policyDocDigest } from '../../src/receipt/session.js';
import { identityWorld } from '../support/identity-bundle.js';

const PAGE = pathToFileURL(join(ROOT, 'dist/verify.html')).href;
let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The CLI's verdict: `verified` and the codes of its findings (or failed checks). */
function cliVerdict(args: string[]): { ok: boolean; codes: string[]; level?: string } {
  const r = cli([...args, '--json']);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  const v = JSON.parse(r.stdout) as { verified: boolean; findings?: Array<{ code: string }>; checks?: Array<{ status: string; code?: string }>; level?: string };
  return { ok: v.verified, codes: codesOf(v), ...(v.level ? { level: v.level } : {}) };
}

function codesOf(v: { findings?: Array<{ code: string }>; checks?: Array<{ status: string; code?: string }> }): string[] {
  return v.findings ? v.findings.map((f) => f.code) : (v.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.code!);
}

/** Choose the files in the page, press Verify, and read its verdict. */
async function pageVerdict(page: Page, trust: string, target: { file?: string; folder?: string }, policyDoc?: string, o: { checkpoint?: string; at?: number } = {}): Promise<{ ok: boolean; codes: string[]; level?: string; text: string }> {
  await page.reload();
  await page.setInputFiles('#trust', trust);
  if (target.file) await page.setInputFiles('#target', target.file);
  if (target.folder) await page.setInputFiles('#folder', target.folder);
  if (policyDoc) await page.setInputFiles('#policy-doc', policyDoc);
  if (o.checkpoint) await page.setInputFiles('#checkpoint', o.checkpoint);
  if (o.at !== undefined) await page.fill('#at', String(o.at));
  await page.waitForFunction(() => !(document.getElementById('verify') as HTMLButtonElement).disabled);
  await page.click('#verify');
  await page.waitForFunction(() => document.body.dataset['state'] === 'done' || document.body.dataset['state'] === 'error', undefined, { timeout: 60_000 });
  const state = await page.evaluate(() => document.body.dataset['state']);
  assert.equal(state, 'done', await page.textContent('#result') ?? '');
  const v = JSON.parse(await page.evaluate(() => (window as unknown as { mcpAttestReport: string }).mcpAttestReport)) as { ok: boolean; level?: string; findings?: Array<{ code: string }>; checks?: Array<{ status: string; code?: string }> };
  return { ok: v.ok, codes: codesOf(v), ...(v.level ? { level: v.level } : {}), text: (await page.textContent('#result')) ?? '' };
}

async function fixtures(s: Scope): Promise<{ home: string; trust: string }> {
  const home = join(s.dir, 'home');
  ok(['init', '--home', home]);
  await recordCalls(home, 3);
  const trust = join(s.dir, 'trust.json');
  writeFileSync(trust, ok(['trust', 'export', '--home', home]));
  return { home, trust };
}

test('a receipt bundle and a tiles folder: the page gives the CLI\'s verdict and codes; tampered copies fail with the CLI\'s code; no request leaves the page', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const { home, trust } = await fixtures(s);
  const { page, requests, errors } = await openPage(browser, PAGE);
  t.after(() => page.close());

  const calls = JSON.parse(ok(['log', 'show', '--home', home, '--json'])) as Array<{ call_id: string }>;
  const bundle = join(s.dir, 'call.bundle.json');
  ok(['bundle', '--home', home, '--call', calls[1]!.call_id, '--out', bundle]);
  const want = cliVerdict(['verify', bundle, '--trust', trust]);
  assert.equal(want.ok, true);
  const got = await pageVerdict(page, trust, { file: bundle });
  assert.deepEqual({ ok: got.ok, codes: got.codes }, want);
  assert.match(got.text, /VERIFIED: bundle/);

  // A tampered bundle: one character of a record changed.
  const tampered = join(s.dir, 'tampered.bundle.json');
  const b = JSON.parse(readFileSync(bundle, 'utf8')) as { entries: Array<{ record?: string }> };
  const rec = b.entries.find((e) => e.record?.includes('"sub":"agent:default"'))!;
  rec.record = rec.record!.replace('"sub":"agent:default"', '"sub":"agent:defaulX"');
  writeFileSync(tampered, JSON.stringify(b));
  const wantBad = cliVerdict(['verify', tampered, '--trust', trust]);
  assert.equal(wantBad.ok, false);
  const gotBad = await pageVerdict(page, trust, { file: tampered });
  assert.deepEqual({ ok: gotBad.ok, codes: gotBad.codes }, wantBad);
  assert.match(gotBad.text, /FAILED: bundle/);

  // The published tiles folder, chosen as a folder.
  const tiles = join(s.dir, 'tiles');
  ok(['log', 'export', '--home', home, '--out', tiles]);
  const wantTiles = cliVerdict(['verify', tiles, '--trust', trust]);
  assert.equal(wantTiles.ok, true);
  assert.deepEqual(await pageVerdict(page, trust, { folder: tiles }).then((v) => ({ ok: v.ok, codes: v.codes })), wantTiles);
  // A tampered entry bundle in a copy of the folder.
  const bad = join(s.dir, 'tiles-bad');
  copyTree(tiles, bad);
  const entries = join(bad, 'tile/entries', readdirSync(join(bad, 'tile/entries')).find((f) => f.endsWith('.p'))!);
  const file = join(entries, readdirSync(entries)[0]!);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  writeFileSync(file, bytes);
  const wantTilesBad = cliVerdict(['verify', bad, '--trust', trust]);
  assert.equal(wantTilesBad.ok, false);
  assert.deepEqual(await pageVerdict(page, trust, { folder: bad }).then((v) => ({ ok: v.ok, codes: v.codes })), wantTilesBad);

  assert.deepEqual(requests.filter((u) => !u.startsWith('blob:') && u !== PAGE), [], 'no request but the page itself');
  assert.deepEqual(errors, [], 'no error in the page');
});

test('a gzip\'d range bundle (bundle --out FILE.gz): the page and the CLI verify it alike; with anything after its member both reject it as ERR_BUNDLE_MALFORMED, as a gzip\'d single attestation; text that is not UTF-8 is a rejected bundle in both', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const { home, trust } = await fixtures(s);
  const { page, errors } = await openPage(browser, PAGE);
  t.after(() => page.close());
  const gz = join(s.dir, 'range.bundle.json.gz');
  const summary = JSON.parse(ok(['bundle', '--home', home, '--range', '1..6', '--out', gz, '--json'])) as { bytes: number; textBytes: number; entries: number };
  const bytes = readFileSync(gz);
  assert.deepEqual([bytes[0], bytes[1], bytes.length], [0x1f, 0x8b, summary.bytes]);
  assert.equal(gunzipSync(bytes).length, summary.textBytes);
  assert.ok(summary.bytes < summary.textBytes && summary.entries >= 6, JSON.stringify(summary));
  const want = cliVerdict(['verify', gz, '--trust', trust]);
  assert.deepEqual(want, { ok: true, codes: ['NOTE_UNWITNESSED'] }, 'its trust policy asks no witness');
  assert.deepEqual(await pageVerdict(page, trust, { file: gz }).then((v) => ({ ok: v.ok, codes: v.codes })), want);

  const two = join(s.dir, 'two.bundle.json.gz');
  writeFileSync(two, Buffer.concat([bytes, gzipSync(' ')]));
  const wantTwo = cliVerdict(['verify', two, '--trust', trust]);
  assert.deepEqual(wantTwo, { ok: false, codes: ['ERR_BUNDLE_MALFORMED'] });
  assert.deepEqual(await pageVerdict(page, trust, { file: two }).then((v) => ({ ok: v.ok, codes: v.codes })), wantTwo);

  // A gzip'd single attestation is no bundle, for `verify` and the page alike (`attestation verify` reads plain files only).
  const text = gunzipSync(bytes).toString('utf8');
  const record = (JSON.parse(text) as { entries: Array<{ record?: string }> }).entries.find((e) => e.record?.includes('"attestation"'))!.record!;
  const att = join(s.dir, 'att.json.gz');
  writeFileSync(att, gzipSync(JSON.stringify((JSON.parse(record) as { attestation: unknown }).attestation)));
  const wantAtt = cliVerdict(['verify', att, '--trust', trust]);
  assert.deepEqual(wantAtt, { ok: false, codes: ['ERR_BUNDLE_MALFORMED'] });
  assert.deepEqual(await pageVerdict(page, trust, { file: att }).then((v) => ({ ok: v.ok, codes: v.codes })), wantAtt);

  // Text that is not UTF-8, gzip'd or not: a rejected bundle in both, as the CLI reports it.
  for (const [name, body] of [['latin1.json', Buffer.from('{"format":"\xff"}', 'latin1')], ['latin1.json.gz', gzipSync(Buffer.from('{"format":"\xff"}', 'latin1'))]] as const) {
    const f = join(s.dir, name);
    writeFileSync(f, body);
    const wantBad = cliVerdict(['verify', f, '--trust', trust]);
    assert.deepEqual(wantBad, { ok: false, codes: ['ERR_ENCODING_INVALID'] }, name);
    assert.deepEqual(await pageVerdict(page, trust, { file: f }).then((v) => ({ ok: v.ok, codes: v.codes })), wantBad, name);
  }
  assert.deepEqual(errors, [], 'no error in the page');
});

test('a countersigned session receipt with its policy document, and one attestation: the CLI\'s verdict, dimensions and codes', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const POLICY = 'refunds up to 100 EUR need no approval\n';
  const doc = join(s.dir, 'policy.md');
  writeFileSync(doc, POLICY);
  const { home, sessionId } = await sessionHome(t, 3, { policyDigest: policyDigestOf(POLICY) });
  const receipt = join(s.dir, 'receipt.json');
  ok(['receipt', 'export', sessionId, '--home', home, '--out', receipt]);
  const key = join(s.dir, 'bob.pem');
  ok(['key', 'generate', '--out', key]);
  ok(['countersign', receipt, '--key', key, '--id', 'counterparty:acme', '--action', '3']);
  ok(['receipt', 'attach', sessionId, receipt, '--home', home]);
  const final = join(s.dir, 'final.json');
  ok(['receipt', 'export', sessionId, '--home', home, '--out', final]);
  const agent = join(s.dir, 'agent.json');
  writeFileSync(agent, ok(['trust', 'export', '--home', home]));
  const party = join(s.dir, 'party.json');
  writeFileSync(party, ok(['trust', 'party', '--key', key, '--id', 'counterparty:acme', '--role', 'counterparty']));
  const trust = join(s.dir, 'trust.json');
  writeFileSync(trust, ok(['trust', 'merge', agent, party]));

  const { page } = await openPage(browser, PAGE);
  t.after(() => page.close());
  const want = cliVerdict(['verify', final, '--trust', trust, '--policy-doc', doc]);
  assert.equal(want.ok, true, JSON.stringify(want));
  const got = await pageVerdict(page, trust, { file: final }, doc);
  assert.deepEqual({ ok: got.ok, codes: got.codes, level: got.level }, want);
  assert.match(got.text, /counterparty/);
  // Who confirmed which action, as the CLI lists it, not only the dimension.
  assert.match(got.text, /confirmation by counterparty:acme of action 3: confirmed, verified \(entry \d+\)/);
  assert.match(got.text, /#3 {2}\S/);
  // The wrong policy document: the CLI's code.
  const other = join(s.dir, 'other.md');
  writeFileSync(other, 'anything goes\n');
  const wantDoc = cliVerdict(['verify', final, '--trust', trust, '--policy-doc', other]);
  assert.equal(wantDoc.ok, false);
  const gotDoc = await pageVerdict(page, trust, { file: final }, other);
  assert.deepEqual({ ok: gotDoc.ok, codes: gotDoc.codes, level: gotDoc.level }, wantDoc);
  assert.match(gotDoc.text, /policy document you chose is not the one/);

  // One attestation out of the log, verified alone; then with its signature broken.
  const { home: h2, trust: t2 } = await fixtures(s);
  const one = JSON.parse(ok(['log', 'show', '--home', h2, '--json'])) as Array<{ call_id: string }>;
  const b = join(s.dir, 'b.json');
  ok(['bundle', '--home', h2, '--call', one[0]!.call_id, '--out', b]);
  const att = (JSON.parse(JSON.parse(readFileSync(b, 'utf8')).entries.find((e: { record?: string }) => e.record?.includes('"attestation"')).record) as { attestation: unknown }).attestation;
  const attFile = join(s.dir, 'attestation.json');
  writeFileSync(attFile, JSON.stringify(att));
  const wantAtt = cliVerdict(['attestation', 'verify', attFile, '--trust', t2]);
  assert.deepEqual(await pageVerdict(page, t2, { file: attFile }).then((v) => ({ ok: v.ok, codes: v.codes })), wantAtt);
  const broken = join(s.dir, 'attestation-bad.json');
  writeFileSync(broken, JSON.stringify(att).replace('"intent":"test"', '"intent":"tesT"'));
  const wantBroken = cliVerdict(['attestation', 'verify', broken, '--trust', t2]);
  assert.equal(wantBroken.ok, false);
  assert.deepEqual(await pageVerdict(page, t2, { file: broken }).then((v) => ({ ok: v.ok, codes: v.codes })), wantBroken);
});

function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyTree(join(from, e.name), join(to, e.name));
    else copyFileSync(join(from, e.name), join(to, e.name));
  }
}

function policyDigestOf(text: string): string {
  return policyDocDigest(new TextEncoder().encode(text));
}


test('verify --html writes the built page and prints its SHA-256; log serve serves it at /verify under the same policy, and it verifies from there', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.cjs'), 'verify', '--html'], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr.toString());
  const built = readFileSync(join(ROOT, 'dist/verify.html'));
  assert.deepEqual(r.stdout, built);
  assert.equal(r.stderr.toString(), `sha256 ${createHash('sha256').update(built).digest('hex')}  verify.html\n`);

  const { home, trust } = await fixtures(s);
  const server = spawn(process.execPath, [join(ROOT, 'dist/cli/main.cjs'), 'log', 'serve', '--home', home, '--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  s.defer(() => server.kill('SIGKILL'));
  let stdout = '';
  server.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const base = await waitFor('the log server', () => /serving (http:\/\/\S+)/.exec(stdout)?.[1]);
  // Twice (fetch asks for gzip): the second answer is the page compressed for the first.
  for (let k = 0; k < 2; k++) {
    const res = await fetch(`${base}/verify`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*connect-src 'none'/);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), built);
  }

  const calls = JSON.parse(ok(['log', 'show', '--home', home, '--json'])) as Array<{ call_id: string }>;
  const bundle = join(s.dir, 'b.json');
  ok(['bundle', '--home', home, '--call', calls[0]!.call_id, '--out', bundle]);
  const { page, requests } = await openPage(browser, `${base}/verify`);
  t.after(() => page.close());
  const got = await pageVerdict(page, trust, { file: bundle });
  assert.deepEqual({ ok: got.ok, codes: got.codes }, cliVerdict(['verify', bundle, '--trust', trust]));
  assert.deepEqual(requests.filter((u) => !u.startsWith('blob:') && u !== `${base}/verify`), [], 'the page fetches nothing, not even the log beside it');
});

test('the same strictness as the CLI: a bundle or trust policy with a byte order mark fails alike, one after 70,000 spaces passes alike; a new choice clears the verdict; a time and an accepted checkpoint as --at and --checkpoint; no WebCrypto is said, not taken for forgery', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const { home, trust } = await fixtures(s);
  const { page } = await openPage(browser, PAGE);
  t.after(() => page.close());
  const calls = JSON.parse(ok(['log', 'show', '--home', home, '--json'])) as Array<{ call_id: string }>;
  const bundle = join(s.dir, 'b.json');
  ok(['bundle', '--home', home, '--call', calls[0]!.call_id, '--out', bundle]);
  const bom = (from: string, to: string): string => (writeFileSync(to, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(from)])), to);
  const bomBundle = bom(bundle, join(s.dir, 'bom.json'));
  const wantBom = cliVerdict(['verify', bomBundle, '--trust', trust]);
  assert.equal(wantBom.ok, false);
  assert.deepEqual(await pageVerdict(page, trust, { file: bomBundle }).then((v) => ({ ok: v.ok, codes: v.codes })), wantBom);
  // JSON may start with any whitespace: 70,000 spaces, past the 64 KiB the CLI looks at first, verify alike.
  const spaced = join(s.dir, 'spaced.json');
  writeFileSync(spaced, Buffer.concat([Buffer.alloc(70_000, ' '), readFileSync(bundle)]));
  const wantSpaced = cliVerdict(['verify', spaced, '--trust', trust]);
  assert.equal(wantSpaced.ok, true, JSON.stringify(wantSpaced));
  assert.deepEqual(await pageVerdict(page, trust, { file: spaced }).then((v) => ({ ok: v.ok, codes: v.codes })), wantSpaced);
  const bomTrust = bom(trust, join(s.dir, 'bom-trust.json'));
  assert.equal(cli(['verify', bundle, '--trust', bomTrust]).status, 2, 'the CLI refuses the policy');
  await page.reload();
  await page.setInputFiles('#trust', bomTrust);
  await page.setInputFiles('#target', bundle);
  await page.click('#verify');
  await page.waitForFunction(() => document.body.dataset['state'] === 'error');
  assert.match(await page.textContent('#result') ?? '', /Could not verify: ERR_JSON_SYNTAX|Could not verify: ERR_POLICY_INVALID/);

  // A verdict shown is for the files chosen: choosing another clears it.
  await pageVerdict(page, trust, { file: bundle });
  await page.setInputFiles('#target', bomBundle);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'idle');
  assert.equal(await page.textContent('#result'), '');

  // --checkpoint: a checkpoint accepted earlier (the bundle's own, still consistent) and --at for one attestation.
  const cp = join(s.dir, 'accepted.checkpoint');
  writeFileSync(cp, (JSON.parse(readFileSync(bundle, 'utf8')) as { checkpoint: string }).checkpoint);
  const wantCp = cliVerdict(['verify', bundle, '--trust', trust, '--checkpoint', cp]);
  assert.equal(wantCp.ok, true);
  assert.deepEqual(await pageVerdict(page, trust, { file: bundle }, undefined, { checkpoint: cp }).then((v) => ({ ok: v.ok, codes: v.codes })), wantCp);
  const att = (JSON.parse((JSON.parse(readFileSync(bundle, 'utf8')) as { entries: Array<{ record?: string }> }).entries.find((e) => e.record?.includes('"attestation"'))!.record!) as { attestation: unknown }).attestation;
  const attFile = join(s.dir, 'attestation.json');
  writeFileSync(attFile, JSON.stringify(att));
  const later = Math.floor(Date.now() / 1000) + 86_400;
  const wantLate = cliVerdict(['attestation', 'verify', attFile, '--trust', trust, '--at', String(later)]);
  assert.deepEqual(wantLate, { ok: false, codes: ['ERR_TTL_EXPIRED'] });
  assert.deepEqual(await pageVerdict(page, trust, { file: attFile }, undefined, { at: later }).then((v) => ({ ok: v.ok, codes: v.codes })), wantLate);

  // Served from a host that is not a secure context, the page has no WebCrypto: it says so rather than call a genuine bundle forged.
  const insecure = await browser.newPage();
  t.after(() => insecure.close());
  await insecure.route('http://verify.example/verify', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: readFileSync(join(ROOT, 'dist/verify.html')) }));
  await insecure.goto('http://verify.example/verify');
  await insecure.setInputFiles('#trust', trust);
  await insecure.setInputFiles('#target', bundle);
  await insecure.click('#verify');
  await insecure.waitForFunction(() => document.body.dataset['state'] === 'error' || document.body.dataset['state'] === 'done');
  assert.match(await insecure.textContent('#result') ?? '', /Could not verify: ERR_CRYPTO_UNAVAILABLE/);
});

test('a file dropped on the drop zone is verified as when picked', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { home, trust } = await fixtures(s);
  const calls = JSON.parse(ok(['log', 'show', '--home', home, '--json'])) as Array<{ call_id: string }>;
  const bundle = join(s.dir, 'b.json');
  ok(['bundle', '--home', home, '--call', calls[2]!.call_id, '--out', bundle]);
  const { page } = await openPage(browser, PAGE);
  t.after(() => page.close());
  await page.setInputFiles('#trust', trust);
  const text = readFileSync(bundle, 'utf8');
  const dt = await page.evaluateHandle((body) => {
    const d = new DataTransfer();
    d.items.add(new File([body], 'dropped.bundle.json', { type: 'application/json' }));
    return d;
  }, text);
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  await page.waitForFunction(() => document.getElementById('target-chosen')!.textContent!.startsWith('dropped.bundle.json'));
  await page.click('#verify');
  await page.waitForFunction(() => document.body.dataset['state'] === 'done');
  const v = JSON.parse(await page.evaluate(() => (window as unknown as { mcpAttestReport: string }).mcpAttestReport)) as { ok: boolean; findings: Array<{ code: string }> };
  assert.deepEqual({ ok: v.ok, codes: v.findings.map((f) => f.code) }, cliVerdict(['verify', bundle, '--trust', trust]));
});

test('a bundle of calls under an agent credential carries its identity range: the page gives the CLI\'s verdict, and the CLI\'s code when the range is cut', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const { home, trust } = await identityWorld(s.dir, 3);
  const bundle = join(s.dir, 'identity.bundle.json');
  ok(['bundle', '--home', home, '--range', '1..3', '--out', bundle]);
  const { page } = await openPage(browser, PAGE);
  t.after(() => page.close());
  const want = cliVerdict(['verify', bundle, '--trust', trust]);
  assert.equal(want.ok, true, JSON.stringify(want));
  assert.deepEqual(await pageVerdict(page, trust, { file: bundle }).then((v) => ({ ok: v.ok, codes: v.codes })), want);
  const cut = join(s.dir, 'cut.bundle.json');
  const b = JSON.parse(readFileSync(bundle, 'utf8')) as { identity: { entries: string[] } };
  b.identity.entries.pop();
  writeFileSync(cut, JSON.stringify(b));
  const wantCut = cliVerdict(['verify', cut, '--trust', trust]);
  assert.ok(wantCut.codes.includes('ERR_INCLUSION_INVALID'), JSON.stringify(wantCut));
  assert.deepEqual(await pageVerdict(page, trust, { file: cut }).then((v) => ({ ok: v.ok, codes: v.codes })), wantCut);
});
