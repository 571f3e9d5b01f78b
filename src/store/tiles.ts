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
import { readRegularFile } from './read-regular.js';
import { MAX_CHECKPOINT_FILE_BYTES, readTiles, type TileReader, type TilesRead } from '../log/tiles-read.js';

export { tilesFor, tileBytes, MAX_HASH_TILE_BYTES, MAX_ENTRY_BUNDLE_BYTES, MAX_CHECKPOINT_FILE_BYTES } from '../log/tiles-read.js';

/** True when `dir` is a directory holding an entry named `checkpoint` (of any type: it is checked when read). */
export function isTilesDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && lstatSync(join(dir, 'checkpoint'), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * A reader of the files below `root` (itself already resolved): every directory on the way
 * must be a real directory and the file a regular file, none a symlink. Returns null for a
 * file that is missing or cannot be read; throws `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`.
 */
function insideReader(root: string): TileReader {
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
 * Read a tiles directory (log/tiles-read.ts {@link readTiles}): its checkpoint note, the
 * entries up to the checkpoint size (from entry bundles, read as they are iterated), and then
 * findings for what is missing, malformed, or disagrees with the entries.
 * Work is bounded by the files present, never by the (not yet verified) checkpoint size.
 * `dir` itself may be a symlink; nothing inside it may be one, and every file must be a
 * regular file within its cap ({@link MAX_CHECKPOINT_FILE_BYTES}, {@link MAX_HASH_TILE_BYTES},
 * {@link MAX_ENTRY_BUNDLE_BYTES}): a tile that is not is a finding `ERR_INPUT_NOT_REGULAR` or
 * `ERR_INPUT_TOO_LARGE`. Throws those codes for the `checkpoint` file itself, and
 * `ERR_STORE_IO` when it cannot be read.
 */
export function readTilesDir(dir: string): TilesRead {
  let read: TileReader;
  try {
    read = insideReader(realpathSync(dir));
  } catch (cause) {
    throw new AttestError('ERR_STORE_IO', `cannot read tiles directory ${dir}`, { path: dir, cause });
  }
  const checkpoint = read('checkpoint', MAX_CHECKPOINT_FILE_BYTES, 'checkpoint');
  if (checkpoint === null) throw new AttestError('ERR_STORE_IO', `cannot read ${join(dir, 'checkpoint')}`, { path: dir });
  return readTiles((rel, max, what) => (rel === 'checkpoint' ? checkpoint : read(rel, max, what)));
}
