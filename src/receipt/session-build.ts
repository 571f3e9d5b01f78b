/**
 * Signing receipt-session statements (docs/session.md). Synchronous on purpose: the session
 * store builds and signs an action inside the log's append transaction, where the previous
 * action (its `prev` link) is read, so two processes appending to one session cannot fork
 * the chain. Kept apart from receipt/session.ts so verifiers never import signing code.
 */
import { toHex } from '../bytes/index.js';
import { AttestError } from '../errors.js';
import { signingInput } from '../envelope/signature.js';
import { toLowS, type Signer } from '../envelope/sign.js';
import { formatTimestamp } from '../envelope/time.js';
import { parseStatement, STATEMENT_FORMAT, type Statement } from './session.js';

/** A statement before signing: its kind members, without the common ones. */
export type StatementBody = Omit<Statement, 'format' | 'sessionId' | 'iat' | 'signer' | 'signature'>;

/**
 * Sign a statement of `sessionId` at `now` (POSIX seconds) with `signer` (its `iss` as
 * signer id, or `id` when given: a party's id). The signer's `sign` must be synchronous
 * (node:crypto); a promise-returning signer throws `ERR_USAGE`. The result is re-parsed, so
 * a statement outside the schema throws `ERR_SESSION_MALFORMED` and is never written.
 */
export function signStatementSync(signer: Signer, sessionId: string, now: number, body: StatementBody, id: string = signer.iss): Statement {
  const unsigned = { format: STATEMENT_FORMAT, sessionId, iat: formatTimestamp(now), signer: { id, alg: signer.alg, keyId: signer.keyId }, ...body };
  const sig = signer.sign(signingInput(unsigned as Record<string, unknown>));
  if (sig instanceof Promise) throw new AttestError('ERR_USAGE', 'session statements need a synchronous signer');
  return parseStatement({ ...unsigned, signature: toHex(signer.alg === 'ES256' ? toLowS(sig) : sig) });
}
