/**
 * The log as a C2SP tlog-tiles directory: `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]`
 * and entry bundles `tile/entries/<N>[.p/<W>]` (written by store/publish.ts). Reading a
 * directory back returns the entries and checkpoint for the verifier, and checks every hash
 * tile against the tree the entries build (`ERR_LOG_TILE_MISMATCH`).
 * @see c2sp.org/tlog-tiles
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AttestError, isAttestError } from '../errors.js';
import { concatBytes, equalBytes } from '../bytes/index.js';
import { entriesPath, MAX_ENTRY_SIZE, parseEntryBundle, partialWidth, TILE_WIDTH, tilePath } from '../log/tiles.js';
import { MAX_NOTE_SIZE, parseNote } from '../log/note.js';
import { HASH_SIZE } from '../log/hash.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { MemoryTree } from '../log/memory-tree.js';
import type { NodeReader } from '../log/tree.js';
import { error, type Finding } from '../verify/findings.js';
import { readRegularFile } from './read-regular.js';

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

/** True when `dir` is a directory holding an entry named `checkpoint` (of any type: it is checked when read). */
export function isTilesDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && lstatSync(join(dir, 'checkpoint'), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** Largest hash tile file: 256 hashes of 32 bytes. */
export const MAX_HASH_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** Largest entry bundle file: 256 entries of at most 65,535 bytes, each after its 2-byte length. */
export const MAX_ENTRY_BUNDLE_BYTES = TILE_WIDTH * (MAX_ENTRY_SIZE + 2);
/** Largest checkpoint file: the signed-note limit, 1 MiB (a real one is a few hundred bytes). */
export const MAX_CHECKPOINT_FILE_BYTES = MAX_NOTE_SIZE;

/**
 * A reader of the files below `root` (itself already resolved): every directory on the way
 * must be a real directory and the file a regular file, none a symlink. Returns null for a
 * file that is missing or cannot be read; throws `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`.
 */
function insideReader(root: string): (rel: string, maxBytes: number, what: string) => Uint8Array | null {
  const dirs = new Set<string>();
  return (rel, maxBytes, what) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      if (dirs.has(sub)) continue;
      const st = lstatSync(join(root, sub), { throwIfNoEntry: false });
      if (st === undefined) return null;
      if (!st.isDirectory()) throw new AttestError('ERR_INPUT_NOT_REGULAR', `${sub} in tiles directory ${root} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: refused`, { path: join(root, sub) });
      dirs.add(sub);
    }
    try {
      return new Uint8Array(readRegularFile(join(root, rel), maxBytes, { what }));
    } catch (e) {
      if (isAttestError(e, 'ERR_STORE_IO')) return null;
      throw e;
    }
  };
}

/**
 * Read a tiles directory: its checkpoint note, the entries up to the checkpoint size (from
 * entry bundles), and findings for what is missing, malformed, or disagrees with the entries.
 * Work is bounded by the files present, never by the (not yet verified) checkpoint size.
 * `dir` itself may be a symlink; nothing inside it may be one, and every file must be a
 * regular file within its cap ({@link MAX_CHECKPOINT_FILE_BYTES}, {@link MAX_HASH_TILE_BYTES},
 * {@link MAX_ENTRY_BUNDLE_BYTES}): a tile that is not is a finding `ERR_INPUT_NOT_REGULAR` or
 * `ERR_INPUT_TOO_LARGE`. Throws those codes for the `checkpoint` file itself, and
 * `ERR_STORE_IO` when it cannot be read.
 */
export function readTilesDir(dir: string): { checkpoint: string; entries: Array<[bigint, Uint8Array]>; findings: Finding[] } {
  let read: ReturnType<typeof insideReader>;
  try {
    read = insideReader(realpathSync(dir));
  } catch (cause) {
    throw new AttestError('ERR_STORE_IO', `cannot read tiles directory ${dir}`, { path: dir, cause });
  }
  const cpBytes = read('checkpoint', MAX_CHECKPOINT_FILE_BYTES, 'checkpoint');
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
  const tree = readEntryBundles(read, size, entries, findings);
  checkHashTiles(read, tree, findings);
  return { checkpoint, entries, findings };
}

/** Append the entries of the entry bundles up to `size` to `entries`; stop at the first bad one. */
function readEntryBundles(read: ReturnType<typeof insideReader>, size: bigint, entries: Array<[bigint, Uint8Array]>, findings: Finding[]): MemoryTree {
  const tree = new MemoryTree();
  for (let n = 0n; n * 256n < size; n++) {
    const width = Number(size - n * 256n < 256n ? size - n * 256n : 256n);
    const path = entriesPath(n, width);
    let bundle: Uint8Array[];
    try {
      const bytes = read(path, MAX_ENTRY_BUNDLE_BYTES, 'entry bundle');
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
  return tree;
}

/** Check every hash tile of `tree` against the directory's. */
function checkHashTiles(read: ReturnType<typeof insideReader>, tree: MemoryTree, findings: Finding[]): void {
  for (const [level, index, width] of tilesFor(tree.size)) {
    const path = tilePath(level, index, width);
    const at = { index: index * (256n ** BigInt(level + 1)) };
    let got: Uint8Array | null;
    try {
      got = read(path, MAX_HASH_TILE_BYTES, 'tile');
    } catch (e) {
      findings.push(error(isAttestError(e) ? e.code : 'ERR_LOG_TILE_MISMATCH', `tile ${path}: ${(e as Error).message}`, at));
      continue;
    }
    if (got === null || !equalBytes(got, tileBytes(tree.read, level, index, width))) {
      findings.push(error('ERR_LOG_TILE_MISMATCH', `tile ${path} ${got === null ? 'is missing' : 'does not match the entries'}`, at));
    }
  }
}
