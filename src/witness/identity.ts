/**
 * The witness key, kept in a home directory next to the witness state:
 *
 * ```
 * witness-key.pem   Ed25519 private key, PKCS#8 PEM, mode 0600, created with O_EXCL
 * witness.json      {"name": <cosigner key name>, "vkey": <C2SP vkey, type 0x04>}
 * witness.db        the witness state (state.ts)
 * ```
 *
 * The key is created on first use and never overwritten. `witness.json` is published last
 * and atomically (hard link of a complete temporary file), so a reader sees all or nothing;
 * when two processes start at once on a new home, the one that loses the race for the key
 * file waits for the winner's `witness.json`.
 * @see https://c2sp.org/tlog-cosignature (witness vkeys use signature type 0x04)
 */
import { randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { join } from 'node:path';
import { equalBytes, fromBase64Url } from '../bytes/index.js';
import { AttestError, isAttestError } from '../errors.js';
import { getAlgorithm } from '../keys/algorithms.js';
import { exportEd25519Public } from '../keys/ed25519.js';
import { encodePem, importPrivatePem } from '../keys/material.js';
import { cosignatureSigner } from '../log/cosignature-sign.js';
import type { NoteSigner } from '../log/note-sign.js';
import { formatVerifierKey, isValidKeyName, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../log/vkey.js';

/** A loaded witness key: cosigner name, vkey (type 0x04), Ed25519 keys. */
export interface WitnessIdentity {
  /** The cosigner key name, e.g. `witness.local/<uuid>`. */
  name: string;
  /** `<name>+<key ID hex>+base64(0x04 || public key)`. */
  vkey: string;
  /** The Ed25519 private key (sign only). */
  privateKey: CryptoKey;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** Paths of the witness files inside `home`. */
export function witnessPaths(home: string): { home: string; key: string; info: string; state: string } {
  return { home, key: join(home, 'witness-key.pem'), info: join(home, 'witness.json'), state: join(home, 'witness.db') };
}

/** How long a process that lost the creation race waits for the winner's witness.json. */
const CREATION_WAIT_MS = 10_000;

function writeExclusive(path: string, data: string, mode: number): boolean {
  try {
    writeFileSync(path, data, { mode, flag: 'wx' });
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new AttestError('ERR_STORE_IO', `cannot write ${path}`, { path, cause });
  }
}

/** Publish `data` at `path` atomically, only if absent; false when it already exists. */
function publish(path: string, data: string): boolean {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, data);
  try {
    linkSync(tmp, path);
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new AttestError('ERR_STORE_IO', `cannot write ${path}`, { path, cause });
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Create the key and witness.json in `home` (created 0700 if missing). Returns false when
 * another process already created the key file (this one then only waits).
 */
async function createKey(home: string, name: string): Promise<boolean> {
  const p = witnessPaths(home);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  if (!writeExclusive(p.key, encodePem('PRIVATE KEY', pkcs8), 0o600)) return false;
  const vkey = formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, await exportEd25519Public(pair.publicKey));
  publish(p.info, JSON.stringify({ name, vkey }, null, 2) + '\n');
  return true;
}

/**
 * Read and check the witness key of `home`: witness.json holds a valid name and a type
 * 0x04 vkey of that name, and the PEM is an Ed25519 PKCS#8 key whose public key is the
 * vkey's. Throws `ERR_HOME_MISSING` when there is no witness.json, `ERR_STORE_CORRUPT`
 * when the files do not match or do not parse, `ERR_STORE_IO` when unreadable, `ERR_KEY_EXPOSED` when others may read or write the key.
 */
export async function loadWitnessKey(home: string): Promise<WitnessIdentity> {
  const p = witnessPaths(home);
  if (!existsSync(p.info)) throw new AttestError('ERR_HOME_MISSING', `no witness key in ${home}`, { path: p.info });
  const corrupt = (what: string, cause?: unknown): AttestError =>
    new AttestError('ERR_STORE_CORRUPT', `witness key in ${home}: ${what}`, { path: home, ...(cause === undefined ? {} : { cause }) });
  let info: { name?: unknown; vkey?: unknown };
  let pem: string;
  try {
    info = JSON.parse(readRegularFile(p.info, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'witness.json' }).toString('utf8')) as typeof info;
    pem = readRegularFile(p.key, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'witness key', secret: true }).toString('utf8');
  } catch (cause) {
    if (cause instanceof SyntaxError) throw corrupt('witness.json is not JSON', cause);
    if (isAttestError(cause, 'ERR_KEY_EXPOSED')) throw cause;
    throw new AttestError('ERR_STORE_IO', `cannot read the witness key in ${home}`, { path: home, cause });
  }
  if (typeof info?.name !== 'string' || !isValidKeyName(info.name) || typeof info.vkey !== 'string') throw corrupt('witness.json is not valid');
  let vkey: ReturnType<typeof parseVerifierKey>;
  let privateKey: CryptoKey;
  try {
    vkey = parseVerifierKey(info.vkey);
    const imported = await importPrivatePem(pem);
    if (imported.alg !== 'EdDSA') throw corrupt('witness-key.pem is not an Ed25519 key');
    privateKey = imported.key;
  } catch (cause) {
    throw cause instanceof AttestError && cause.code === 'ERR_STORE_CORRUPT' ? cause : corrupt('unreadable key or vkey', cause);
  }
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  const publicKey = fromBase64Url(jwk.x ?? '');
  if (vkey.type !== SIG_TYPE_COSIGNATURE_V1 || vkey.name !== info.name || !equalBytes(vkey.publicKey, publicKey)) {
    throw corrupt('witness.json does not match witness-key.pem');
  }
  return { name: info.name, vkey: info.vkey, privateKey, publicKey };
}

/** Options of {@link ensureWitnessKey}. */
export interface EnsureWitnessOptions {
  /** Key name for a new key (default `witness.local/<uuid>`); with an existing key it must match. */
  name?: string | undefined;
}

async function waitForInfo(home: string): Promise<boolean> {
  for (let waited = 0; waited < CREATION_WAIT_MS; waited += 50) {
    if (existsSync(witnessPaths(home).info)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Load the witness key of `home`, creating it on first use. Safe when several processes
 * start at once on a new home: one creates the key, the others wait (up to 10 s) for its
 * witness.json. Returns the key and whether this call created it. Throws `ERR_USAGE` for
 * an invalid `name` or one that differs from the existing key's name, `ERR_STORE_IO` when
 * the creator never finished (a key file without witness.json), and the errors of
 * {@link loadWitnessKey}.
 */
export async function ensureWitnessKey(home: string, o: EnsureWitnessOptions = {}): Promise<{ identity: WitnessIdentity; created: boolean }> {
  if (o.name !== undefined && !isValidKeyName(o.name)) {
    throw new AttestError('ERR_USAGE', `invalid witness name ${JSON.stringify(o.name)}: no spaces, no "+", not empty`);
  }
  const p = witnessPaths(home);
  let created = false;
  if (!existsSync(p.info)) {
    created = await createKey(home, o.name ?? `witness.local/${randomUUID()}`);
    if (!created && !(await waitForInfo(home))) {
      throw new AttestError('ERR_STORE_IO', `${p.key} exists without ${p.info}: its creator did not finish; remove the key file to start over`, { path: p.key });
    }
  }
  const identity = await loadWitnessKey(home);
  if (o.name !== undefined && o.name !== identity.name) {
    throw new AttestError('ERR_USAGE', `the witness key in ${home} is named ${identity.name}, not ${o.name} (a key keeps its name)`);
  }
  return { identity, created };
}

/**
 * The cosignature/v1 signer of a witness key (timestamps from `clock`, default now).
 * @see https://c2sp.org/tlog-cosignature
 */
export function witnessSigner(identity: WitnessIdentity, clock?: () => bigint): NoteSigner {
  return cosignatureSigner(identity.name, identity.privateKey, identity.publicKey, clock);
}
