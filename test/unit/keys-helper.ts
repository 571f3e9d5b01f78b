/**
 * Key resolvers over a vector folder's `keys/` (hs256_secret.bin, es256_public.pem,
 * rs256_public.pem): the key is chosen by algorithm only, as the vectors pin one key each.
 */
import { readFileSync } from 'node:fs';
import { importPublicPem, importSecret } from '../../src/keys/material.js';
import type { KeyResolver } from '../../src/envelope/signature.js';
import { vectorPath } from '../vectors.js';

/** Resolver over `<dir>/keys/`. */
export async function vectorKeys(dir: string): Promise<KeyResolver> {
  const hs = await importSecret(new Uint8Array(readFileSync(vectorPath(`${dir}/keys/hs256_secret.bin`))));
  const es = (await importPublicPem(readFileSync(vectorPath(`${dir}/keys/es256_public.pem`), 'utf8'))).key;
  const rs = (await importPublicPem(readFileSync(vectorPath(`${dir}/keys/rs256_public.pem`), 'utf8'))).key;
  const byAlg: Record<string, CryptoKey> = { HS256: hs, ES256: es, RS256: rs };
  return async (q) => byAlg[q.alg] ?? null;
}
