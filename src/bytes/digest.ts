/**
 * SHA-256 (FIPS 180-4) and the `sha256:<hex>` digest notation used by SEP-2787 vectors and
 * execution receipts. Synchronous and runtime-neutral (`@noble/hashes`).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './index.js';

/** SHA-256 of `data`: 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** `"sha256:" + lowercase hex(SHA-256(data))`; strings are UTF-8 encoded first. */
export function sha256Tagged(data: Uint8Array | string): string {
  return 'sha256:' + toHex(sha256(typeof data === 'string' ? utf8(data) : data));
}

/** Pattern of a tagged digest: `sha256:` + 64 lowercase hex characters. */
export const TAGGED_DIGEST = /^sha256:[0-9a-f]{64}$/;
