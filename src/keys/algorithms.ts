/**
 * The algorithm table: every signature algorithm mcp-attest knows, built from small
 * factories, in one place. Lookup of a name outside the table raises `ERR_ALG_UNSUPPORTED`;
 * callers then check the name against their allowlist (`assertAllowed`, `ERR_ALG_NOT_ALLOWED`).
 * Primitives run on WebCrypto (`globalThis.crypto.subtle`), so this also runs in a browser.
 *
 * Encodings of signatures (SEP-2787 §"Signature"): HS256 = 32-byte HMAC-SHA256 (RFC 7518
 * §3.2); ES256 = raw r||s, 64 bytes, never DER (RFC 7518 §3.4); RS256 = RSASSA-PKCS1-v1_5
 * with SHA-256, modulus length (RFC 7518 §3.1); EdDSA = Ed25519, 64 bytes (RFC 8037; not
 * defined by SEP-2787, accepted only where a trust policy lists it).
 */
import { AttestError } from '../errors.js';

/** Signature algorithm names (JOSE, RFC 7518 / RFC 8037). */
export type AlgName = 'ES256' | 'RS256' | 'HS256' | 'EdDSA';

/** All names in the table, in order of preference. */
export const ALG_NAMES: readonly AlgName[] = ['ES256', 'EdDSA', 'RS256', 'HS256'];

/** The algorithms SEP-2787 defines (§"Algorithms"). */
export const SEP2787_ALGS: readonly AlgName[] = ['HS256', 'ES256', 'RS256'];

/** One algorithm: how to import, generate, sign and verify with WebCrypto. */
export interface Algorithm {
  readonly name: AlgName;
  /** True for HS256: one shared secret both signs and verifies. */
  readonly symmetric: boolean;
  /** WebCrypto import parameters. */
  readonly importParams: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams;
  /** Generate a key (pair) for this algorithm, extractable. */
  generate(): Promise<CryptoKeyPair | CryptoKey>;
  /** Sign `data`; returns the signature in the encoding above. */
  sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array>;
  /** Verify; false (never throws) for any bad key, length or signature. */
  verify(key: CryptoKey, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/**
 * A platform's own signature verification (Node's node:crypto: src/platform/node.ts), used in
 * place of WebCrypto's when installed: synchronous (or, while a batch of verifications is
 * gathered, a promise: src/platform/verify-batch.ts), same contract as {@link Algorithm.verify}
 * (false, never a throw or a rejection, for a key of another algorithm, type or usage, or a
 * bad signature), called only with a signature of the algorithm's length. WebCrypto stays the
 * browser path; the vector and mangling suites run under both.
 */
export type PlatformVerify = (alg: AlgName, key: CryptoKey, data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

let platformVerify: { name: string; verify: PlatformVerify } | null = null;

/** Install a platform verifier under `name` (see {@link PlatformVerify}). */
export function usePlatformVerify(name: string, verify: PlatformVerify): void {
  platformVerify = { name, verify };
}

/** Which verifier runs: `webcrypto`, or the installed platform verifier's name. */
export function verifierName(): string {
  return platformVerify?.name ?? 'webcrypto';
}

function factory(
  name: AlgName,
  params: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams,
  signParams: AlgorithmIdentifier | EcdsaParams,
  genParams: RsaHashedKeyGenParams | EcKeyGenParams | HmacKeyGenParams | AlgorithmIdentifier,
  sigLength: (key: CryptoKey) => number,
): Algorithm {
  return {
    name,
    symmetric: name === 'HS256',
    importParams: params,
    async generate() {
      const usages: KeyUsage[] = ['sign', 'verify'];
      return (await subtle().generateKey(genParams, true, usages)) as CryptoKeyPair | CryptoKey;
    },
    async sign(key, data) {
      return new Uint8Array(await subtle().sign(signParams, key, data as BufferSource));
    },
    async verify(key, data, signature) {
      if (signature.length !== sigLength(key)) return false;
      if (platformVerify !== null) return platformVerify.verify(name, key, data, signature);
      try {
        return await subtle().verify(signParams, key, signature as BufferSource, data as BufferSource);
      } catch {
        return false;
      }
    },
  };
}

function rsaBytes(key: CryptoKey): number {
  const alg = key.algorithm as RsaHashedKeyAlgorithm;
  return Math.ceil(alg.modulusLength / 8);
}

const RSA: RsaHashedImportParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const EC: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const HMAC = { name: 'HMAC', hash: 'SHA-256' } as const;

const TABLE: Readonly<Record<AlgName, Algorithm>> = {
  ES256: factory('ES256', EC, { name: 'ECDSA', hash: 'SHA-256' }, EC, () => 64),
  RS256: factory('RS256', RSA, RSA, { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, rsaBytes),
  HS256: factory('HS256', HMAC, HMAC, { ...HMAC, length: 256 }, () => 32),
  EdDSA: factory('EdDSA', { name: 'Ed25519' }, { name: 'Ed25519' }, { name: 'Ed25519' }, () => 64),
};

/** True when `name` is in the table (a type guard over untrusted strings). */
export function isAlgName(name: unknown): name is AlgName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(TABLE, name);
}

/** Look up an algorithm. Throws `ERR_ALG_UNSUPPORTED` for any name outside the table. */
export function getAlgorithm(name: unknown): Algorithm {
  if (!isAlgName(name)) {
    throw new AttestError('ERR_ALG_UNSUPPORTED', 'algorithm not supported', { found: name });
  }
  return TABLE[name];
}

/** Throws `ERR_ALG_NOT_ALLOWED` unless `name` is in `allowed`. */
export function assertAllowed(name: AlgName, allowed: readonly AlgName[]): void {
  if (!allowed.includes(name)) {
    throw new AttestError('ERR_ALG_NOT_ALLOWED', 'algorithm not allowed', {
      found: name,
      expected: [...allowed],
    });
  }
}
