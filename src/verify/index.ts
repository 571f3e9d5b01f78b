/**
 * `mcp-attest/verify`: the verifier, with no Node-only dependency (runs in a browser):
 * strict JSON and JCS (RFC 8785), SEP-2787 attestations, execution receipts, RFC 6962
 * proofs, C2SP checkpoints, notes and witness cosignatures, trust policies, whole-log and
 * receipt-bundle verification.
 */
export { AttestError, isAttestError, ERROR_CODES, type ErrorCode } from '../errors.js';
export { parseJson, parseJsonBytes, canonicalize, canonicalBytes, type JsonValue } from '../jcs/index.js';
export { verifyAttestation, sepReason, verdictReason, type AttestationVerifyOptions, type AttestationVerdict } from '../attestation/verify.js';
export { verifyReceipt, type ReceiptVerifyOptions, type ReceiptVerdict } from '../receipt/verify.js';
export { verifyInclusion, verifyConsistency } from '../log/proof.js';
export { rootFromMultiProof } from '../log/multiproof.js';
export { parseCheckpoint, type Checkpoint } from '../log/checkpoint.js';
export { openNote, parseNote, ed25519NoteVerifier } from '../log/note.js';
export { parseTrustPolicy, policyKeyResolver, mergeTrustPolicies, type TrustPolicy, type TrustedIssuer } from './policy.js';
export { verifyLog, type LogInput, type LogReport } from './log.js';
export type { Finding } from './findings.js';
export { verifyBundle, type BundleReport, type BundleVerifyOptions } from './bundle.js';
export { parseBundle, formatBundle, toTlogProof, BUNDLE_FORMAT, BUNDLE_FORMAT_SHARED, type Bundle, type BundleEntry } from '../bundle/format.js';
export { isGzip, gzipMember, gunzipWeb, type GzipMember } from '../bundle/gzip.js';
export { openAnchor, checkCosignatures, type Cosigner, type OpenedCheckpoint, type StoredNote } from './checkpoints.js';
export type { KnownCheckpoint } from './split-view.js';
export { cosignatureVerifier } from '../log/cosignature.js';
export { parseTlogProof, type TlogProof } from '../log/tlog-proof.js';
export { verifySessionReceipt, type SessionReceiptReport, type SessionReceiptOptions, type SessionDimensions, type PartyDimension } from './session-receipt.js';
export { checkSession, type SessionEntry, type SessionResult, type PartyResult, type DimensionStatus } from './session.js';
export { parseSessionReceipt, formatSessionReceipt, isSessionReceipt, SESSION_RECEIPT_FORMAT, type SessionReceipt } from '../bundle/session-receipt.js';
export { parseStatement, statementDigest, sessionGenesis, actionsDigest, policyDocDigest, type Statement } from '../receipt/session.js';
export type { TrustedParty, PartyRole } from './policy.js';
