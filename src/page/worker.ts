/**
 * The verify page's worker: verifies what the page sends (page/core.ts) off the page's
 * thread, so a 10,000-call input never freezes it. Messages in: a `PageRequest`. Messages
 * out: `{ progress: [done, total] }` (at most every 100 ms), then `{ report: <JSON text> }`
 * (bigints as decimal strings, as `verify --json` prints them) or
 * `{ error: { code, message } }`.
 */
import { verifyChosen, type PageRequest } from './core.js';
import { isAttestError } from '../errors.js';

/** The CLI's JSON convention (cli/output.ts `jsonReplacer`): bigints as decimal strings. */
function replacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

const scope = self as unknown as { onmessage: ((e: MessageEvent<PageRequest>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e) => {
  let last = 0;
  const progress = (done: number, total: number): void => {
    const now = Date.now();
    if (now - last < 100 && done !== total) return;
    last = now;
    scope.postMessage({ progress: [done, total] });
  };
  verifyChosen(e.data, progress).then(
    (report) => scope.postMessage({ report: JSON.stringify(report, replacer) }),
    (err: unknown) => scope.postMessage({ error: { code: isAttestError(err) ? err.code : 'ERR_INTERNAL', message: (err as Error).message } }),
  );
};
