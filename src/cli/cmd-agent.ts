/**
 * `mcp-attest agent`: agent credentials (docs/identity.md). `agent issuer init` makes a data
 * directory a credential issuer; `agent issue`, `agent renew` and `agent revoke` sign a
 * credential or revocation and append it to the directory's identity log (then sign its
 * checkpoint and send it to the configured witnesses); `agent list` shows what the log holds.
 * A sub-agent's credential is signed by its parent's key: `--signer-home` names the data
 * directory holding it (its issuer key must be the parent credential's key).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { CREDENTIAL_ID, credentialDigest, MAX_CREDENTIAL_BYTES, parseCredential, type Credential } from '../identity/credential.js';
import { MAX_LIFETIME_SECONDS } from '../identity/issuers.js';
import { initCredentialIssuer } from '../store/credential-issuer.js';
import { agentKeyOf, issueCredential, renewCredential, revokeCredential } from '../store/agent-credentials.js';
import { identityOrigin, identityVerifierKey, IdentityLog } from '../store/identity-log.js';
import { loadIdentity } from '../store/identity.js';
import { resolveHome } from '../store/home.js';
import type { WitnessResult } from '../store/witnessing.js';
import { writeSynced } from '../store/synced.js';
import { readInput } from './keysource.js';
import { CliExit, EXIT_USAGE, err, out, outJson } from './output.js';

const csv = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

function whole(flag: string, v: string | undefined, max: number, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(v) || Number(v) > max || Number(v) < min) throw new CliExit(EXIT_USAGE, `${flag} takes a whole number from ${min} to ${max}`);
  return Number(v);
}

function readCredential(path: string): Credential {
  // Read first: a missing or unreadable file is an I/O error (exit 3), not "not a credential".
  const bytes = readInput(path, MAX_CREDENTIAL_BYTES, 'credential');
  try {
    return parseCredential(bytes);
  } catch (e) {
    throw new CliExit(EXIT_USAGE, `${path}: not a credential: ${(e as Error).message}`);
  }
}

function emit(c: object, path: string | undefined): void {
  const text = JSON.stringify(c, null, 2) + '\n';
  if (path === undefined) return out(text.trimEnd());
  writeSynced(path, text, 0o644);
}

/** Report witnesses that did not cosign the identity log's new checkpoint. */
function reportWitnesses(results: WitnessResult[]): void {
  for (const r of results) if (r.status !== 'cosigned' && r.status !== 'already') err(`mcp-attest: witness ${r.witness}: ${r.status}${r.message ? `: ${r.message}` : ''}`);
}

interface IssueFlags { allowRevokedKey?: boolean; home?: string; subject?: string; agentHome?: string; parent?: string; signerHome?: string; tools?: string; servers?: string; ttl?: string; maxDepth?: string; jkt?: string; tokenDigest?: string; out?: string }

async function issue(o: IssueFlags, base: Credential | null): Promise<void> {
  const ttl = whole('--ttl', o.ttl, MAX_LIFETIME_SECONDS, 1);
  const home = resolveHome(o.home);
  loadIdentity(home); // ERR_HOME_MISSING for a path that is no data directory (exit 3), not "no credential issuer"
  const parent = o.parent !== undefined ? readCredential(o.parent) : null;
  const signerHome = o.signerHome === undefined ? undefined : resolveHome(o.signerHome);
  let r: Awaited<ReturnType<typeof issueCredential>>;
  if (base !== null) {
    r = await renewCredential(home, base, { ...(ttl !== undefined ? { ttl } : {}), ...(parent ? { parent } : {}), ...(signerHome ? { signerHome } : {}) });
  } else {
    if (o.subject === undefined || o.agentHome === undefined) throw new CliExit(EXIT_USAGE, 'give --subject and --agent-home (the data directory of the agent whose key the credential names)');
    const [tools, servers, maxDepth] = [csv(o.tools), csv(o.servers), whole('--max-depth', o.maxDepth, 8)];
    const binding = o.jkt !== undefined || o.tokenDigest !== undefined ? { ...(o.jkt ? { jkt: o.jkt } : {}), ...(o.tokenDigest ? { tokenDigest: o.tokenDigest } : {}) } : undefined;
    r = await issueCredential(home, {
      subject: o.subject, key: agentKeyOf(resolveHome(o.agentHome)), ...(ttl !== undefined ? { ttl } : {}), ...(tools ? { tools } : {}), ...(servers ? { servers } : {}),
      ...(maxDepth !== undefined ? { maxDepth } : {}), ...(binding ? { binding } : {}), ...(parent ? { parent } : {}), ...(o.allowRevokedKey ? { allowRevokedKey: true } : {}),
    }, signerHome);
  }
  reportWitnesses(r.witnesses);
  err(`mcp-attest: credential ${r.credential.id} for ${r.credential.subject} logged at identity entry ${r.index}, valid until ${new Date(r.credential.notAfter * 1000).toISOString()}`);
  emit(r.credential, o.out);
}

/** The credential logged under `id` in `home`'s identity log (`agent revoke cred_…`: its file may be gone, or renewed over). `CliExit` 2 when none is. */
function loggedCredential(home: string, id: string): Credential {
  const log = IdentityLog.open(home, false);
  try {
    log?.refresh();
    const found = log?.index.credentials().find((c) => c.credential.id === id);
    if (found === undefined) throw new CliExit(EXIT_USAGE, `credential ${id} is not in the identity log of ${home}`);
    return found.credential;
  } finally {
    log?.close();
  }
}

async function revoke(which: string, o: { home?: string; reason?: string; signerHome?: string }): Promise<void> {
  const home = resolveHome(o.home);
  const credential = CREDENTIAL_ID.test(which) && !existsSync(which) ? loggedCredential(home, which) : readCredential(which);
  const { revocation, index, sameKey } = await revokeCredential(home, credential, o.reason, o.signerHome === undefined ? undefined : resolveHome(o.signerHome));
  out(`revoked ${revocation.credential} at identity entry ${index}`);
  if (sameKey.length > 0) {
    const [them, verb] = sameKey.length === 1 ? ['it', 'names'] : ['them', 'name'];
    err(`mcp-attest: warning: ${sameKey.join(', ')} ${verb} the same key and stay${sameKey.length === 1 ? 's' : ''} valid: if the key leaked, revoke ${them} too ("mcp-attest agent revoke ID" takes an id)`);
  }
}

function list(o: { home?: string; json?: boolean }): void {
  const home = resolveHome(o.home);
  loadIdentity(home); // ERR_HOME_MISSING for a path that is no data directory
  const log = IdentityLog.open(home, false);
  if (log === null) return o.json ? outJson({ size: '0', credentials: [] }) : out('no identity log');
  try {
    const size = log.refresh();
    const now = Math.floor(Date.now() / 1000);
    const revoked = new Map(log.index.revocations().map((r) => [`${r.revocation.credential}\n${r.revocation.credentialDigest}`, r.index]));
    const rows = log.index.credentials().map(({ credential: c, index }) => {
      const at = revoked.get(`${c.id}\n${credentialDigest(c)}`);
      const status = at !== undefined ? `revoked at ${at}` : now > c.notAfter ? 'expired' : now < c.notBefore ? 'not yet valid' : 'valid';
      return { id: c.id, index: index.toString(), subject: c.subject, ...(c.parent ? { parent: c.parent } : {}), notAfter: new Date(c.notAfter * 1000).toISOString(), status };
    });
    if (o.json) return outJson({ size: size.toString(), credentials: rows });
    out([`identity log ${identityOrigin(loadIdentity(home).log.origin)}, size ${size}`, ...rows.map((r) => `${r.index.padStart(6)}  ${r.id}  ${r.subject}  until ${r.notAfter}  ${r.status}`)].join('\n') + (rows.length === 0 ? '\nno credentials' : ''));
  } finally {
    log.close();
  }
}

/** Register `agent issuer init`, `agent issue`, `agent renew`, `agent revoke`, `agent list`. */
export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('agent credentials: issue, renew, revoke and list them in the identity log (docs/identity.md)');
  agent.command('issuer').description('this data directory as a credential issuer').command('init')
    .description('create the credential issuer key and print its trust-policy entry (credentialIssuers)')
    .requiredOption('--id <id>', 'issuer id, e.g. idp:acme').requiredOption('--subject-prefix <prefix>', 'namespace of its subjects, ending in / or :')
    .option('--home <dir>', 'data directory').option('--tools <list>', 'tools it may grant (comma-separated; prefix*)').option('--servers <list>', 'server fingerprints it may grant')
    .option('--max-lifetime <s>', 'longest credential lifetime, seconds (at most 86400)').option('--max-depth <n>', 'deepest delegation (0: no sub-agents)')
    .action(async (o: { home?: string; id: string; subjectPrefix: string; tools?: string; servers?: string; maxLifetime?: string; maxDepth?: string }) => {
      const home = resolveHome(o.home);
      const maxLifetimeSeconds = whole('--max-lifetime', o.maxLifetime, MAX_LIFETIME_SECONDS, 1);
      const maxDepth = whole('--max-depth', o.maxDepth, 8);
      const tools = csv(o.tools);
      const servers = csv(o.servers);
      const entry = await initCredentialIssuer(home, {
        id: o.id, subjectPrefix: o.subjectPrefix, ...(tools ? { tools } : {}), ...(servers ? { servers } : {}),
        ...(maxLifetimeSeconds !== undefined ? { maxLifetimeSeconds } : {}), ...(maxDepth !== undefined ? { maxDepth } : {}),
      });
      err(`mcp-attest: identity log ${identityOrigin(loadIdentity(home).log.origin)}: witnesses take it as --log ${identityOrigin(loadIdentity(home).log.origin)}=${identityVerifierKey(loadIdentity(home))}`);
      outJson(entry);
    });
  agent.command('issue').description('sign a credential, append it to the identity log, print it')
    .option('--home <dir>', 'data directory: the issuer and its identity log')
    .option('--agent-home <dir>', 'the agent\'s data directory: its issuer key is the key the credential names')
    .option('--subject <subject>', 'the agent\'s opaque, never reassigned name (under the issuer\'s prefix, or the parent\'s subject/)')
    .option('--tools <list>', 'tools allowed (comma-separated; prefix*; default: the parent\'s, or the issuer\'s grant)').option('--servers <list>', 'server fingerprints allowed (default as --tools)')
    .option('--ttl <s>', 'lifetime in seconds (default: the issuer\'s longest, at most 86400)').option('--max-depth <n>', 'delegations allowed below it (default 0)')
    .option('--jkt <thumbprint>', 'bind to an OAuth DPoP key (RFC 9449 jkt)').option('--token-digest <sha256:hex>', 'bind to a validated token\'s digest')
    .option('--parent <file>', 'the parent credential, for a sub-agent (signed with --signer-home)')
    .option('--signer-home <dir>', 'a sub-agent\'s: the data directory whose issuer key is the parent credential\'s key')
    .option('--out <file>', 'write the credential here (default: stdout)')
    .option('--allow-revoked-key', 'issue even though a revoked credential named this key (a revocation often means the key leaked)')
    .action((o: IssueFlags) => issue(o, null));
  agent.command('renew').description('a new credential like the one given (same subject, key, scope; a new id and window), logged')
    .argument('<credential>', 'the credential file to renew')
    .option('--home <dir>', 'data directory: the issuer and its identity log').option('--ttl <s>', 'lifetime in seconds (default: the old one\'s)')
    .option('--parent <file>', 'a sub-agent\'s: its parent credential').option('--signer-home <dir>', 'a sub-agent\'s: the data directory holding its parent\'s key')
    .option('--out <file>', 'write the credential here, atomically (default: stdout); a proxy reading it picks it up at its next call')
    .action((file: string, o: IssueFlags) => issue(o, readCredential(file)));
  agent.command('revoke').description('sign a revocation of a credential and append it to the identity log')
    .argument('<credential>', 'the credential file, or the id (cred_…) of a credential in the identity log').option('--home <dir>', 'data directory: the identity log')
    .option('--reason <text>', 'why').option('--signer-home <dir>', 'sign with this data directory\'s issuer key (a parent credential\'s key)')
    .action(revoke);
  agent.command('list').description('credentials in the identity log and their status').option('--home <dir>', 'data directory').option('--json', 'as JSON')
    .action(list);
}
