/**
 * What a bundle carries for its calls made under agent credentials (bundle/format.ts
 * `identity` and `witnessed`; docs/identity.md "The identity log"): the identity log's range
 * from the first credential of any chain the calls used to the end of a checkpoint covering
 * every identity size the gatekeeper checked against, with its shared proof; and for each
 * such call the first cosigned checkpoint of the log covering it, with a consistency proof to
 * the bundle's checkpoint, so a verifier knows when the witnesses first saw the call.
 */
import { existsSync } from 'node:fs';
import { AttestError } from '../errors.js';
import type { Bundle } from '../bundle/format.js';
import { DECISION_RECORD, decodeRecord } from '../records/record.js';
import { multiInclusionProof } from '../log/multiproof.js';
import { CREDENTIAL_ID } from '../identity/credential.js';
import { IdentityLog } from './identity-log.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { parseNote } from '../log/note.js';
import { signatureLines } from './bundle-build.js';
import type { LogDb } from './log-db.js';

/**
 * What {@link addIdentity} reads of the bundle's own log (SQLite's or a fleet's): the first
 * checkpoint with at least one cosignature covering entry `entry` and smaller than `below`
 * (the note with its cosignature lines), and a consistency proof between two tree sizes
 * (RFC 9162 §2.1.4). Errors: the store's (`ERR_STORE_IO`, `ERR_STORE_CORRUPT`).
 */
export interface CheckpointSource {
  firstCosigned(entry: bigint, below: bigint): Promise<{ size: bigint; note: string } | null>;
  consistencyProof(size1: bigint, size2: bigint): Promise<Uint8Array[]>;
}

/** A call of the bundle made under a credential: its entry index, the chain's identity indices and the size it was checked against (when recorded). */
interface CredentialUse { entry: bigint; credential: string; chain: bigint[] | null; size: bigint | null }

/** The calls under credentials among the bundle's entries (each a record: a private entry is bundled opened). */
function credentialUses(bundle: Bundle): CredentialUse[] {
  const out: CredentialUse[] = [];
  for (const { index: i, bytes } of bundle.entries) {
    let r: ReturnType<typeof decodeRecord>;
    try {
      r = decodeRecord(bytes);
    } catch {
      continue;
    }
    if (r.type !== DECISION_RECORD && r.type !== 'mcp-attest/attestation@1') continue;
    const iss = (r.attestation?.['issuerAsserted'] as Record<string, unknown> | undefined)?.['iss'];
    if (typeof iss !== 'string' || !CREDENTIAL_ID.test(iss)) continue;
    const facts = r.type === DECISION_RECORD ? r.credential : undefined;
    out.push({ entry: i, credential: iss, chain: facts ? facts.chain.map((l) => BigInt(l.index)) : null, size: facts ? BigInt(facts.identitySize) : null });
  }
  return out;
}

/**
 * The checkpoint of `db` the identity range runs to: of those of at least `size`, the latest
 * among the most cosigned. A verifier decides a call only against an identity log witnessed
 * no earlier than the call (a revocation the witnesses saw in between could be missing from
 * an older one), so the newest well-witnessed one serves every call of the bundle.
 */
function checkpointFrom(db: LogDb, size: bigint): { size: bigint; note: string } | null {
  return db.checkpoints().filter((c) => c.size >= size).reduce<{ size: bigint; note: string } | null>((best, c) => (best === null || signatureLines(c.note) >= signatureLines(best.note) ? c : best), null);
}

/**
 * Add the identity range and witnessed checkpoints to `bundle` (of the log `source` reads) when any
 * of its calls was made under a credential, from the identity log file `at` (data directory
 * `home`'s own, or the one `bundle --identity` names: the credential issuer's), opened
 * read-only as untrusted input ({@link IdentityLog.read}). A call the identity log cannot
 * decide is a problem: there is no identity log at `at`, its credential is not in it (when
 * none is, it is another issuer's log), it was checked against entries past its end, or no
 * identity checkpoint covers what it was checked against. `strict` (calls named one by one):
 * the first problem throws `ERR_USAGE`. Otherwise (a range, which in a fleet's log may hold
 * entries another writer planted) the call is left out of the identity part and the problem
 * returned, one line each: `verify` then reports that call. Throws the codes of
 * {@link IdentityLog.read} for a file that is not a sound identity log.
 */
export async function addIdentity(at: { path: string; follow: boolean }, source: CheckpointSource, bundle: Bundle, strict = true): Promise<string[]> {
  const problems: string[] = [];
  const problem = (message: string): void => {
    if (strict) throw new AttestError('ERR_USAGE', message);
    problems.push(message);
  };
  let uses = credentialUses(bundle);
  if (uses.length === 0) return problems;
  if (!existsSync(at.path)) {
    problem(`calls under agent credentials are selected and there is no identity log at ${at.path}: give --identity DIR, the data directory holding it (the credential issuer's)`);
    return problems;
  }
  const log = IdentityLog.read(at.path, at.follow);
  try {
    const known = log.refresh();
    // A call whose credential this log does not hold adds nothing (a gatekeeper's refusal of an
    // unknown one is decided without it); when none is held, it is another issuer's log.
    const logged = uses.map((u) => log.index.chain(u.credential));
    if (logged.every((c) => typeof c === 'string')) {
      problem(`the calls name credentials (${uses[0]!.credential} first) that are not in the identity log ${at.path}: is it their issuer's?`);
      return problems;
    }
    const chains = new Map<CredentialUse, bigint[]>();
    uses.forEach((u, k) => {
      const c = logged[k]!;
      const chain = u.chain ?? (typeof c === 'string' ? [] : c.map((l) => l.index));
      const past = [...chain, ...(u.size === null ? [] : [u.size - 1n])].find((i) => i >= known);
      if (past === undefined) chains.set(u, chain);
      else problem(`the call at entry ${u.entry} was checked against identity entry ${past}; the identity log ${at.path} ends at ${known}`);
    });
    uses = uses.filter((u) => chains.has(u));
    if (uses.length === 0) return problems;
    const all = [...chains.values()].flat();
    const start = all.reduce((a, b) => (b < a ? b : a), known);
    const need = uses.reduce((a, u) => (u.size !== null && u.size > a ? u.size : a), all.reduce((a, b) => (b + 1n > a ? b + 1n : a), 1n));
    const cp = checkpointFrom(log.db, need);
    if (cp === null) {
      problem(`no identity checkpoint covers size ${need} yet`);
      return problems;
    }
    const range: bigint[] = [];
    for (let i = start; i < cp.size; i++) range.push(i);
    bundle.identity = { checkpoint: cp.note, start, entries: range.map((i) => log.db.presentEntry(i)), proof: multiInclusionProof(range, cp.size, log.db.read) };
  } finally {
    log.close();
  }
  await witness(source, uses, bundle);
  return problems;
}

/** For each call, the first cosigned checkpoint covering it (other than the bundle's), with a consistency proof to it. */
async function witness(source: CheckpointSource, uses: CredentialUse[], bundle: Bundle): Promise<void> {
  const anchor = parseCheckpoint(parseNote(bundle.checkpoint).text).size;
  const notes = new Map<bigint, string>();
  for (const u of uses) {
    const first = await source.firstCosigned(u.entry, anchor);
    if (first) notes.set(first.size, first.note);
  }
  if (notes.size === 0) return;
  // At most 64 (bundle/format.ts): calls past them rest on the bundle's own checkpoint.
  for (const size of [...notes.keys()].slice(64)) notes.delete(size);
  bundle.witnessed = [...notes.values()];
  for (const size of notes.keys()) if (!bundle.consistency.some((c) => c.size === size)) bundle.consistency.push({ size, proof: await source.consistencyProof(size, anchor) });
}
