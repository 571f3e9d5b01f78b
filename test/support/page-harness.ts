/**
 * The browser side of the parity tests (test/e2e/browser-parity.test.ts): the same vector
 * runner as the Node tests (test/own-vectors.ts), bundled by esbuild for the browser, so the
 * verifier layers run there on the browser's WebCrypto. `runVector(json)` resolves with the
 * verdict as JSON text.
 */
import { runVector } from '../own-vectors.js';
import type { VectorFile } from '../../scripts/vectors/model.js';

(globalThis as unknown as { runVector(json: string): Promise<string> }).runVector = async (json) => JSON.stringify(await runVector(JSON.parse(json) as VectorFile));
