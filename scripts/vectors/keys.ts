/**
 * Test keys of the mcp-attest vectors (test/vectors/keys/, committed; never use them for
 * anything else) and deterministic signing over them, so the generator reproduces every
 * file byte for byte: HS256 and RS256 are deterministic, ES256 uses RFC 6979 nonces
 * (low-S), EdDSA is deterministic by construction.
 */
import { createHmac, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { p256 } from '@noble/curves/nist.js';
import { toHex } from '../../src/bytes/index.js';
import { signingInput } from '../../src/envelope/signature.js';
import type { VectorKey } from './model.js';

/** Directory of the committed test keys. */
export const KEY_DIR = new URL('../../test/vectors/keys/', import.meta.url);

/** The test HS256 secret: 32 bytes of 0x5a. */
export const HS256_SECRET = new Uint8Array(32).fill(0x5a);

/** Issuer of every vector envelope. */
export const ISS = 'issuer://mcp-attest-vectors';

/** Algorithms with a test key. */
export type TestAlg = 'HS256' | 'ES256' | 'RS256' | 'EdDSA';

const FILE: Record<Exclude<TestAlg, 'HS256'>, string> = { ES256: 'es256', RS256: 'rs256', EdDSA: 'eddsa' };

function pem(alg: Exclude<TestAlg, 'HS256'>, half: 'private' | 'public'): string {
  return readFileSync(new URL(`${FILE[alg]}.${half}.pem`, KEY_DIR), 'utf8');
}

/** `secretVersion` of the test key for `alg`. */
export function keyIdOf(alg: TestAlg): string {
  return `${alg.toLowerCase()}-v1`;
}

/** The trusted-key entry for `alg`'s test key. */
export function trustedKey(alg: TestAlg): VectorKey {
  const base = { iss: ISS, alg, secretVersion: keyIdOf(alg) };
  return alg === 'HS256' ? { ...base, secretHex: toHex(HS256_SECRET) } : { ...base, publicKeyPem: pem(alg, 'public') };
}

function es256Scalar(): Uint8Array {
  const d = createPrivateKey(pem('ES256', 'private')).export({ format: 'jwk' }).d;
  return new Uint8Array(Buffer.from(String(d), 'base64url'));
}

/** Deterministic signature over `data` with `alg`'s test key (ES256: raw r||s, low-S). */
export function signBytes(alg: TestAlg, data: Uint8Array): Uint8Array {
  switch (alg) {
    case 'HS256': return new Uint8Array(createHmac('sha256', HS256_SECRET).update(data).digest());
    case 'ES256': return p256.sign(data, es256Scalar());
    case 'RS256': return new Uint8Array(nodeSign('sha256', data, pem('RS256', 'private')));
    case 'EdDSA': return new Uint8Array(nodeSign(null, data, pem('EdDSA', 'private')));
  }
}

/** Sign an envelope body with `alg` (JCS minus `signature`); returns body + lowercase hex signature. */
export function signWith<T extends Record<string, unknown>>(alg: TestAlg, body: T): T & { signature: string } {
  return { ...body, signature: toHex(signBytes(alg, signingInput(body))) };
}

/** The DER encoding of a raw ES256 signature (what SEP-2787 forbids). */
export function toDer(raw: Uint8Array): Uint8Array {
  return p256.Signature.fromBytes(raw).toBytes('der');
}

/** The order n of the P-256 group (FIPS 186-5 / SEC 2). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The high-S twin of a raw low-S ES256 signature: (r, n - s). Verifies under plain ECDSA. */
export function highS(raw: Uint8Array): Uint8Array {
  const sig = p256.Signature.fromBytes(raw);
  return new p256.Signature(sig.r, P256_N - sig.s).toBytes();
}

/** SPKI PEM of a raw 32-byte Ed25519 public key, whatever its bytes (RFC 8410). */
export function ed25519Spki(raw: Uint8Array): string {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
}
