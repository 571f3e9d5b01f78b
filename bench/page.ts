/**
 * [page] The verify page (dist/verify.html, docs/verify-page.md) in a real headless Chromium
 * (@sparticuz/chromium + playwright-core) against the CLI on the same files: the page's size,
 * and the time to verify receipt bundles of 1, 100 and `BENCH_PAGE_CALLS` calls (default
 * 10,000): in the page from the click on Verify to the verdict (measured inside the page),
 * and `mcp-attest verify FILE --trust T` as a whole process. The limit beside them, in the
 * same run: the browser's own WebCrypto verifying as many ES256 signatures as the bundle
 * holds (two per call), one after another.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { initHome, loadIdentity, trustPolicyOf } from '../src/store/identity.js';
import { Recorder } from '../src/proxy/recorder.js';
import { buildBundle, selectEntries } from '../src/store/bundle-build.js';
import { formatBundle } from '../src/bundle/format.js';
import { launchBrowser } from '../test/support/browser.js';
import { appendCalls } from './witness.js';
import { summarize } from './stats.js';

const RUNS = 3;

/** One row: calls, bundle bytes, page ms (median of 3), CLI ms (median of 3), raw WebCrypto ms. */
export interface PageRow { calls: number; bytes: number; pageMs: number; cliMs: number; rawMs: number }

/** Median of `runs` timings of `f`. */
async function median(f: () => Promise<number> | number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await f());
  return summarize(times).median;
}

/** Measure (see the module comment); `cli` is dist/cli/main.cjs. */
export async function benchPage(dir: string, cli: string, root: string): Promise<{ size: number; gzip: number; rows: PageRow[] }> {
  const html = readFileSync(join(root, 'dist/verify.html'));
  const sizes = [1, 100, Number(process.env['BENCH_PAGE_CALLS'] ?? 10_000)];
  const home = join(dir, 'paged');
  await initHome(home);
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 1e9, evidence: false });
  await appendCalls(r, 0, Math.max(...sizes));
  await r.checkpoint();
  const trust = join(dir, 'page-trust.json');
  writeFileSync(trust, JSON.stringify(trustPolicyOf(loadIdentity(home))));
  const files = sizes.map((calls) => {
    const file = join(dir, `page-${calls}.bundle.json`);
    writeFileSync(file, formatBundle(buildBundle(r.db, selectEntries(r.db, { range: [1n, BigInt(2 * calls)] }), [], calls > 1)));
    return file;
  });
  await r.close();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(join(root, 'dist/verify.html')).href);
    const rows: PageRow[] = [];
    for (const [i, calls] of sizes.entries()) {
      const file = files[i]!;
      const pageMs = await median(async () => {
        await page.reload();
        await page.setInputFiles('#trust', trust);
        await page.setInputFiles('#target', file);
        await page.waitForFunction(() => !(document.getElementById('verify') as HTMLButtonElement).disabled);
        await page.evaluate(() => {
          const w = window as unknown as { t0: number; t1: number };
          document.getElementById('verify')!.addEventListener('click', () => (w.t0 = performance.now()), { capture: true });
          new MutationObserver(() => { if (document.body.dataset['state'] === 'done') w.t1 = performance.now(); }).observe(document.body, { attributes: true });
        });
        await page.click('#verify');
        await page.waitForFunction(() => document.body.dataset['state'] === 'done', undefined, { timeout: 600_000 });
        const ok = await page.evaluate(() => (JSON.parse((window as unknown as { mcpAttestReport: string }).mcpAttestReport) as { ok: boolean }).ok);
        if (!ok) throw new Error(`bench: the page did not verify the ${calls}-call bundle`);
        return page.evaluate(() => { const w = window as unknown as { t0: number; t1: number }; return w.t1 - w.t0; });
      });
      const cliMs = await median(() => {
        const t0 = performance.now();
        const v = spawnSync(process.execPath, [cli, 'verify', file, '--trust', trust], { stdio: 'ignore' });
        if (v.status !== 0) throw new Error(`bench: the CLI did not verify the ${calls}-call bundle`);
        return performance.now() - t0;
      });
      const rawMs = await median(() => page.evaluate(async (n) => {
        const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
        const data = new TextEncoder().encode('x'.repeat(600));
        const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, data);
        const t0 = performance.now();
        for (let k = 0; k < n; k++) await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey, sig, data);
        return performance.now() - t0;
      }, 2 * calls));
      rows.push({ calls, bytes: readFileSync(file).length, pageMs, cliMs, rawMs });
    }
    return { size: html.length, gzip: gzipSync(html).length, rows };
  } finally {
    await browser.close();
  }
}
