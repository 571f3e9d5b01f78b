/**
 * What a finding's code means, for a person reading the verify page: what was checked and
 * what its failure implies. The code and the verifier's own message are shown beside it.
 * Codes are those of src/errors.ts and verify/findings.ts.
 */

const EXACT: Record<string, string> = {
  ERR_SIGNATURE_INVALID: 'A signature does not verify: the signed content was changed after it was signed, or another key signed it.',
  ERR_KEY_UNAVAILABLE: 'The trust policy you chose has no key for this signer: it is not someone you trust, or your policy is out of date.',
  ERR_ALG_NOT_ALLOWED: 'The signature uses an algorithm your trust policy does not accept.',
  ERR_ALG_DOWNGRADE: 'The algorithm named outside the signed part differs from the one inside it: a downgrade attempt.',
  ERR_ARGS_COMMITMENT_MISMATCH: 'The tool arguments recorded do not match what the attestation committed to.',
  ERR_RESULT_COMMITMENT_MISMATCH: 'The result recorded does not match what the receipt committed to.',
  ERR_BACK_LINK_MISMATCH: 'The receipt does not answer this attestation: it names another request.',
  ERR_TTL_EXPIRED: 'The attestation had expired at the time of checking.',
  ERR_TTL_NOT_YET_VALID: 'The attestation claims a time in the future, beyond the allowed clock skew.',
  ERR_INCLUSION_INVALID: 'The proof that this entry is in the log does not lead to the checkpoint\'s root: the entry or the proof was altered.',
  ERR_PROOF_INVALID: 'A Merkle proof does not verify against the checkpoint.',
  ERR_LOG_ROOT_MISMATCH: 'The entries do not hash to the root the checkpoint signed: the log was altered, or entries were added, removed or reordered.',
  ERR_LOG_TILE_MISMATCH: 'A hash tile of the folder is not the one its entries make: the folder was altered.',
  ERR_LOG_TRUNCATED: 'Entries the checkpoint covers are missing.',
  ERR_CHECKPOINT_SIGNATURE_INVALID: 'The checkpoint is not signed by the log key your trust policy names.',
  ERR_CHECKPOINT_UNTRUSTED: 'The checkpoint is from a log your trust policy does not name.',
  ERR_CHECKPOINT_MISSING: 'There is no signed checkpoint covering these entries: nothing commits the log to them yet.',
  ERR_CHECKPOINT_INCONSISTENT: 'The log\'s operator signed two different histories: this checkpoint does not extend the one you hold (a fork). Keep both files: together they prove it.',
  ERR_LOG_ROLLBACK: 'The log is smaller than a checkpoint of it you accepted before: entries were taken back, or you are shown an old copy.',
  ERR_CONSISTENCY_MISSING: 'Nothing here proves this checkpoint extends the one you hold: ask for a bundle made with --since the size you hold.',
  ERR_QUORUM_NOT_MET: 'Fewer independent witnesses cosigned the checkpoint than your trust policy requires: a split view cannot be excluded.',
  ERR_COSIGNATURE_INVALID: 'A witness cosignature does not verify.',
  ERR_OPENING_MISMATCH: 'The record and salt given do not make the entry the log published.',
  ERR_ENTRY_UNOPENED: 'A private entry is included without its record and salt, and no erasure record explains it.',
  ERR_POLICY_DOC_MISMATCH: 'The policy document you chose is not the one the session committed to.',
  ERR_SESSION_CHAIN_BROKEN: 'The session\'s statements do not chain: one was removed, inserted or changed.',
  ERR_PARTY_UNTRUSTED: 'An approval or confirmation is signed by a party your trust policy does not name.',
  ERR_BUNDLE_MALFORMED: 'The file is not a well-formed mcp-attest bundle.',
  ERR_SESSION_MALFORMED: 'The file is not a well-formed session receipt.',
  NOTE_SEALED: 'The entries are published as salted commitments (a private log): their content is not in these files, and was not checked here; the tree and checkpoint were.',
  NOTE_ERASED: 'An entry was erased by its operator (a signed erasure record says so): its content can no longer be checked.',
  NOTE_UNANSWERED: 'A call has no receipt: the server refused it, or the answer was lost.',
  NOTE_IN_FLIGHT: 'A call has no receipt here: it was still in progress when the checkpoint was signed, or, in a bundle, its receipt was left out (ask for it).',
  NOTE_UNWITNESSED: 'Your trust policy asks no witness to confirm the log: its operator alone vouches for this history, and could show others a different one.',
  NOTE_OUTSIDE_BUNDLE: 'Part of what these entries refer to is not in this bundle.',
};

const PREFIX: Array<[string, string]> = [
  ['ERR_JSON_', 'The JSON is not in the strict form signed records must have (duplicate keys, bad numbers, bad escapes): readers could disagree on it.'],
  ['ERR_SESSION_', 'The session receipt does not hold together as a session: see the message.'],
  ['ERR_CHECKPOINT_', 'The checkpoint is not a valid signed checkpoint of a log you trust.'],
  ['ERR_LOG_', 'The log itself does not hold together: see the message.'],
  ['ERR_WITNESS_', 'A witness check failed.'],
  ['ERR_INPUT_', 'A file is not what it should be (too large, or not a regular file).'],
  ['NOTE_', 'For your information: not a failure.'],
];

/** A sentence for a person on what `code` means (the verifier's message says where and what exactly). */
export function explain(code: string): string {
  return EXACT[code] ?? PREFIX.find(([p]) => code.startsWith(p))?.[1] ?? 'See the message for what failed and where.';
}
