/**
 * Where a CLI verifier gets its keys: `--trust FILE` (a trust policy), `--key PEM` (one
 * SPKI public key; accepts only its own algorithm) or `--secret FILE` (raw HS256 secret).
 */
import { readFileSync } from 'node:fs';
import { importPublicPem, importSecret } from '../keys/material.js';
import type { AlgName } from '../keys/algorithms.js';
import type { KeyResolver } from '../envelope/signature.js';
import { parseTrustPolicy, policyKeyResolver, secretId, type TrustPolicy } from '../verify/policy.js';
import { CliExit, EXIT_USAGE } from './output.js';

/** Options naming key material. */
export interface KeyOptions {
  trust?: string;
  key?: string;
  secret?: string;
}

/** Resolved verification material. */
export interface KeySource {
  keys: KeyResolver;
  accepted: readonly AlgName[];
  policy: TrustPolicy | null;
}

/** Read a file or raise an I/O error. */
export function readInput(path: string): Buffer {
  return readFileSync(path);
}

/** Keys from a trust policy; `secretFile` supplies the HS256 secret of its HS256 issuers. */
export async function policyKeySource(policy: TrustPolicy, secretFile?: string): Promise<KeySource> {
  const secret = secretFile === undefined ? null : await importSecret(new Uint8Array(readInput(secretFile)));
  const secrets = new Map(secret ? policy.issuers.filter((i) => i.alg === 'HS256').map((i) => [secretId(i.iss, i.keyId), secret]) : []);
  return { keys: policyKeyResolver(policy, secrets), accepted: policy.acceptedAlgorithms, policy };
}

/** Build the key source from the options; exactly one of them is required. */
export async function keySource(o: KeyOptions): Promise<KeySource> {
  const given = [o.trust, o.key].filter((x) => x !== undefined).length;
  if (given > 1 || (given === 0 && o.secret === undefined)) throw new CliExit(EXIT_USAGE, 'give exactly one of --trust FILE or --key PEM (or --secret FILE)');
  if (o.trust !== undefined) return policyKeySource(parseTrustPolicy(readInput(o.trust).toString('utf8')), o.secret);
  const secret = o.secret === undefined ? null : await importSecret(new Uint8Array(readInput(o.secret)));
  if (o.key !== undefined) {
    const { alg, key } = await importPublicPem(readInput(o.key).toString('utf8'));
    return { keys: async (q) => (q.alg === alg ? key : null), accepted: [alg], policy: null };
  }
  return { keys: async (q) => (q.alg === 'HS256' ? secret : null), accepted: ['HS256'], policy: null };
}
