/**
 * Keys of approvers and counterparties (docs/session.md), on the party's own machine: the
 * trust-policy entry of a PEM key (its public half, RFC 7638 thumbprint as key id) and a
 * synchronous signer over it. Ed25519 (EdDSA), P-256 (ES256) or RSA (RS256); never HS256.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AttestError } from '../errors.js';
import { jwkThumbprint, type PublicJwk } from '../keys/material.js';
import type { Signer } from '../envelope/sign.js';
import type { PartyRole, TrustedParty } from '../verify/policy.js';
import { nodeSigner } from './node-signer.js';

/** The algorithm of a node key object. Throws `ERR_ALG_UNSUPPORTED` for other key types. */
function algOf(key: KeyObject): TrustedParty['alg'] {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new AttestError('ERR_ALG_UNSUPPORTED', `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: Ed25519, P-256 or RSA`);
}

/** The trust-policy party entry of a PEM key (public or private). Throws `ERR_KEY_INVALID`, `ERR_ALG_UNSUPPORTED`. */
export function partyFromPem(pem: string, id: string, roles: PartyRole[]): TrustedParty {
  let pub: KeyObject;
  try {
    pub = createPublicKey(pem);
  } catch (cause) {
    throw new AttestError('ERR_KEY_INVALID', 'not a PEM public or private key', { cause });
  }
  const alg = algOf(pub);
  const jwk = pub.export({ format: 'jwk' }) as unknown as PublicJwk;
  return { id, roles, alg, keyId: jwkThumbprint(jwk), publicKeyJwk: jwk };
}

/** A synchronous signer for party `id` over a PEM private key. Throws `ERR_KEY_INVALID`, `ERR_ALG_UNSUPPORTED`. */
export function partySigner(privatePem: string, id: string): Signer {
  const party = partyFromPem(privatePem, id, []);
  let pkcs8: string;
  try {
    pkcs8 = createPrivateKey(privatePem).export({ format: 'pem', type: 'pkcs8' }) as string;
  } catch (cause) {
    throw new AttestError('ERR_KEY_INVALID', 'not a PEM private key', { cause });
  }
  return { iss: id, sub: id, alg: party.alg, keyId: party.keyId, sign: nodeSigner(party.alg, pkcs8) };
}
