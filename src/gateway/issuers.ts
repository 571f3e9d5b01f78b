/**
 * Principals' own issuer keys (docs/gateway.md "A principal's own issuer key"): the
 * configuration's `issuers` entries turned into signers. A principal with a key has its
 * calls' attestations (and their receipts) signed with it, so a trust policy, a gate policy
 * or an auditor can tell that principal's calls apart by key rather than by the `sub` the
 * gateway's key asserts. The public half of each key is recorded in the data directory
 * (`recordIssuer`), so `mcp-attest trust export` lists it beside the directory's own.
 */
import { AttestError, isAttestError } from '../errors.js';
import { exportPublicJwk, importPrivatePem, jwkThumbprint } from '../keys/material.js';
import type { Signer } from '../envelope/sign.js';
import type { TrustedIssuer } from '../verify/policy.js';
import { nodeSigners } from '../store/node-signer.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import type { GatewayConfig } from './config.js';

/** One principal's issuer: the signer (its `sub` the principal) and the public key a verifier trusts. */
export interface PrincipalIssuer {
  signer: Signer;
  trusted: TrustedIssuer;
}

/**
 * Load the keys of `issuers` (paths absolute, as {@link parseGatewayConfig} leaves them):
 * principal → issuer. Each key is a PKCS#8 PEM private key of a supported signature
 * algorithm (not HS256: a verifier could not be given its secret here). Throws
 * `ERR_CONFIG_INVALID` listing every key that cannot be read or used.
 */
export async function loadPrincipalIssuers(issuers: GatewayConfig['issuers']): Promise<Map<string, PrincipalIssuer>> {
  const out = new Map<string, PrincipalIssuer>();
  const problems: string[] = [];
  for (const [i, entry] of issuers.entries()) {
    try {
      const pem = readRegularFile(entry.key, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'issuer key', secret: true }).toString('utf8');
      const { alg, key } = await importPrivatePem(pem);
      if (alg === 'HS256') throw new AttestError('ERR_KEY_INVALID', 'an HS256 secret cannot be a principal key');
      const publicKeyJwk = await exportPublicJwk(key);
      const keyId = jwkThumbprint(publicKeyJwk);
      const iss = entry.iss ?? `issuer://${keyId}`;
      out.set(entry.principal, { signer: { iss, sub: entry.principal, alg, keyId, ...nodeSigners(alg, pem) }, trusted: { iss, alg, keyId, publicKeyJwk } });
    } catch (e) {
      if (isAttestError(e, 'ERR_KEY_EXPOSED')) throw e;
      problems.push(`issuers.${i}.key: ${entry.key}: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new AttestError('ERR_CONFIG_INVALID', problems.join('; '));
  return out;
}
