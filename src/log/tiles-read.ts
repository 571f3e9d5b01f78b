/**
 * Reading a C2SP tlog-tiles directory, on any runtime: the reader of its files is given
 * (a Node directory: store/tiles.ts; files chosen in a browser: the verify page), so a
 * directory is checked the same way everywhere: the checkpoint note, the entries up to its
 * size from the entry bundles, and every hash tile recomputed from those entries. Work is
 * bounded by the files present, never by the (not yet verified) checkpoint size.
 * @see c2sp.org/tlog-tiles
 */
import { AttestError, isAttestError } from '../errors.js';
import { concatBytes, equalBytes } from '../bytes/index.js';
import { entriesPath, MAX_ENTRY_SIZE, parseEntryBundle, partialWidth, TILE_WIDTH, tilePath } from './tiles.js';
import { MAX_NOTE_SIZE, parseNote } from './note.js';
import { HASH_SIZE } from './hash.js';
import { parseCheckpoint } from './checkpoint.js';
import { MemoryTree } from './memory-tree.js';
import type { NodeReader } from './tree.js';
import { error, type Finding } from '../verify/findings.js';

/**
 * Reads the file at `rel` (a tiles path such as `tile/0/000`) of at most `maxBytes`; null when
 * there is none. Throws `ERR_INPUT_TOO_LARGE` past the cap, `ERR_INPUT_NOT_REGULAR` for what
 * is not a regular file (`what` names it in the message).
 */
export type TileReader = (rel: string, maxBytes: number, what: string) => Uint8Array | null;

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

/** Largest hash tile file: 256 hashes of 32 bytes. */
export const MAX_HASH_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** Largest entry bundle file: 256 entries of at most 65,535 bytes, each after its 2-byte length. */
export const MAX_ENTRY_BUNDLE_BYTES = TILE_WIDTH * (MAX_ENTRY_SIZE + 2);
/** Largest checkpoint file: the signed-note limit, 1 MiB (a real one is a few hundred bytes). */
export const MAX_CHECKPOINT_FILE_BYTES = MAX_NOTE_SIZE;

/**
 * Read a tiles directory through `read`: its checkpoint note, the entries up to the
 * checkpoint size, and findings for what is missing, malformed, or disagrees with the
 * entries (a hash tile that is not the one the entries make: `ERR_LOG_TILE_MISMATCH`; a
 * missing entry bundle: `ERR_LOG_TRUNCATED`). Throws `ERR_LOG_TRUNCATED` without a
 * `checkpoint` file, and what `read` throws for it.
 */
export function readTiles(read: TileReader): { checkpoint: string; entries: Array<[bigint, Uint8Array]>; findings: Finding[] } {
  const cpBytes = read('checkpoint', MAX_CHECKPOINT_FILE_BYTES, 'checkpoint');
  if (cpBytes === null) throw new AttestError('ERR_LOG_TRUNCATED', 'the tiles directory has no checkpoint file');
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
function readEntryBundles(read: TileReader, size: bigint, entries: Array<[bigint, Uint8Array]>, findings: Finding[]): MemoryTree {
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
function checkHashTiles(read: TileReader, tree: MemoryTree, findings: Finding[]): void {
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
