/**
 * `mcp-attest init`, `mcp-attest trust export` and `mcp-attest trust merge` (the policies themselves:
 * `trustPolicyOf` in store/identity.ts, `mergeTrustPolicies` in verify/policy.ts).
 */
import type { Command } from 'commander';
import { isAlgName } from '../keys/algorithms.js';
import { initHome, loadIdentity, loadIssuers, trustPolicyOf } from '../store/identity.js';
import { resolveHome } from '../store/home.js';
import { withOwnCredentialIssuer } from '../store/credential-issuer.js';
import { mergeTrustPolicies, parseTrustPolicy } from '../verify/policy.js';
import { readKeyFile } from './keysource.js';
import { loadWitnesses } from '../store/witnesses.js';
import { CliExit, EXIT_USAGE, out, outJson } from './output.js';

function exportPolicy(o: { home?: string; quorum?: string }): void {
  const home = resolveHome(o.home);
  const witnesses = loadWitnesses(home);
  const quorum = o.quorum === undefined ? undefined : Number(o.quorum);
  if (quorum !== undefined && !(Number.isInteger(quorum) && quorum >= 0 && quorum <= witnesses.length)) {
    throw new CliExit(EXIT_USAGE, `--quorum must be an integer from 0 to the number of configured witnesses (${witnesses.length})`);
  }
  const policy = withOwnCredentialIssuer(home, trustPolicyOf(loadIdentity(home), witnesses, quorum, loadIssuers(home)));
  // Printed only as a verifier reads it: a policy every verifier refuses (one witness key under two names) is refused here, naming what to fix.
  try {
    parseTrustPolicy(JSON.stringify(policy));
  } catch (e) {
    throw new CliExit(EXIT_USAGE, `the trust policy of ${home} would be refused by every verifier: ${(e as Error).message} (fix the witness list: mcp-attest log witnesses list / remove)`, 'ERR_POLICY_INVALID');
  }
  outJson(policy);
}

/** Register `init`, `trust export` and `trust merge`. */
export function registerKeyCommands(program: Command): void {
  program.command('init')
    .description('create the data directory: an issuer key and an Ed25519 log key (never overwritten)')
    .option('--home <dir>', 'data directory')
    .option('--alg <alg>', 'issuer algorithm: ES256, EdDSA, RS256 or HS256', 'ES256')
    .option('--sub <subject>', 'default subject (issuerAsserted.sub)', 'agent:default')
    .option('--origin <origin>', 'log origin (checkpoint first line)')
    .option('--public-log', 'log each record in clear (default: a salted commitment per entry, records kept private; docs/log-format.md)')
    .option('--json', 'print the identity as JSON')
    .action(async (o: { home?: string; alg: string; sub: string; origin?: string; publicLog?: boolean; json?: boolean }) => {
      if (!isAlgName(o.alg)) throw new CliExit(EXIT_USAGE, `unsupported --alg ${o.alg}`);
      // The identity log of a directory is "<origin>/identity": no call log takes such a name.
      if (o.origin?.endsWith('/identity') === true) throw new CliExit(EXIT_USAGE, `--origin ${o.origin}: an origin ending in /identity names an identity log (docs/identity.md)`);
      const home = resolveHome(o.home);
      const id = await initHome(home, { alg: o.alg, sub: o.sub, ...(o.origin ? { origin: o.origin } : {}), entries: o.publicLog ? 'public' : 'private' });
      if (o.json) return outJson(id);
      out(`initialized ${home}\n  issuer  ${id.iss} (${id.issuer.alg}, key ${id.issuer.keyId})\n  log     ${id.log.origin} (entries ${id.log.entries})\n  vkey    ${id.log.vkey}`);
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
    .action((files: string[]) => outJson(mergeTrustPolicies(files.map((f) => parseTrustPolicy(readKeyFile(f, 'trust policy').toString('utf8'))))));
}
