/**
 * The local evidence store: payloads (tool arguments, tool results) kept outside the log,
 * content-addressed by `hex(SHA-256(JCS(value)))`, the same digest the hash-only commitment
 * in the log carries. A payload can so be disclosed later and checked against its
 * commitment. Files are written once (temp file + rename) and never changed.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import { canonicalBytes } from '../jcs/index.js';

/** Content-addressed payload files under one directory. */
export class EvidenceStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Store JCS(value); returns its hex SHA-256 (the file name). Idempotent. */
  put(value: unknown): string {
    const bytes = canonicalBytes(value);
    const hex = toHex(sha256(bytes));
    const path = join(this.dir, hex);
    if (!existsSync(path)) {
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o600 });
      renameSync(tmp, path);
    }
    return hex;
  }

  /** The stored bytes for a hex digest, or null. */
  get(hex: string): Uint8Array | null {
    if (!/^[0-9a-f]{64}$/.test(hex)) return null;
    try {
      return new Uint8Array(readFileSync(join(this.dir, hex)));
    } catch {
      return null;
    }
  }
}
