/**
 * Issuing side of the signed-JSON-envelope rule (see `signature.ts`). Kept apart so that
 * verifiers never import signing code.
 */
import { toHex } from '../bytes/index.js';
import { getAlgorithm, type AlgName } from '../keys/algorithms.js';
import { signingInput } from './signature.js';

/** A signing identity: issuer, subject, algorithm, key id and the private key. */
export interface Signer {
  iss: string;
  sub: string;
  alg: AlgName;
  /** Key id, carried as `secretVersion` (RFC 7638 thumbprint for mcp-attest keys). */
  keyId: string;
  key: CryptoKey;
}

/** Sign an unsigned envelope; returns a copy with `signature` (lowercase hex) added. */
export async function signEnvelope<T extends object>(signer: Signer, unsigned: T): Promise<T & { signature: string }> {
  const sig = await getAlgorithm(signer.alg).sign(signer.key, signingInput(unsigned as Record<string, unknown>));
  return { ...unsigned, signature: toHex(sig) };
}
