/**
 * DPoP at the gateway (RFC 9449 §4.3, §7): a DPoP-bound access token (`cnf.jkt`) is sent as
 * `Authorization: DPoP <token>` with a `DPoP` proof on every request: a JWT of `typ`
 * `dpop+jwt`, signed by the public key in its own header (never a private one), naming the
 * request's method (`htm`) and URL (`htu`, the endpoint's resource URL: never taken from the
 * request's Host), the token's hash (`ath`), issued within the last 60 s (`iat`), with a `jti`
 * never seen before (RFC 9449 §11.1). The key's RFC 7638 thumbprint must be the token's
 * `cnf.jkt`; it is what the gate then compares with the attestation's key (docs/identity.md
 * "Enforcement"). Verification is `jose`'s; the rules of the RFC are ours.
 *
 * Proof ids are recorded in a replay store, not in this process's memory: the data
 * directory's `nonces.db`, or a fleet's PostgreSQL log (store/pg-replay.ts), so a proof is
 * refused again after a restart, after a configuration reload, and at every other gateway of
 * the fleet.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import type { ReplayStore } from '../gate/gate.js';

/** The algorithms a DPoP proof may be signed with. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
/** Longest DPoP header accepted, in characters. */
export const MAX_DPOP_PROOF = 8192;
/** How old a proof may be (its `iat`), seconds. */
const MAX_AGE_SECONDS = 60;
/**
 * The replay store's issuer field for the proof ids of the key whose RFC 7638 thumbprint is
 * `jkt`: a name no attestation issuer has (it holds a space), so proof ids and attestation
 * nonces never meet, and one key's ids cannot collide with another's.
 */
export function dpopReplayIssuer(jkt: string): string {
  return `dpop-proof ${jkt}`;
}

/** A verified proof, its id not yet recorded: its key's RFC 7638 thumbprint, its `jti`, and the time it was checked at (POSIX seconds). */
export interface DpopProof { jkt: string; jti: string; now: number }

/**
 * Checks DPoP proofs and records their ids in `store` until they are too old to be accepted
 * again (the proof's `iat` window and 10 s more). A store that is full of live ids refuses
 * new proofs rather than forget one early.
 */
export class DpopChecker {
  constructor(private readonly store: ReplayStore) {}

  /**
   * Verify a proof and record its id ({@link inspect} then {@link record}): the thumbprint
   * of the proof's key, or why the proof is refused.
   */
  async check(proof: string | string[] | undefined, method: string, url: string, token: string, now = Math.floor(Date.now() / 1000)): Promise<{ jkt: string } | { refused: string }> {
    const seen = await this.inspect(proof, method, url, token, now);
    if ('refused' in seen) return seen;
    const refused = await this.record(seen);
    return refused ?? { jkt: seen.jkt };
  }

  /**
   * Verify a proof without recording its id: the thumbprint of its key and its `jti` (for
   * {@link record}), or why it is refused. `method` and `url` are the request's method and
   * the endpoint's resource URL; `token` the access token it goes with; `now` POSIX seconds.
   * The gateway records the id only once the caller is within its rate limit, so a caller
   * over it cannot fill the store its own and the gate's nonces share.
   */
  async inspect(proof: string | string[] | undefined, method: string, url: string, token: string, now = Math.floor(Date.now() / 1000)): Promise<DpopProof | { refused: string }> {
    if (typeof proof !== 'string' || proof.length > MAX_DPOP_PROOF) return { refused: 'one DPoP proof header is required with a DPoP token' };
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_ALGORITHMS], maxTokenAge: `${MAX_AGE_SECONDS}s`, clockTolerance: 5, currentDate: new Date(now * 1000) });
    } catch (e) {
      return { refused: `the DPoP proof is not valid: ${(e as Error).message}` };
    }
    const { payload, protectedHeader } = verified;
    const jwk = protectedHeader.jwk;
    if (jwk === undefined || 'd' in jwk) return { refused: 'the DPoP proof must carry a public key' };
    const ath = createHash('sha256').update(token).digest('base64url');
    if (payload['htm'] !== method) return { refused: 'the DPoP proof is for another method' };
    if (payload['htu'] !== url) return { refused: 'the DPoP proof is for another URL' };
    if (payload['ath'] !== ath) return { refused: 'the DPoP proof is for another access token' };
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) return { refused: 'the DPoP proof has no usable jti' };
    return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, now };
  }

  /**
   * Record a verified proof's id until it is too old to be accepted again: null, or why the
   * proof is refused (used before; the store full of live ids; the store cannot be reached,
   * `ERR_STORE_IO`: an id that cannot be recorded could be replayed).
   */
  async record(p: DpopProof): Promise<{ refused: string } | null> {
    let recorded: 'recorded' | 'replay' | 'full';
    try {
      recorded = await this.store.record(dpopReplayIssuer(p.jkt), p.jti, p.now + MAX_AGE_SECONDS + 10, p.now);
    } catch (e) {
      return { refused: `the DPoP proof's id cannot be recorded: ${(e as Error).message}` };
    }
    if (recorded === 'replay') return { refused: 'the DPoP proof was used before' };
    if (recorded === 'full') return { refused: 'too many DPoP proofs are live: try again later' };
    return null;
  }
}
