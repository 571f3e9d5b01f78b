/**
 * `mcp-attest init`, `mcp-attest trust export` and `mcp-attest trust merge`.
 */
import type { Command } from 'commander';
import { ALG_NAMES, isAlgName } from '../keys/algorithms.js';
import { initHome, loadIdentity, type Identity } from '../store/identity.js';
import { resolveHome } from '../store/home.js';
import { parseTrustPolicy, type TrustPolicy, type TrustedIssuer } from '../verify/policy.js';
import { AttestError } from '../errors.js';
import { canonicalize } from '../jcs/index.js';
import { readInput } from './keysource.js';
import { loadWitnesses } from '../store/witnesses.js';
import { CliExit, EXIT_USAGE, out, outJson } from './output.js';

/**
 * The trust policy a verifier needs for a data directory: public keys only. `witnesses` are
 * the log's configured witnesses (name and vkey); `quorum` defaults to a majority of them
 * (floor(n/2) + 1; 0 with none).
 */
export function trustPolicyOf(identity: Identity, witnesses: Array<{ name: string; vkey: string }> = [], quorum?: number): TrustPolicy {
  const issuer = { iss: identity.iss, alg: identity.issuer.alg, keyId: identity.issuer.keyId, ...(identity.issuer.publicKeyJwk ? { publicKeyJwk: identity.issuer.publicKeyJwk } : {}) };
  return {
    version: 1, issuers: [issuer], logs: [{ origin: identity.log.origin, vkey: identity.log.vkey }],
    witnesses: witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
    quorum: quorum ?? (witnesses.length === 0 ? 0 : Math.floor(witnesses.length / 2) + 1), parties: [],
    acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30,
  };
}

function exportPolicy(o: { home?: string; quorum?: string }): void {
  const home = resolveHome(o.home);
  const witnesses = loadWitnesses(home);
  const quorum = o.quorum === undefined ? undefined : Number(o.quorum);
  if (quorum !== undefined && !(Number.isInteger(quorum) && quorum >= 0 && quorum <= witnesses.length)) {
    throw new CliExit(EXIT_USAGE, `--quorum must be an integer from 0 to the number of configured witnesses (${witnesses.length})`);
  }
  outJson(trustPolicyOf(loadIdentity(home), witnesses, quorum));
}

/** Register `init`, `trust export` and `trust merge`. */
export function registerKeyCommands(program: Command): void {
  program.command('init')
    .description('create the data directory: an issuer key and an Ed25519 log key (never overwritten)')
    .option('--home <dir>', 'data directory')
    .option('--alg <alg>', 'issuer algorithm: ES256, EdDSA, RS256 or HS256', 'ES256')
    .option('--sub <subject>', 'default subject (issuerAsserted.sub)', 'agent:default')
    .option('--origin <origin>', 'log origin (checkpoint first line)')
    .option('--json', 'print the identity as JSON')
    .action(async (o: { home?: string; alg: string; sub: string; origin?: string; json?: boolean }) => {
      if (!isAlgName(o.alg)) throw new CliExit(EXIT_USAGE, `unsupported --alg ${o.alg}`);
      const home = resolveHome(o.home);
      const id = await initHome(home, { alg: o.alg, sub: o.sub, ...(o.origin ? { origin: o.origin } : {}) });
      if (o.json) return outJson(id);
      out(`initialized ${home}\n  issuer  ${id.iss} (${id.issuer.alg}, key ${id.issuer.keyId})\n  log     ${id.log.origin}\n  vkey    ${id.log.vkey}`);
    });
  const trust = program.command('trust').description('trust policies for verifiers');
  trust.command('export')
    .description('print the trust policy (public keys, ids, algorithms, witness keys and quorum) a verifier needs, as JSON')
    .option('--home <dir>', 'data directory')
    .option('--quorum <k>', 'how many of the configured witnesses must cosign (default: a majority)')
    .action(exportPolicy);
  trust.command('merge')
    .description('print one trust policy trusting everything the given ones do (e.g. the agent\'s and the gatekeeper\'s), as JSON')
    .argument('<files...>', 'trust policy files')
    .action((files: string[]) => outJson(mergeTrustPolicies(files.map((f) => parseTrustPolicy(readInput(f).toString('utf8'))))));
}

/**
 * Union of trust policies: every issuer, log, witness and party of each (duplicates once; a
 * party's roles are united), the
 * largest quorum, the accepted algorithms all of them accept, the smallest clock skew. Throws `ERR_POLICY_INVALID` when
 * the same issuer id and key id name different keys, or the union is not a valid policy.
 */
export function mergeTrustPolicies(policies: TrustPolicy[]): TrustPolicy {
  const issuers = new Map<string, TrustedIssuer>();
  for (const i of policies.flatMap((p) => p.issuers)) {
    const id = `${i.iss}\n${i.alg}\n${i.keyId}`;
    const had = issuers.get(id);
    if (had && canonicalize(had as never) !== canonicalize(i as never)) throw new AttestError('ERR_POLICY_INVALID', `issuer ${i.iss} key ${i.keyId} differs between the policies`);
    issuers.set(id, i);
  }
  const logs = new Map(policies.flatMap((p) => p.logs).map((l) => [`${l.origin}\n${l.vkey}`, l]));
  const witnesses = new Map(policies.flatMap((p) => p.witnesses).map((w) => [w.vkey, w]));
  const parties = new Map<string, TrustPolicy['parties'][number]>();
  for (const party of policies.flatMap((p) => p.parties)) {
    const id = `${party.id}\n${party.keyId}`;
    const had = parties.get(id);
    parties.set(id, had ? { ...had, roles: [...new Set([...had.roles, ...party.roles])].sort() } : party);
  }
  const merged: TrustPolicy = {
    version: 1, issuers: [...issuers.values()], logs: [...logs.values()], witnesses: [...witnesses.values()],
    quorum: Math.max(0, ...policies.map((p) => p.quorum)), parties: [...parties.values()],
    acceptedAlgorithms: ALG_NAMES.filter((a) => policies.every((p) => p.acceptedAlgorithms.includes(a))),
    clockSkewSeconds: Math.min(...policies.map((p) => p.clockSkewSeconds)),
  };
  // The union must itself be a valid policy (e.g. one witness key under two names is not).
  return parseTrustPolicy(JSON.stringify(merged));
}
