/**
 * The witnesses a log submits its checkpoints to: `<home>/witnesses.json`, a JSON array of
 * `{"name": "<cosigner name>", "vkey": "<cosignature/v1 vkey>", "url": "<http(s) submission prefix>"}`,
 * managed with `mcp-attest log witnesses add|remove`. Written atomically (temp file + rename).
 * @see docs/witnessing.md; c2sp.org/tlog-witness
 */
import { lstatSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestError, isAttestError } from '../errors.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from './read-regular.js';
import { parseJson } from '../jcs/index.js';
import { parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../log/vkey.js';
import type { WitnessEndpoint } from '../witness/submit.js';

/** Path of the witness list in a data directory. */
export function witnessesPath(home: string): string {
  return join(home, 'witnesses.json');
}

/**
 * Check one witness entry: `vkey` a cosignature/v1 (0x04) key, `name` its name, `url` an
 * http(s) URL. Returns the entry; throws `ERR_USAGE` naming the problem.
 */
export function checkWitness(w: { name?: unknown; vkey?: unknown; url?: unknown }): WitnessEndpoint {
  let name: string;
  try {
    const key = parseVerifierKey(String(w.vkey));
    if (key.type !== SIG_TYPE_COSIGNATURE_V1) throw new Error('not a cosignature/v1 (type 0x04) key');
    name = key.name;
  } catch (e) {
    throw new AttestError('ERR_USAGE', `witness vkey ${String(w.vkey)}: ${(e as Error).message}`);
  }
  if (w.name !== undefined && w.name !== name) throw new AttestError('ERR_USAGE', `witness name ${String(w.name)} is not the vkey's name ${name}`);
  let url: URL;
  try {
    url = new URL(String(w.url));
  } catch {
    throw new AttestError('ERR_USAGE', `witness url ${String(w.url)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AttestError('ERR_USAGE', `witness url ${String(w.url)} is not http(s)`);
  return { name, vkey: String(w.vkey), url: String(w.url) };
}

/**
 * The configured witnesses (none when the file is absent). The file must be a regular file
 * (not a symlink) of at most 1 MiB: `ERR_INPUT_NOT_REGULAR`, `ERR_INPUT_TOO_LARGE`. Throws
 * `ERR_STORE_CORRUPT` for a bad file.
 */
export function loadWitnesses(home: string): WitnessEndpoint[] {
  const path = witnessesPath(home);
  if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return [];
  try {
    const text = readRegularFile(path, MAX_CONFIG_FILE_BYTES, { what: 'witness list' }).toString('utf8');
    const list = parseJson(text, { maxBytes: MAX_CONFIG_FILE_BYTES, maxDepth: 4 });
    if (!Array.isArray(list)) throw new Error('not an array');
    return list.map((w) => checkWitness(w as Record<string, unknown>));
  } catch (cause) {
    if (isAttestError(cause, 'ERR_INPUT_NOT_REGULAR') || isAttestError(cause, 'ERR_INPUT_TOO_LARGE')) throw cause;
    throw new AttestError('ERR_STORE_CORRUPT', `${path}: ${(cause as Error).message}`, { path, cause });
  }
}

/** Replace the witness list, atomically. Throws `ERR_STORE_IO`. */
export function saveWitnesses(home: string, list: WitnessEndpoint[]): void {
  const path = witnessesPath(home);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(list, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (cause) {
    throw new AttestError('ERR_STORE_IO', `cannot write ${path}`, { path, cause });
  }
}
