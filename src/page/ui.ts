/**
 * The verify page's user interface (docs/verify-page.md): choose or drop a trust policy and
 * what to verify (a file, or a tiles folder), optionally a policy document, a checkpoint
 * accepted earlier and a verification time; the worker (page/worker.ts, inlined by
 * scripts/build-page.mjs as `__WORKER_SOURCE__`) reads and verifies them; the verdict is shown
 * as the CLI prints it, each finding with its code, the verifier's message, what it expected
 * and found, and what it means. Files go to the worker unread (`File` objects). Nothing is
 * sent anywhere: the page's Content-Security-Policy allows no connection at all. One
 * verification at a time: a new choice or a new run stops the one running, and clears the
 * verdict shown. When done, `document.body.dataset.state` is `done` (or `error`) and
 * `window.mcpAttestReport` holds the report as the CLI's `--json` prints it.
 */
import type { PageReport } from './core.js';
import { explain } from './explain.js';

declare const __WORKER_SOURCE__: string;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface Picked { path: string; file: File }
interface Chosen { trust: File | null; files: Picked[]; policyDoc: File | null; checkpoint: File | null }
const chosen: Chosen = { trust: null, files: [], policyDoc: null, checkpoint: null };
let running: Worker | null = null;

/** Every file under a dropped entry (a folder is walked), with its path from the dropped item; nothing is read. */
async function walk(entry: FileSystemEntry, prefix: string, out: Picked[]): Promise<void> {
  const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
  if (entry.isFile) {
    out.push({ path, file: await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)) });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const e of batch) await walk(e, path, out);
  }
}

function describe(files: Array<{ path: string; file: File }>): string {
  if (files.length === 0) return 'nothing chosen';
  if (files.length === 1) return `${files[0]!.path} (${files[0]!.file.size} bytes)`;
  return `folder ${files[0]!.path.split('/')[0]} (${files.length} files)`;
}

const one = (f: File | null, none = 'nothing chosen'): string => (f ? describe([{ path: f.name, file: f }]) : none);

/** Show what is chosen; stop a verification running and clear the verdict (it was for other files). */
function refresh(): void {
  stop();
  $('trust-chosen').textContent = one(chosen.trust);
  $('target-chosen').textContent = describe(chosen.files);
  $('policy-doc-chosen').textContent = one(chosen.policyDoc, 'none (optional)');
  $('checkpoint-chosen').textContent = one(chosen.checkpoint, 'none (optional)');
  $('result').replaceChildren();
  $('status').textContent = '';
  document.body.dataset['state'] = 'idle';
  ($('verify') as HTMLButtonElement).disabled = chosen.trust === null || chosen.files.length === 0;
}

function stop(): void {
  running?.terminate();
  running = null;
  ($('progress') as HTMLProgressElement).hidden = true;
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
  findings?: Array<{ severity: string; code: string; message: string; index?: string; expected?: unknown; found?: unknown }>;
  checks?: Array<{ dimension: string; status: string; code?: string; message?: string; expected?: unknown; found?: unknown }>;
}

/** One finding or check: its line, what it expected and found, and what it means. */
function item(list: HTMLElement, text: string, bad: boolean, x: { code?: string; expected?: unknown; found?: unknown }): void {
  const li = line(list, 'li', text, bad ? 'bad' : undefined);
  if (x.expected !== undefined) line(li, 'div', `expected: ${JSON.stringify(x.expected)}`, 'detail');
  if (x.found !== undefined) line(li, 'div', `found: ${JSON.stringify(x.found)}`, 'detail');
  if (x.code) line(li, 'p', explain(x.code), 'why');
}

/** A hostile string as shown: at most `n` characters. */
const clip = (v: unknown, n = 120): string => {
  const t = String(v ?? '');
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

interface PartyShown { kind: string; party: string; target: number | 'seal'; decision: string; status: string; index: string | null; code?: string }

/** A session receipt's task, actions, and who approved or confirmed which, as the CLI lists them (cli/session-report.ts). */
function sessionDetails(out: HTMLElement, facts: Record<string, unknown>): void {
  const s = facts['session'] as { task?: string | null; delegator?: string | null; actions?: Array<{ seq: number; name: string }> } | null;
  if (s) line(out, 'p', `task ${JSON.stringify(clip(s.task))}, delegator ${JSON.stringify(clip(s.delegator))}`);
  const actions = line(out, 'ol', '');
  actions.setAttribute('aria-label', 'Actions');
  for (const a of s?.actions ?? []) line(actions, 'li', `#${a.seq}  ${clip(a.name, 80)}`).setAttribute('value', String(a.seq));
  const parties = line(out, 'ul', '');
  parties.setAttribute('aria-label', 'Approvals and confirmations');
  for (const p of [...(facts['approvals'] as PartyShown[] ?? []), ...(facts['confirmations'] as PartyShown[] ?? [])]) {
    const of = p.target === 'seal' ? 'the seal' : `action ${p.target}`;
    const where = p.index === null ? 'attached, not logged' : `entry ${p.index}`;
    line(parties, 'li', `${p.kind} by ${clip(p.party, 80)} of ${of}: ${p.decision}, ${p.status} (${where})${p.code ? `  ${p.code}` : ''}`, p.status === 'failed' ? 'bad' : undefined);
  }
}

/** The verdict, as the CLI prints it, with an explanation under each finding. */
function show(r: Shown): void {
  const out = $('result');
  out.replaceChildren();
  const head = line(out, 'h3', `${r.ok ? 'VERIFIED' : 'FAILED'}: ${r.kind}`, r.ok ? 'ok' : 'bad');
  head.tabIndex = -1;
  const facts = r as unknown as Record<string, unknown>;
  if (r.kind === 'attestation' || r.kind === 'receipt') {
    const list = line(out, 'ul', '');
    for (const c of r.checks ?? []) item(list, `${c.status.toUpperCase()}  ${c.dimension}${c.code ? `  ${c.code}` : ''}${c.message ? `  ${c.message}` : ''}`, c.status === 'fail', c);
  } else {
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
      sessionDetails(out, facts);
    }
    const list = line(out, 'ul', '');
    for (const f of r.findings ?? []) item(list, `${f.severity === 'error' ? 'FAIL' : 'note'}  ${f.code}${f.index !== undefined ? ` [entry ${f.index}]` : ''}  ${f.message}`, f.severity === 'error', f);
  }
  head.focus();
}

function failed(code: string, message: string): void {
  stop();
  $('result').replaceChildren();
  line($('result'), 'h3', `Could not verify: ${code}`, 'bad');
  line($('result'), 'p', message);
  $('status').textContent = `Could not verify: ${code}.`;
  document.body.dataset['state'] = 'error';
}

/** The verification time field: POSIX seconds, or empty for now. */
function at(): number | null | 'bad' {
  const v = ($('at') as HTMLInputElement).value.trim();
  if (v === '') return null;
  return /^(0|[1-9][0-9]{0,15})$/.test(v) ? Number(v) : 'bad';
}

function run(): void {
  const when = at();
  if (when === 'bad') return failed('ERR_USAGE', 'the verification time is POSIX seconds (a whole number), or empty for now');
  stop();
  const worker = new Worker(URL.createObjectURL(new Blob([__WORKER_SOURCE__], { type: 'text/javascript' })));
  running = worker;
  const progress = $('progress') as HTMLProgressElement;
  progress.hidden = false;
  progress.removeAttribute('value');
  $('result').replaceChildren();
  document.body.dataset['state'] = 'running';
  $('status').textContent = 'Verifying…';
  worker.onerror = (e) => failed('ERR_INTERNAL', `the verifier stopped: ${e.message || 'out of memory, or the browser refused it'}`);
  worker.onmessageerror = () => failed('ERR_INTERNAL', 'the verifier\'s answer could not be read');
  worker.onmessage = (e: MessageEvent<{ progress?: [number, number]; report?: string; error?: { code: string; message: string } }>) => {
    if (running !== worker) return;
    const m = e.data;
    if (m.progress) {
      [progress.value, progress.max] = [m.progress[0], Math.max(1, m.progress[1])];
      progress.setAttribute('aria-valuetext', `${m.progress[0]} of ${m.progress[1]} entries`);
      return;
    }
    if (m.error) return failed(m.error.code, m.error.message);
    stop();
    (window as unknown as { mcpAttestReport: string }).mcpAttestReport = m.report!;
    const report = JSON.parse(m.report!) as Shown;
    $('status').textContent = report.ok ? `Verified: ${report.kind}.` : `Verification failed: ${report.kind}.`;
    show(report);
    document.body.dataset['state'] = 'done';
  };
  worker.postMessage({ trust: chosen.trust, files: chosen.files, policyDoc: chosen.policyDoc, checkpoint: chosen.checkpoint, at: when, now: Math.floor(Date.now() / 1000) });
}

function wire(): void {
  const pick = (id: string, set: (files: File[]) => void, others: string[] = []): void => {
    const input = $(id) as HTMLInputElement;
    input.addEventListener('change', () => {
      for (const o of others) ($(o) as HTMLInputElement).value = '';
      set([...(input.files ?? [])]);
      refresh();
    });
  };
  pick('trust', (f) => void (chosen.trust = f[0] ?? null));
  pick('policy-doc', (f) => void (chosen.policyDoc = f[0] ?? null));
  pick('checkpoint', (f) => void (chosen.checkpoint = f[0] ?? null));
  pick('target', (f) => void (chosen.files = f.map((file) => ({ path: file.name, file }))), ['folder']);
  pick('folder', (f) => void (chosen.files = f.map((file) => ({ path: file.webkitRelativePath || file.name, file }))), ['target']);
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    // A folder comes as an entry to walk; a plain file without one (some browsers, synthetic drops) as the file itself.
    const items = [...(e.dataTransfer?.items ?? [])].filter((i) => i.kind === 'file').map((i) => ({ entry: i.webkitGetAsEntry(), file: i.getAsFile() }));
    const files: Picked[] = [];
    void (async () => {
      for (const { entry, file } of items) {
        if (entry !== null) await walk(entry, '', files);
        else if (file !== null) files.push({ path: file.name, file });
      }
      for (const o of ['target', 'folder']) ($(o) as HTMLInputElement).value = '';
      chosen.files = files;
      refresh();
    })().catch((err: unknown) => failed('ERR_INPUT_NOT_REGULAR', `the dropped files could not be read: ${(err as Error).message}`));
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    e.preventDefault();
    ($('target') as HTMLInputElement).click();
  });
  $('verify').addEventListener('click', run);
  refresh();
}

wire();
