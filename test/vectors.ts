/**
 * Locations of the published conformance vectors, vendored verbatim under
 * `test/vectors/published/` (provenance and licence in each folder's `SOURCE.md`), and small
 * readers for them.
 */
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `file:` URL of a file or folder under `test/vectors/published/` (end `rel` with `/` for a folder). */
export function vectorUrl(rel: string): URL {
  return new URL(`vectors/published/${rel}`, import.meta.url);
}

/** Absolute path of a file or folder under `test/vectors/published/`. */
export function vectorPath(rel: string): string {
  return fileURLToPath(vectorUrl(rel));
}

/** Parsed JSON of a vector file. */
export function readVectorJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(vectorPath(rel), 'utf8')) as T;
}

/** Names of the sub-folders of a vector folder, sorted. */
export function caseDirs(rel: string): string[] {
  return readdirSync(vectorPath(rel), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** Absolute path of the built CLI. */
export const CLI = fileURLToPath(new URL('../dist/cli/main.cjs', import.meta.url));

let secrets: string | null = null;

/**
 * A copy of the vector secret `rel` that only its owner may read (mode 0600), in a directory
 * removed when the process exits: the CLI refuses a secret file others may read
 * (`ERR_KEY_EXPOSED`), and a clone's files are 0644.
 */
export function vectorSecretPath(rel: string): string {
  if (secrets === null) {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-vector-secrets-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    secrets = dir;
  }
  const to = join(mkdtempSync(join(secrets, 'k-')), basename(rel));
  copyFileSync(vectorPath(rel), to);
  chmodSync(to, 0o600);
  return to;
}
