/**
 * Key material in and out: PEM (RFC 7468; SPKI public keys, PKCS#8 private keys), public
 * JWKs (RFC 7517), raw HMAC secrets, and RFC 7638 JWK thumbprints used as key ids.
 * Runtime-neutral (WebCrypto only).
 */
import { AttestError } from '../errors.js';
import { fromBase64, toBase64, toBase64Url, utf8 } from '../bytes/index.js';
import { sha256 } from '../bytes/digest.js';
import { canonicalize } from '../jcs/index.js';
import { getAlgorithm, type AlgName } from './algorithms.js';
import { isStrictEd25519Public } from './ed25519.js';

/** A public JWK as mcp-attest reads and writes it (only the members RFC 7638 hashes). */
export interface PublicJwk {
  kty: 'EC' | 'RSA' | 'OKP' | 'oct';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  k?: string;
}

const PEM_RE = /^-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n-----END \1-----\s*$/;

/**
 * Decode a single PEM block; returns its label (`PUBLIC KEY`, `PRIVATE KEY`) and DER bytes.
 * Throws `ERR_KEY_INVALID` on anything else.
 */
export function decodePem(pem: string): { label: string; der: Uint8Array } {
  const m = PEM_RE.exec(pem.trim() + '\n');
  if (!m) throw new AttestError('ERR_KEY_INVALID', 'not a PEM block');
  try {
    return { label: m[1]!, der: fromBase64(m[2]!.replace(/\r?\n/g, '')) };
  } catch (cause) {
    throw new AttestError('ERR_KEY_INVALID', 'invalid PEM body', { cause });
  }
}

/** Encode DER bytes as a PEM block with 64-character lines. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

// DER object identifiers that select the algorithm of an SPKI / PKCS#8 key.
const OIDS: Array<[AlgName, number[]]> = [
  ['ES256', [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]], // prime256v1
  ['RS256', [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]], // rsaEncryption
  ['EdDSA', [0x06, 0x03, 0x2b, 0x65, 0x70]], // id-Ed25519
];

function contains(hay: Uint8Array, needle: number[], limit: number): boolean {
  outer: for (let i = 0; i + needle.length <= Math.min(hay.length, limit); i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** The algorithm an SPKI or PKCS#8 DER key is for, from its AlgorithmIdentifier. */
export function algOfDer(der: Uint8Array): AlgName {
  for (const [alg, oid] of OIDS) if (contains(der, oid, 40)) return alg;
  throw new AttestError('ERR_KEY_INVALID', 'unsupported key type');
}

async function importPem(pem: string, label: string, format: 'spki' | 'pkcs8', usage: KeyUsage): Promise<{ alg: AlgName; key: CryptoKey }> {
  const decoded = decodePem(pem);
  if (decoded.label !== label) throw new AttestError('ERR_KEY_INVALID', `expected a ${label} PEM`);
  const alg = algOfDer(decoded.der);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(format, decoded.der as BufferSource, getAlgorithm(alg).importParams, true, [usage]);
  } catch (cause) {
    throw new AttestError('ERR_KEY_INVALID', `invalid ${label.toLowerCase()}`, { cause });
  }
  if (usage === 'verify') await assertStrictPublic(alg, key);
  return { alg, key };
}

/** Refuses an EdDSA public key of small order or in a non-canonical encoding (`ERR_KEY_INVALID`). */
async function assertStrictPublic(alg: AlgName, key: CryptoKey): Promise<void> {
  if (alg === 'EdDSA' && !isStrictEd25519Public(new Uint8Array(await crypto.subtle.exportKey('raw', key)))) {
    throw new AttestError('ERR_KEY_INVALID', 'Ed25519 public key is of small order or not canonically encoded');
  }
}

/**
 * Import a public verification key from SPKI PEM. The algorithm comes from the key itself.
 * Throws `ERR_KEY_INVALID`.
 */
export function importPublicPem(pem: string): Promise<{ alg: AlgName; key: CryptoKey }> {
  return importPem(pem, 'PUBLIC KEY', 'spki', 'verify');
}

/** Import a PKCS#8 PEM private key for signing. Throws `ERR_KEY_INVALID`. */
export function importPrivatePem(pem: string): Promise<{ alg: AlgName; key: CryptoKey }> {
  return importPem(pem, 'PRIVATE KEY', 'pkcs8', 'sign');
}

/** Import a raw HMAC secret (HS256); at least 32 bytes. Throws `ERR_KEY_INVALID`. */
export async function importSecret(secret: Uint8Array): Promise<CryptoKey> {
  if (secret.length < 32) throw new AttestError('ERR_KEY_INVALID', 'HS256 secret shorter than 32 bytes');
  return crypto.subtle.importKey('raw', secret as BufferSource, getAlgorithm('HS256').importParams, true, ['sign', 'verify']);
}

/** Import a public JWK for `alg`. Throws `ERR_KEY_INVALID` (also for a small-order or non-canonical Ed25519 key). */
export async function importPublicJwk(alg: AlgName, jwk: PublicJwk): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, getAlgorithm(alg).importParams, true, ['verify']);
  } catch (cause) {
    throw new AttestError('ERR_KEY_INVALID', 'invalid public JWK', { cause });
  }
  await assertStrictPublic(alg, key);
  return key;
}

/** Export the public half of a key as a minimal JWK (the RFC 7638 required members). */
export async function exportPublicJwk(key: CryptoKey): Promise<PublicJwk> {
  const j = await crypto.subtle.exportKey('jwk', key);
  const pick = (names: Array<keyof PublicJwk>): PublicJwk => {
    const out: Record<string, string> = { kty: j.kty! };
    for (const n of names) if (typeof j[n] === 'string') out[n] = j[n] as string;
    return out as unknown as PublicJwk;
  };
  if (j.kty === 'EC') return pick(['crv', 'x', 'y']);
  if (j.kty === 'RSA') return pick(['e', 'n']);
  if (j.kty === 'OKP') return pick(['crv', 'x']);
  throw new AttestError('ERR_KEY_INVALID', 'not a public key type');
}

/** RFC 7638 JWK thumbprint, base64url (43 characters); used as key id / `secretVersion`. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const members: Record<string, string | undefined> =
    jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
    : { k: jwk.k, kty: jwk.kty };
  for (const v of Object.values(members)) {
    if (typeof v !== 'string') throw new AttestError('ERR_KEY_INVALID', 'incomplete JWK');
  }
  return toBase64Url(sha256(utf8(canonicalize(members))));
}
