/**
 * Where a CLI verifier gets its keys: `--trust FILE` (a trust policy), `--key PEM` (one
 * SPKI public key; accepts only its own algorithm) or `--secret FILE` (raw HS256 secret).
 */
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { importPublicPem, importSecret } from '../keys/material.js';
import type { AlgName } from '../keys/algorithms.js';
import type { KeyResolver } from '../envelope/signature.js';
import { hs256Secrets, parseTrustPolicy, policyKeyResolver, type TrustPolicy } from '../verify/policy.js';
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
  /** The raw HS256 secret read for the policy (once), for checks that import it again elsewhere (verify's worker threads); null when none. */
  secret?: Uint8Array | null;
}

/** Largest JSON value or document file the envelope commands read (`--args`, `--result`, `--ref`): 64 MiB. */
export const MAX_VALUE_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Read an input file the user named: a regular file (the path may be a symlink to one; a
 * FIFO or device is never opened) of at most `maxBytes`, refused unread when larger
 * (store/read-regular.ts). `what` names it in messages. Throws `ERR_INPUT_NOT_REGULAR`,
 * `ERR_INPUT_TOO_LARGE`, `ERR_STORE_IO` (a missing or unreadable file): exit 3.
 */
export function readInput(path: string, maxBytes: number, what: string): Buffer {
  return readRegularFile(path, maxBytes, { follow: true, what });
}

/**
 * Read a trust policy, key or secret file: a regular file (the path may be a symlink to
 * one) of at most 1 MiB (store/read-regular.ts). Throws `ERR_INPUT_NOT_REGULAR`,
 * `ERR_INPUT_TOO_LARGE`, `ERR_STORE_IO` (a missing or unreadable file): exit 3.
 */
export function readKeyFile(path: string, what: string): Buffer {
  return readInput(path, MAX_CONFIG_FILE_BYTES, what);
}

/**
 * Read a private key or secret file: as {@link readKeyFile}, and refused with
 * `ERR_KEY_EXPOSED` (exit 3) when its group or others may read or write it (store/read-regular.ts).
 */
export function readSecretFile(path: string, what: string): Buffer {
  return readRegularFile(path, MAX_CONFIG_FILE_BYTES, { follow: true, what, secret: true });
}

/**
 * Keys from a trust policy; `secretFile` supplies the HS256 secret of its HS256 issuers (read
 * with {@link readSecretFile}, throwing its codes).
 */
export async function policyKeySource(policy: TrustPolicy, secretFile?: string): Promise<KeySource> {
  const raw = secretFile === undefined ? null : new Uint8Array(readSecretFile(secretFile, '--secret'));
  const secrets = hs256Secrets(policy, raw === null ? null : await importSecret(raw));
  return { keys: policyKeyResolver(policy, secrets), accepted: policy.acceptedAlgorithms, policy, secret: raw };
}

/**
 * Build the key source from the options; exactly one of them is required (`CliExit` 2
 * otherwise). Files are read with {@link readKeyFile}, throwing its codes;
 * `ERR_POLICY_INVALID` for a bad trust policy.
 */
export async function keySource(o: KeyOptions): Promise<KeySource> {
  const given = [o.trust, o.key].filter((x) => x !== undefined).length;
  if (given > 1 || (given === 0 && o.secret === undefined)) throw new CliExit(EXIT_USAGE, 'give exactly one of --trust FILE or --key PEM (or --secret FILE)');
  if (o.trust !== undefined) return policyKeySource(parseTrustPolicy(readKeyFile(o.trust, '--trust').toString('utf8')), o.secret);
  const secret = o.secret === undefined ? null : await importSecret(new Uint8Array(readSecretFile(o.secret, '--secret')));
  if (o.key !== undefined) {
    const { alg, key } = await importPublicPem(readKeyFile(o.key, '--key').toString('utf8'));
    return { keys: async (q) => (q.alg === alg ? key : null), accepted: [alg], policy: null };
  }
  return { keys: async (q) => (q.alg === 'HS256' ? secret : null), accepted: ['HS256'], policy: null };
}
