/**
 * A real headless Chromium for the tests: the binary shipped inside the `@sparticuz/chromium`
 * npm package (no browser download, nothing installed on the machine), driven by
 * `playwright-core`. Every request a page makes is kept, so a test can assert it made none.
 */
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';

/**
 * Launch the browser (a test file's `before` hook; close it in `after`). Not the package's
 * serverless flags (`--disable-web-security`, `--single-process`…): the page is tested under
 * the browser's ordinary security, which is what an auditor's browser applies.
 */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({ executablePath: await chromium.executablePath(), args: ['--no-sandbox', '--disable-gpu', '--no-zygote'], headless: true });
}

/** A new page at `url`, with the URL of every request it makes (the page's own load included) and its console errors. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, requests, errors };
}
