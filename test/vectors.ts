/**
 * Locations of the published conformance vectors, read in place from `../shared/vectors/`
 * (never copied into this repository), and small readers for them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a file or folder under `../shared/vectors/`. */
export function vectorPath(rel: string): string {
  return fileURLToPath(new URL(`../../shared/vectors/${rel}`, import.meta.url));
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
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
