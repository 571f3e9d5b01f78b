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
import { HASH_SIZE, leafHash } from './hash.js';
import { parseCheckpoint } from './checkpoint.js';
import { rootFromLeafHashes, type NodeReader } from './tree.js';
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

/** What {@link readTiles} read: the checkpoint note and its size, the entries (read as iterated), and then the findings. */
export interface TilesRead {
  checkpoint: string;
  /** The size the checkpoint names (0 when it does not parse); not verified. */
  size: bigint;
  /**
   * The entries up to the checkpoint size, `[index, bytes]`, read one entry bundle at a time as
   * they are iterated (once): nothing but a hash a bundle of 256 is kept.
   */
  entries: Iterable<[bigint, Uint8Array]>;
  /**
   * What is missing, malformed, or disagrees with the entries, once they were iterated (what
   * was not iterated yet is read now): a missing entry bundle is `ERR_LOG_TRUNCATED`, a hash
   * tile that is not the one the entries make `ERR_LOG_TILE_MISMATCH`.
   */
  findings(): Finding[];
}

/**
 * Read a tiles directory through `read`: its checkpoint note, and the entries up to the
 * checkpoint size as they are iterated, each level-0 hash tile checked against its entry
 * bundle as it is read; the higher tiles are checked from the bundles' subtree hashes (one
 * per 256 entries) in {@link TilesRead.findings}. Memory: one entry bundle, plus 32 bytes per
 * 256 entries. Throws `ERR_LOG_TRUNCATED` without a `checkpoint` file, and what `read`
 * throws for it.
 */
export function readTiles(read: TileReader): TilesRead {
  const cpBytes = read('checkpoint', MAX_CHECKPOINT_FILE_BYTES, 'checkpoint');
  if (cpBytes === null) throw new AttestError('ERR_LOG_TRUNCATED', 'the tiles directory has no checkpoint file');
  let checkpoint = '';
  let size: bigint;
  try {
    // Strict: bytes that are not UTF-8, or a byte-order mark, are no checkpoint (never replaced or dropped on the way to the verifier).
    checkpoint = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(cpBytes);
    size = parseCheckpoint(parseNote(checkpoint).text).size;
  } catch (e) {
    const findings = [error(isAttestError(e) ? e.code : 'ERR_CHECKPOINT_MALFORMED', `checkpoint file is malformed: ${(e as Error).message}`)];
    return { checkpoint, size: 0n, entries: [], findings: () => findings };
  }
  const reading = new TilesReading(read, size);
  return { checkpoint, size, entries: { [Symbol.iterator]: () => reading.entries }, findings: () => reading.finish() };
}

/** One pass over a tiles directory's entry bundles, and the checks of its hash tiles. */
class TilesReading {
  /** The one pass: iterated by the caller, then drained by {@link finish}. */
  readonly entries: Generator<[bigint, Uint8Array]>;
  private readonly bundleFindings: Finding[] = [];
  private readonly level0Findings: Finding[] = [];
  /** The tree's nodes at level 8: the hash of each full entry bundle's 256 leaves. */
  private readonly level8: Uint8Array[] = [];
  private count = 0n;
  private findings: Finding[] | null = null;

  constructor(private readonly read: TileReader, private readonly size: bigint) {
    this.entries = this.run();
  }

  private *run(): Generator<[bigint, Uint8Array]> {
    for (let n = 0n; n * 256n < this.size; n++) {
      const width = Number(this.size - n * 256n < 256n ? this.size - n * 256n : 256n);
      const path = entriesPath(n, width);
      let bundle: Uint8Array[];
      try {
        const bytes = this.read(path, MAX_ENTRY_BUNDLE_BYTES, 'entry bundle');
        if (bytes === null) throw new AttestError('ERR_LOG_TRUNCATED', `entry bundle ${path} is missing`);
        bundle = parseEntryBundle(bytes, width);
      } catch (e) {
        this.bundleFindings.push(error(isAttestError(e) ? e.code : 'ERR_ENTRY_MALFORMED', `${path}: ${(e as Error).message}`, { index: n * 256n }));
        return;
      }
      const leaves = bundle.map(leafHash);
      this.check(0, n, width, concatBytes(...leaves), this.level0Findings);
      if (width === TILE_WIDTH) this.level8.push(rootFromLeafHashes(leaves));
      for (const e of bundle) yield [this.count++, e];
    }
  }

  /** Every finding, in order: the entry bundles', the level-0 tiles', the higher tiles'. Reads what was not iterated yet. */
  finish(): Finding[] {
    if (this.findings !== null) return this.findings;
    for (let r = this.entries.next(); !r.done; r = this.entries.next());
    const higher: Finding[] = [];
    let nodes = this.level8;
    for (let level = 1; nodes.length > 0; level++) {
      const above: Uint8Array[] = [];
      for (const [l, index, width] of tilesFor(this.count)) {
        if (l !== level) continue;
        const tile = nodes.slice(Number(index) * TILE_WIDTH, Number(index) * TILE_WIDTH + width);
        this.check(level, index, width, concatBytes(...tile), higher);
        if (width === TILE_WIDTH) above.push(rootFromLeafHashes(tile));
      }
      nodes = above;
    }
    this.findings = [...this.bundleFindings, ...this.level0Findings, ...higher];
    return this.findings;
  }

  /** Check hash tile (`level`, `index`, `width`) against `expected`, its bytes as the entries make them. */
  private check(level: number, index: bigint, width: number, expected: Uint8Array, out: Finding[]): void {
    const path = tilePath(level, index, width);
    const at = { index: index * (256n ** BigInt(level + 1)) };
    let got: Uint8Array | null;
    try {
      got = this.read(path, MAX_HASH_TILE_BYTES, 'tile');
    } catch (e) {
      out.push(error(isAttestError(e) ? e.code : 'ERR_LOG_TILE_MISMATCH', `tile ${path}: ${(e as Error).message}`, at));
      return;
    }
    if (got === null || !equalBytes(got, expected)) out.push(error('ERR_LOG_TILE_MISMATCH', `tile ${path} ${got === null ? 'is missing' : 'does not match the entries'}`, at));
  }
}
