/**
 * Agent credentials and their revocations (docs/identity.md): signed JSON under our envelope
 * rule (lowercase hex signature over the RFC 8785 bytes without `signature`), closed schemas,
 * strict parsing. A credential binds an opaque, never-reassigned `subject` to an agent's
 * public key for a window of at most a day, within servers and tools; a sub-agent's
 * credential is signed by its parent's key and may only narrow. A revocation names the
 * credential it ends. Runtime-neutral (WebCrypto).
 * @see docs/identity.md "Objects"
 */
import { AttestError } from '../errors.js';
import { canonicalBytes, parseJson, type JsonValue } from '../jcs/index.js';
import { sha256Tagged } from '../bytes/digest.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import { signEnvelope, type SignFn } from '../envelope/sign.js';
import { signingInput, verifyHexSignature } from '../envelope/signature.js';
import { isAlgName, type AlgName } from '../keys/algorithms.js';
import { importPublicJwk, jwkThumbprint, type PublicJwk } from '../keys/material.js';

/** The `type` of a credential. */
export const CREDENTIAL_TYPE = 'mcp-attest/credential@1';
/** The `type` of a revocation. */
export const REVOCATION_TYPE = 'mcp-attest/revocation@1';
/** A credential id: `cred_` and 22 base64url characters (16 random bytes). */
export const CREDENTIAL_ID = /^cred_[A-Za-z0-9_-]{22}$/;
/** Largest credential or revocation, in bytes of JSON. */
export const MAX_CREDENTIAL_BYTES = 64 * 1024;
/** Most servers or tool patterns one credential lists. */
export const MAX_SCOPE_ITEMS = 256;

/** A public key as credentials carry it: algorithm, RFC 7638 thumbprint, the JWK. */
export interface CredentialKey { alg: Exclude<AlgName, 'HS256'>; keyId: string; publicKeyJwk: PublicJwk }

/** A credential (see the module comment); times are POSIX seconds. */
export interface Credential {
  type: typeof CREDENTIAL_TYPE;
  id: string;
  /** The credential issuer at the root of the chain (an id of the trust policy's `credentialIssuers`). */
  issuer: string;
  /** The parent credential's id; absent for a root credential (signed by the issuer's key). */
  parent?: string;
  subject: string;
  key: CredentialKey;
  notBefore: number;
  notAfter: number;
  /** Server fingerprints allowed; absent: any. */
  servers?: string[];
  /** Tool names allowed (`name`, or `prefix*`); absent: any. */
  tools?: string[];
  /** Delegations that may still follow this credential. */
  maxDepth: number;
  /** An OAuth DPoP key thumbprint (`jkt`) or a validated token's digest the credential is bound to. */
  binding?: { jkt?: string; tokenDigest?: string };
  signature: string;
}

/**
 * A revocation: the credential it ends, by id and by digest ({@link credentialDigest}: ids are
 * chosen by whoever signs a credential, so an id alone could name another's), the root
 * issuer, who signed (key thumbprint), why.
 */
export interface Revocation { type: typeof REVOCATION_TYPE; credential: string; credentialDigest: string; issuer: string; signerKeyId: string; reason?: string; signature: string }

const KEY: ObjectSchema = { alg: ['string', true], keyId: ['nonempty', true], publicKeyJwk: ['object', true] };
const CREDENTIAL: ObjectSchema = {
  type: ['string', true], id: ['string', true], issuer: ['nonempty', true], parent: ['string', false], subject: ['nonempty', true],
  key: ['object', true], notBefore: ['count', true], notAfter: ['count', true], servers: ['array', false], tools: ['array', false],
  maxDepth: ['count', true], binding: ['object', false], signature: ['hex', true],
};
const BINDING: ObjectSchema = { jkt: ['nonempty', false], tokenDigest: ['digest', false] };
const REVOCATION: ObjectSchema = {
  type: ['string', true], credential: ['string', true], credentialDigest: ['digest', true], issuer: ['nonempty', true], signerKeyId: ['nonempty', true],
  reason: ['string', false], signature: ['hex', true],
};
/** A server fingerprint as a credential (and an issuer's grant) lists it: `sha256:<64 lowercase hex>`. */
export const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

function malformed(problems: string[]): AttestError {
  return new AttestError('ERR_CREDENTIAL_MALFORMED', problems.join('; '), { found: problems });
}

function parseText(input: string | Uint8Array | JsonValue): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return input;
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  return parseJson(text, { maxBytes: MAX_CREDENTIAL_BYTES, maxDepth: 16 });
}

/** A list of non-empty strings, at most {@link MAX_SCOPE_ITEMS}, none twice. */
function checkList(v: unknown, path: string, problems: string[]): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || v.length > MAX_SCOPE_ITEMS || !v.every((x) => typeof x === 'string' && x !== '') || new Set(v).size !== v.length) {
    problems.push(`${path}: at most ${MAX_SCOPE_ITEMS} distinct non-empty strings`);
  }
}

/** Check a credential key: a public-key algorithm, `keyId` the thumbprint of the JWK. */
export function checkKey(v: unknown, path: string, problems: string[]): void {
  const k = checkObject(v, KEY, path, problems);
  if (!k) return;
  if (!isAlgName(k['alg']) || k['alg'] === 'HS256') problems.push(`${path}.alg: a public-key algorithm`);
  try {
    if (isObject(k['publicKeyJwk']) && jwkThumbprint(k['publicKeyJwk'] as unknown as PublicJwk) !== k['keyId']) problems.push(`${path}.keyId: not the thumbprint of publicKeyJwk`);
  } catch {
    problems.push(`${path}.publicKeyJwk: not a public key`);
  }
}

/**
 * Parse a credential strictly (text, bytes or a parsed value). Throws the strict JSON codes
 * and `ERR_CREDENTIAL_MALFORMED` listing every problem (unknown members included).
 */
export function parseCredential(input: string | Uint8Array | JsonValue): Credential {
  const problems: string[] = [];
  const c = checkObject(parseText(input), CREDENTIAL, '', problems);
  if (c) {
    if (c['type'] !== CREDENTIAL_TYPE) problems.push(`.type: must be ${CREDENTIAL_TYPE}`);
    if (typeof c['id'] !== 'string' || !CREDENTIAL_ID.test(c['id'])) problems.push('.id: cred_ and 22 base64url characters');
    if (c['parent'] !== undefined && (typeof c['parent'] !== 'string' || !CREDENTIAL_ID.test(c['parent']))) problems.push('.parent: a credential id');
    checkKey(c['key'], '.key', problems);
    if (typeof c['notBefore'] === 'number' && typeof c['notAfter'] === 'number' && c['notAfter'] <= c['notBefore']) problems.push('.notAfter: after notBefore');
    checkList(c['servers'], '.servers', problems);
    if (Array.isArray(c['servers']) && !c['servers'].every((x) => typeof x === 'string' && FINGERPRINT.test(x))) problems.push('.servers: server fingerprints (sha256:<64 hex>)');
    checkList(c['tools'], '.tools', problems);
    if (c['binding'] !== undefined) checkObject(c['binding'], BINDING, '.binding', problems);
  }
  if (problems.length > 0) throw malformed(problems);
  return c as unknown as Credential;
}

/** Parse a revocation strictly. Throws the strict JSON codes and `ERR_CREDENTIAL_MALFORMED`. */
export function parseRevocation(input: string | Uint8Array | JsonValue): Revocation {
  const problems: string[] = [];
  const r = checkObject(parseText(input), REVOCATION, '', problems);
  if (r) {
    if (r['type'] !== REVOCATION_TYPE) problems.push(`.type: must be ${REVOCATION_TYPE}`);
    if (typeof r['credential'] !== 'string' || !CREDENTIAL_ID.test(r['credential'])) problems.push('.credential: a credential id');
  }
  if (problems.length > 0) throw malformed(problems);
  return r as unknown as Revocation;
}

const digests = new WeakMap<Credential, string>();

/**
 * The digest a revocation names its credential by: `sha256:` over the RFC 8785 bytes of the
 * whole signed credential. Computed once per credential object (a parsed credential is never
 * changed: every caller treats them as immutable).
 */
export function credentialDigest(c: Credential): string {
  let d = digests.get(c);
  if (d === undefined) digests.set(c, (d = sha256Tagged(canonicalBytes(c as unknown as JsonValue))));
  return d;
}

const imported = new WeakMap<CredentialKey, Promise<CryptoKey>>();

/** `key` imported for verifying, once per key object (rejects for a key that cannot be imported). */
export function credentialCryptoKey(key: CredentialKey): Promise<CryptoKey> {
  let k = imported.get(key);
  if (k === undefined) imported.set(key, (k = importPublicJwk(key.alg, key.publicKeyJwk)));
  return k;
}

/** Sign an unsigned credential or revocation with `sign` (the issuer's, or the parent credential's key, of algorithm `alg`). */
export async function signIdentity<T extends Omit<Credential, 'signature'> | Omit<Revocation, 'signature'>>(alg: AlgName, sign: SignFn, unsigned: T): Promise<T & { signature: string }> {
  return signEnvelope({ iss: '', sub: '', alg, keyId: '', sign }, unsigned);
}

const verdicts = new WeakMap<Credential | Revocation, Map<string, Promise<boolean>>>();

/**
 * True when `signed` (a credential or revocation) carries a valid signature by `key` (never
 * throws). Decided once per statement object and key (`alg` and RFC 7638 thumbprint, which
 * every parsed key is checked to match): a gatekeeper or verifier deciding many calls under
 * one chain verifies each link once.
 */
export function signedBy(signed: Credential | Revocation, key: CredentialKey): Promise<boolean> {
  let byKey = verdicts.get(signed);
  if (byKey === undefined) verdicts.set(signed, (byKey = new Map()));
  const id = `${key.alg}:${key.keyId}`;
  let v = byKey.get(id);
  if (v === undefined) byKey.set(id, (v = verify(signed, key)));
  return v;
}

async function verify(signed: Credential | Revocation, key: CredentialKey): Promise<boolean> {
  try {
    const k = await credentialCryptoKey(key);
    return await verifyHexSignature(key.alg, k, signingInput(signed as unknown as Record<string, unknown>), signed.signature, { requireLowS: key.alg === 'ES256' });
  } catch {
    return false;
  }
}
