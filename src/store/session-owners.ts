/**
 * Who may use which receipt session over HTTP (`mcp-attest serve --http`, and calls through
 * the gateway joining one by `_meta`; docs/session.md "Over HTTP"): the principal (caller
 * token or OAuth subject) that started it. Kept in the data directory's `log.db`, table
 * `session_owners(session_id, principal)`, written in the start's own transaction: a session
 * started over HTTP outlives a restart with its owner, and never exists without one. A
 * session started any other way (stdio `serve`, the CLI, an earlier version) is no
 * principal's: over HTTP it is unknown. Verifiers never read the table: ownership is access
 * control, not evidence.
 */
import type Database from 'better-sqlite3';
import { AttestError } from '../errors.js';

/** What a session server's tools and resources ask of one client ({@link SessionOwners.of}). */
export interface SessionAccess {
  /** The principal whose sessions these are. */
  readonly principal: string;
  /** Record that this client started `sessionId`. */
  claim(sessionId: string): void;
  /** Whether this client may use (read, add to, seal) `sessionId`. */
  allows(sessionId: string): boolean;
}

/** The owners table of a data directory's log database. */
export class SessionOwners {
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;

  /** Open over `db` (the log's connection), creating the table when missing. Throws SQLite's error. */
  constructor(db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS session_owners (session_id TEXT PRIMARY KEY, principal TEXT NOT NULL) WITHOUT ROWID');
    this.insert = db.prepare('INSERT INTO session_owners (session_id, principal) VALUES (?, ?)');
    this.select = db.prepare('SELECT principal FROM session_owners WHERE session_id = ?').pluck();
  }

  /** The access of `principal`: the sessions it started. */
  of(principal: string): SessionAccess {
    return {
      principal,
      claim: (sessionId) => void this.insert.run(sessionId, principal),
      allows: (sessionId) => this.select.get(sessionId) === principal,
    };
  }
}

/** `sessionId` when `access` allows it; else `ERR_SESSION_UNKNOWN`, worded as for a session that does not exist (nothing tells a client which ids others hold). */
export function allowedSession(access: SessionAccess, sessionId: string): string {
  if (!access.allows(sessionId)) throw new AttestError('ERR_SESSION_UNKNOWN', `no session ${sessionId} in this log`, { found: sessionId });
  return sessionId;
}
