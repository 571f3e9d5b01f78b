/**
 * Receipt sessions in the log (docs/session.md). Every statement (start, action, approval,
 * confirmation, seal) is one `mcp-attest/session@1` log entry, appended durably like every
 * other record; the session's state (`sessions`, `session_entries` in log.db) is derived
 * from those entries in the same transaction, so a session survives restarts and two
 * processes (the MCP server and a proxy capturing calls) can append to one session without
 * forking its chain: an action's `seq` and `prev` are read and signed inside the append.
 * Evidence payloads go to the evidence store; the log holds their digest.
 */
import { randomBytes } from 'node:crypto';
import { toBase64Url, toHex } from '../bytes/index.js';
import { AttestError, isAttestError } from '../errors.js';
import { nowSeconds } from '../envelope/time.js';
import type { Signer } from '../envelope/sign.js';
import { canonicalBytes, CanonicalMemo } from '../jcs/index.js';
import { sha256 } from '../bytes/digest.js';
import { encodeRecord, decodeRecord, SESSION_RECORD, type SessionRecord } from '../records/record.js';
import { signStatementSync, type StatementBody } from '../receipt/session-build.js';
import {
  actionsDigest, parseStatement, sessionGenesis, statementDigest, SESSION_ID,
  type CallRef, type PartyStatement, type Statement, type Target,
} from '../receipt/session.js';
import type { LogDb } from './log-db.js';
import type { EvidenceStore } from './evidence.js';

/** Deepest evidence payload accepted (JSON nesting), so a receipt disclosing it stays within its depth limit. */
export const MAX_EVIDENCE_DEPTH = 32;
/** Largest evidence payload accepted, as JCS bytes: 1 MiB. */
export const MAX_EVIDENCE_BYTES = 1 << 20;

/**
 * Check an evidence payload before it is stored: at most {@link MAX_EVIDENCE_DEPTH} levels
 * deep (checked iteratively: a hostile nesting cannot exhaust the stack), then at most
 * {@link MAX_EVIDENCE_BYTES} as JCS. Throws `ERR_JSON_TOO_DEEP`, `ERR_JSON_TOO_LARGE`, or
 * the `ERR_JSON_*` of a value JCS refuses. Returns the JCS bytes. Limits keep a receipt
 * that discloses the payload within its own (depth 48).
 */
export function checkEvidence(value: unknown): Uint8Array {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_EVIDENCE_DEPTH) throw new AttestError('ERR_JSON_TOO_DEEP', `evidence nested deeper than ${MAX_EVIDENCE_DEPTH} levels`, { expected: MAX_EVIDENCE_DEPTH });
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  const bytes = canonicalBytes(value);
  const size = bytes.length;
  if (size > MAX_EVIDENCE_BYTES) throw new AttestError('ERR_JSON_TOO_LARGE', `evidence is ${size} bytes as JCS, more than ${MAX_EVIDENCE_BYTES}`, { expected: MAX_EVIDENCE_BYTES, found: size });
  return bytes;
}

/** A row of the `sessions` table. */
export interface SessionRow {
  session_id: string;
  start_idx: number;
  agent_key: string;
  task: string;
  delegator: string;
  policy_digest: string | null;
  created: string;
  action_count: number;
  last_digest: string;
  last_action_idx: number | null;
  seal_idx: number | null;
  seal_digest: string | null;
}

/** One logged statement of a session: log index, kind, action number (actions), digest. */
export interface SessionEntryRow { idx: number; kind: string; seq: number | null; digest: string }

/** What an append returns: the entry's log index, the statement and its digest. */
export interface Appended { index: bigint; statement: Statement; digest: string }

/** A new session id: `ses_` + base64url of 16 random bytes. */
export function newSessionId(): string {
  return `ses_${toBase64Url(new Uint8Array(randomBytes(16)))}`;
}

/** Throws `ERR_SESSION_UNKNOWN` for a string that is not a session id. */
export function checkSessionId(id: unknown): string {
  if (typeof id !== 'string' || !SESSION_ID.test(id)) throw new AttestError('ERR_SESSION_UNKNOWN', 'not a session id (ses_ and 22 base64url characters)', { found: typeof id === 'string' ? id.slice(0, 64) : typeof id });
  return id;
}

/** The sessions of one data directory's log, written with the agent's (issuer) key. */
export class SessionStore {
  /** `signer` null: a read-only view (listing, export selection); writing throws `ERR_USAGE`. */
  constructor(private readonly db: LogDb, private readonly signer: Signer | null, private readonly evidence: EvidenceStore | null, private readonly now: () => number = nowSeconds) {}

  /** The record of a session's entry; `ERR_STORE_CORRUPT` when the log holds none (its opening deleted). */
  private recordAt(index: bigint): Uint8Array {
    const r = this.db.record(index);
    if (r === null) throw new AttestError('ERR_STORE_CORRUPT', `session entry ${index} has no record in the log`, { index });
    return r;
  }

  private get agent(): Signer {
    if (!this.signer) throw new AttestError('ERR_USAGE', 'this session store is read-only');
    return this.signer;
  }

  /** The session's row. Throws `ERR_SESSION_UNKNOWN`. */
  row(sessionId: string): SessionRow {
    const r = this.db.statement('SELECT * FROM sessions WHERE session_id = ?').get(checkSessionId(sessionId)) as SessionRow | undefined;
    if (!r) throw new AttestError('ERR_SESSION_UNKNOWN', `no session ${sessionId} in this log`, { found: sessionId });
    return r;
  }

  /**
   * Sessions, oldest first: all of them; with `owner`, only those the principal started
   * (store/session-owners.ts), found by the database rather than read and filtered; with
   * `prefix`, only ids starting with it; with `limit`, the latest `limit` of those.
   */
  list(o: { owner?: string; prefix?: string; limit?: number } = {}): SessionRow[] {
    const where = [o.owner !== undefined ? 'session_id IN (SELECT session_id FROM session_owners WHERE principal = @owner)' : null,
      o.prefix !== undefined ? 'substr(session_id, 1, length(@prefix)) = @prefix' : null].filter((w) => w !== null);
    const sql = `SELECT * FROM sessions${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY start_idx DESC${o.limit !== undefined ? ' LIMIT @limit' : ''}`;
    const rows = this.db.statement(sql).all({ ...(o.owner !== undefined ? { owner: o.owner } : {}), ...(o.prefix !== undefined ? { prefix: o.prefix } : {}), ...(o.limit !== undefined ? { limit: o.limit } : {}) }) as SessionRow[];
    return rows.reverse();
  }

  /** The logged statements of a session, in log order. */
  entries(sessionId: string): SessionEntryRow[] {
    return this.db.statement('SELECT idx, kind, seq, digest FROM session_entries WHERE session_id = ? ORDER BY idx').all(this.row(sessionId).session_id) as SessionEntryRow[];
  }

  /** The statements of a session, in log order, each with its log index. */
  statements(sessionId: string): Array<{ index: bigint; statement: Statement }> {
    return this.entries(sessionId).map((e) => ({ index: BigInt(e.idx), statement: (decodeRecord(this.recordAt(BigInt(e.idx))) as SessionRecord).statement }));
  }

  /**
   * Every log index a receipt of the session carries: its statements and, for each captured
   * call, the call's attestation and receipt records. Ascending, unique.
   */
  entryIndexes(sessionId: string): bigint[] {
    const out = new Set<bigint>();
    for (const { index, statement } of this.statements(sessionId)) {
      out.add(index);
      if (statement.kind === 'action' && statement.call) {
        out.add(BigInt(statement.call.attestationIndex));
        out.add(BigInt(statement.call.receiptIndex));
      }
    }
    return [...out].sort((a, b) => (a < b ? -1 : 1));
  }

  /** Append one statement built (and signed) inside the append transaction; `after` updates the derived tables. */
  private append(sessionId: string, build: () => Statement, after: (index: number, s: Statement, digest: string) => void): Appended {
    let statement: Statement | null = null;
    let digest = '';
    const index = this.db.append((i) => {
      statement = build();
      // The statement's text, written for its digest, is reused in its record.
      const memo = new CanonicalMemo();
      digest = statementDigest(statement, memo);
      return encodeRecord({ type: SESSION_RECORD, index: i.toString(), sessionId, statement }, memo);
    }, (i) => {
      const s = statement!;
      this.db.statement('INSERT INTO session_entries (session_id, idx, kind, seq, digest) VALUES (?, ?, ?, ?, ?)').run(sessionId, i, s.kind, s.kind === 'action' ? s.seq : null, digest);
      after(Number(i), s, digest);
    });
    return { index, statement: statement!, digest };
  }

  private sign(sessionId: string, body: StatementBody): Statement {
    return signStatementSync(this.agent, sessionId, this.now(), body);
  }

  /**
   * Start a session. `policyDigest` binds it to a policy document (`sha256:<hex>` of its
   * bytes). `claim(sessionId)` runs in the start's own transaction (serve --http records the
   * session's owner there: both are written or neither). Throws `ERR_ALG_NOT_ALLOWED` for an
   * HS256 agent key.
   */
  start(p: { task: string; delegator: string; policyDigest?: string }, claim?: (sessionId: string) => void): Appended & { sessionId: string } {
    // A shared secret would let every verifier forge the agent's statements.
    if (this.agent.alg === 'HS256') throw new AttestError('ERR_ALG_NOT_ALLOWED', 'receipt sessions need a public-key agent key (ES256, EdDSA, RS256), not HS256: every verifier holding the secret could forge them');
    const sessionId = newSessionId();
    const genesis = sessionGenesis(sessionId);
    const body = { kind: 'start', task: p.task, delegator: p.delegator, genesis, ...(p.policyDigest ? { policyDigest: p.policyDigest } : {}) } as StatementBody;
    const a = this.append(sessionId, () => this.sign(sessionId, body), (i, s) => {
      this.db.statement(`INSERT INTO sessions (session_id, start_idx, agent_key, task, delegator, policy_digest, created, action_count, last_digest)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`).run(sessionId, i, this.agent.keyId, p.task, p.delegator, p.policyDigest ?? null, s.iat, genesis);
      claim?.(sessionId);
    });
    return { ...a, sessionId };
  }

  /**
   * The row of a session this store can add actions to now: known, not sealed, started with
   * this store's key. Throws `ERR_SESSION_UNKNOWN`, `ERR_SESSION_SEALED`, or
   * `ERR_SESSION_SIGNER` when another key started it. (Called again inside each append.)
   */
  checkOpen(sessionId: string): SessionRow {
    const row = this.row(sessionId);
    if (row.seal_idx !== null) throw new AttestError('ERR_SESSION_SEALED', `session ${sessionId} is sealed: nothing can be added (approvals and confirmations are attached)`);
    if (row.agent_key !== this.agent.keyId) throw new AttestError('ERR_SESSION_SIGNER', `session ${sessionId} was started by another key`, { expected: row.agent_key, found: this.agent.keyId });
    return row;
  }

  /**
   * Record action number n+1 of an open session, chained to action n. `evidence` (any JSON)
   * is kept in the evidence store, in the append's transaction (an action refused stores
   * nothing), and committed by digest; `call` names a captured tool call.
   * Throws `ERR_SESSION_UNKNOWN`, `ERR_SESSION_SEALED`, `ERR_SESSION_MALFORMED` (too long),
   * `ERR_ENTRY_TOO_LARGE`, `ERR_JSON_TOO_DEEP` / `ERR_JSON_TOO_LARGE` (evidence beyond
   * {@link MAX_EVIDENCE_DEPTH} / {@link MAX_EVIDENCE_BYTES}).
   */
  action(sessionId: string, p: { name: string; summary?: string; evidence?: unknown; call?: CallRef }): Appended & { seq: number } {
    const bytes = p.evidence === undefined ? undefined : checkEvidence(p.evidence);
    const hash = bytes && sha256(bytes);
    const evidence = hash && `sha256:${toHex(hash)}`;
    let seq = 0;
    const a = this.append(sessionId, () => {
      const row = this.checkOpen(sessionId);
      seq = row.action_count + 1;
      return this.sign(sessionId, {
        kind: 'action', seq, prev: row.last_digest, name: p.name,
        ...(p.summary !== undefined ? { summary: p.summary } : {}), ...(evidence ? { evidence } : {}), ...(p.call ? { call: p.call } : {}),
      } as StatementBody);
    }, (i, _s, digest) => {
      // The payload commits with its entry (the store is attached to the log's connection): one commit, and none when the append fails.
      // Indexed: a session receipt discloses it by digest (store/session-export.ts).
      if (bytes !== undefined) this.evidence?.putBytes(bytes, hash, true);
      this.db.statement('UPDATE sessions SET action_count = ?, last_digest = ?, last_action_idx = ? WHERE session_id = ?').run(seq, digest, i, sessionId);
    });
    return { ...a, seq };
  }

  /**
   * Seal the session: a statement over the action count, the ordered action digests, the
   * start, the first and last log index and the policy digest. Idempotent: sealing a sealed
   * session returns the existing seal (`already: true`). Throws `ERR_SESSION_EMPTY` for a
   * session without actions, `ERR_SESSION_UNKNOWN`.
   */
  seal(sessionId: string): Appended & { already: boolean } {
    const sealed = (): (Appended & { already: boolean }) | null => {
      const row = this.row(sessionId);
      if (row.seal_idx === null) return null;
      const index = BigInt(row.seal_idx);
      return { index, statement: (decodeRecord(this.recordAt(index)) as SessionRecord).statement, digest: row.seal_digest!, already: true };
    };
    const had = sealed();
    if (had) return had;
    let a: Appended;
    try {
      a = this.sealNow(sessionId);
    } catch (e) {
      // Another process sealed it between the check and our transaction.
      const now = isAttestError(e, 'ERR_SESSION_SEALED') ? sealed() : null;
      if (now) return now;
      throw e;
    }
    return { ...a, already: false };
  }

  private sealNow(sessionId: string): Appended {
    return this.append(sessionId, () => {
      const r = this.checkOpen(sessionId);
      if (r.action_count === 0) throw new AttestError('ERR_SESSION_EMPTY', `session ${sessionId} has no action: an empty session cannot be sealed`);
      const rows = this.entries(sessionId);
      const actions = rows.filter((e) => e.kind === 'action').map((e) => e.digest);
      const parties = rows.filter((e) => e.kind === 'approval' || e.kind === 'confirmation').map((e) => e.digest);
      return this.sign(sessionId, {
        kind: 'seal', actionCount: r.action_count, actionsDigest: actionsDigest(actions), startDigest: rows.find((e) => e.kind === 'start')!.digest,
        partyCount: parties.length, partiesDigest: actionsDigest(parties),
        firstIndex: String(r.start_idx), lastIndex: String(r.last_action_idx), ...(r.policy_digest ? { policyDigest: r.policy_digest } : {}),
      } as StatementBody);
    }, (i, _s, digest) => {
      this.db.statement('UPDATE sessions SET seal_idx = ?, seal_digest = ? WHERE session_id = ?').run(i, digest, sessionId);
    });
  }

  /** Throws `ERR_APPROVAL_TARGET` unless `target` is an action of the session (that digest at that position) or its seal. */
  private checkTarget(sessionId: string, target: Target): void {
    if ('sealDigest' in target) {
      const row = this.row(sessionId);
      if (row.seal_digest !== target.sealDigest) throw new AttestError('ERR_APPROVAL_TARGET', 'the target is not the seal of this session', { expected: row.seal_digest, found: target.sealDigest });
      return;
    }
    const hit = this.db.statement("SELECT digest FROM session_entries WHERE session_id = ? AND kind = 'action' AND seq = ?").get(sessionId, target.seq) as { digest: string } | undefined;
    if (hit?.digest !== target.actionDigest) throw new AttestError('ERR_APPROVAL_TARGET', `the target digest is not action ${target.seq} of this session`, { expected: hit?.digest ?? null, found: target.actionDigest });
  }

  /**
   * Log an approval or confirmation a party signed with their own key (`mcp-attest approve`
   * or `countersign`). `phase` `open` records it on an open session, `sealed` attaches it to
   * a sealed one (deferred). The signature is checked by verifiers, under their trust policy;
   * here the statement must parse, belong to the session, target one of its actions (or its
   * seal) by digest, and not be signed with the agent's key. Logging the same statement twice
   * returns the first entry. Throws `ERR_SESSION_MALFORMED`, `ERR_SESSION_SEALED`,
   * `ERR_SESSION_UNSEALED`, `ERR_APPROVAL_TARGET`, `ERR_APPROVER_IS_AGENT`, `ERR_SESSION_SIGNER`.
   */
  attach(sessionId: string, value: unknown, phase: 'open' | 'sealed'): Appended & { already: boolean } {
    const s = parseStatement(value);
    if (s.kind !== 'approval' && s.kind !== 'confirmation') throw new AttestError('ERR_SESSION_MALFORMED', `a ${s.kind} statement cannot be attached: only approvals and confirmations`);
    if (s.sessionId !== sessionId) throw new AttestError('ERR_SESSION_SIGNER', 'the statement belongs to another session', { expected: sessionId, found: s.sessionId });
    if (s.declared) throw new AttestError('ERR_SESSION_MALFORMED', 'a declared statement is the agent\'s own: record it with the declare form');
    if (s.signer.keyId === this.row(sessionId).agent_key) throw new AttestError('ERR_APPROVER_IS_AGENT', 'signed with the agent\'s own key: an approver or counterparty signs with their own', { found: s.signer.keyId });
    const digest = statementDigest(s);
    const had = this.loggedAt(sessionId, digest);
    if (had !== null) return { index: had, statement: s, digest, already: true };
    let a: Appended;
    try {
      a = this.append(sessionId, () => {
        const row = this.row(sessionId);
        if (this.loggedAt(sessionId, digest) !== null) throw new AttestError('ERR_USAGE', 'logged meanwhile', { found: digest });
        if (phase === 'open' && row.seal_idx !== null) throw new AttestError('ERR_SESSION_SEALED', `session ${sessionId} is sealed: attach the ${s.kind} instead`);
        if (phase === 'sealed' && row.seal_idx === null) throw new AttestError('ERR_SESSION_UNSEALED', `session ${sessionId} is not sealed yet: record the ${s.kind} instead`);
        this.checkTarget(sessionId, s.target);
        return s;
      }, () => undefined);
    } catch (e) {
      // Another process logged the same statement between the check and our transaction.
      const now = this.loggedAt(sessionId, digest);
      if (now !== null) return { index: now, statement: s, digest, already: true };
      throw e;
    }
    return { ...a, already: false };
  }

  /** Log index of a session statement with this digest, or null. */
  private loggedAt(sessionId: string, digest: string): bigint | null {
    const row = this.db.statement('SELECT idx FROM session_entries WHERE session_id = ? AND digest = ?').get(sessionId, digest) as { idx: number } | undefined;
    return row ? BigInt(row.idx) : null;
  }

  /**
   * Log the agent's own record that a party approved or confirmed (`declared: true`): no
   * party key is involved, and verifiers report it as declared, never as the party's
   * signature. Same phases and errors as {@link attach}.
   */
  declare(sessionId: string, p: { kind: 'approval' | 'confirmation'; party: string; target: Target; decision: string; note?: string }, phase: 'open' | 'sealed'): Appended {
    return this.append(sessionId, () => {
      const row = this.row(sessionId);
      if (phase === 'open' && row.seal_idx !== null) throw new AttestError('ERR_SESSION_SEALED', `session ${sessionId} is sealed: attach the ${p.kind} instead`);
      if (phase === 'sealed' && row.seal_idx === null) throw new AttestError('ERR_SESSION_UNSEALED', `session ${sessionId} is not sealed yet: record the ${p.kind} instead`);
      this.checkTarget(sessionId, p.target);
      return this.sign(sessionId, { kind: p.kind, party: p.party, declared: true, target: p.target, decision: p.decision, ...(p.note !== undefined ? { note: p.note } : {}) } as StatementBody);
    }, () => undefined);
  }
}

/** The party statements of a session (for listing approvals and confirmations). */
export function partyStatements(list: Array<{ index: bigint; statement: Statement }>): Array<{ index: bigint; statement: PartyStatement }> {
  return list.filter((e): e is { index: bigint; statement: PartyStatement } => e.statement.kind === 'approval' || e.statement.kind === 'confirmation');
}
