/**
 * Generate the mcp-attest conformance vectors (docs/vectors.md) deterministically into
 * `test/vectors/`: `attestation/<case>.json`, `receipt/<case>.json`, `entry/<case>.json`
 * (log format v2 entries) and `index.json`.
 *
 *   node --import tsx scripts/gen-vectors.ts           # write
 *   node --import tsx scripts/gen-vectors.ts --check   # exit 1 if the committed files differ
 *
 * The test keys under `test/vectors/keys/` are inputs, never rewritten.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attestationCases } from './vectors/attestation-cases.js';
import { hostileCases } from './vectors/hostile-cases.js';
import { receiptCases } from './vectors/receipt-cases.js';
import { entryCases } from './vectors/entry-cases.js';
import type { VectorFile } from './vectors/model.js';

/** The committed vector directory. */
export const VECTOR_DIR = fileURLToPath(new URL('../test/vectors/', import.meta.url));

/** Every generated file: path relative to the vector directory -> exact text. */
export function generateVectors(): Map<string, string> {
  const files = new Map<string, string>();
  const index: Array<{ file: string; kind: string; verdict: string; desc: string }> = [];
  const all: VectorFile[] = [...attestationCases(), ...hostileCases(), ...receiptCases()];
  for (const f of all) {
    const path = `${f.kind}/${f.name}.json`;
    if (files.has(path)) throw new Error(`duplicate case name ${path}`);
    files.set(path, `${JSON.stringify(f, null, 2)}\n`);
    index.push({ file: path, kind: f.kind, verdict: f.expected.verdict, desc: f.desc });
  }
  for (const f of entryCases()) {
    const path = `entry/${f.name}.json`;
    if (files.has(path)) throw new Error(`duplicate case name ${path}`);
    files.set(path, `${JSON.stringify(f, null, 2)}\n`);
    index.push({ file: path, kind: f.kind, verdict: f.expected.verdict, desc: f.desc });
  }
  files.set('index.json', `${JSON.stringify({ format: 'mcp-attest-vectors/1', cases: index }, null, 2)}\n`);
  return files;
}

/** The committed generated files (everything but keys/). */
export function committedVectors(dir = VECTOR_DIR): Map<string, string> {
  const files = new Map<string, string>();
  files.set('index.json', readFileSync(`${dir}index.json`, 'utf8'));
  for (const kind of ['attestation', 'receipt', 'entry']) {
    for (const name of readdirSync(`${dir}${kind}`)) files.set(`${kind}/${name}`, readFileSync(`${dir}${kind}/${name}`, 'utf8'));
  }
  return files;
}

/** Paths that differ between two file sets (missing, extra or changed). */
export function diffVectors(want: Map<string, string>, have: Map<string, string>): string[] {
  const paths = new Set([...want.keys(), ...have.keys()]);
  return [...paths].filter((p) => want.get(p) !== have.get(p)).sort();
}

function main(): void {
  const files = generateVectors();
  if (process.argv.includes('--check')) {
    const diff = diffVectors(files, committedVectors());
    if (diff.length > 0) {
      process.stderr.write(`vectors differ from the generator: ${diff.join(', ')}\n`);
      process.exit(1);
    }
    process.stdout.write(`${files.size - 1} vectors reproduce exactly\n`);
    return;
  }
  for (const kind of ['attestation', 'receipt', 'entry']) mkdirSync(`${VECTOR_DIR}${kind}`, { recursive: true });
  for (const [path, text] of files) writeFileSync(`${VECTOR_DIR}${path}`, text);
  process.stdout.write(`wrote ${files.size - 1} vectors to ${VECTOR_DIR}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
