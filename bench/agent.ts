/**
 * The bench's agent: an ES256 key a gate policy trusts, SEP-2787 attestations signed with it
 * for the bench's `echo` calls (before any timed region), and the gate policy trusting it.
 * Signing uses the synchronous `node:crypto` signer the proxy itself uses.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueAttestation } from '../src/attestation/build.js';
import type { Attestation } from '../src/attestation/schema.js';
import type { Signer } from '../src/envelope/sign.js';
import { jwkThumbprint, type PublicJwk } from '../src/keys/material.js';
import { nodeSigner } from '../src/store/node-signer.js';

/** The fixed server fingerprint (audience) of every bench attestation and gate policy. */
export const BENCH_FP = `sha256:${'be'.repeat(32)}`;

/** The tool every bench call invokes (server-everything's `echo`). */
export const TOOL = 'echo';

/** An agent key: its signer and its trust-policy issuer entry. */
export interface BenchAgent {
  signer: Signer;
  issuer: { iss: string; alg: 'ES256'; keyId: string; publicKeyJwk: PublicJwk };
}

/** A batch of signed attestations, one per call, and the signing time of each (ms). */
export interface SignedBatch {
  attestations: Attestation[];
  signMs: number[];
}

/** The arguments of call `i` (warm-up calls first, then the timed ones). */
export function callArgs(i: number): { message: string } {
  return { message: `bench ${i}` };
}

/** A fresh ES256 agent key. */
export function createAgent(iss = 'issuer://bench-agent'): BenchAgent {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const publicKeyJwk = { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } as PublicJwk;
  const keyId = jwkThumbprint(publicKeyJwk);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    signer: { iss, sub: 'agent:bench', alg: 'ES256', keyId, sign: nodeSigner('ES256', pem) },
    issuer: { iss, alg: 'ES256', keyId, publicKeyJwk },
  };
}

/**
 * Sign `count` attestations for calls `0..count-1` (`echo(callArgs(i))` at {@link BENCH_FP},
 * issued now, 300 s validity, fresh random nonce each), timing each signature.
 */
export async function signBatch(agent: BenchAgent, count: number): Promise<SignedBatch> {
  const attestations: Attestation[] = [];
  const signMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    attestations.push(await issueAttestation(agent.signer, {
      tool: TOOL, args: callArgs(i), serverFingerprint: BENCH_FP, intent: 'bench: echo',
      now: Math.floor(Date.now() / 1000),
    }));
    signMs.push(performance.now() - t);
  }
  return { attestations, signMs };
}

/**
 * Write a JSON gate policy in `dir` requiring attestations, trusting `issuers` and the
 * issuers of `trustFiles` (relative to `dir`), with the fixed fingerprint and response
 * receipts on. Returns its path.
 */
export function writeBenchPolicy(dir: string, issuers: readonly object[], trustFiles: readonly string[] = [], file = 'policy.json'): string {
  const path = join(dir, file);
  const policy = { version: 1, required: true, issuers, trustFiles, serverFingerprint: BENCH_FP, responseReceipts: true };
  writeFileSync(path, JSON.stringify(policy, null, 2));
  return path;
}
