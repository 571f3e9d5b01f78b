/**
 * The browser side of the parity tests (test/e2e/browser-parity.test.ts): the same vector
 * runner as the Node tests (test/own-vectors.ts), bundled by esbuild for the browser, so the
 * verifier layers run there on the browser's WebCrypto. `runVector(json)` (our vectors) and
 * `runPublished(json)` (published SEP-2787 cases) resolve with the verdict as JSON text.
 */
import { runVector } from '../own-vectors.js';
import type { VectorFile } from '../../scripts/vectors/model.js';
import { runPublished, type PublishedCase } from '../published-run.js';

const g = globalThis as unknown as { runVector(json: string): Promise<string>; runPublished(json: string): Promise<string> };
g.runVector = async (json) => JSON.stringify(await runVector(JSON.parse(json) as VectorFile));
g.runPublished = async (json) => JSON.stringify(await runPublished(JSON.parse(json) as PublishedCase));
