/**
 * C2SP tlog-tiles resource paths and entry bundles.
 *
 *     tile/<L>/<N>[.p/<W>]       hash tile: level L in 0..63, 256 hashes when full
 *     tile/entries/<N>[.p/<W>]   entry bundle of the matching level-0 tile
 *
 * N is split into zero-padded 3-digit groups, all but the last prefixed `x`
 * (1234067 -> `x001/x234/067`); W in 1..255 marks a partial tile. L and W have no
 * leading zeros. An entry bundle is a sequence of `u16be length || entry`.
 * @see https://c2sp.org/tlog-tiles (v0.1.0, "Merkle Tree", "Log entries")
 */
import { AttestError } from '../errors.js';
import { inRange } from './u64.js';

/** Hashes (or entries) in a full tile: 256. @see https://c2sp.org/tlog-tiles */
export const TILE_WIDTH = 256;
/** Highest tile level: 63. @see https://c2sp.org/tlog-tiles */
export const MAX_TILE_LEVEL = 63;
/**
 * Largest entry an entry bundle can carry: 65,535 bytes (u16 length prefix).
 * @see https://c2sp.org/tlog-tiles
 */
export const MAX_ENTRY_SIZE = 0xffff;

/**
 * A parsed tile path. `level` is 0 for entry bundles; `width` is 256 for a full tile.
 * @see https://c2sp.org/tlog-tiles
 */
export interface TileRef {
  kind: 'hash' | 'entries';
  level: number;
  index: bigint;
  width: number;
}

function pathError(message: string, found?: unknown): AttestError {
  return new AttestError('ERR_TILE_PATH', message, { found });
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) {
    throw pathError('tile level must be 0..63', level);
  }
}

function encodeIndex(index: bigint): string {
  const digits = index.toString();
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = padded.match(/.../g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

function suffix(index: bigint, width: number): string {
  if (!inRange(index)) throw pathError('tile index out of uint64 range', index);
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw pathError('tile width must be 1..256', width);
  }
  return encodeIndex(index) + (width === TILE_WIDTH ? '' : `.p/${width}`);
}

/**
 * Path of hash tile `index` at `level`: `tile/<L>/<N>[.p/<W>]`, `.p/<W>` only when
 * width < 256. Requires level 0..63, index a uint64, width 1..256. Throws `ERR_TILE_PATH`.
 * @see https://c2sp.org/tlog-tiles ("Merkle Tree")
 */
export function tilePath(level: number, index: bigint, width: number = TILE_WIDTH): string {
  checkLevel(level);
  return `tile/${level}/${suffix(index, width)}`;
}

/**
 * Path of entry bundle `index`: `tile/entries/<N>[.p/<W>]`. Requires index a uint64,
 * width 1..256. Throws `ERR_TILE_PATH`.
 * @see https://c2sp.org/tlog-tiles ("Log entries")
 */
export function entriesPath(index: bigint, width: number = TILE_WIDTH): string {
  return `tile/entries/${suffix(index, width)}`;
}

/**
 * Width of the partial tile at `level` for a tree of `size` leaves:
 * floor(size / 256^level) mod 256; 0 when that level has no partial tile.
 * Requires level 0..63 and size a uint64. Throws `ERR_TILE_PATH`.
 * @see https://c2sp.org/tlog-tiles ("Partial Tiles")
 */
export function partialWidth(level: number, size: bigint): number {
  checkLevel(level);
  if (!inRange(size)) throw pathError('tree size out of uint64 range', size);
  return Number((size >> BigInt(8 * level)) % 256n);
}

const TILE_PATH = /^tile\/(entries|[0-9]{1,2})\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]{1,3}))?$/;

/**
 * Parse a tile or entry-bundle path (without the log prefix) strictly: the path must be
 * exactly what {@link tilePath} / {@link entriesPath} produce (no leading zeros, no
 * redundant `x000` groups, width 1..255, level 0..63). Go sumdb `tile/<H>/<L>/<N>` paths
 * are rejected. Throws `ERR_TILE_PATH`.
 * @see https://c2sp.org/tlog-tiles
 */
export function parseTilePath(path: string): TileRef {
  const m = path.length > 64 ? null : TILE_PATH.exec(path);
  if (m === null) throw pathError('not a tile path', path);
  const [, levelText = '', indexText = '', widthText] = m;
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (widthText !== undefined && width >= TILE_WIDTH) throw pathError('partial width must be 1..255', path);
  const index = BigInt(indexText.replace(/[x/]/g, ''));
  const ref: TileRef =
    levelText === 'entries'
      ? { kind: 'entries', level: 0, index, width }
      : { kind: 'hash', level: Number(levelText), index, width };
  let canonical: string;
  try {
    canonical = ref.kind === 'entries' ? entriesPath(index, width) : tilePath(ref.level, index, width);
  } catch (cause) {
    throw new AttestError('ERR_TILE_PATH', 'invalid tile path', { found: path, cause });
  }
  if (canonical !== path) throw pathError('non-canonical tile path', path);
  return ref;
}

/**
 * Encode an entry bundle: for each entry `u16be length || entry`. Requires 1..256 entries
 * (`ERR_ENTRY_MALFORMED`) of at most 65,535 bytes each (`ERR_ENTRY_TOO_LARGE`).
 * @see https://c2sp.org/tlog-tiles ("Log entries")
 */
export function formatEntryBundle(entries: Uint8Array[]): Uint8Array {
  if (entries.length === 0 || entries.length > TILE_WIDTH) {
    throw new AttestError('ERR_ENTRY_MALFORMED', 'a bundle holds 1..256 entries', { found: entries.length });
  }
  let total = 0;
  for (const [i, e] of entries.entries()) {
    if (e.length > MAX_ENTRY_SIZE) {
      const detail = { index: i, expected: MAX_ENTRY_SIZE, found: e.length };
      throw new AttestError('ERR_ENTRY_TOO_LARGE', 'entry exceeds 65535 bytes', detail);
    }
    total += 2 + e.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const e of entries) {
    out[o] = e.length >> 8;
    out[o + 1] = e.length & 0xff;
    out.set(e, o + 2);
    o += 2 + e.length;
  }
  return out;
}

/**
 * Decode an entry bundle into its entries (copies). Rejects a truncated length prefix or
 * entry, an empty bundle, more than 256 entries, and, when `width` is given, any other
 * entry count. Throws `ERR_ENTRY_MALFORMED`.
 * @see https://c2sp.org/tlog-tiles ("Log entries")
 */
export function parseEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let o = 0;
  while (o < bytes.length) {
    if (o + 2 > bytes.length || entries.length === TILE_WIDTH) {
      throw new AttestError('ERR_ENTRY_MALFORMED', 'malformed entry bundle', { found: o });
    }
    const len = (bytes[o]! << 8) | bytes[o + 1]!;
    if (o + 2 + len > bytes.length) {
      throw new AttestError('ERR_ENTRY_MALFORMED', 'truncated entry', { found: o });
    }
    entries.push(bytes.slice(o + 2, o + 2 + len));
    o += 2 + len;
  }
  if (entries.length === 0 || (width !== undefined && entries.length !== width)) {
    throw new AttestError('ERR_ENTRY_MALFORMED', 'wrong number of entries', {
      expected: width,
      found: entries.length,
    });
  }
  return entries;
}
