/**
 * The log as a C2SP tlog-tiles directory: `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]`
 * and entry bundles `tile/entries/<N>[.p/<W>]`, for the tree size of one checkpoint. Static
 * files: any web server or CDN can serve the directory. Reading a directory back returns
 * the entries and checkpoint for the verifier, and checks every hash tile against the tree
 * the entries build (`ERR_LOG_TILE_MISMATCH`).
 * @see c2sp.org/tlog-tiles
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AttestError, isAttestError } from '../errors.js';
import { concatBytes, equalBytes } from '../bytes/index.js';
import { entriesPath, formatEntryBundle, parseEntryBundle, partialWidth, tilePath } from '../log/tiles.js';
import { parseNote } from '../log/note.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { MemoryTree } from '../log/memory-tree.js';
import type { NodeReader } from '../log/tree.js';
import { error, type Finding } from '../verify/findings.js';

/** Tiles `[level, index, width]` a tree of `size` leaves consists of (full and partial). */
export function tilesFor(size: bigint): Array<[number, bigint, number]> {
  const out: Array<[number, bigint, number]> = [];
  for (let level = 0; size >> BigInt(8 * level) > 0n; level++) {
    const full = size >> BigInt(8 * (level + 1));
    for (let n = 0n; n < full; n++) out.push([level, n, 256]);
    const w = partialWidth(level, size);
    if (w > 0) out.push([level, full, w]);
  }
  return out;
}

/** The bytes of hash tile (`level`, `index`, `width`): `width` 32-byte hashes read from the stored nodes. */
export function tileBytes(read: NodeReader, level: number, index: bigint, width: number): Uint8Array {
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < width; i++) hashes.push(read(8 * level, index * 256n + BigInt(i)));
  return concatBytes(...hashes);
}

function write(dir: string, path: string, data: Uint8Array | string): void {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, data);
}

/**
 * Write the tiles directory for a checkpoint note of `size`. `entry(i)` returns entry bytes;
 * `read` the stored Merkle nodes. Throws `ERR_STORE_IO`.
 */
export function exportTiles(outDir: string, note: string, size: bigint, entry: (i: bigint) => Uint8Array, read: NodeReader): number {
  try {
    let files = 0;
    for (const [level, index, width] of tilesFor(size)) {
      write(outDir, tilePath(level, index, width), tileBytes(read, level, index, width));
      files++;
      if (level === 0) {
        const entries: Uint8Array[] = [];
        for (let i = 0; i < width; i++) entries.push(entry(index * 256n + BigInt(i)));
        write(outDir, entriesPath(index, width), formatEntryBundle(entries));
        files++;
      }
    }
    write(outDir, 'checkpoint', note);
    return files + 1;
  } catch (cause) {
    throw new AttestError('ERR_STORE_IO', `cannot export tiles to ${outDir}`, { path: outDir, cause });
  }
}

/** True when `dir` looks like a tiles directory (has a `checkpoint` file). */
export function isTilesDir(dir: string): boolean {
  return existsSync(join(dir, 'checkpoint'));
}

/**
 * Read a tiles directory: its checkpoint note, the entries up to the checkpoint size (from
 * entry bundles), and findings for what is missing, malformed, or disagrees with the entries.
 * Work is bounded by the files present, never by the (not yet verified) checkpoint size.
 * Throws `ERR_STORE_IO` only when the `checkpoint` file itself cannot be read.
 */
export function readTilesDir(dir: string): { checkpoint: string; entries: Array<[bigint, Uint8Array]>; findings: Finding[] } {
  const tryRead = (p: string): Uint8Array | null => {
    try {
      return new Uint8Array(readFileSync(join(dir, p)));
    } catch {
      return null;
    }
  };
  const cpBytes = tryRead('checkpoint');
  if (cpBytes === null) throw new AttestError('ERR_STORE_IO', `cannot read ${join(dir, 'checkpoint')}`, { path: dir });
  const checkpoint = new TextDecoder().decode(cpBytes);
  const entries: Array<[bigint, Uint8Array]> = [];
  const findings: Finding[] = [];
  let size: bigint;
  try {
    size = parseCheckpoint(parseNote(checkpoint).text).size;
  } catch (e) {
    findings.push(error(isAttestError(e) ? e.code : 'ERR_CHECKPOINT_MALFORMED', `checkpoint file is malformed: ${(e as Error).message}`));
    return { checkpoint, entries, findings };
  }
  const tree = new MemoryTree();
  for (let n = 0n; n * 256n < size; n++) {
    const width = Number(size - n * 256n < 256n ? size - n * 256n : 256n);
    const path = entriesPath(n, width);
    const bytes = tryRead(path);
    let bundle: Uint8Array[];
    try {
      if (bytes === null) throw new AttestError('ERR_LOG_TRUNCATED', `entry bundle ${path} is missing`);
      bundle = parseEntryBundle(bytes, width);
    } catch (e) {
      findings.push(error(isAttestError(e) ? e.code : 'ERR_ENTRY_MALFORMED', `${path}: ${(e as Error).message}`, { index: n * 256n }));
      break;
    }
    for (const e of bundle) {
      entries.push([BigInt(entries.length), e]);
      tree.append(e);
    }
  }
  for (const [level, index, width] of tilesFor(tree.size)) {
    const path = tilePath(level, index, width);
    const got = tryRead(path);
    if (got === null || !equalBytes(got, tileBytes(tree.read, level, index, width))) {
      findings.push(error('ERR_LOG_TILE_MISMATCH', `tile ${path} ${got === null ? 'is missing' : 'does not match the entries'}`, { index: index * (256n ** BigInt(level + 1)) }));
    }
  }
  return { checkpoint, entries, findings };
}
