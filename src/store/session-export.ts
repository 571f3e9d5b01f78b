/**
 * The agent side of receipt sessions over one data directory: its recorder (log, keys,
 * checkpoints) and session store, and the export of a session receipt
 * (`mcp-attest/session-receipt@1`, docs/session.md). Used by `mcp-attest serve` and
 * `mcp-attest receipt ...`.
 */
import { AttestError } from '../errors.js';
import { parseJsonBytes, type JsonValue } from '../jcs/index.js';
import { Recorder, type RecorderOptions } from '../proxy/recorder.js';
import { buildBundle, withParameters } from './bundle-build.js';
import type { SessionStore } from './sessions.js';
import { loadWitnesses } from './witnesses.js';
import { witnessLatest, type WitnessResult } from './witnessing.js';
import { formatSessionReceipt, type SessionReceipt } from '../bundle/session-receipt.js';

/** A data directory opened for receipt sessions. Close it when done (writes a final checkpoint). */
export class SessionHome {
  private constructor(readonly home: string, readonly recorder: Recorder, readonly sessions: SessionStore) {}

  /** Open `home` (initialized). Throws `ERR_HOME_MISSING`, `ERR_STORE_IO`. */
  static async open(home: string, o: RecorderOptions = {}): Promise<SessionHome> {
    const recorder = await Recorder.open(home, o);
    return new SessionHome(home, recorder, recorder.sessions);
  }

  /**
   * Build the receipt of a session: a checkpoint covering every entry is signed first; when
   * `witness` is set and witnesses are configured, one witnessing round runs (best effort:
   * the results are returned, a witness that fails does not stop the export). `since` adds
   * consistency proofs from tree sizes the recipient holds; `evidence` discloses the action
   * payloads kept in the evidence store (a payload missing there is left out). Throws
   * `ERR_SESSION_UNKNOWN`.
   */
  async exportReceipt(sessionId: string, o: { since?: bigint[]; evidence?: boolean; witness?: boolean; timeoutMs?: number } = {}): Promise<{ receipt: SessionReceipt; text: string; witnessing: WitnessResult[] }> {
    const indexes = withParameters(this.recorder.db.mode(), this.sessions.entryIndexes(sessionId));
    await this.recorder.checkpoint();
    const witnesses = o.witness === false ? [] : loadWitnesses(this.home);
    const witnessing = witnesses.length === 0 ? [] : await witnessLatest(this.recorder.db, witnesses, { timeoutMs: o.timeoutMs ?? 5000 });
    const bundle = buildBundle(this.recorder.db, indexes, o.since ?? []);
    const receipt: SessionReceipt = { sessionId, bundle, attachments: [], evidence: o.evidence ? this.evidence(sessionId) : [] };
    return { receipt, text: formatSessionReceipt(receipt), witnessing };
  }

  /** The disclosed evidence of a session's actions, from the evidence store (one read of it for all: `EvidenceStore.getMany`). */
  private evidence(sessionId: string): SessionReceipt['evidence'] {
    const digests = new Set<string>();
    for (const { statement } of this.sessions.statements(sessionId)) if (statement.kind === 'action' && statement.evidence) digests.add(statement.evidence);
    const store = this.recorder.evidence;
    if (store === null) return [];
    const found = store.getMany([...digests].map((d) => d.slice('sha256:'.length)));
    const out: SessionReceipt['evidence'] = [];
    for (const digest of digests) {
      const bytes = found.get(digest.slice('sha256:'.length));
      if (!bytes) continue;
      try {
        out.push({ digest, value: parseJsonBytes(bytes, { maxDepth: 40 }) as JsonValue });
      } catch (cause) {
        throw new AttestError('ERR_STORE_CORRUPT', `evidence ${digest} is not JSON`, { cause });
      }
    }
    return out;
  }

  /** Write a final checkpoint and close the log. */
  close(): Promise<void> {
    return this.recorder.close();
  }
}
