/**
 * Issuing side of the signed-JSON-envelope rule (see `signature.ts`). Kept apart so that
 * verifiers never import signing code.
 */
import { toHex } from '../bytes/index.js';
import { getAlgorithm, type AlgName } from '../keys/algorithms.js';
import { signingInput } from './signature.js';

/** Signs bytes: returns the signature in the algorithm's encoding (see keys/algorithms.ts). */
export type SignFn = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** A signing function over a WebCrypto private key (runtime-neutral). */
export function webCryptoSign(alg: AlgName, key: CryptoKey): SignFn {
  return (data) => getAlgorithm(alg).sign(key, data);
}

/** A signing identity: issuer, subject, algorithm, key id and the private key. */
export interface Signer {
  iss: string;
  sub: string;
  alg: AlgName;
  /** Key id, carried as `secretVersion` (RFC 7638 thumbprint for mcp-attest keys). */
  keyId: string;
  /** Produces the signature; Node callers pass a synchronous node:crypto signer. */
  sign: SignFn;
}

/** Sign an unsigned envelope; returns a copy with `signature` (lowercase hex) added. */
export async function signEnvelope<T extends object>(signer: Signer, unsigned: T): Promise<T & { signature: string }> {
  const sig = await signer.sign(signingInput(unsigned as Record<string, unknown>));
  return { ...unsigned, signature: toHex(sig) };
}
