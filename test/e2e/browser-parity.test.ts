/**
 * Same verdicts everywhere (docs/verify-page.md): every mcp-attest attestation and receipt
 * vector, every log entry vector, every published SEP-2787, C2SP note/cosignature and JCS case, and a sample of byte-mangled mutants of valid ones, give in a real headless
 * Chromium (WebCrypto, the browser's JSON and text decoding) exactly the verdict, checks and
 * codes they give in Node through the CLI's primitives (node:crypto, src/platform/node.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import '../../src/platform/node.js';
import { ROOT } from './helpers.js';
import { launchBrowser } from '../support/browser.js';
import { runEntryVector, runVector } from '../own-vectors.js';
import type { EntryVector } from '../../scripts/vectors/entry-cases.js';
import type { VectorFile } from '../../scripts/vectors/model.js';
import { runPublished, type PublishedCase } from '../published-run.js';
import { runPublishedLog, type PublishedLogVectors } from '../published-log-run.js';
import { readdirSync } from 'node:fs';
import { caseDirs, vectorPath } from '../vectors.js';
import { gzipSync } from 'node:zlib';
import { gunzipStrict } from '../../src/platform/gunzip.js';
import { isAttestError } from '../../src/errors.js';

const VECTORS = join(ROOT, 'test/vectors');
let browser: Browser;
let page: Page;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-attest-parity-'));
  const out = await build({ entryPoints: [join(ROOT, 'test/support/page-harness.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome120', logLevel: 'warning' });
  writeFileSync(join(dir, 'harness.html'), `<!doctype html><meta charset="utf-8"><script>${out.outputFiles[0]!.text.replace(/<\/script/gi, '<\\/script')}</script>`);
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(pathToFileURL(join(dir, 'harness.html')).href);
  assert.equal(await page.evaluate(() => isSecureContext && typeof crypto.subtle), 'object');
});
after(async () => {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
});

const inBrowser = async (f: VectorFile): Promise<unknown> => JSON.parse(await page.evaluate((json) => (globalThis as unknown as { runVector(j: string): Promise<string> }).runVector(json), JSON.stringify(f))) as unknown;
/** Node's verdict, through JSON as the browser's comes back (undefined members dropped). */
const inNode = async (f: VectorFile): Promise<unknown> => JSON.parse(JSON.stringify(await runVector(f))) as unknown;

const cases = (JSON.parse(readFileSync(join(VECTORS, 'index.json'), 'utf8')) as { cases: Array<{ file: string }> }).cases
  .filter((c) => c.file.startsWith('attestation/') || c.file.startsWith('receipt/'))
  .map((c) => JSON.parse(readFileSync(join(VECTORS, c.file), 'utf8')) as VectorFile);

test('every attestation and receipt vector: the browser\'s verdict, checks and codes are Node\'s', { timeout: 120_000 }, async () => {
  assert.ok(cases.length > 60, `${cases.length} vectors`);
  const differ: string[] = [];
  for (const f of cases) {
    const [b, n] = [await inBrowser(f), await inNode(f)];
    if (JSON.stringify(b) !== JSON.stringify(n)) differ.push(`${f.kind}/${f.name}: browser ${JSON.stringify(b)} node ${JSON.stringify(n)}`);
  }
  assert.deepEqual(differ, []);
});

test('a sample of mutants of each valid vector (every 7th byte changed, truncations; attestations and receipts): the browser\'s verdicts are Node\'s', { timeout: 300_000 }, async () => {
  const valid = cases.filter((f) => f.expected.verdict === 'accept');
  assert.ok(valid.length >= 4, `${valid.length} valid vectors`);
  let tried = 0;
  const differ: string[] = [];
  for (const f of valid) {
    const text = f.envelopeText ?? JSON.stringify(f.envelope);
    const mutants: string[] = [];
    for (let i = 0; i < text.length; i += 7) mutants.push(text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 0x01) + text.slice(i + 1));
    for (let i = 1; i < text.length; i += Math.ceil(text.length / 10)) mutants.push(text.slice(0, i));
    for (const m of mutants) {
      const mutant = { ...f, envelope: undefined, envelopeText: m } as VectorFile;
      const [b, n] = [await inBrowser(mutant), await inNode(mutant)];
      tried++;
      if (JSON.stringify(b) !== JSON.stringify(n)) differ.push(`${f.name} ${JSON.stringify(m.slice(0, 40))}…: browser ${JSON.stringify(b)} node ${JSON.stringify(n)}`);
    }
  }
  assert.ok(tried > 300, `${tried} mutants`);
  assert.deepEqual(differ.slice(0, 5), []);
});

/** The published SEP-2787 cases (PR #2789 with its one key per case, Vaara with its three), as {@link PublishedCase}s. */
function publishedCases(): Array<[string, PublishedCase]> {
  const out: Array<[string, PublishedCase]> = [];
  const pr = 'sep2787/mcp-pr2789/v0';
  const text = (rel: string): string => readFileSync(vectorPath(rel), 'utf8');
  const keysOf = (dir: string) => ({ HS256: readFileSync(vectorPath(`${dir}/keys/hs256_secret.bin`)).toString('hex'), ES256: text(`${dir}/keys/es256_public.pem`), RS256: text(`${dir}/keys/rs256_public.pem`) });
  for (const bucket of ['normative/positive', 'normative/negative', 'verifier-policy/negative']) {
    for (const name of caseDirs(`${pr}/${bucket}`)) {
      const dir = `${pr}/${bucket}/${name}`;
      const e = JSON.parse(text(`${dir}/expected.json`)) as { verifying_material?: string; verify_at_epoch?: number };
      const file = existsSync(vectorPath(`${dir}/signed_envelope.json`)) ? `${dir}/signed_envelope.json` : `${dir}/unsigned_envelope.json`;
      const material = e.verifying_material ?? 'keys/hs256_secret.bin';
      const only = material.includes('hs256') ? 'HS256' : material.includes('es256') ? 'ES256' : 'RS256';
      const iat = (JSON.parse(text(file)) as { issuerAsserted?: { iat?: string } }).issuerAsserted?.iat;
      out.push([dir, { envelope: text(file), keys: keysOf(pr), only, at: e.verify_at_epoch ?? (iat ? Date.parse(iat) / 1000 : 0) }]);
    }
  }
  const vaara = 'sep2787/vaara-v0.70.0/sep2787_attestation_v0';
  for (const name of caseDirs(`${vaara}/normative`)) {
    const dir = `${vaara}/normative/${name}`;
    const args = existsSync(vectorPath(`${dir}/runtime_args.json`)) ? JSON.parse(text(`${dir}/runtime_args.json`)) as unknown : undefined;
    out.push([dir, { envelope: text(`${dir}/attestation.json`), keys: keysOf(vaara), at: Date.parse('2026-05-29T10:00:30Z') / 1000, ...(args === undefined ? {} : { args }) }]);
  }
  const receipts = 'vaara-receipt/vaara-v0.70.0/execution_receipt_v0';
  for (const name of caseDirs(`${receipts}/normative`)) {
    const dir = `${receipts}/normative/${name}`;
    const result = existsSync(vectorPath(`${dir}/runtime_result.json`)) ? JSON.parse(text(`${dir}/runtime_result.json`)) as unknown : undefined;
    out.push([dir, { envelope: text(`${dir}/receipt.json`), keys: keysOf(receipts), at: 0, receipt: { attestation: JSON.parse(text(`${dir}/attestation.json`)) as unknown, ...(result === undefined ? {} : { result }) } }]);
  }
  return out;
}

test('every published SEP-2787 case (PR #2789, Vaara attestations and receipts): the browser\'s verdict and checks are Node\'s', { timeout: 120_000 }, async () => {
  const all = publishedCases();
  assert.ok(all.length > 20, `${all.length} cases`);
  const differ: string[] = [];
  for (const [name, c] of all) {
    const b = JSON.parse(await page.evaluate((json) => (globalThis as unknown as { runPublished(j: string): Promise<string> }).runPublished(json), JSON.stringify(c))) as unknown;
    const n = JSON.parse(JSON.stringify(await runPublished(c))) as unknown;
    if (JSON.stringify(b) !== JSON.stringify(n)) differ.push(`${name}: browser ${JSON.stringify(b)} node ${JSON.stringify(n)}`);
  }
  assert.deepEqual(differ, []);
});

test('every log entry vector (private and public forms, openings, the parameters entry): the browser\'s verdict, entry and leaf hash are Node\'s', { timeout: 60_000 }, async () => {
  const entries = (JSON.parse(readFileSync(join(VECTORS, 'index.json'), 'utf8')) as { cases: Array<{ file: string }> }).cases
    .filter((c) => c.file.startsWith('entry/')).map((c) => JSON.parse(readFileSync(join(VECTORS, c.file), 'utf8')) as EntryVector);
  assert.ok(entries.length >= 13, `${entries.length} entry vectors`);
  for (const v of entries) {
    const b = JSON.parse(await page.evaluate((json) => (globalThis as unknown as { runEntryVector(j: string): Promise<string> }).runEntryVector(json), JSON.stringify(v))) as unknown;
    assert.deepEqual(b, JSON.parse(JSON.stringify(await runEntryVector(v))), v.desc);
    assert.deepEqual(b, v.expected, v.desc);
  }
});

test('every published C2SP signed-note and cosignature/v1 case, the 196 transparency-dev Merkle proof probes, and the JCS vectors (with the first 10,000 ES6 numbers): the browser\'s outcomes are Node\'s', { timeout: 120_000 }, async () => {
  const pub = (rel: string): string => readFileSync(vectorPath(rel), 'utf8');
  const v: PublishedLogVectors = {
    signedNote: pub('c2sp/signed-note.json'), cosignature: pub('c2sp/cosignature-v1.json'), es6: pub('jcs/es6testfile-first10k.txt'),
    jcs: readdirSync(vectorPath('jcs/input')).filter((f) => f.endsWith('.json')).sort().map((name) => ({ name, input: pub(`jcs/input/${name}`) })),
    probes: ['inclusion', 'consistency'].flatMap((kind) => (readdirSync(vectorPath(`merkle/transparency-dev-merkle/${kind}`), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.json')).sort().map((f) => ({ path: `${kind}/${f}`, text: pub(`merkle/transparency-dev-merkle/${kind}/${f}`) }))),
  };
  const b = JSON.parse(await page.evaluate((json) => (globalThis as unknown as { runPublishedLog(j: string): Promise<string> }).runPublishedLog(json), JSON.stringify(v))) as string[];
  const n = await runPublishedLog(v);
  assert.ok(n.length >= 10_210, `${n.length} cases`);
  assert.ok(n.some((x) => x.startsWith('ok')) && n.some((x) => x.startsWith('ERR_')), 'both outcomes occur');
  assert.deepEqual(b.map((x, i) => [i, x]).filter(([i, x]) => x !== n[i as number]).slice(0, 5), []);
  assert.equal(b.length, n.length);
});

/** Node's strict decoder's outcome (platform/gunzip.ts) as the harness gives the browser's: the text as base64, or the error's code. */
function gunzipInNode(bytes: Buffer, max: number): string {
  try {
    return Buffer.from(gunzipStrict(bytes, max)).toString('base64');
  } catch (e) {
    return isAttestError(e) ? e.code : `thrown: ${String(e)}`;
  }
}

test('compressed bundles: a gzip member, every byte of it changed (two ways), every truncation, what may follow it, every header flag and members of several 16 KiB slices give the browser\'s decoder the outcome of Node\'s strict one', { timeout: 300_000 }, async () => {
  const text = Buffer.from(JSON.stringify({ format: 'mcp-attest/bundle@2', entries: [{ index: '1', entry: '{"type":"x"}' }, { index: '2', entry: '{"type":"y"}' }] }));
  const member = gzipSync(text);
  const named = Buffer.concat([member.subarray(0, 3), Buffer.from([0x08]), member.subarray(4, 10), Buffer.from('b.json\0'), member.subarray(10)]);
  const inputs: Array<[string, Buffer, number]> = [['member', member, 1 << 20], ['named', named, 1 << 20], ['at its limit', member, text.length], ['past its limit', member, text.length - 1]];
  for (const base of [member, named]) {
    for (let i = 0; i < base.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const m = Buffer.from(base);
        m[i] = m[i]! ^ bit;
        inputs.push([`byte ${i} ^ ${bit}`, m, 1 << 20]);
      }
      inputs.push([`first ${i} bytes`, base.subarray(0, i), 1 << 20]);
    }
  }
  for (const [name, tail] of [['a zero', Buffer.alloc(1)], ['its trailer', member.subarray(-8)], ['a member', gzipSync('x')], ['itself', member]] as const) inputs.push([`then ${name}`, Buffer.concat([member, tail]), 1 << 20]);
  inputs.push(['an empty member first', Buffer.concat([gzipSync(Buffer.alloc(0)), member]), 1 << 20]);
  const big = gzipSync(Buffer.alloc(2 << 20, 0x20), { level: 9 });
  const corruptBig = Buffer.from(big);
  corruptBig[corruptBig.length - 8] = corruptBig[corruptBig.length - 8]! ^ 0x01;
  const liar = Buffer.from(big);
  liar.writeUInt32LE(1000, liar.length - 4);
  inputs.push(['2 MiB, over its limit', big, 1 << 20], ['2 MiB, over its limit, a CRC-32 changed', corruptBig, 1 << 20], ['2 MiB, its trailer saying 1,000 bytes', liar, 1 << 20]);
  // Members the page feeds its decoder in more than one 16 KiB slice: stored (level 0), so a member of T bytes holds T - 23.
  const stored = (t: number): Buffer => gzipSync(Buffer.from(Array.from({ length: t - 23 }, (_, i) => (i * 2654435761) >>> 24)), { level: 0 });
  for (const slices of [1, 2, 3]) for (let k = -9; k <= 9; k++) inputs.push([`${16384 * slices + k} bytes stored`, stored(16384 * slices + k), 1 << 20]);
  const sliced = stored(16384);
  for (const [name, tail] of [['a zero', Buffer.alloc(1)], ['8 zeros', Buffer.alloc(8)], ['its trailer', sliced.subarray(-8)], ['a member', gzipSync('x')], ['16,385 zeros', Buffer.alloc(16385)]] as const) inputs.push([`16384 bytes, then ${name}`, Buffer.concat([sliced, tail]), 1 << 20]);
  const wide = stored(40_000);
  for (const n of [16383, 16384, 16385, 32768, 39_992, 39_999]) inputs.push([`40000 bytes cut to ${n}`, wide.subarray(0, n), 1 << 20]);
  for (let i = 0; i < 100; i++) {
    const m = Buffer.from(wide);
    const at = (i * 397) % m.length;
    m[at] = m[at]! ^ (1 << (i % 8));
    inputs.push([`40000 bytes, byte ${at} changed`, m, 1 << 20]);
  }
  for (let flags = 0; flags < 256; flags++) inputs.push([`flags ${flags}`, Buffer.concat([member.subarray(0, 3), Buffer.from([flags]), member.subarray(4)]), 1 << 20]);
  const differ: string[] = [];
  let accepted = 0;
  for (const [name, bytes, max] of inputs) {
    const b = await page.evaluate(([b64, m]) => (globalThis as unknown as { gunzip(b: string, m: number): Promise<string> }).gunzip(b64, m), [bytes.toString('base64'), max] as const);
    const n = gunzipInNode(bytes, max);
    if (n.startsWith('thrown')) differ.push(`${name}: node threw ${n}`);
    if (b !== n) differ.push(`${name}: browser ${b.slice(0, 60)} node ${n.slice(0, 60)}`);
    if (!n.startsWith('ERR_')) accepted++;
  }
  assert.deepEqual(differ, []);
  assert.ok(inputs.length > 1000 && accepted >= 60, `${inputs.length} inputs, ${accepted} accepted`);
});
