/**
 * DPoP at the gateway (RFC 9449 §4.3, §7): a DPoP-bound access token (`cnf.jkt`) is sent as
 * `Authorization: DPoP <token>` with a `DPoP` proof on every request: a JWT of `typ`
 * `dpop+jwt`, signed by the public key in its own header (never a private one), naming the
 * request's method (`htm`) and URL (`htu`, the endpoint's resource URL: never taken from the
 * request's Host), the token's hash (`ath`), issued within the last 60 s (`iat`), with a `jti`
 * never seen before. The key's RFC 7638 thumbprint must be the token's `cnf.jkt`; it is what
 * the gate then compares with the attestation's key (docs/identity.md "Enforcement").
 * Verification is `jose`'s; the rules of the RFC are ours.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

/** The algorithms a DPoP proof may be signed with. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
/** Longest DPoP header accepted, in characters. */
export const MAX_DPOP_PROOF = 8192;
/** How old a proof may be (its `iat`), seconds. */
const MAX_AGE_SECONDS = 60;
/** Most proof ids remembered (replay): past it, a new proof is refused rather than an old id forgotten early. */
const MAX_REMEMBERED = 1_000_000;

/** Checks DPoP proofs and remembers their ids until they are too old to be accepted again. */
export class DpopChecker {
  private readonly seen = new Map<string, number>();

  /**
   * The thumbprint of the proof's key, or why the proof is refused. `method` and `url` are the
   * request's method and the endpoint's resource URL; `token` the access token it goes with;
   * `now` POSIX seconds.
   */
  async check(proof: string | string[] | undefined, method: string, url: string, token: string, now = Math.floor(Date.now() / 1000)): Promise<{ jkt: string } | { refused: string }> {
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
    if (!this.remember(jti, now)) return { refused: 'the DPoP proof was used before' };
    return { jkt: await calculateJwkThumbprint(jwk, 'sha256') };
  }

  /**
   * Record `jti` until it is too old to be accepted; false when seen already, or when memory is
   * full of live ids. Ids are kept in the order they expire (each for the same time from when
   * it was seen), so forgetting the expired ones stops at the first live one: no scan.
   */
  private remember(jti: string, now: number): boolean {
    for (const [k, t] of this.seen) {
      if (t >= now) break;
      this.seen.delete(k);
    }
    const until = this.seen.get(jti);
    if (until !== undefined) return false;
    if (this.seen.size >= MAX_REMEMBERED) return false;
    this.seen.set(jti, now + MAX_AGE_SECONDS + 10);
    return true;
  }
}
