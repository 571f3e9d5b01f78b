/**
 * Locations of the published conformance vectors, vendored verbatim under
 * `test/vectors/published/` (provenance and licence in each folder's `SOURCE.md`), and small
 * readers for them.
 */
import { readFileSync, readdirSync } from 'node:fs';
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
