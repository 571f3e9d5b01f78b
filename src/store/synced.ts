/**
 * Small files replaced so that a crash leaves the old or the new one, never a part or
 * nothing: written to a temp file named for this process, synced, renamed over the target,
 * and the directory synced so the rename itself is durable. Node only.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
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
 * Create `tmp` anew (`O_EXCL`: never through a symlink someone put at its name); one left
 * there (a crash of a process with this pid, or a planted link) is removed first, itself.
 */
function createTemp(tmp: string, mode: number): number {
  try {
    return openSync(tmp, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    unlinkSync(tmp);
    return openSync(tmp, 'wx', mode);
  }
}

/**
 * Write a command's `--out` file: a regular file (or a new one) is replaced whole
 * ({@link writeSynced}: a crash leaves the old file or the new one, never a part, as when
 * `approve` updates a receipt in place; a symlink at `path` is replaced, never written
 * through), keeping its permissions (0644 for a new one); a FIFO or a device (`/dev/stdout`,
 * a shell's `>(…)`) is written to as it is. Errors propagate (errno codes).
 */
export function writeOutput(path: string, data: string | Uint8Array): void {
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (st !== undefined && !st.isFile()) return writeFileSync(path, data);
  writeSynced(path, data, st === undefined ? 0o644 : st.mode & 0o777);
}

/** Replace `path` with `data` durably (see the module comment); `mode` for a new file. Errors propagate. */
export function writeSynced(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = createTemp(tmp, mode);
  try {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    // Not replaced (a full disk, a target that is a directory): no half-written temp is left beside it.
    try {
      unlinkSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
  syncDir(dirname(path));
}
