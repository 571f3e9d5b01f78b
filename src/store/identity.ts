/**
 * `mcp-attest init`: create a data directory with an issuer key (ES256 default; EdDSA,
 * RS256, HS256 also) and an Ed25519 log key. Private keys are written 0600 with O_EXCL into a
 * fresh directory published whole as `keys/` (never over existing keys: `ERR_KEY_EXISTS`),
 * then `identity.json` is linked from it (docs/design-notes.md "First use"). Also loads the
 * identity and its signers back (checking the keys are the ones it names), and gives the
 * trust policy a verifier needs for it (`trustPolicyOf`).
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, existsSync, linkSync } from 'node:fs';
import { createHash, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { basename, join } from 'node:path';
import { AttestError, isAttestError } from '../errors.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from './read-regular.js';
import { getAlgorithm, isAlgName, type AlgName } from '../keys/algorithms.js';
import { encodePem, exportPublicJwk, importPrivatePem, jwkThumbprint, type PublicJwk } from '../keys/material.js';
import { hmacSigner, nodeSigners } from './node-signer.js';
import { fromBase64Url, toBase64Url } from '../bytes/index.js';
import { exportEd25519Public } from '../keys/ed25519.js';
import { formatVerifierKey } from '../log/vkey.js';
import type { Signer } from '../envelope/sign.js';
import type { EntriesMode } from '../records/record.js';
import { homePaths } from './home.js';
import type { TrustedIssuer, TrustPolicy } from '../verify/policy.js';

/** The public identity stored in `identity.json`. */
export interface Identity {
  version: 1;
  /** Issuer id (`issuerAsserted.iss`), `issuer://<uuid>`. */
  iss: string;
  /** Default subject (`issuerAsserted.sub`) when the proxy is not given `--sub`. */
  sub: string;
  issuer: { alg: AlgName; keyId: string; publicKeyJwk: PublicJwk | null };
  /**
   * Log origin (checkpoint first line), its C2SP verifier key, and what its entries are
   * (docs/log-format.md "Format v2"): `private` (salted commitments; the default since v2)
   * or `public` (records in clear). Absent in a directory made before v2: its log stays v1.
   */
  log: { origin: string; vkey: string; entries?: EntriesMode };
}

/** Write a private key or secret file: mode 0600, O_EXCL (never over an existing one: `ERR_KEY_EXISTS`). */
export function writeSecretFile(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw new AttestError('ERR_KEY_EXISTS', `key exists, not overwritten: ${path}`, { path });
    throw new AttestError('ERR_STORE_IO', `cannot write ${path}`, { path, cause });
  }
}

/** A private key as PKCS #8 PEM. */
export async function exportPkcs8(key: CryptoKey): Promise<string> {
  return encodePem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)));
}

/** Options of {@link initHome}. */
export interface InitOptions {
  alg?: AlgName;
  sub?: string;
  origin?: string;
  /** What the log's entries are: `private` (default) or `public`. */
  entries?: EntriesMode;
  /** Told when an interrupted initialization's unused keys are set aside (default: a line on stderr). */
  notice?: (message: string) => void;
}

/** How old a `keys/` left without `keys/identity.json` (an interrupted initialization by an earlier build) must be to be set aside, ms. */
const UNFINISHED_KEYS_MS = 10_000;

/** Generate the keys into `dir` (a fresh directory) and write the identity beside them; returns it. */
async function writeKeys(dir: string, o: InitOptions): Promise<Identity> {
  const alg = o.alg ?? 'ES256';
  const id = randomUUID();
  const at = (path: string): string => join(dir, basename(path));
  const p = homePaths('');
  let issuer: Identity['issuer'];
  if (alg === 'HS256') {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    writeSecretFile(at(p.issuerSecret), secret);
    issuer = { alg, keyId: jwkThumbprint({ kty: 'oct', k: toBase64Url(secret) }), publicKeyJwk: null };
  } else {
    const pair = (await getAlgorithm(alg).generate()) as CryptoKeyPair;
    writeSecretFile(at(p.issuerKey), await exportPkcs8(pair.privateKey));
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
    writeFileSync(at(p.issuerPublic), encodePem('PUBLIC KEY', spki));
    const jwk = await exportPublicJwk(pair.publicKey);
    issuer = { alg, keyId: jwkThumbprint(jwk), publicKeyJwk: jwk };
  }
  const logPair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  writeSecretFile(at(p.logKey), await exportPkcs8(logPair.privateKey));
  const origin = o.origin ?? `mcp-attest.local/${id}`;
  const vkey = formatVerifierKey(origin, 0x01, await exportEd25519Public(logPair.publicKey));
  const identity: Identity = { version: 1, iss: `issuer://${id}`, sub: o.sub ?? 'agent:default', issuer, log: { origin, vkey, entries: o.entries ?? 'private' } };
  writeFileSync(join(dir, STAGED_IDENTITY), JSON.stringify(identity, null, 2) + '\n');
  return identity;
}

/** The identity's copy inside `keys/`: published with the keys, then linked to `identity.json`. */
const STAGED_IDENTITY = 'identity.json';

/** The error for a data directory whose files contradict each other. */
function corrupt(home: string, message: string): AttestError {
  return new AttestError('ERR_STORE_CORRUPT', `${home}: ${message}`, { path: home });
}

/**
 * Link `identity.json` to the identity published in `keys/`. True when it is that file now
 * (linked here or before); false when `keys/` holds no identity. Throws `ERR_STORE_CORRUPT`
 * when `identity.json` is another file, `ERR_STORE_IO`.
 */
function linkPublished(home: string): boolean {
  const p = homePaths(home);
  const staged = join(p.keys, STAGED_IDENTITY);
  try {
    linkSync(staged, p.identity);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code !== 'EEXIST') throw new AttestError('ERR_STORE_IO', `cannot publish ${p.identity}`, { path: p.identity, cause: e });
  }
  const [a, b] = [statSync(staged), statSync(p.identity)];
  if (a.ino === b.ino && a.dev === b.dev) return true;
  throw corrupt(home, 'identity.json is not the identity published with keys/');
}

/**
 * Set aside `keys/` that has no identity: keys an earlier build, which wrote them in place,
 * left when its initialization was cut short. Moved to `keys.unfinished` once 10 s old (one
 * process can: the name is fixed), `notice` told; left while younger. True when moved. Throws
 * `ERR_STORE_CORRUPT` when the directory has a log (its identity was lost: the keys are in
 * use) or `keys.unfinished` is taken, `ERR_STORE_IO`.
 */
function setAsideUnfinished(home: string, notice: (message: string) => void): boolean {
  const p = homePaths(home);
  if (existsSync(p.db) || existsSync(p.evidence)) throw corrupt(home, 'keys/ and a log but no identity.json: restore identity.json (the keys of a log are never replaced)');
  const aside = `${p.keys}.unfinished`;
  try {
    if (Date.now() - statSync(p.keys).mtimeMs < UNFINISHED_KEYS_MS) return false;
    renameSync(p.keys, aside);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || existsSync(join(p.keys, STAGED_IDENTITY))) return false; // another process set them aside and published its own
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw corrupt(home, `keys/ without an identity, and ${aside} is taken: move one of them away`);
    throw new AttestError('ERR_STORE_IO', `cannot set aside ${p.keys}`, { path: p.keys, cause: e });
  }
  if (existsSync(p.identity) || existsSync(join(aside, STAGED_IDENTITY))) {
    // Its initializer was still running after all and has published, or these were published keys: they go back.
    renameSync(aside, p.keys);
    return false;
  }
  notice(`an earlier initialization of ${home} did not finish: its unused keys were moved to ${aside}`);
  return true;
}

/**
 * Create the data directory and keys. The keys and identity are written into a fresh
 * directory beside `keys/`, which is renamed to `keys/` (atomic: of several processes one
 * wins), then `identity.json` is linked from it: an initialization interrupted at any point
 * leaves either nothing published (a stray `.keys-*` directory) or keys the next one
 * completes. Throws `ERR_KEY_EXISTS` if already initialized (or being initialized: `ensureHome`
 * waits for it), `ERR_STORE_CORRUPT` for contradicting files ({@link setAsideUnfinished},
 * {@link linkPublished}), `ERR_STORE_IO` when the directory cannot be written.
 */
export async function initHome(home: string, o: InitOptions = {}): Promise<Identity> {
  try {
    return await initHomeNow(home, o);
  } catch (e) {
    if (isAttestError(e)) throw e;
    throw new AttestError('ERR_STORE_IO', `cannot initialize ${home}: ${e instanceof Error ? e.message : String(e)}`, { path: home, cause: e });
  }
}

/** The name of a directory keys are written into before they are published as `keys/`. */
const STAGING_PREFIX = '.keys-';
/** How old a staging directory must be to be abandoned (an initialization takes a second or two), ms. */
const ABANDONED_STAGING_MS = 10 * 60_000;

/** Remove staging directories (unused keys) that initializations cut short left over 10 min ago. */
function removeAbandoned(home: string): void {
  for (const name of readdirSync(home)) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const dir = join(home, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > ABANDONED_STAGING_MS) rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort: removed first by another process, or not ours to remove */ }
  }
}

async function initHomeNow(home: string, o: InitOptions): Promise<Identity> {
  const p = homePaths(home);
  const exists = (): AttestError => new AttestError('ERR_KEY_EXISTS', `already initialized: ${p.identity}`, { path: p.identity });
  if (existsSync(p.identity)) throw exists();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  let movedAside = false;
  if (existsSync(p.keys) && readdirSync(p.keys).length > 0) {
    if (!linkPublished(home)) movedAside = setAsideUnfinished(home, o.notice ?? ((m: string) => process.stderr.write(`mcp-attest: ${m}\n`)));
    if (existsSync(p.keys)) throw exists();
  }
  removeAbandoned(home);
  const staging = mkdtempSync(join(home, STAGING_PREFIX));
  try {
    const identity = await writeKeys(staging, o);
    try {
      renameSync(staging, p.keys);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw exists(); // another process published its keys first
      throw e;
    }
    try {
      if (!linkPublished(home)) throw new AttestError('ERR_STORE_IO', `cannot publish ${p.identity}`, { path: p.identity });
    } catch (e) {
      // Another process published an identity meanwhile: our keys must not stay beside it, and
      // the keys this call set aside were that identity's (its initializer was only slow).
      renameSync(p.keys, staging);
      if (movedAside) renameSync(`${p.keys}.unfinished`, p.keys);
      throw isAttestError(e, 'ERR_STORE_CORRUPT') ? exists() : e;
    }
    return identity;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Load the identity, initializing the directory first if it has none. Safe when several
 * processes start at once on a new directory: the losers of the race wait (up to 10 s) for
 * the winner's `identity.json`; one left unfinished by an interrupted process is completed.
 * Returns the identity and whether this call created it.
 */
export async function ensureHome(home: string, o: InitOptions = {}): Promise<{ identity: Identity; created: boolean }> {
  const path = homePaths(home).identity;
  for (const end = Date.now() + 10_000; ;) {
    if (existsSync(path)) return { identity: loadIdentity(home), created: false };
    try {
      return { identity: await initHome(home, o), created: true };
    } catch (e) {
      // Initialized meanwhile (by another process, whatever this one's failure): load it.
      if (existsSync(path)) continue;
      if (!isAttestError(e, 'ERR_KEY_EXISTS')) throw e;
    }
    if (Date.now() > end) throw new AttestError('ERR_STORE_IO', `data directory ${home} is being initialized by another process that did not finish`, { path: home });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Read `identity.json`: a regular file (not a symlink) of at most 1 MiB. Throws
 * `ERR_HOME_MISSING` when the directory is not initialized, `ERR_INPUT_NOT_REGULAR` /
 * `ERR_INPUT_TOO_LARGE` for a file that is not one, `ERR_STORE_CORRUPT` for a bad one.
 */
export function loadIdentity(home: string): Identity {
  const p = homePaths(home);
  let text: string;
  try {
    text = readRegularFile(p.identity, MAX_CONFIG_FILE_BYTES, { what: 'identity' }).toString('utf8');
  } catch (e) {
    if (isAttestError(e, 'ERR_INPUT_NOT_REGULAR') || isAttestError(e, 'ERR_INPUT_TOO_LARGE')) throw e;
    throw new AttestError('ERR_HOME_MISSING', `no identity in ${home}: run "mcp-attest init --home ${home}"`, { path: p.identity });
  }
  let id: Identity;
  try {
    id = JSON.parse(text) as Identity;
  } catch (cause) {
    throw new AttestError('ERR_STORE_CORRUPT', 'identity.json is not JSON', { path: p.identity, cause });
  }
  const entries = id?.log?.entries;
  if (id?.version !== 1 || !isAlgName(id.issuer?.alg) || typeof id.log?.vkey !== 'string' || typeof id.iss !== 'string' || (entries !== undefined && entries !== 'private' && entries !== 'public')) throw new AttestError('ERR_STORE_CORRUPT', 'identity.json is not valid', { path: p.identity });
  return id;
}

/** `ERR_STORE_CORRUPT` for a key file that is not the key `identity.json` names (files of two initializations, or restored from two backups). */
function mismatch(path: string): AttestError {
  return new AttestError('ERR_STORE_CORRUPT', `${path} is not the key identity.json names: refusing to sign with it`, { path });
}

/**
 * A key file's bytes: a regular file (or a link to one) of at most 1 MiB that only its owner
 * may read or write; `ERR_KEY_EXPOSED` when others may (store/read-regular.ts), `ERR_STORE_IO`
 * when it cannot be read or is not one (a FIFO is never opened).
 */
function readKeyFile(path: string): Buffer {
  try {
    return readRegularFile(path, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'key', secret: true });
  } catch (cause) {
    if (isAttestError(cause, 'ERR_KEY_EXPOSED')) throw cause;
    throw new AttestError('ERR_STORE_IO', `cannot read key ${path}`, { path, cause });
  }
}

/**
 * Load the issuer signer (private key) of a data directory, with subject `sub`. Throws
 * `ERR_STORE_CORRUPT` when the key is not the one `identity.json` names (its RFC 7638
 * thumbprint is not `issuer.keyId`), `ERR_STORE_IO` when it cannot be read, `ERR_KEY_EXPOSED` when others may read or write it, node:crypto's error
 * for a key file it cannot parse.
 */
export function loadIssuerSigner(home: string, identity: Identity, sub?: string): Signer {
  const p = homePaths(home);
  const alg = identity.issuer.alg;
  let signs: Pick<Signer, 'sign' | 'offload'>;
  if (alg === 'HS256') {
    const secret = new Uint8Array(readKeyFile(p.issuerSecret));
    if (jwkThumbprint({ kty: 'oct', k: toBase64Url(secret) }) !== identity.issuer.keyId) throw mismatch(p.issuerSecret);
    signs = { sign: hmacSigner(secret) };
  } else {
    const key = createPrivateKey(readKeyFile(p.issuerKey).toString('utf8'));
    if (jwkThumbprint(createPublicKey(key).export({ format: 'jwk' }) as PublicJwk) !== identity.issuer.keyId) throw mismatch(p.issuerKey);
    signs = nodeSigners(alg, key);
  }
  return { iss: identity.iss, sub: sub ?? identity.sub, alg, keyId: identity.issuer.keyId, ...signs };
}

/** Load the Ed25519 log private key. Throws `ERR_STORE_CORRUPT` when its public key is not the one of `identity.log.vkey`, `ERR_STORE_IO` when it cannot be read, `ERR_KEY_EXPOSED` when others may read or write it. */
export async function loadLogKey(home: string, identity: Identity): Promise<CryptoKey> {
  const path = homePaths(home).logKey;
  const pem = readKeyFile(path).toString('utf8');
  const x = (createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' }) as { x?: string }).x;
  if (x === undefined || formatVerifierKey(identity.log.origin, 0x01, fromBase64Url(x)) !== identity.log.vkey) throw mismatch(path);
  return (await importPrivatePem(pem)).key;
}

/**
 * The trust policy a verifier needs for a data directory: public keys only. `witnesses` are
 * the log's configured witnesses (name and vkey); `quorum` defaults to a majority of them
 * (floor(n/2) + 1; 0 with none). `more`: further issuers signing into the log ({@link loadIssuers}).
 */
export function trustPolicyOf(identity: Identity, witnesses: Array<{ name: string; vkey: string }> = [], quorum?: number, more: TrustedIssuer[] = []): TrustPolicy {
  const issuer = { iss: identity.iss, alg: identity.issuer.alg, keyId: identity.issuer.keyId, ...(identity.issuer.publicKeyJwk ? { publicKeyJwk: identity.issuer.publicKeyJwk } : {}) };
  return {
    version: 1, issuers: [issuer, ...more], logs: [{ origin: identity.log.origin, vkey: identity.log.vkey }],
    witnesses: witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
    quorum: quorum ?? (witnesses.length === 0 ? 0 : Math.floor(witnesses.length / 2) + 1), parties: [],
    acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30,
  };
}

/** The file name of an issuer's record: SHA-256 (hex, first 32 digits) of its id and key id. */
function issuerFile(home: string, i: TrustedIssuer): string {
  return join(homePaths(home).issuers, `${createHash('sha256').update(`${i.iss}\n${i.keyId}`).digest('hex').slice(0, 32)}.json`);
}

/**
 * Record the public key of a further issuer signing into this data directory's log (a
 * gateway principal's own key), once: an existing record of the same issuer and key id is
 * kept. Throws `ERR_KEY_EXISTS` when one exists with another key under that id, `ERR_STORE_IO`.
 */
export function recordIssuer(home: string, issuer: TrustedIssuer): void {
  const path = issuerFile(home, issuer);
  const text = JSON.stringify(issuer, null, 2) + '\n';
  try {
    mkdirSync(homePaths(home).issuers, { recursive: true, mode: 0o700 });
    if (existsSync(path)) {
      if (readRegularFile(path, MAX_CONFIG_FILE_BYTES, { what: 'issuer record' }).toString('utf8') !== text) throw new AttestError('ERR_KEY_EXISTS', `issuer ${issuer.iss} key ${issuer.keyId} is recorded with another key: ${path}`, { path });
      return;
    }
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    if (isAttestError(e)) throw e;
    throw new AttestError('ERR_STORE_IO', `cannot record issuer ${issuer.iss} in ${path}`, { path, cause: e });
  }
}

/** The further issuers recorded by {@link recordIssuer} (none when there are none). Throws `ERR_STORE_CORRUPT` for a bad record. */
export function loadIssuers(home: string): TrustedIssuer[] {
  const dir = homePaths(home).issuers;
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /^[0-9a-f]{32}\.json$/.test(n)).sort().map((n) => {
    const path = join(dir, n);
    let i: TrustedIssuer;
    try {
      i = JSON.parse(readRegularFile(path, MAX_CONFIG_FILE_BYTES, { what: 'issuer record' }).toString('utf8')) as TrustedIssuer;
    } catch (cause) {
      throw new AttestError('ERR_STORE_CORRUPT', `issuer record ${path} cannot be read`, { path, cause });
    }
    const thumbprint = (): string | null => {
      try {
        return jwkThumbprint(i.publicKeyJwk!);
      } catch {
        return null;
      }
    };
    const ok = typeof i?.iss === 'string' && isAlgName(i.alg) && i.alg !== 'HS256' && typeof i.keyId === 'string' && typeof i.publicKeyJwk === 'object' && i.publicKeyJwk !== null
      && thumbprint() === i.keyId && issuerFile(home, i) === path;
    if (!ok) throw new AttestError('ERR_STORE_CORRUPT', `issuer record ${path} is not valid`, { path });
    return { iss: i.iss, alg: i.alg, keyId: i.keyId, publicKeyJwk: i.publicKeyJwk };
  });
}
