/**
 * Reading a file the verifier was handed without trusting what it is. Only a regular file
 * is read: it is checked with `lstat` first (a FIFO, device, socket, directory or symbolic
 * link is never opened), then opened `O_RDONLY | O_NONBLOCK | O_NOFOLLOW` (so a file swapped
 * for a FIFO in between cannot block the open, and a swapped-in symlink is refused) and
 * checked again on the handle with `fstat`. Its size is checked against a cap before
 * anything is read, and reading stops one byte past the cap (a file that grows, or a
 * `/proc` file that reports size 0, cannot make it read more).
 *
 * Symbolic links: a path the user names on the command line may itself be a symlink
 * (`follow: true`, resolved once with `realpath`; the file it names must be regular). A file
 * found inside a directory the user named (a tiles or data directory) is opened with
 * `follow: false`: a symlink there is refused. See docs/cli.md ("Inputs").
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { AttestError } from '../errors.js';

/**
 * Largest small input file: a trust policy, a key or secret file, `identity.json`,
 * `witnesses.json`: 1 MiB (the trust-policy parser's own limit).
 */
export const MAX_CONFIG_FILE_BYTES = 1 << 20;

/** Options of {@link openRegular} and {@link readRegularFile}. */
export interface RegularOptions {
  /** The path itself may be a symbolic link (a top-level path a user named). Default false. */
  follow?: boolean;
  /** What the file is, for messages ("bundle", "tile"...). Default "file". */
  what?: string;
  /**
   * A private key or secret: refused (`ERR_KEY_EXPOSED`) when its group or others may read,
   * write or run it (mode bits `0o077`), or another user than this process's (or root) owns
   * it; checked on the open handle; not on Windows, whose files have no such bits. Whoever
   * can read it can sign as its owner. Default false.
   */
  secret?: boolean;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function notRegular(path: string, what: string, kind: string): AttestError {
  return new AttestError('ERR_INPUT_NOT_REGULAR', `${what} ${path} is ${kind}, not a regular file: refused unread`, { path });
}

function ioError(path: string, what: string, cause: unknown): AttestError {
  return new AttestError('ERR_STORE_IO', `cannot read ${what} ${path}: ${(cause as Error).message}`, { path, cause });
}

function tooLarge(path: string, what: string, maxBytes: number, size: number): AttestError {
  return new AttestError('ERR_INPUT_TOO_LARGE', `${what} ${path} is ${size} bytes, more than its cap of ${maxBytes}: refused unread`, { path, expected: maxBytes, found: size });
}

/**
 * `ERR_KEY_EXPOSED` unless only this process's user (or root) may read or change the file
 * `st` describes: its group and others have no access (mode bits `0o077`), and it is owned by
 * this user or root (as ssh's StrictModes: another owner could put a key of their choosing
 * there, a verification secret of theirs for one). Only root reads a 0600 file another user
 * owns, so that is where it applies; root takes one owned by the owner of the directory
 * holding it (`opened`, the path opened): a user's data directory operated with `sudo`, or
 * by a container over a bind mount, is that user's, while a file another user left in
 * `/tmp` is not.
 */
function checkPrivate(path: string, what: string, st: Stats, opened: string): void {
  const bits = (st.mode & 0o777).toString(8).padStart(4, '0');
  if ((st.mode & 0o077) !== 0) throw new AttestError('ERR_KEY_EXPOSED', `${what} ${path} has mode ${bits}: others on this machine may read or change it, so it is not used (chmod 600 ${path})`, { path, found: bits });
  const uid = process.getuid?.();
  if (uid === undefined || st.uid === uid || st.uid === 0) return;
  let dirOwner: number | null;
  try {
    dirOwner = statSync(dirname(opened)).uid;
  } catch {
    dirOwner = null;
  }
  if (uid === 0 && dirOwner === st.uid) return;
  throw new AttestError('ERR_KEY_EXPOSED', `${what} ${path} is owned by another user (uid ${st.uid}), who may change it, so it is not used (use a copy of your own, mode 0600)`, { path, found: String(st.uid) });
}

/** True when `e` (from {@link openRegular} or {@link readRegularFile}) means the file does not exist. */
export function isNotFound(e: unknown): boolean {
  const cause = e instanceof AttestError ? (e as Error & { cause?: unknown }).cause : e;
  return (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Check that `path` names a regular file of at most `maxBytes` bytes, without opening
 * anything else. Returns the path to open (resolved when `o.follow`) and its size. Throws
 * `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`, or `ERR_STORE_IO` (the errno error as
 * `cause`, e.g. ENOENT: see {@link isNotFound}).
 */
export function checkRegular(path: string, maxBytes: number, o: RegularOptions = {}): { path: string; size: number } {
  const what = o.what ?? 'file';
  let target = path;
  let st: Stats;
  try {
    if (o.follow) target = realpathSync(path);
    st = lstatSync(target);
  } catch (cause) {
    throw ioError(path, what, cause);
  }
  if (!st.isFile()) throw notRegular(path, what, kindOf(st));
  if (st.size > maxBytes) throw tooLarge(path, what, maxBytes, st.size);
  return { path: target, size: st.size };
}

/**
 * Open a regular file of at most `maxBytes` bytes for reading (see the module comment).
 * Returns the descriptor (the caller closes it), the size and the path opened (resolved when
 * `o.follow`). Throws as {@link checkRegular}, and `ERR_KEY_EXPOSED` (`o.secret`).
 */
export function openRegular(path: string, maxBytes: number, o: RegularOptions = {}): { fd: number; size: number; path: string } {
  const what = o.what ?? 'file';
  const checked = checkRegular(path, maxBytes, o);
  let fd: number;
  try {
    fd = openSync(checked.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO') throw notRegular(path, what, code === 'ELOOP' ? 'a symbolic link' : 'a socket or device');
    throw ioError(path, what, cause);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(path, what, kindOf(st));
    if (st.size > maxBytes) throw tooLarge(path, what, maxBytes, st.size);
    if (o.secret && process.platform !== 'win32') checkPrivate(path, what, st, checked.path);
    return { fd, size: st.size, path: checked.path };
  } catch (e) {
    closeSync(fd);
    throw e instanceof AttestError ? e : ioError(path, what, e);
  }
}

/**
 * The whole content of the regular file `path`, at most `maxBytes` bytes (see the module
 * comment; `o.follow` lets `path` itself be a symlink). Throws `ERR_INPUT_NOT_REGULAR`,
 * `ERR_INPUT_TOO_LARGE` (also when the file grows past the cap while read), `ERR_KEY_EXPOSED`
 * (`o.secret`), `ERR_STORE_IO`.
 */
export function readRegularFile(path: string, maxBytes: number, o: RegularOptions = {}): Buffer {
  const what = o.what ?? 'file';
  const { fd, size } = openRegular(path, maxBytes, o);
  try {
    let buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw new AttestError('ERR_INPUT_TOO_LARGE', `${what} ${path} grew past its cap of ${maxBytes} bytes while read`, { path, expected: maxBytes });
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) return buf.subarray(0, n);
      n += got;
    }
  } catch (e) {
    if (e instanceof AttestError) throw e;
    throw ioError(path, what, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * The first `n` bytes (fewer when the file is shorter) of the regular file at `path` (a
 * symlink followed), to tell what it is; null when it is no regular file that opens, which
 * the reader that follows refuses with its code.
 */
export function readHead(path: string, n: number): Buffer | null {
  let fd: number;
  try {
    fd = openRegular(path, Number.MAX_SAFE_INTEGER, { follow: true }).fd;
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
