/**
 * SHA-256 (FIPS 180-4) and the `sha256:<hex>` digest notation used by SEP-2787 vectors and
 * execution receipts. Synchronous and runtime-neutral (`@noble/hashes`, unless the platform
 * module injects its own: {@link useSha256}).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './index.js';

/** A SHA-256 implementation: 32 bytes of FIPS 180-4 SHA-256 over `data`. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

let impl: Sha256 = nobleSha256;
/** The platform's SHA-256 as lowercase hex, when it has a faster way to it than hex of the bytes ({@link useSha256}). */
let hexImpl: ((data: Uint8Array) => string) | null = null;

/**
 * Use a faster SHA-256 where the platform has one (Node's: src/platform/node.ts). Layers that
 * run in a browser stay free of `node:*`; the platform module injects it. It must compute
 * SHA-256 exactly (the vector suites run under both); `hex`, when given, its lowercase hex
 * (to {@link sha256Tagged}: what `toHex(f(data))` is, without the bytes).
 */
export function useSha256(f: Sha256, hex?: (data: Uint8Array) => string): void {
  impl = f;
  hexImpl = hex ?? null;
}

/** SHA-256 of `data`: 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return impl(data);
}

/** `"sha256:" + lowercase hex(SHA-256(data))`; strings are UTF-8 encoded first. */
export function sha256Tagged(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  return 'sha256:' + (hexImpl === null ? toHex(impl(bytes)) : hexImpl(bytes));
}

/** Pattern of a tagged digest: `sha256:` + 64 lowercase hex characters. */
export const TAGGED_DIGEST = /^sha256:[0-9a-f]{64}$/;
