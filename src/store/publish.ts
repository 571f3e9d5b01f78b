/**
 * `mcp-attest log publish --out DIR` (and `log export`): the log as a static C2SP
 * tlog-tiles directory that any web server or CDN can serve. Every tile and entry bundle is
 * written once and never changed: the full tiles of the latest checkpoint, and the partial
 * tiles of *every* tree size a checkpoint was signed for (c2sp.org/tlog-tiles: a client
 * holding an older checkpoint fetches those), then `checkpoint` last, replaced atomically.
 * Incremental: a file already there is compared, not rewritten; one that differs is
 * `ERR_PUBLISH_CONFLICT` (the directory holds another log, or was altered), and nothing of
 * this run's checkpoint is published. A run starts from the checkpoint the directory holds
 * (written last by a run that completed, so every tile of the sizes below it is there),
 * once its root is found to be this log's at its size: a run costs the checkpoints signed
 * since, not every checkpoint ever signed (a log checkpointed every second signs 86,400 a
 * day). A private log publishes its commitments only (log/opening.ts), never a record or a
 * salt. Every file is synced before its rename, so the
 * checkpoint never lands before the tiles it covers; and the checkpoint's root must be the
 * root of the stored tree at its size (a checkpoint row altered in the store is not
 * published).
 * @see c2sp.org/tlog-tiles; docs/log-format.md "Publish and export"
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { writeSynced } from './synced.js';
import { dirname, join } from 'node:path';
import { AttestError, isAttestError } from '../errors.js';
import { equalBytes, fromUtf8, utf8 } from '../bytes/index.js';
import { entriesPath, formatEntryBundle, tilePath } from '../log/tiles.js';
import { tileBytes, tilesFor } from './tiles.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { MAX_NOTE_SIZE, parseNote } from '../log/note.js';
import { isNotFound, readRegularFile } from './read-regular.js';
import { rootAt } from '../log/tree.js';
import type { LogStore } from './log-store.js';

/** What a publication wrote: files new this run, files already there and identical, the checkpoint size published. */
export interface Published { written: number; kept: number; size: bigint }

/** Every tile `[level, index, width]` of every size in `sizes`: full tiles once, each partial width that any size has. */
function tilesOfSizes(sizes: bigint[]): Array<[number, bigint, number]> {
  const seen = new Map<string, [number, bigint, number]>();
  for (const size of sizes) for (const t of tilesFor(size)) seen.set(t.join('/'), t);
  return [...seen.values()];
}

/** Write `data` at `dir/rel` durably through a synced temporary file and a rename (a reader sees all of it or nothing, before or after a crash). */
function writeAtomic(dir: string, rel: string, data: Uint8Array): void {
  const file = join(dir, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeSynced(file, data, 0o644);
}

/**
 * Write an immutable file once: true when written, false when already there with the same
 * bytes; `ERR_PUBLISH_CONFLICT` when it differs. A full tile already there (`full`) is kept
 * unread, so a run costs the new files, not the whole log: the partial tiles and the
 * checkpoint still tie the directory to this log.
 */
async function writeOnce(dir: string, rel: string, data: () => Promise<Uint8Array>, full: boolean): Promise<boolean> {
  const file = join(dir, rel);
  const st = statSync(file, { throwIfNoEntry: false });
  if (full && st?.isFile() === true) return false;
  const bytes = await data();
  if (st === undefined) {
    writeAtomic(dir, rel, bytes);
    return true;
  }
  if (!st.isFile() || st.size !== bytes.length || !equalBytes(new Uint8Array(readFileSync(file)), bytes)) {
    throw new AttestError('ERR_PUBLISH_CONFLICT', `${rel} in ${dir} differs from this log's: the directory holds another log or was altered; nothing more published`, { path: file });
  }
  return false;
}

/**
 * The tree size to publish from: that of the checkpoint `outDir` holds, once found to be
 * this log's (origin `origin`, a size up to `latest`, the stored tree's root at that size)
 * and its partial tiles are there; 0n (every size) when it holds none, or when one of them
 * is missing (a directory seeded with the checkpoint alone: the older sizes' tiles are
 * written then). `ERR_PUBLISH_CONFLICT` when it is not this log's or not a checkpoint;
 * `ERR_STORE_IO` when it cannot be read.
 */
async function publishedSize(db: LogStore, outDir: string, origin: string, latest: bigint): Promise<bigint> {
  const path = join(outDir, 'checkpoint');
  let held;
  try {
    held = parseCheckpoint(parseNote(fromUtf8(readRegularFile(path, MAX_NOTE_SIZE))).text);
  } catch (e) {
    if (isNotFound(e)) return 0n;
    if (isAttestError(e, 'ERR_STORE_IO')) throw e;
    throw new AttestError('ERR_PUBLISH_CONFLICT', `${path} is not a checkpoint this log published (${(e as Error).message}): nothing more published`, { path, cause: e });
  }
  const size = held.size;
  if (held.origin !== origin || size > latest || !equalBytes(await db.withNodes((read) => rootAt(size, read)), held.rootHash)) {
    throw new AttestError('ERR_PUBLISH_CONFLICT', `${path} is a checkpoint of another log, or of another tree: the directory holds another log or was altered; nothing more published`, { path });
  }
  const present = (rel: string): boolean => statSync(join(outDir, rel), { throwIfNoEntry: false })?.isFile() === true;
  // Its partial tiles (its full ones are the latest size's too, written or checked below).
  const complete = tilesFor(size).every(([level, index, width]) => width === 256 || (present(tilePath(level, index, width)) && (level !== 0 || present(entriesPath(index, width)))));
  return complete ? size : 0n;
}

/**
 * Publish the log `db` (either driver) into `outDir` up to its latest checkpoint
 * (cosignature lines included). Throws `ERR_USAGE` when the log has no checkpoint yet,
 * `ERR_PUBLISH_CONFLICT`, `ERR_STORE_IO` when the directory cannot be written.
 */
export async function publishTiles(db: LogStore, outDir: string): Promise<Published> {
  const latest = await db.latestCheckpoint();
  if (latest === null) throw new AttestError('ERR_USAGE', 'the log has no checkpoint yet: run "mcp-attest log checkpoint"');
  const checkpoint = parseCheckpoint(parseNote(latest.note).text);
  if (!equalBytes(await db.withNodes((read) => rootAt(latest.size, read)), checkpoint.rootHash)) {
    throw new AttestError('ERR_STORE_CORRUPT', `the checkpoint of size ${latest.size} does not name the stored tree's root: nothing published`, { index: latest.size });
  }
  const from = await publishedSize(db, outDir, checkpoint.origin, latest.size);
  const r: Published = { written: 0, kept: 0, size: latest.size };
  const count = (wrote: boolean): void => void (wrote ? r.written++ : r.kept++);
  try {
    for (const [level, index, width] of tilesOfSizes(await db.checkpointSizes(from))) {
      count(await writeOnce(outDir, tilePath(level, index, width), () => db.withNodes((read) => tileBytes(read, level, index, width)), width === 256));
      if (level !== 0) continue;
      count(await writeOnce(outDir, entriesPath(index, width), async () => {
        const entries: Uint8Array[] = [];
        for (let i = 0; i < width; i++) {
          const e = await db.entry(index * 256n + BigInt(i));
          if (e === null) throw new AttestError('ERR_STORE_CORRUPT', `entry ${index * 256n + BigInt(i)} is missing below a checkpoint's size`);
          entries.push(e);
        }
        return formatEntryBundle(entries);
      }, width === 256));
    }
    writeAtomic(outDir, 'checkpoint', utf8(latest.note));
  } catch (cause) {
    if (cause instanceof AttestError) throw cause;
    throw new AttestError('ERR_STORE_IO', `cannot publish tiles to ${outDir}: ${(cause as Error).message}`, { path: outDir, cause });
  }
  return r;
}
