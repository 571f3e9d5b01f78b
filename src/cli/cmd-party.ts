/**
 * What a third party runs, on their own machine, with their own key (docs/session.md):
 * `mcp-attest key generate --out FILE` (a private key, 0600, never overwritten),
 * `mcp-attest trust party --key FILE --id ID --role ROLE` (the trust-policy fragment a
 * verifier merges to trust that key for that role), and `mcp-attest approve FILE ...` /
 * `mcp-attest countersign FILE ...` (sign an approval of one action, or a confirmation of
 * one action or of the seal, and append it to the receipt's `attachments`). The agent's
 * server never creates or holds these keys.
 */
import { generateKeyPairSync } from 'node:crypto';
import { realpathSync, writeFileSync } from 'node:fs';
import { writeOutput } from '../store/synced.js';
import type { Command } from 'commander';
import { AttestError } from '../errors.js';
import { partyFromPem, partySigner } from '../store/party-key.js';
import { nowSeconds } from '../envelope/time.js';
import { decodeRecord, SESSION_RECORD } from '../records/record.js';
import { parseSessionReceipt, formatSessionReceipt, type SessionReceipt } from '../bundle/session-receipt.js';
import { DECISIONS, statementDigest, type Statement, type Target } from '../receipt/session.js';
import { signStatementSync } from '../receipt/session-build.js';
import { PARTY_ROLES, parseTrustPolicy, type PartyRole, type TrustPolicy } from '../verify/policy.js';
import { verifySessionReceipt } from '../verify/session-receipt.js';
import { keySource, readInput, readKeyFile, readSecretFile } from './keysource.js';
import { MAX_BUNDLE_BYTES } from '../bundle/format.js';
import { CliExit, EXIT_FAILED, EXIT_USAGE, collect, out, outJson } from './output.js';

/** A session receipt file (at most a bundle's 256 MiB), read as {@link readInput} reads. */
const readReceiptText = (path: string): string => readInput(path, MAX_BUNDLE_BYTES, 'session receipt').toString('utf8');

/** Find the agent's statements in a receipt: start signer, action digests by seq, seal digest. */
function receiptFacts(r: SessionReceipt): { agentKeyId: string | null; actions: Map<number, string>; seal: string | null } {
  const facts = { agentKeyId: null as string | null, actions: new Map<number, string>(), seal: null as string | null };
  for (const e of r.bundle.entries) {
    let s: Statement;
    try {
      const rec = decodeRecord(e.bytes);
      if (rec.type !== SESSION_RECORD || rec.sessionId !== r.sessionId) continue;
      s = rec.statement;
    } catch {
      continue;
    }
    if (s.kind === 'start') facts.agentKeyId = s.signer.keyId;
    if (s.kind === 'action') facts.actions.set(s.seq, statementDigest(s));
    if (s.kind === 'seal') facts.seal = statementDigest(s);
  }
  return facts;
}

interface SignOptions { key: string; id: string; action?: string; decision?: string; note?: string; out?: string; trust?: string; json?: boolean }

/**
 * What a party need not hold against a receipt before signing: it is not sealed yet (an
 * approval may come before the seal), and other parties' statements its policy does not list
 * (the party's policy need only trust the agent).
 */
const NOT_MINE = new Set(['ERR_SESSION_UNSEALED', 'ERR_PARTY_UNTRUSTED']);

/** Check the receipt first when `--trust` is given: a party should not sign what does not verify. */
async function checkFirst(text: string, trust: string | undefined): Promise<void> {
  if (trust === undefined) return;
  const ks = await keySource({ trust });
  const report = await verifySessionReceipt(text, ks.policy!, ks.keys);
  const failed = report.findings.filter((f) => f.severity === 'error' && !NOT_MINE.has(f.code)).map((f) => f.code);
  if (failed.length > 0) throw new CliExit(EXIT_FAILED, `the receipt does not verify (${failed.join(', ')}): not signed`);
}

/** Sign an approval or confirmation of `file` and append it to its attachments. */
async function signAttachment(kind: 'approval' | 'confirmation', file: string, o: SignOptions): Promise<void> {
  const text = readReceiptText(file);
  await checkFirst(text, o.trust);
  const r = parseSessionReceipt(text);
  const facts = receiptFacts(r);
  let target: Target;
  if (o.action !== undefined) {
    const seq = Number(o.action);
    const digest = Number.isSafeInteger(seq) ? facts.actions.get(seq) : undefined;
    if (digest === undefined) throw new CliExit(EXIT_USAGE, `--action ${o.action}: the receipt has no action ${o.action} (actions 1..${facts.actions.size})`);
    target = { seq, actionDigest: digest };
  } else if (kind === 'confirmation' && facts.seal !== null) {
    target = { sealDigest: facts.seal };
  } else {
    throw new CliExit(EXIT_USAGE, kind === 'approval' ? 'give --action N: an approval is bound to one action' : 'the receipt is not sealed: give --action N');
  }
  const decision = o.decision ?? DECISIONS[kind][0];
  if (!(DECISIONS[kind] as readonly string[]).includes(decision)) throw new CliExit(EXIT_USAGE, `--decision: one of ${DECISIONS[kind].join(', ')}`);
  const pem = readSecretFile(o.key, '--key').toString('utf8');
  const signer = partySigner(pem, o.id);
  if (signer.keyId === facts.agentKeyId) throw new AttestError('ERR_APPROVER_IS_AGENT', 'this is the agent\'s own key: a party signs with their own');
  const statement = signStatementSync(signer, r.sessionId, nowSeconds(), { kind, party: o.id, declared: false, target, decision, ...(o.note !== undefined ? { note: o.note } : {}) } as never, o.id);
  r.attachments.push(statement as never);
  // In place: the receipt FILE names, through a symlink if it is one (a new --out path is never written through one).
  const dest = o.out ?? realpathSync(file);
  writeOutput(dest, formatSessionReceipt(r));
  const summary = { out: dest, kind, party: o.id, keyId: signer.keyId, target: 'seq' in target ? target.seq : 'seal', decision, digest: statementDigest(statement) };
  if (o.json) return outJson(summary);
  out(`${kind} by ${o.id} of ${'seq' in target ? `action ${target.seq}` : 'the seal'} (${decision}) appended to ${dest}`);
}

function signCommand(program: Command, name: string, kind: 'approval' | 'confirmation', description: string): void {
  program.command(`${name} <file>`)
    .description(description)
    .requiredOption('--key <file>', 'your private key (PEM: Ed25519, P-256 or RSA), e.g. from "mcp-attest key generate"')
    .requiredOption('--id <party>', 'your party id, as the verifier\'s trust policy lists it (e.g. approver:alice)')
    .option('--action <n>', kind === 'approval' ? 'the action to approve (its number in the session)' : 'confirm this action (default: the seal, the whole receipt)')
    .option('--decision <d>', `${DECISIONS[kind].join(' or ')} (default ${DECISIONS[kind][0]})`)
    .option('--note <text>', 'a note signed with the decision')
    .option('--trust <file>', 'verify the receipt under this trust policy first, and refuse to sign if it fails')
    .option('--out <file>', 'write the receipt with the attachment here (default: update FILE in place)')
    .option('--json', 'print the summary as JSON')
    .action((file: string, o: SignOptions) => signAttachment(kind, file, o));
}

/** Register `approve`, `countersign`, `key generate` and `trust party`. */
export function registerPartyCommands(program: Command): void {
  signCommand(program, 'approve', 'approval', 'approve one action of a session receipt with your own key; the approval is appended to the receipt\'s attachments');
  signCommand(program, 'countersign', 'confirmation', 'confirm a session receipt (or one action) as its counterparty, with your own key; appended to its attachments');
  program.command('key')
    .description('keys of approvers and counterparties')
    .command('generate')
    .description('create a private key file (0600, never overwritten) and print its public key as a trust-policy party entry')
    .requiredOption('--out <file>', 'private key file to create (PKCS#8 PEM)')
    .option('--alg <alg>', 'EdDSA or ES256', 'EdDSA')
    .option('--id <party>', 'party id for the printed entry', 'party:unnamed')
    .option('--role <role>', `the roles the printed entry gives the key: ${PARTY_ROLES.join(' or ')}; repeatable (default: both)`, collect)
    .action((o: { out: string; alg: string; id: string; role?: string[] }) => {
      if (o.alg !== 'EdDSA' && o.alg !== 'ES256') throw new CliExit(EXIT_USAGE, '--alg: EdDSA or ES256');
      const roles = [...new Set(o.role ?? PARTY_ROLES)];
      if (!roles.every((r) => (PARTY_ROLES as readonly string[]).includes(r))) throw new CliExit(EXIT_USAGE, `--role: ${PARTY_ROLES.join(' or ')}`);
      const pair = o.alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      try {
        writeFileSync(o.out, pem, { mode: 0o600, flag: 'wx' });
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw new AttestError('ERR_KEY_EXISTS', `key exists, not overwritten: ${o.out}`);
        throw cause;
      }
      if (o.role === undefined) process.stderr.write(`mcp-attest: the entry printed trusts this key as ${PARTY_ROLES.join(' and ')}; --role gives it only the one it has\n`);
      outJson(partyFromPem(pem, o.id, roles as PartyRole[]));
    });
  (program.commands.find((c) => c.name() === 'trust') ?? program.command('trust')).command('party')
    .description('print a trust policy that trusts one approver or counterparty key (merge it with "trust merge")')
    .requiredOption('--key <file>', 'the party\'s key (PEM, public or private: only the public half is printed)')
    .requiredOption('--id <party>', 'the party id (e.g. approver:alice)')
    .requiredOption('--role <role>', `${PARTY_ROLES.join(' or ')}; repeatable`, collect)
    .action((o: { key: string; id: string; role: string[] }) => {
      const roles = [...new Set(o.role)];
      if (!roles.every((r) => (PARTY_ROLES as readonly string[]).includes(r))) throw new CliExit(EXIT_USAGE, `--role: ${PARTY_ROLES.join(' or ')}`);
      const policy: TrustPolicy = { version: 1, issuers: [], logs: [], witnesses: [], quorum: 0, parties: [partyFromPem(readKeyFile(o.key, '--key').toString('utf8'), o.id, roles as PartyRole[])], acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30 };
      // Printed only as a verifier will read it (an empty --id, say, is refused here, not there).
      outJson(parseTrustPolicy(JSON.stringify(policy)));
    });
}
