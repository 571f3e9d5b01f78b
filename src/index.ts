/**
 * `mcp-attest`: the library. The verifier (also `mcp-attest/verify`), envelope issuing,
 * and the server side: the attestation gate, its policy, and the middleware that wraps an
 * SDK server (docs/middleware.md, docs/gate-policy.md). On import it installs Node's SHA-256
 * and signature verification (src/platform/node.ts); `mcp-attest/verify` alone does not.
 */
import './platform/node.js';
export * from './verify/index.js';
export { issueAttestation, attestationBody, type AttestationInput } from './attestation/build.js';
export { issueReceipt, attestationDigest, type ReceiptInput } from './receipt/build.js';
export { webCryptoSign, signEnvelope, type Signer } from './envelope/sign.js';
export { nodeSigner, nodeSigners, hmacSigner } from './store/node-signer.js';
export { gunzipStrict } from './platform/gunzip.js';
export { Gate, MemoryReplayStore, type GateCall, type GateDecision, type GateOptions, type ReplayStore } from './gate/gate.js';
export { parseGatePolicy, loadGatePolicy, type GatePolicy, type LoadedGatePolicy, type ToolRule } from './gate/policy.js';
export {
  ATTESTATION_EXTENSION, RESPONSE_RECEIPT_META_KEY, REFUSAL_META_KEY, attestationExtension, committedResult,
  keyFingerprint, refusalResult, responseReceipt,
} from './gate/wire.js';
export { withAttestationGate, type GateMiddlewareOptions } from './gate/middleware.js';
export { NonceStore } from './store/nonce-store.js';
