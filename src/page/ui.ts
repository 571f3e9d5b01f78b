/**
 * The verify page's user interface (docs/verify-page.md): choose or drop a trust policy and
 * what to verify (a file, or a tiles folder), optionally a policy document; the worker
 * (page/worker.ts, inlined by scripts/build-page.mjs as `__WORKER_SOURCE__`) verifies; the
 * verdict is shown as the CLI prints it, each finding with its code, the verifier's message
 * and what it means. Nothing is sent anywhere: the page's Content-Security-Policy allows no
 * connection at all. When done, `document.body.dataset.state` is `done` (or `error`) and
 * `window.mcpAttestReport` holds the report as the CLI's `--json` prints it.
 */
import type { ChosenFile, PageReport } from './core.js';
import { explain } from './explain.js';

declare const __WORKER_SOURCE__: string;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface Chosen { trust: ChosenFile | null; files: ChosenFile[]; policyDoc: ChosenFile | null }
const chosen: Chosen = { trust: null, files: [], policyDoc: null };

async function fromFile(f: File, path = f.webkitRelativePath || f.name): Promise<ChosenFile> {
  return { path, bytes: new Uint8Array(await f.arrayBuffer()) };
}

/** Every file under a dropped entry (a folder is walked), with its path from the dropped item. */
async function walk(entry: FileSystemEntry, prefix: string, out: ChosenFile[]): Promise<void> {
  const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push(await fromFile(file, path));
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const e of batch) await walk(e, path, out);
  }
}

function describe(files: ChosenFile[]): string {
  if (files.length === 0) return 'nothing chosen';
  if (files.length === 1) return `${files[0]!.path} (${files[0]!.bytes.length} bytes)`;
  return `folder ${files[0]!.path.split('/')[0]} (${files.length} files)`;
}

function refresh(): void {
  $('trust-chosen').textContent = chosen.trust ? describe([chosen.trust]) : 'nothing chosen';
  $('target-chosen').textContent = describe(chosen.files);
  $('policy-doc-chosen').textContent = chosen.policyDoc ? describe([chosen.policyDoc]) : 'none (optional)';
  ($('verify') as HTMLButtonElement).disabled = chosen.trust === null || chosen.files.length === 0;
}

function line(parent: HTMLElement, tag: string, text: string, cls?: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = text;
  if (cls) el.className = cls;
  parent.append(el);
  return el;
}

/** A report as the worker sends it (parsed JSON). */
interface Shown {
  kind: PageReport['kind']; ok: boolean;
  findings?: Array<{ severity: string; code: string; message: string; index?: string }>;
  checks?: Array<{ dimension: string; status: string; code?: string; message?: string }>;
}

/** The verdict, as the CLI prints it, with an explanation under each finding. */
function show(r: Shown): void {
  const out = $('result');
  out.replaceChildren();
  line(out, 'h2', `${r.ok ? 'VERIFIED' : 'FAILED'}: ${r.kind}`, r.ok ? 'ok' : 'bad');
  const facts = r as unknown as Record<string, unknown>;
  if (r.kind === 'attestation' || r.kind === 'receipt') {
    const list = line(out, 'ul', '');
    for (const c of r.checks ?? []) {
      const li = line(list, 'li', `${c.status.toUpperCase()}  ${c.dimension}${c.code ? `  ${c.code}` : ''}${c.message ? `  ${c.message}` : ''}`, c.status === 'fail' ? 'bad' : undefined);
      if (c.code) line(li, 'p', explain(c.code), 'why');
    }
    return;
  }
  const cp = facts['checkpoint'] as { origin: string; size: string } | null;
  const witnesses = (facts['witnesses'] as Array<{ name: string }>).map((w) => w.name);
  line(out, 'p', `entries ${String(facts['size'] ?? facts['entries'])}, checkpoint ${cp ? `${cp.origin} @ ${cp.size}` : 'none'}${witnesses.length ? `, cosigned by ${witnesses.join(', ')}` : ''}`);
  line(out, 'p', `calls ${String(facts['calls'])}, receipts ${String(facts['receipts'])}, unanswered ${String(facts['unanswered'])}, in flight ${String(facts['inFlight'])}`);
  if (r.kind === 'session') {
    line(out, 'p', `session ${String(facts['sessionId'] ?? '?')}, level: ${String(facts['level'])}`);
    const table = line(out, 'table', '');
    line(table, 'caption', 'Session dimensions');
    for (const [name, status] of Object.entries(facts['dimensions'] as Record<string, string>)) {
      const row = line(table, 'tr', '');
      line(row, 'th', name).setAttribute('scope', 'row');
      line(row, 'td', status, status === 'fail' ? 'bad' : undefined);
    }
  }
  const list = line(out, 'ul', '');
  for (const f of r.findings ?? []) {
    const li = line(list, 'li', `${f.severity === 'error' ? 'FAIL' : 'note'}  ${f.code}${f.index !== undefined ? ` [entry ${f.index}]` : ''}  ${f.message}`, f.severity === 'error' ? 'bad' : undefined);
    line(li, 'p', explain(f.code), 'why');
  }
}

function run(): void {
  const worker = new Worker(URL.createObjectURL(new Blob([__WORKER_SOURCE__], { type: 'text/javascript' })));
  const progress = $('progress') as HTMLProgressElement;
  progress.hidden = false;
  progress.removeAttribute('value');
  document.body.dataset['state'] = 'running';
  $('status').textContent = 'Verifying…';
  worker.onmessage = (e: MessageEvent<{ progress?: [number, number]; report?: string; error?: { code: string; message: string } }>) => {
    const m = e.data;
    if (m.progress) {
      [progress.value, progress.max] = [m.progress[0], Math.max(1, m.progress[1])];
      $('status').textContent = `Verifying: ${m.progress[0]} of ${m.progress[1]} entries`;
      return;
    }
    worker.terminate();
    progress.hidden = true;
    if (m.error) {
      $('result').replaceChildren();
      line($('result'), 'h2', `Could not verify: ${m.error.code}`, 'bad');
      line($('result'), 'p', m.error.message);
      $('status').textContent = `Could not verify: ${m.error.code}`;
      document.body.dataset['state'] = 'error';
      return;
    }
    (window as unknown as { mcpAttestReport: string }).mcpAttestReport = m.report!;
    const report = JSON.parse(m.report!) as Shown;
    show(report);
    $('status').textContent = report.ok ? 'Verified.' : 'Verification failed.';
    document.body.dataset['state'] = 'done';
  };
  worker.postMessage({ trust: chosen.trust!.bytes, files: chosen.files, policyDoc: chosen.policyDoc?.bytes ?? null, now: Math.floor(Date.now() / 1000) });
}

function wire(): void {
  const pick = (id: string, set: (files: File[]) => Promise<void>): void => {
    const input = $(id) as HTMLInputElement;
    input.addEventListener('change', () => void set([...(input.files ?? [])]).then(refresh));
  };
  pick('trust', async (f) => void (chosen.trust = f[0] ? await fromFile(f[0]) : null));
  pick('policy-doc', async (f) => void (chosen.policyDoc = f[0] ? await fromFile(f[0]) : null));
  pick('target', async (f) => void (chosen.files = await Promise.all(f.map((x) => fromFile(x)))));
  pick('folder', async (f) => void (chosen.files = await Promise.all(f.map((x) => fromFile(x)))));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const entries = [...(e.dataTransfer?.items ?? [])].map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
    const files: ChosenFile[] = [];
    void (async () => {
      for (const entry of entries) await walk(entry, '', files);
      chosen.files = files;
      refresh();
    })();
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') ($('target') as HTMLInputElement).click();
  });
  $('verify').addEventListener('click', run);
  refresh();
}

wire();
