/**
 * `mcp-attest agent`: agent credentials (docs/identity.md). `agent issuer init` makes a data
 * directory a credential issuer; `agent issue`, `agent renew` and `agent revoke` sign a
 * credential or revocation and append it to the directory's identity log (then sign its
 * checkpoint and send it to the configured witnesses); `agent list` shows what the log holds.
 * A sub-agent's credential is signed by its parent's key: `--signer-home` names the data
 * directory holding it (its issuer key must be the parent credential's key).
 */
import type { Command } from 'commander';
import { CREDENTIAL_TYPE, REVOCATION_TYPE, credentialDigest, parseCredential, signIdentity, type Credential, type CredentialKey } from '../identity/credential.js';
import { MAX_LIFETIME_SECONDS } from '../identity/issuers.js';
import type { IdentityStatement } from '../identity/entries.js';
import { toBase64Url } from '../bytes/index.js';
import { initCredentialIssuer, issuerSign, loadCredentialIssuer } from '../store/credential-issuer.js';
import { identityOrigin, identityVerifierKey, IdentityLog } from '../store/identity-log.js';
import { loadIdentity, loadIssuerSigner } from '../store/identity.js';
import { resolveHome } from '../store/home.js';
import { loadWitnesses } from '../store/witnesses.js';
import { witnessLatest } from '../store/witnessing.js';
import { writeSynced } from '../store/synced.js';
import { readInput } from './keysource.js';
import { CliExit, EXIT_USAGE, err, out, outJson } from './output.js';

const csv = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

function whole(flag: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(v) || Number(v) > max) throw new CliExit(EXIT_USAGE, `${flag} takes a whole number from 0 to ${max}`);
  return Number(v);
}

function readCredential(path: string): Credential {
  try {
    return parseCredential(readInput(path));
  } catch (e) {
    throw new CliExit(EXIT_USAGE, `${path}: not a credential: ${(e as Error).message}`);
  }
}

/** The public key of data directory `dir`'s issuer (the agent's key), as a credential carries it. */
function agentKey(dir: string): CredentialKey {
  const id = loadIdentity(resolveHome(dir));
  if (id.issuer.alg === 'HS256' || id.issuer.publicKeyJwk === null) throw new CliExit(EXIT_USAGE, `${dir}: an HS256 issuer has no public key to bind a credential to`);
  return { alg: id.issuer.alg, keyId: id.issuer.keyId, publicKeyJwk: id.issuer.publicKeyJwk };
}

/** Sign `unsigned` with the issuer key of `home`, or with the key of `signerHome` (which must be `parent`'s key). */
async function signStatement<T extends object>(home: string, unsigned: T, parent: Credential | null, signerHome: string | undefined): Promise<T & { signature: string }> {
  if (parent === null && signerHome === undefined) return issuerSign(home, unsigned);
  const dir = resolveHome(signerHome);
  const signer = loadIssuerSigner(dir, loadIdentity(dir));
  if (parent !== null && signer.keyId !== parent.key.keyId) throw new CliExit(EXIT_USAGE, `--signer-home ${dir}: its key is not the key of credential ${parent.id}`);
  return signIdentity(signer.alg, signer.sign, unsigned as never) as Promise<T & { signature: string }>;
}

/** Append `statement` to `home`'s identity log, sign its checkpoint, send it to the witnesses; returns its index. */
async function append(home: string, statement: IdentityStatement): Promise<bigint> {
  const log = IdentityLog.open(home, true)!;
  try {
    const index = log.append(statement);
    await log.checkpoint(home, loadIdentity(home));
    const witnesses = loadWitnesses(home);
    if (witnesses.length > 0) {
      for (const r of await witnessLatest(log.db, witnesses, { timeoutMs: 10_000 })) {
        if (r.status !== 'cosigned' && r.status !== 'already') err(`mcp-attest: witness ${r.witness}: ${r.status}${r.message ? `: ${r.message}` : ''}`);
      }
    }
    return index;
  } finally {
    log.close();
  }
}

function emit(c: object, path: string | undefined): void {
  const text = JSON.stringify(c, null, 2) + '\n';
  if (path === undefined) return out(text.trimEnd());
  writeSynced(path, text, 0o644);
}

interface IssueFlags { home?: string; subject?: string; agentHome?: string; parent?: string; signerHome?: string; tools?: string; servers?: string; ttl?: string; maxDepth?: string; jkt?: string; tokenDigest?: string; out?: string }

/** The unsigned credential `agent issue` (or `renew`, from `base`) makes, now. */
function unsignedCredential(home: string, o: IssueFlags, parent: Credential | null, base: Credential | null): Omit<Credential, 'signature'> {
  const issuer = loadCredentialIssuer(home);
  if (issuer === null && parent === null && base?.parent === undefined) throw new CliExit(EXIT_USAGE, `${home} is not a credential issuer: run "mcp-attest agent issuer init"`);
  const ttl = whole('--ttl', o.ttl, MAX_LIFETIME_SECONDS) ?? Math.min(issuer?.maxLifetimeSeconds ?? MAX_LIFETIME_SECONDS, base ? base.notAfter - base.notBefore : MAX_LIFETIME_SECONDS);
  const now = Math.floor(Date.now() / 1000);
  const subject = o.subject ?? base?.subject;
  if (subject === undefined) throw new CliExit(EXIT_USAGE, 'give --subject');
  const key = o.agentHome !== undefined ? agentKey(o.agentHome) : base?.key;
  if (key === undefined) throw new CliExit(EXIT_USAGE, 'give --agent-home: the data directory of the agent whose key the credential names');
  const [tools, servers] = [csv(o.tools) ?? base?.tools, csv(o.servers) ?? base?.servers];
  const binding = o.jkt !== undefined || o.tokenDigest !== undefined ? { ...(o.jkt ? { jkt: o.jkt } : {}), ...(o.tokenDigest ? { tokenDigest: o.tokenDigest } : {}) } : base?.binding;
  const parentId = parent?.id ?? base?.parent;
  return {
    type: CREDENTIAL_TYPE, id: `cred_${toBase64Url(crypto.getRandomValues(new Uint8Array(16)))}`, issuer: parent?.issuer ?? base?.issuer ?? issuer!.id,
    ...(parentId ? { parent: parentId } : {}), subject, key, notBefore: now, notAfter: now + ttl,
    ...(servers ? { servers } : {}), ...(tools ? { tools } : {}), maxDepth: whole('--max-depth', o.maxDepth, 8) ?? base?.maxDepth ?? 0,
    ...(binding ? { binding } : {}),
  };
}

async function issue(o: IssueFlags, base: Credential | null): Promise<void> {
  const home = resolveHome(o.home);
  const parent = o.parent !== undefined ? readCredential(o.parent) : null;
  if (base?.parent !== undefined && o.signerHome === undefined) throw new CliExit(EXIT_USAGE, `credential ${base.id} is a sub-agent's: give --signer-home, the data directory holding its parent's key`);
  const unsigned = unsignedCredential(home, o, parent, base);
  const signed = parseCredential(JSON.stringify(await signStatement(home, unsigned, parent, o.signerHome)));
  const index = await append(home, signed);
  err(`mcp-attest: credential ${signed.id} for ${signed.subject} logged at identity entry ${index}, valid until ${new Date(signed.notAfter * 1000).toISOString()}`);
  emit(signed, o.out);
}

async function revoke(file: string, o: { home?: string; reason?: string; signerHome?: string }): Promise<void> {
  const home = resolveHome(o.home);
  const c = readCredential(file);
  const issuer = loadCredentialIssuer(home);
  const unsigned = { type: REVOCATION_TYPE, credential: c.id, credentialDigest: credentialDigest(c), issuer: c.issuer, signerKeyId: '', ...(o.reason ? { reason: o.reason } : {}) };
  if (o.signerHome !== undefined) unsigned.signerKeyId = loadIdentity(resolveHome(o.signerHome)).issuer.keyId;
  else if (issuer !== null) unsigned.signerKeyId = issuer.keyId;
  else throw new CliExit(EXIT_USAGE, `${home} is not a credential issuer: give --signer-home (a parent's key)`);
  const signed = await signStatement(home, unsigned, null, o.signerHome);
  const index = await append(home, signed as IdentityStatement);
  out(`revoked ${c.id} at identity entry ${index}`);
}

function list(o: { home?: string; json?: boolean }): void {
  const home = resolveHome(o.home);
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
    out(rows.map((r) => `${r.index.padStart(6)}  ${r.id}  ${r.subject}  until ${r.notAfter}  ${r.status}`).join('\n') || 'no credentials');
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
      const maxLifetimeSeconds = whole('--max-lifetime', o.maxLifetime, MAX_LIFETIME_SECONDS);
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
  const issueFlags = (c: Command): Command => c.option('--home <dir>', 'data directory: the issuer and its identity log')
    .option('--agent-home <dir>', 'the agent\'s data directory: its issuer key is the key the credential names')
    .option('--subject <subject>', 'the agent\'s opaque, never reassigned name (under the issuer\'s prefix, or the parent\'s subject/)')
    .option('--tools <list>', 'tools allowed (comma-separated; prefix*)').option('--servers <list>', 'server fingerprints allowed')
    .option('--ttl <s>', 'lifetime in seconds (default: the issuer\'s longest, at most 86400)').option('--max-depth <n>', 'delegations allowed below it (default 0)')
    .option('--jkt <thumbprint>', 'bind to an OAuth DPoP key (RFC 9449 jkt)').option('--token-digest <sha256:hex>', 'bind to a validated token\'s digest')
    .option('--signer-home <dir>', 'sign with this data directory\'s issuer key (a sub-agent\'s credential: the parent\'s key)')
    .option('--out <file>', 'write the credential here (default: stdout)');
  issueFlags(agent.command('issue').description('sign a credential, append it to the identity log, print it'))
    .option('--parent <file>', 'the parent credential (for a sub-agent; sign with --signer-home)')
    .action((o: IssueFlags) => issue(o, null));
  issueFlags(agent.command('renew').description('a new credential like the one given (same subject, key, scope; a new id and window)'))
    .argument('<credential>', 'the credential file to renew')
    .action((file: string, o: IssueFlags) => issue(o, readCredential(file)));
  agent.command('revoke').description('sign a revocation of a credential and append it to the identity log')
    .argument('<credential>', 'the credential file').option('--home <dir>', 'data directory: the identity log')
    .option('--reason <text>', 'why').option('--signer-home <dir>', 'sign with this data directory\'s issuer key (a parent credential\'s key)')
    .action(revoke);
  agent.command('list').description('credentials in the identity log and their status').option('--home <dir>', 'data directory').option('--json', 'as JSON')
    .action(list);
}
