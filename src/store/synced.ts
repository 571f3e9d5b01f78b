/**
 * Small files replaced so that a crash leaves the old or the new one, never a part or
 * nothing: written to a temp file of a name no one else uses, synced, renamed over the target,
 * and the directory synced so the rename itself is durable. Node only.
 */
import { accessSync, closeSync, constants, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

/** Sync the directory `dir` (a rename or a new file in it becomes durable). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A temp file beside `path`, created anew (`O_EXCL`: never through a symlink someone put at
 * its name, never another process's file), under a random name; returns its name and fd.
 */
function createTemp(path: string, mode: number): { tmp: string; fd: number } {
  for (let tries = 0; ; tries++) {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      return { tmp, fd: openSync(tmp, 'wx', mode) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 8) throw e;
    }
  }
}

/** Open the existing `path` with `flags` (never creating it) and write `data` whole. */
function writeThrough(path: string, data: string | Uint8Array, flags: number): void {
  const fd = openSync(path, flags);
  try {
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** A path that names one of this process's own file descriptors (`/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/1`), as a shell redirected it: written through, never replaced. */
const OWN_DESCRIPTOR = /^\/(?:dev\/(?:stdout|stderr|fd\/([0-9]{1,9}))|proc\/self\/fd\/([0-9]{1,9}))$/;

/**
 * Write a command's `--out` file. A regular file (or a new one) is replaced whole
 * ({@link writeSynced}: a crash leaves the old file or the new one, never a part, as when
 * `approve` updates a receipt in place), keeping its permissions (0644 for a new one), and
 * only when this user may write it (`EACCES` otherwise, as a plain write). A symlink at `path`
 * is replaced, never written through, except one naming this process's own descriptor
 * (`/dev/stdout`, `/dev/fd/N`: a shell's redirection or `>(…)`), which is written through:
 * stdout or stderr redirected to a file at its offset (what is printed after follows it),
 * anything else opened anew (blocking); a FIFO or a character device is written as it is.
 * Errors propagate (errno codes; `EINVAL` for a block device or a socket).
 */
export function writeOutput(path: string, data: string | Uint8Array): void {
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Through: a descriptor alias as the shell set it up; a FIFO or a device itself, never a link swapped in since (O_NOFOLLOW).
  const own = OWN_DESCRIPTOR.exec(path);
  if (st?.isSymbolicLink() === true && own !== null) {
    const fd = Number(own[1] ?? own[2] ?? (path.endsWith('stderr') ? 2 : 1));
    // Redirected to a file: written at the descriptor's offset, so what is printed after it follows it.
    if (fd <= 2 && fstatSync(fd).isFile()) return writeFileSync(fd, data);
    // A pipe or a terminal (which Node may have made non-blocking) is opened anew, blocking.
    return writeThrough(path, data, constants.O_WRONLY | constants.O_TRUNC);
  }
  if (st !== undefined && (st.isFIFO() || st.isCharacterDevice())) return writeThrough(path, data, constants.O_WRONLY | constants.O_NOFOLLOW);
  if (st !== undefined && !st.isFile() && !st.isSymbolicLink()) throw Object.assign(new Error(`${path}: not a regular file, a FIFO or a terminal: not written`), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' });
  if (st?.isFile() === true) accessSync(path, constants.W_OK);
  writeSynced(path, data, st?.isFile() === true ? st.mode & 0o777 : 0o644);
}

/**
 * Put `data` at `path` durably (see the module comment); `mode` for a new file. `exclusive`:
 * only when nothing is at `path` (the temp file is linked into place, which fails when the
 * name exists: atomic across processes), returning false then; else `path` is replaced.
 * Errors propagate.
 */
export function writeSynced(path: string, data: string | Uint8Array, mode = 0o600, exclusive = false): boolean {
  const { tmp, fd } = createTemp(path, mode);
  try {
    writeAllSynced(fd, data);
    if (!exclusive) renameSync(tmp, path);
    else if (!linkExclusive(tmp, path, data, mode)) return false;
  } catch (e) {
    // Not replaced (a full disk, a target that is a directory): no half-written temp is left beside it.
    try {
      unlinkSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
  syncDir(dirname(path));
  return true;
}

/**
 * Put the synced temp file `tmp` at `path` only if nothing is there (link(2), atomic), and
 * remove `tmp`; false when `path` exists. On a file system without hard links, `data` is
 * written at `path` created exclusively (O_EXCL) and synced: a crash may leave it short, which
 * its readers take as saying nothing.
 */
function linkExclusive(tmp: string, path: string, data: string | Uint8Array, mode: number): boolean {
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
  } finally {
    unlinkSync(tmp);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  writeAllSynced(fd, data);
  return true;
}

/** Write all of `data` to `fd`, sync it, and close it (closed on failure too). */
function writeAllSynced(fd: number, data: string | Uint8Array): void {
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Record in the data directory that its log is a fleet's (`log-moved.json`: where, without
 * the password or query, when, how many entries moved), written durably (store/synced.ts):
 * by `log migrate` before the move commits, by `log integrate` before it signs anything, by a
 * recorder the first time it records to a fleet's log from a data directory with no log of
 * its own. From then on a recorder refuses to append to a SQLite log here, which would
 * otherwise grow a second history signed by the same log key (a fork), or split the calls. Reading the log left here stays
 * possible. Only when no marker is there (atomic across processes, `writeSynced` exclusive):
 * returns whether this call made it, so a marker is removed only by whoever made it and never
 * replaced. `log`: the fleet's log's random name (store/pg-log.ts `logId`), which tells it
 * from another fleet's wherever it is served. Throws what `new URL` and `writeSynced` throw.
 */
export function markMoved(path: string, url: string, entries: bigint, log?: string): boolean {
  const to = new URL(url);
  [to.password, to.search] = ['', ''];
  return writeSynced(path, `${JSON.stringify({ to: to.href, at: new Date().toISOString(), entries: entries.toString(), ...(log === undefined ? {} : { log }) }, null, 2)}\n`, 0o600, true);
}

/**
 * What a data directory's marker (`log-moved.json`, read without following a link) says: the
 * fleet's log it names (`to`, null when it names none), its random name (`log`, null in a
 * marker older than schema v5) and the entries `log migrate` moved (0 for a claim, or a
 * marker that does not say).
 */
export function readMoved(path: string): { to: URL | null; entries: bigint; log: string | null } {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    let v: { to?: unknown; entries?: unknown; log?: unknown };
    try {
      v = JSON.parse(readFileSync(fd, 'utf8')) as typeof v;
    } finally {
      closeSync(fd);
    }
    const entries = typeof v.entries === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(v.entries) ? BigInt(v.entries) : 0n;
    return { to: typeof v.to === 'string' && URL.canParse(v.to) ? new URL(v.to) : null, entries, log: typeof v.log === 'string' ? v.log : null };
  } catch {
    return { to: null, entries: 0n, log: null };
  }
}
