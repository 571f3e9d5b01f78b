/**
 * The browser side of the parity tests (test/e2e/browser-parity.test.ts): the same vector
 * runner as the Node tests (test/own-vectors.ts), bundled by esbuild for the browser, so the
 * verifier layers run there on the browser's WebCrypto. `runVector(json)` and `runEntryVector(json)` (our vectors) and
 * `runPublished(json)` (published SEP-2787 cases) and `runPublishedLog(json)` (published C2SP and JCS vectors) resolve with the verdict as JSON text;
 * `gunzip(base64, max)` (bundle/gzip.ts on the browser's DecompressionStream) with the text as base64 or the error's code.
 */
import { runEntryVector, runVector } from '../own-vectors.js';
import type { EntryVector } from '../../scripts/vectors/entry-cases.js';
import type { VectorFile } from '../../scripts/vectors/model.js';
import { runPublished, type PublishedCase } from '../published-run.js';
import { runPublishedLog, type PublishedLogVectors } from '../published-log-run.js';
import { gunzipWeb } from '../../src/bundle/gzip.js';
import { isAttestError } from '../../src/errors.js';

const g = globalThis as unknown as { runVector(json: string): Promise<string>; runEntryVector(json: string): Promise<string>; runPublished(json: string): Promise<string> };
g.runEntryVector = async (json) => JSON.stringify(await runEntryVector(JSON.parse(json) as EntryVector));
g.runVector = async (json) => JSON.stringify(await runVector(JSON.parse(json) as VectorFile));
(globalThis as unknown as { runPublishedLog(json: string): Promise<string> }).runPublishedLog = async (json) => JSON.stringify(await runPublishedLog(JSON.parse(json) as PublishedLogVectors));
g.runPublished = async (json) => JSON.stringify(await runPublished(JSON.parse(json) as PublishedCase));
(globalThis as unknown as { gunzip(b64: string, max: number): Promise<string> }).gunzip = async (b64, max) => {
  try {
    const out = await gunzipWeb(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), max);
    return btoa(Array.from(out, (b) => String.fromCharCode(b)).join(''));
  } catch (e) {
    return isAttestError(e) ? e.code : `thrown: ${String(e)}`;
  }
};
