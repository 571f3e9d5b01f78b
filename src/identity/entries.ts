/**
 * The identity log's entries (docs/identity.md "The identity log"): each entry is the RFC 8785
 * bytes of one record naming its own index and carrying one credential or revocation:
 *
 * ```
 * {"type":"mcp-attest/identity@1","index":"<decimal>","statement":{credential or revocation}}
 * ```
 *
 * Entry 0 is the log's parameters entry (always public: the identity log is read whole by
 * every verifier). {@link IdentityIndex} is what a gatekeeper or verifier knows of a prefix of
 * the log: each credential by id, every revocation, so a chain and the revocations that could
 * end it are found without a scan. Runtime-neutral.
 */
import { AttestError } from '../errors.js';
import { canonicalBytes, parseJsonBytes, type JsonValue } from '../jcs/index.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import { CREDENTIAL_TYPE, parseCredential, parseRevocation, type Credential, type Revocation } from './credential.js';
import type { LoggedCredential, LoggedRevocation } from './decide.js';

/** The `type` of an identity log entry's record. */
export const IDENTITY_RECORD = 'mcp-attest/identity@1';
/** A credential or a revocation. */
export type IdentityStatement = Credential | Revocation;

const RECORD: ObjectSchema = { type: ['string', true], index: ['string', true], statement: ['object', true] };

/** The entry bytes of `statement` at `index`. */
export function encodeIdentityRecord(index: bigint, statement: IdentityStatement): Uint8Array {
  return canonicalBytes({ type: IDENTITY_RECORD, index: index.toString(), statement: statement as unknown as JsonValue });
}

/**
 * Parse the identity entry at `index` strictly: a record of this type naming `index`, its
 * statement a credential or revocation (strict, closed schemas). Throws the strict JSON codes,
 * `ERR_CREDENTIAL_MALFORMED`.
 */
export function decodeIdentityRecord(bytes: Uint8Array, index: bigint): IdentityStatement {
  const problems: string[] = [];
  const r = checkObject(parseJsonBytes(bytes, { maxBytes: 65_535, maxDepth: 16 }), RECORD, '', problems);
  if (r && r['type'] !== IDENTITY_RECORD) problems.push(`.type: must be ${IDENTITY_RECORD}`);
  if (r && r['index'] !== index.toString()) problems.push(`.index: must be ${index} (the entry's position)`);
  if (!r || problems.length > 0) throw new AttestError('ERR_CREDENTIAL_MALFORMED', `identity entry ${index}: ${problems.join('; ')}`, { index });
  const s = r['statement'];
  return isObject(s) && s['type'] === CREDENTIAL_TYPE ? parseCredential(s as JsonValue) : parseRevocation(s as JsonValue);
}

/** Why a chain could not be assembled from the log. */
export type ChainProblem = 'unknown' | 'ambiguous' | 'cycle';

/**
 * What is known of a prefix of the identity log: credentials by id, revocations in log order.
 * Entries are added in index order ({@link add}); a credential id logged twice makes every
 * chain through it ambiguous (ids are chosen by whoever signs a credential, so a second entry
 * under one id is never trusted to be "the" credential).
 */
export class IdentityIndex {
  private readonly byId = new Map<string, LoggedCredential[]>();
  private readonly revoked: LoggedRevocation[] = [];
  private readonly revokedById = new Map<string, LoggedRevocation[]>();
  /** By key id (RFC 7638 thumbprint): the earliest `notBefore` of the credentials naming that key, and one of their ids. */
  private readonly byKey = new Map<string, { since: number; id: string }>();
  /** The size of the prefix added so far (every index below it). */
  size: bigint;

  /** An index of the log from entry `start` on (a bundle's range; 0: the whole log). */
  constructor(readonly start = 0n) {
    this.size = start;
  }

  /** Add the entry at `index` (must be {@link size}: in order); a revocation with the time the witness quorum first covered it (POSIX seconds), when known. */
  add(index: bigint, statement: IdentityStatement | null, witnessedAt?: number): void {
    if (index !== this.size) throw new AttestError('ERR_STORE_CORRUPT', `identity entry ${index} added out of order (expected ${this.size})`);
    this.size = index + 1n;
    if (statement === null) return;
    if (statement.type === CREDENTIAL_TYPE) {
      const list = this.byId.get(statement.id) ?? [];
      list.push({ credential: statement, index });
      this.byId.set(statement.id, list);
      const key = this.byKey.get(statement.key.keyId);
      if (key === undefined || statement.notBefore < key.since) this.byKey.set(statement.key.keyId, { since: statement.notBefore, id: statement.id });
    } else {
      const r: LoggedRevocation = { revocation: statement, index, ...(witnessedAt !== undefined ? { witnessedAt } : {}) };
      this.revoked.push(r);
      const list = this.revokedById.get(statement.credential) ?? [];
      list.push(r);
      this.revokedById.set(statement.credential, list);
    }
  }

  /**
   * When the key `keyId` (RFC 7638 thumbprint) was first named by a logged credential: the
   * earliest `notBefore` (POSIX seconds) and one such credential's id; undefined when none names it.
   */
  credentialedSince(keyId: string): { since: number; id: string } | undefined {
    return this.byKey.get(keyId);
  }

  /** True when a credential under `id` is logged (once or more). */
  logged(id: string): boolean {
    return this.byId.has(id);
  }

  /** The credential logged under `id`, or null when none or more than one is. */
  credential(id: string): LoggedCredential | null {
    const list = this.byId.get(id);
    return list?.length === 1 ? list[0]! : null;
  }

  /** The chain ending at `leafId`, root first; a problem when a link is not logged (exactly once) or the parents loop. */
  chain(leafId: string, maxLength = 9): LoggedCredential[] | ChainProblem {
    const chain: LoggedCredential[] = [];
    let id: string | undefined = leafId;
    while (id !== undefined) {
      if (chain.length >= maxLength) return 'cycle';
      const list = this.byId.get(id);
      if (!list) return 'unknown';
      if (list.length > 1) return 'ambiguous';
      chain.unshift(list[0]!);
      id = list[0]!.credential.parent;
    }
    return chain;
  }

  /** Every revocation, in log order. */
  revocations(): LoggedRevocation[] {
    return this.revoked;
  }

  /** The revocations naming any of `ids` (a chain's), in log order: what a decision reads, without scanning every revocation. */
  revocationsOf(ids: readonly string[]): LoggedRevocation[] {
    const out = [...new Set(ids)].flatMap((id) => this.revokedById.get(id) ?? []);
    return out.sort((a, b) => (a.index < b.index ? -1 : 1));
  }

  /** Every credential, in log order. */
  credentials(): LoggedCredential[] {
    return [...this.byId.values()].flat().sort((a, b) => (a.index < b.index ? -1 : 1));
  }
}
