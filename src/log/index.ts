/**
 * Transparency-log verification: RFC 9162 Merkle hashing, tree math and proofs, and the
 * C2SP signed-note, tlog-checkpoint, tlog-cosignature, tlog-tiles and tlog-proof formats.
 * Runtime-neutral (no `node:*`, no Buffer). Signing (`note-sign.ts`,
 * `cosignature-sign.ts`) and the in-memory tree (`memory-tree.ts`) are imported directly.
 */
export { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from './hash.js';
export {
  appendNodes,
  consistencyProof,
  inclusionProof,
  isSubtreeRange,
  rootAt,
  rootFromLeafHashes,
  subtreeHash,
  type NodeReader,
  type StoredNode,
} from './tree.js';
export {
  consistencyProofLength,
  inclusionProofLength,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './proof.js';
export {
  formatKeyId,
  formatVerifierKey,
  isValidKeyName,
  keyId,
  parseVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  SIG_TYPE_SUBTREE_V1,
  type VerifierKey,
} from './vkey.js';
export {
  ed25519NoteVerifier,
  formatSignatureLine,
  MAX_NOTE_SIZE,
  MAX_SIGNATURES,
  openNote,
  parseNote,
  parseNoteBytes,
  type Note,
  type NoteSignature,
  type NoteVerifier,
  type OpenedNote,
} from './note.js';
export { formatCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.js';
export {
  COSIGNATURE_V1_SIZE,
  cosignatureMessage,
  cosignatureVerifier,
  cosignedBytes,
  formatCosignature,
  parseCosignature,
  type Cosignature,
} from './cosignature.js';
export {
  entriesPath,
  formatEntryBundle,
  MAX_ENTRY_SIZE,
  MAX_TILE_LEVEL,
  parseEntryBundle,
  parseTilePath,
  partialWidth,
  TILE_WIDTH,
  tilePath,
  type TileRef,
} from './tiles.js';
export {
  formatTlogProof,
  MAX_PROOF_HASHES,
  parseTlogProof,
  TLOG_PROOF_HEADER,
  type TlogProof,
} from './tlog-proof.js';
