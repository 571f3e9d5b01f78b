/**
 * The verify page's worker: verifies what the page sends (page/core.ts) off the page's
 * thread, so a 10,000-call input never freezes it. Messages in: `{ trust, files, policyDoc,
 * checkpoint, at, now }` with `File` objects (passed by reference: nothing is read before its
 * size passed its limit, and then with `FileReaderSync`). Messages out: `{ progress: [done,
 * total] }` (at most every 100 ms), then `{ report: <JSON text> }` (bigints as decimal
 * strings, as `verify --json` prints them) or `{ error: { code, message } }`. Before anything,
 * it checks the browser gives WebCrypto with Ed25519 and P-256 here (`ERR_CRYPTO_UNAVAILABLE`
 * otherwise: without it every signature would look forged).
 */
import { verifyChosen, type ChosenFile } from './core.js';
import { AttestError, isAttestError } from '../errors.js';

/** A dedicated worker's synchronous file reader (the WebWorker library's, absent from DOM's). */
declare class FileReaderSync { readAsArrayBuffer(blob: Blob): ArrayBuffer }

/** What the page sends. */
interface Request { trust: File; files: Array<{ path: string; file: File }>; policyDoc: File | null; checkpoint: File | null; at: number | null; now: number }

/** The CLI's JSON convention (cli/output.ts `jsonReplacer`): bigints as decimal strings. */
function replacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function chosen(file: File, path = file.name): ChosenFile {
  return { path, size: file.size, read: () => new Uint8Array(new FileReaderSync().readAsArrayBuffer(file)) };
}

/** `ERR_CRYPTO_UNAVAILABLE` unless this context has WebCrypto with Ed25519 and ECDSA P-256 (the log's and the agents' keys). */
async function checkCrypto(): Promise<void> {
  const why = !isSecureContext ? 'this page is not in a secure context: open it from disk, http://127.0.0.1 or https'
    : typeof crypto === 'undefined' || crypto.subtle === undefined ? 'this browser gives no WebCrypto here' : null;
  if (why !== null) throw new AttestError('ERR_CRYPTO_UNAVAILABLE', `${why}; nothing was verified`);
  try {
    await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  } catch (e) {
    throw new AttestError('ERR_CRYPTO_UNAVAILABLE', `this browser's WebCrypto lacks Ed25519 or P-256 (${(e as Error).message}): use a current browser; nothing was verified`);
  }
}

const scope = self as unknown as { onmessage: ((e: MessageEvent<Request>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e) => {
  const m = e.data;
  let last = 0;
  const progress = (done: number, total: number): void => {
    const now = Date.now();
    if (now - last < 100 && done !== total) return;
    last = now;
    scope.postMessage({ progress: [done, total] });
  };
  checkCrypto()
    .then(() => verifyChosen({
      trust: chosen(m.trust), files: m.files.map((f) => chosen(f.file, f.path)), policyDoc: m.policyDoc && chosen(m.policyDoc),
      checkpoint: m.checkpoint && chosen(m.checkpoint), at: m.at, now: m.now,
    }, progress))
    .then(
      (report) => scope.postMessage({ report: JSON.stringify(report, replacer) }),
      (err: unknown) => scope.postMessage({ error: { code: isAttestError(err) ? err.code : 'ERR_INTERNAL', message: (err as Error).message } }),
    );
};
