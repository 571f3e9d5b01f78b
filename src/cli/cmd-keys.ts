/**
 * `mcp-attest init` and `mcp-attest trust export`.
 */
import type { Command } from 'commander';
import { isAlgName } from '../keys/algorithms.js';
import { initHome, loadIdentity, type Identity } from '../store/identity.js';
import { resolveHome } from '../store/home.js';
import type { TrustPolicy } from '../verify/policy.js';
import { CliExit, EXIT_USAGE, out, outJson } from './output.js';

/** The trust policy a verifier needs for a data directory: public keys only. */
export function trustPolicyOf(identity: Identity): TrustPolicy {
  const issuer = { iss: identity.iss, alg: identity.issuer.alg, keyId: identity.issuer.keyId, ...(identity.issuer.publicKeyJwk ? { publicKeyJwk: identity.issuer.publicKeyJwk } : {}) };
  return {
    version: 1, issuers: [issuer], logs: [{ origin: identity.log.origin, vkey: identity.log.vkey }],
    witnesses: [], quorum: 0, acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30,
  };
}

/** Register `init` and `trust export`. */
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
    .description('print the trust policy (public keys, ids, algorithms) a verifier needs, as JSON')
    .option('--home <dir>', 'data directory')
    .action((o: { home?: string }) => outJson(trustPolicyOf(loadIdentity(resolveHome(o.home)))));
}
