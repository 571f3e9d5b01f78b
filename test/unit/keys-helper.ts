/**
 * Test keys: resolvers over a published vector folder's `keys/` (hs256_secret.bin,
 * es256_public.pem, rs256_public.pem; the key is chosen by algorithm only, as the vectors
 * pin one key each), and fresh signers with their matching resolver.
 */
import { readFileSync } from 'node:fs';
import { importPublicPem, importSecret } from '../../src/keys/material.js';
import type { KeyResolver } from '../../src/envelope/signature.js';
import { webCryptoSign, type Signer } from '../../src/envelope/sign.js';
import { getAlgorithm, type AlgName } from '../../src/keys/algorithms.js';
import { vectorPath } from '../vectors.js';

/** Resolver over `<dir>/keys/`. */
export async function vectorKeys(dir: string): Promise<KeyResolver> {
  const hs = await importSecret(new Uint8Array(readFileSync(vectorPath(`${dir}/keys/hs256_secret.bin`))));
  const es = (await importPublicPem(readFileSync(vectorPath(`${dir}/keys/es256_public.pem`), 'utf8'))).key;
  const rs = (await importPublicPem(readFileSync(vectorPath(`${dir}/keys/rs256_public.pem`), 'utf8'))).key;
  const byAlg: Record<string, CryptoKey> = { HS256: hs, ES256: es, RS256: rs };
  return async (q) => byAlg[q.alg] ?? null;
}

/** A fresh key for `alg`: a signer (iss `issuer://t`, key id `k1`) and a resolver trusting exactly it. */
export async function signerFor(alg: AlgName): Promise<{ signer: Signer; keys: KeyResolver }> {
  const k = await getAlgorithm(alg).generate();
  const priv = 'privateKey' in k ? k.privateKey : k;
  const pub = 'publicKey' in k ? k.publicKey : k;
  const signer: Signer = { iss: 'issuer://t', sub: 'agent:t', alg, keyId: 'k1', sign: webCryptoSign(alg, priv) };
  return { signer, keys: async (q) => (q.iss === 'issuer://t' && q.alg === alg && q.keyId === 'k1' ? pub : null) };
}
