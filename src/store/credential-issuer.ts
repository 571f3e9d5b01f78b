/**
 * A data directory as a credential issuer (docs/identity.md): `keys/credential-issuer.pem`
 * (ES256, PKCS #8, 0600) and `credential-issuer.json`, the issuer's entry for trust policies
 * (`credentialIssuers`: id, key, what it may grant, and the verifier key of this directory's
 * identity log, the one log its credentials go to). `mcp-attest trust export` includes it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestError } from '../errors.js';
import { getAlgorithm } from '../keys/algorithms.js';
import { exportPublicJwk, jwkThumbprint } from '../keys/material.js';
import { checkCredentialIssuers, type CredentialIssuer } from '../identity/issuers.js';
import { signIdentity } from '../identity/credential.js';
import { exportPkcs8, loadIdentity, writeSecretFile } from './identity.js';
import { identityVerifierKey } from './identity-log.js';
import { nodeSigner } from './node-signer.js';
import { homePaths } from './home.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from './read-regular.js';
import type { TrustPolicy } from '../verify/policy.js';

const paths = (home: string): { key: string; entry: string } => ({ key: join(homePaths(home).keys, 'credential-issuer.pem'), entry: join(home, 'credential-issuer.json') });

/** What `agent issuer init` is given: the issuer id and its grant (docs/identity.md "Credential issuers"). */
export type IssuerGrant = Pick<CredentialIssuer, 'id' | 'subjectPrefix'> & Partial<Pick<CredentialIssuer, 'servers' | 'tools' | 'maxLifetimeSeconds' | 'maxDepth'>>;

/**
 * Make `home` (initialized) a credential issuer: a new ES256 key and its policy entry. Throws
 * `ERR_KEY_EXISTS` when it is one already, `ERR_POLICY_INVALID` for a grant a policy would refuse.
 */
export async function initCredentialIssuer(home: string, grant: IssuerGrant): Promise<CredentialIssuer> {
  const p = paths(home);
  if (existsSync(p.entry)) throw new AttestError('ERR_KEY_EXISTS', `already a credential issuer: ${p.entry}`, { path: p.entry });
  const identity = loadIdentity(home);
  const pair = await getAlgorithm('ES256').generate() as CryptoKeyPair;
  const publicKeyJwk = await exportPublicJwk(pair.publicKey);
  const entry = { ...grant, alg: 'ES256', keyId: jwkThumbprint(publicKeyJwk), publicKeyJwk, log: identityVerifierKey(identity) };
  const problems: string[] = [];
  const [checked] = checkCredentialIssuers([entry], problems);
  if (problems.length > 0 || !checked) throw new AttestError('ERR_POLICY_INVALID', problems.join('; '), { found: problems });
  writeSecretFile(p.key, await exportPkcs8(pair.privateKey));
  writeFileSync(p.entry, JSON.stringify(checked, null, 2) + '\n', { flag: 'wx' });
  return checked;
}

/** The credential issuer of `home`, or null when it is none. `ERR_STORE_CORRUPT` for a bad entry. */
export function loadCredentialIssuer(home: string): CredentialIssuer | null {
  const p = paths(home);
  if (!existsSync(p.entry)) return null;
  const problems: string[] = [];
  let v: unknown;
  try {
    v = JSON.parse(readRegularFile(p.entry, MAX_CONFIG_FILE_BYTES, { what: 'credential issuer' }).toString('utf8'));
  } catch (cause) {
    throw new AttestError('ERR_STORE_CORRUPT', `${p.entry} cannot be read`, { path: p.entry, cause });
  }
  const [issuer] = checkCredentialIssuers([v], problems);
  if (problems.length > 0 || !issuer) throw new AttestError('ERR_STORE_CORRUPT', `${p.entry}: ${problems.join('; ')}`, { path: p.entry });
  return issuer;
}

/** `policy` (a data directory's own, `trustPolicyOf`) with `home`'s credential issuer, when it is one. `ERR_STORE_CORRUPT` as {@link loadCredentialIssuer}. */
export function withOwnCredentialIssuer(home: string, policy: TrustPolicy): TrustPolicy {
  const issuer = loadCredentialIssuer(home);
  return issuer ? { ...policy, credentialIssuers: [issuer] } : policy;
}

/** Sign a credential or revocation with `home`'s credential issuer key. */
export function issuerSign<T extends object>(home: string, unsigned: T): Promise<T & { signature: string }> {
  const sign = nodeSigner('ES256', readRegularFile(paths(home).key, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'credential issuer key', secret: true }).toString('utf8'));
  return signIdentity('ES256', sign, unsigned as never) as Promise<T & { signature: string }>;
}
