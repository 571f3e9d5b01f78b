/**
 * The gatekeeper policy: what a server accepts (docs/gate-policy.md, JSON Schema in
 * docs/gate-policy.schema.json). YAML or JSON text, closed schema, every problem listed:
 *
 * ```yaml
 * version: 1
 * required: true                  # every tools/call must carry a valid attestation
 * acceptedAlgorithms: [ES256, EdDSA]
 * maxTtlSeconds: 300              # largest expSeconds accepted
 * clockSkewSeconds: 30            # SEP-2787's fixed skew
 * redacted: refuse                # a redacted argsProjection commits to less than the call
 * issuers:                        # trusted issuers, as in a trust policy
 *   - {iss: "issuer://…", alg: ES256, keyId: "…", publicKeyJwk: {…}}
 *   - {iss: "issuer://ci", alg: HS256, keyId: v1, secretFile: ci.secret}
 * trustFiles: [agent-trust.json]  # issuers of `mcp-attest trust export` files, trusted too
 * credentialIssuers: [{id: "idp:acme", …}]  # agent credential issuers (docs/identity.md), as in a trust policy
 * tools:
 *   delete_file: {requireCapability: [filesystem.delete]}
 *   drop_database: {deny: true}
 * toolChanges: refuse             # a tool whose definition changed since pinned: warn | hide | refuse
 * responseReceipts: true          # sign a response receipt into result._meta
 * serverFingerprint: "sha256:…"   # this server's identity (default: from its key)
 * nonceStore: {maxEntries: 1000000}
 * ```
 * File names are relative to the policy file. Pure parsing here; {@link loadGatePolicy}
 * reads the files.
 */
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../store/read-regular.js';
import { dirname, normalize, resolve } from 'node:path';
import { parseStrictYaml } from './yaml.js';
import { AttestError, isAttestError } from '../errors.js';
import { isAlgName, type AlgName } from '../keys/algorithms.js';
import { importPublicJwk, importSecret } from '../keys/material.js';
import { checkObject, isObject, type ObjectSchema } from '../envelope/schema.js';
import type { KeyResolver } from '../envelope/signature.js';
import { canonicalize } from '../jcs/index.js';
import { checkCredentialIssuers, type CredentialIssuer } from '../identity/issuers.js';
import { conflictingIssuers, reservedIssuers, parseTrustPolicy, policyKeyResolver, secretId, type TrustedIssuer } from '../verify/policy.js';

/** Per-tool rule. `requireCapability: true` demands any non-empty `requestedCapability`; a list demands one of its values. */
export interface ToolRule {
  deny?: boolean;
  requireCapability?: true | string[];
}

/** What happens to a tool whose definition changed since it was pinned (docs/tool-pinning.md). */
export type ToolChangeAction = 'warn' | 'hide' | 'refuse';

/** A trusted issuer in a gate policy: a trust-policy issuer, or an HS256 one with its secret file. */
export interface GateIssuer extends TrustedIssuer {
  secretFile?: string;
}

/** The parsed policy (defaults filled in). */
export interface GatePolicy {
  version: 1;
  required: boolean;
  acceptedAlgorithms: AlgName[];
  maxTtlSeconds: number;
  clockSkewSeconds: number;
  redacted: 'accept' | 'refuse';
  requireLowS: boolean;
  issuers: GateIssuer[];
  trustFiles: string[];
  /** Agent credential issuers (docs/identity.md): the policy's own, and once loaded those of its trust files. */
  credentialIssuers: CredentialIssuer[];
  tools: Record<string, ToolRule>;
  toolChanges: ToolChangeAction;
  responseReceipts: boolean;
  serverFingerprint: string | null;
  nonceStore: { maxEntries: number };
}

const TOP: ObjectSchema = {
  version: ['integer', true], required: ['boolean', false], acceptedAlgorithms: ['array', false],
  maxTtlSeconds: ['count', false], clockSkewSeconds: ['count', false], redacted: ['string', false],
  requireLowS: ['boolean', false], issuers: ['array', false], trustFiles: ['array', false], tools: ['object', false],
  toolChanges: ['string', false], responseReceipts: ['boolean', false], serverFingerprint: ['nonempty', false],
  nonceStore: ['object', false], credentialIssuers: ['array', false],
};
const ISSUER: ObjectSchema = { iss: ['nonempty', true], alg: ['string', true], keyId: ['nonempty', true], publicKeyJwk: ['object', false], secretFile: ['nonempty', false] };
const RULE: ObjectSchema = { deny: ['boolean', false], requireCapability: ['boolean', false] };
const STORE: ObjectSchema = { maxEntries: ['count', false] };
/** Largest `clockSkewSeconds` a policy may set; nonces are held for at least this beyond their expiry. */
export const MAX_SKEW_SECONDS = 300;
/** Largest policy file, bytes. */
const MAX_POLICY_BYTES = 1 << 20;

function problem(list: string[], cond: boolean, text: string): void {
  if (cond) list.push(text);
}

function checkIssuers(v: unknown, problems: string[]): void {
  (Array.isArray(v) ? v : []).forEach((x, i) => {
    const o = checkObject(x, ISSUER, `.issuers[${i}]`, problems);
    if (!o) return;
    problem(problems, !isAlgName(o['alg']), `.issuers[${i}].alg: unsupported (ES256, EdDSA, RS256, HS256)`);
    problem(problems, o['alg'] === 'HS256' && o['secretFile'] === undefined, `.issuers[${i}].secretFile: an HS256 issuer needs its secret file`);
    problem(problems, o['alg'] !== 'HS256' && !isObject(o['publicKeyJwk']), `.issuers[${i}].publicKeyJwk: missing`);
  });
}

function checkTools(v: unknown, problems: string[]): void {
  if (!isObject(v)) return;
  for (const [name, rule] of Object.entries(v)) {
    const path = `.tools[${JSON.stringify(name)}]`;
    const cap = isObject(rule) ? rule['requireCapability'] : undefined;
    // requireCapability is a boolean or a list of strings: check the list form by hand.
    const o = checkObject(Array.isArray(cap) ? { ...rule as object, requireCapability: true } : rule, RULE, path, problems);
    if (!o) continue;
    problem(problems, cap === false, `${path}.requireCapability: omit it instead of false`);
    problem(problems, Array.isArray(cap) && (cap.length === 0 || cap.some((c) => typeof c !== 'string' || c === '')), `${path}.requireCapability: a list of non-empty strings`);
    problem(problems, o['deny'] === false && Object.keys(o).length === 1, `${path}: an empty rule`);
  }
}

/** Parse policy text (YAML 1.2, of which JSON is a subset). Throws `ERR_POLICY_INVALID` listing every problem. */
export function parseGatePolicy(text: string): GatePolicy {
  if (text.length > MAX_POLICY_BYTES) throw new AttestError('ERR_POLICY_INVALID', 'policy file is larger than 1 MiB');
  let v: unknown;
  try {
    v = parseStrictYaml(text, 100);
  } catch (e) {
    throw new AttestError('ERR_POLICY_INVALID', `policy is not valid YAML or JSON: ${(e as Error).message}`, { cause: e });
  }
  const problems: string[] = [];
  let credentialIssuers: CredentialIssuer[] = [];
  const top = checkObject(v, TOP, '', problems);
  if (top) {
    problem(problems, top['version'] !== 1, '.version: must be 1');
    for (const a of Array.isArray(top['acceptedAlgorithms']) ? top['acceptedAlgorithms'] : []) problem(problems, !isAlgName(a), `.acceptedAlgorithms: unsupported ${JSON.stringify(a)}`);
    problem(problems, top['redacted'] !== undefined && top['redacted'] !== 'accept' && top['redacted'] !== 'refuse', '.redacted: accept or refuse');
    problem(problems, top['toolChanges'] !== undefined && !['warn', 'hide', 'refuse'].includes(top['toolChanges'] as string), '.toolChanges: warn, hide or refuse');
    problem(problems, (Array.isArray(top['trustFiles']) ? top['trustFiles'] : []).some((f) => typeof f !== 'string' || f === ''), '.trustFiles: a list of file names');
    problem(problems, (top['maxTtlSeconds'] as number) > 86_400, '.maxTtlSeconds: at most 86400');
    problem(problems, (top['clockSkewSeconds'] as number) > MAX_SKEW_SECONDS, `.clockSkewSeconds: at most ${MAX_SKEW_SECONDS}`);
    checkIssuers(top['issuers'], problems);
    if (Array.isArray(top['issuers']) && top['issuers'].every(isObject)) {
      const issuers = (top['issuers'] as unknown as GateIssuer[]).map((i) => (typeof i.secretFile === 'string' ? { ...i, secretFile: normalize(i.secretFile) } : i));
      for (const [i, first] of conflictingIssuers(issuers)) problems.push(`.issuers[${i}]: the issuer and key id of .issuers[${first}] with another key`);
      reservedIssuers(top['issuers'] as unknown[], problems);
    }
    credentialIssuers = checkCredentialIssuers(top['credentialIssuers'], problems);
    checkTools(top['tools'], problems);
    const store = top['nonceStore'] === undefined ? null : checkObject(top['nonceStore'], STORE, '.nonceStore', problems);
    problem(problems, store !== null && store['maxEntries'] === 0, '.nonceStore.maxEntries: at least 1');
    problem(problems, top['required'] !== false && !Array.isArray(top['issuers']) && !Array.isArray(top['trustFiles']), '.issuers: attestations are required but no issuer is trusted (give issuers or trustFiles)');
  }
  if (problems.length > 0) throw new AttestError('ERR_POLICY_INVALID', problems.join('; '), { found: problems });
  const p = top as Record<string, unknown>;
  return {
    version: 1,
    required: (p['required'] ?? true) as boolean,
    acceptedAlgorithms: (p['acceptedAlgorithms'] ?? ['ES256', 'EdDSA', 'RS256', 'HS256']) as AlgName[],
    maxTtlSeconds: (p['maxTtlSeconds'] ?? 300) as number,
    clockSkewSeconds: (p['clockSkewSeconds'] ?? 30) as number,
    redacted: (p['redacted'] ?? 'refuse') as 'accept' | 'refuse',
    requireLowS: (p['requireLowS'] ?? false) as boolean,
    issuers: (p['issuers'] ?? []) as GateIssuer[],
    trustFiles: (p['trustFiles'] ?? []) as string[],
    credentialIssuers,
    tools: (p['tools'] ?? {}) as Record<string, ToolRule>,
    toolChanges: (p['toolChanges'] ?? 'refuse') as ToolChangeAction,
    responseReceipts: (p['responseReceipts'] ?? true) as boolean,
    serverFingerprint: (p['serverFingerprint'] ?? null) as string | null,
    nonceStore: { maxEntries: ((p['nonceStore'] as Record<string, unknown> | undefined)?.['maxEntries'] ?? 1_000_000) as number },
  };
}

/** A policy with its key material loaded. */
export interface LoadedGatePolicy {
  policy: GatePolicy;
  /** Every trusted issuer: the policy's own and those of its trust files. */
  issuers: GateIssuer[];
  keys: KeyResolver;
}

/**
 * A policy, trust or secret file: a regular file of at most 1 MiB (store/read-regular.ts: a
 * FIFO or device is never opened, a larger file never read). `io`: a file that cannot be read
 * stays `ERR_STORE_IO`, not a policy problem; `secret`: a file others may read or write is
 * `ERR_KEY_EXPOSED`.
 */
function readPolicyFile(path: string, what: string, io = false, secret = false): Buffer {
  try {
    return readRegularFile(path, MAX_CONFIG_FILE_BYTES, { follow: true, what, secret });
  } catch (e) {
    if ((io && isAttestError(e, 'ERR_STORE_IO')) || isAttestError(e, 'ERR_KEY_EXPOSED')) throw e;
    throw new AttestError('ERR_POLICY_INVALID', (e as Error).message, { path, cause: e });
  }
}

/**
 * Read and parse a policy file, then its trust files and HS256 secret files (relative to
 * the policy file's directory). Throws `ERR_STORE_IO` when the policy file itself cannot be
 * read (missing, unreadable: exit 3, as every input file), and `ERR_POLICY_INVALID` on any
 * other problem, naming the file (a trust or secret file it names that is missing too).
 */
export async function loadGatePolicy(path: string): Promise<LoadedGatePolicy> {
  const policy = parseGatePolicy(readPolicyFile(path, 'policy file', true).toString('utf8'));
  const base = dirname(resolve(path));
  const issuers: Array<GateIssuer & { from: string }> = policy.issuers.map((i) => ({ ...i, from: path }));
  const grants: unknown[] = [...policy.credentialIssuers];
  for (const f of policy.trustFiles) {
    const file = resolve(base, f);
    try {
      const trust = parseTrustPolicy(readPolicyFile(file, 'trust file').toString('utf8'));
      issuers.push(...trust.issuers.map((i) => ({ ...i, from: file })));
      grants.push(...trust.credentialIssuers ?? []);
    } catch (e) {
      throw new AttestError('ERR_POLICY_INVALID', `trust file ${file}: ${(e as Error).message}`, { path: file, cause: e });
    }
  }
  // One key per (iss, alg, keyId) over every file: which one checked a signature is never left to the files' order.
  const clash = conflictingIssuers(issuers.map(({ from: _from, ...i }) => (i.secretFile === undefined ? i : { ...i, secretFile: resolve(base, i.secretFile) })))[0];
  if (clash) {
    const [a, b] = [issuers[clash[1]]!, issuers[clash[0]]!];
    throw new AttestError('ERR_POLICY_INVALID', `${path}: issuer ${a.iss} (${a.alg}, key id ${a.keyId}) is given two different keys, in ${a.from} and ${b.from}`, { path: b.from });
  }
  // One grant per issuer id over every file (the same grant twice is one; two differing grants are a problem).
  const problems: string[] = [];
  policy.credentialIssuers = checkCredentialIssuers([...new Map(grants.map((g) => [canonicalize(g), g])).values()], problems);
  if (problems.length > 0) throw new AttestError('ERR_POLICY_INVALID', `${path}: credential issuers: ${problems.join('; ')}`, { path, found: problems });
  const secrets = new Map<string, CryptoKey>();
  for (const i of issuers) {
    // A key that cannot be imported is a startup error, not a silent key_unavailable later.
    const unusable = (e: unknown): never => { throw new AttestError('ERR_POLICY_INVALID', `${i.from}: issuer ${i.iss} (${i.keyId}): unusable key: ${(e as Error).message}`, { path: i.from, cause: e }); };
    if (i.alg !== 'HS256') {
      await importPublicJwk(i.alg, i.publicKeyJwk!).catch(unusable);
      continue;
    }
    if (i.secretFile === undefined) throw new AttestError('ERR_POLICY_INVALID', `${i.from}: HS256 issuer ${i.iss} has no secretFile`, { path: i.from });
    const file = resolve(base, i.secretFile);
    secrets.set(secretId(i.iss, i.keyId), await importSecret(new Uint8Array(readPolicyFile(file, 'secret file', false, true))).catch((e: unknown) => unusable(new Error(`secret file ${file}: ${(e as Error).message}`))));
  }
  // A secret file named two ways (`s.key`, `./s.key`) is one: the resolver compares them as the check above did.
  const trusted: GateIssuer[] = issuers.map(({ from: _from, ...i }) => (i.secretFile === undefined ? i : { ...i, secretFile: resolve(base, i.secretFile) }));
  return { policy, issuers: trusted, keys: policyKeyResolver({ issuers: trusted } as Parameters<typeof policyKeyResolver>[0], secrets) };
}
