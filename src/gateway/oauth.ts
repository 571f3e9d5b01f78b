/**
 * The gateway as an OAuth 2.1 resource server (MCP authorization; docs/gateway.md "OAuth"):
 * access tokens are JWTs (RFC 9068 profile) validated against the authorization server's
 * JWKS (a URL, fetched and cached by `jose`, or a file): signature, `iss`, `aud` (the
 * endpoint's resource URL, RFC 8707, unless the configuration names the audience), `exp`/
 * `nbf` with 30 s of skew, an allowed algorithm, the required scopes. The principal is
 * `oauth:` followed by the configured claim (default `sub`), a name space no configured
 * caller may use. Protected-resource metadata (RFC 9728) is served at
 * `/.well-known/oauth-protected-resource/<name>/mcp`, and named in every 401's
 * `WWW-Authenticate`.
 */
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { GatewayConfig } from './config.js';
import type { Caller, Refusal } from './guard.js';
import type { CallerBinding, ReplayStore } from '../gate/gate.js';
import { DPOP_ALGORITHMS, DpopChecker, type DpopProof } from './dpop.js';
import { createHash } from 'node:crypto';

/** A principal or subject the gateway takes from a token: 1 to 256 printable ASCII characters, no space at either end. */
const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

/** The `oauth` section of a gateway configuration. */
export type OAuthConfig = NonNullable<GatewayConfig['oauth']>;

/** Validates access tokens for the gateway's endpoints. */
export class OAuthResource {
  private readonly keys: JWTVerifyGetKey;
  private readonly proofs: DpopChecker;

  /**
   * `proofs`: where DPoP proof ids are recorded (dpop.ts), kept across restarts and reloads.
   * Throws `ERR_CONFIG_INVALID`-worthy errors (an unreadable JWKS file) as plain errors.
   */
  constructor(private readonly o: OAuthConfig, proofs: ReplayStore) {
    this.proofs = new DpopChecker(proofs);
    this.keys = o.jwksUrl !== undefined
      ? createRemoteJWKSet(new URL(o.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
      : createLocalJWKSet(JSON.parse(readRegularFile(o.jwksFile!, MAX_CONFIG_FILE_BYTES, { follow: true, what: 'JWKS file' }).toString('utf8')) as Parameters<typeof createLocalJWKSet>[0]);
  }

  /** The resource URL of an upstream's endpoint (RFC 8707 / RFC 9728 `resource`). */
  resource(name: string): string {
    return `${this.o.resource.replace(/\/+$/, '')}/${name}/mcp`;
  }

  /** The RFC 9728 metadata document of an endpoint. */
  metadata(name: string): Record<string, unknown> {
    return {
      resource: this.resource(name), authorization_servers: [this.o.issuer], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      ...(this.o.scopes.length > 0 ? { scopes_supported: this.o.scopes } : {}),
    };
  }

  /** `WWW-Authenticate` for a 401 on an endpoint. */
  challenge(name: string, error?: string): string {
    const metadata = `${this.o.resource.replace(/\/+$/, '')}/.well-known/oauth-protected-resource/${name}/mcp`;
    const bearer = `Bearer resource_metadata="${metadata}"${error ? `, error="${error}"` : ''}${this.o.scopes.length > 0 ? `, scope="${this.o.scopes.join(' ')}"` : ''}`;
    // RFC 9449 §7.1: the DPoP scheme is offered too, with the proof algorithms accepted.
    return `${bearer}, DPoP algs="${DPOP_ALGORITHMS.join(' ')}"`;
  }

  /**
   * The caller of a valid access token for endpoint `name`: its principal, and what binds a
   * credential to it (the token's issuer, subject and digest; with DPoP, the proof key's
   * thumbprint); or the 401 refusal. `dpop`: the request was `Authorization: DPoP …`, with
   * its `DPoP` header and method. A token bound to a key (`cnf.jkt`) is refused as a plain
   * bearer token (RFC 9449 §7.1), and so is a bearer token when the configuration requires DPoP.
   * A DPoP proof's id is not recorded here: the caller's `admit` records it, once the
   * request is within its principal's limits.
   */
  async principal(token: string, name: string, dpop?: { proof: string | string[] | undefined; method: string }): Promise<Caller | Refusal> {
    const refuse = (why: string, error = 'invalid_token'): Refusal => ({
      status: error === 'insufficient_scope' ? 403 : 401, code: 'ERR_GATEWAY_UNAUTHENTICATED', message: why, headers: { 'www-authenticate': this.challenge(name, error) },
    });
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.o.issuer, audience: this.o.audience ?? this.resource(name), algorithms: this.o.algorithms, clockTolerance: 30, requiredClaims: ['exp'],
      });
      const granted = typeof payload['scope'] === 'string' ? payload['scope'].split(' ') : [];
      if (!this.o.scopes.every((s) => granted.includes(s))) return refuse('the access token lacks a required scope', 'insufficient_scope');
      const p = payload[this.o.principalClaim];
      if (typeof p !== 'string' || !PRINTABLE.test(p)) return refuse(`the access token's ${this.o.principalClaim} is not a usable principal`);
      const cnf = payload['cnf'] as Record<string, unknown> | undefined;
      const bound = typeof cnf?.['jkt'] === 'string' ? cnf['jkt'] : null;
      if (dpop === undefined && (bound !== null || this.o.dpop === 'require')) return refuse(bound !== null ? 'a DPoP-bound access token must be sent with a DPoP proof' : 'this gateway requires DPoP-bound access tokens');
      let proof: DpopProof | undefined;
      if (dpop !== undefined) {
        if (bound === null) return refuse('a DPoP access token must be bound to a key (cnf.jkt)');
        const checked = await this.proofs.inspect(dpop.proof, dpop.method, this.resource(name), token);
        if ('refused' in checked) return refuse(checked.refused);
        if (checked.jkt !== bound) return refuse('the DPoP proof is not signed by the key the access token is bound to');
        proof = checked;
      }
      const jkt = proof?.jkt;
      // Recorded as the token says them, within the bounds a record takes (the issuer is the configured one).
      const sub = typeof payload.sub === 'string' && PRINTABLE.test(payload.sub) ? payload.sub : p;
      const binding: CallerBinding = { iss: this.o.issuer, sub, tokenDigest: `sha256:${createHash('sha256').update(token).digest('hex')}`, ...(jkt ? { jkt } : {}) };
      // Its own name space: an access token can never name a configured caller (`alice` vs `oauth:alice`).
      const admit = proof === undefined ? undefined : async (): Promise<Refusal | null> => {
        const refused = await this.proofs.record(proof);
        return refused === null ? null : refuse(refused.refused);
      };
      return { principal: `oauth:${p}`, binding, ...(admit ? { admit } : {}) };
    } catch (e) {
      const why = e instanceof errors.JWTExpired ? 'the access token has expired'
        : e instanceof errors.JWTClaimValidationFailed ? `the access token's ${e.claim} is not accepted`
          : 'the access token is not valid';
      return refuse(why);
    }
  }
}
