/**
 * Helpers of the gatekeeper end-to-end tests: an agent key the gate policy trusts (and an
 * untrusted one), attestations signed with it, a gatekeeper process in front of a real MCP
 * server, and the refusal a client sees.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { issueAttestation, type AttestationInput } from '../../src/attestation/build.js';
import type { Attestation } from '../../src/attestation/schema.js';
import { webCryptoSign, type Signer } from '../../src/envelope/sign.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportPublicJwk, jwkThumbprint } from '../../src/keys/material.js';
import { CLI, EVERYTHING, connect, type Scope } from './helpers.js';

/** The fixed server fingerprint the test policies give the gatekeeper. */
export const GATED_FP = `sha256:${'ab'.repeat(32)}`;

/** A fresh ES256 agent key: its signer and its trust-policy issuer entry. */
export async function agentKey(iss = 'issuer://agent'): Promise<{ signer: Signer; issuer: Record<string, unknown> }> {
  const pair = await getAlgorithm('ES256').generate() as CryptoKeyPair;
  const publicKeyJwk = await exportPublicJwk(pair.publicKey);
  const keyId = jwkThumbprint(publicKeyJwk);
  return { signer: { iss, sub: 'agent:e2e', alg: 'ES256', keyId, sign: webCryptoSign('ES256', pair.privateKey) }, issuer: { iss, alg: 'ES256', keyId, publicKeyJwk } };
}

/** Sign an attestation for `tool(args)` at this server, now, unless `over` says otherwise. */
export function attest(signer: Signer, tool: string, args: unknown, over: Partial<AttestationInput> = {}): Promise<Attestation> {
  return issueAttestation(signer, {
    tool, args, serverFingerprint: GATED_FP, intent: 'e2e: gated call', now: Math.floor(Date.now() / 1000),
    nonceBytes: crypto.getRandomValues(new Uint8Array(16)), ...over,
  });
}

/** Write a JSON policy (trusting `issuers`, fixed fingerprint) merged with `extra`; returns its path. */
export function writePolicy(s: Scope, issuers: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}, file = 'policy.json'): string {
  const path = join(s.dir, file);
  writeFileSync(path, JSON.stringify({ version: 1, issuers, serverFingerprint: GATED_FP, ...extra }));
  return path;
}

/** The gatekeeper's home inside the test directory. */
export function serverHome(s: Scope): string {
  return join(s.dir, 'server');
}

/** `mcp-attest proxy --role server` argv (after `node`) in front of `upstream`. */
export function gatekeeperArgs(s: Scope, policy: string, upstream: string[] = [EVERYTHING], flags: string[] = []): string[] {
  return [CLI, 'proxy', '--role', 'server', '--policy', policy, '--home', serverHome(s), ...flags, '--', process.execPath, ...upstream];
}

/** An SDK client talking to a gatekeeper in front of `upstream` (server-everything by default). */
export function connectGated(s: Scope, policy: string, upstream?: string[]) {
  return connect(s, process.execPath, gatekeeperArgs(s, policy, upstream));
}

/** Call `tool` carrying `attestation` (omitted when undefined). */
export async function callWith(client: Awaited<ReturnType<typeof connectGated>>['client'], tool: string, args: Record<string, unknown>, attestation?: unknown): Promise<CallToolResult> {
  return (await client.callTool({ name: tool, arguments: args, ...(attestation === undefined ? {} : { _meta: { attestation } }) })) as CallToolResult;
}

/** Assert the result is the SEP-2787 refusal with `reason`, and our detail `code`. */
export function assertRefused(r: CallToolResult, reason: string, code: string): void {
  assert.equal(r.isError, true, JSON.stringify(r));
  assert.deepEqual(r.content, [{ type: 'text', text: JSON.stringify({ attestationError: true, reason }) }]);
  assert.equal((r._meta?.['dev.mcp-attest/refusal'] as { code?: string } | undefined)?.code, code, JSON.stringify(r._meta));
}

/** Assert the call went through: not an error, echo's text. */
export function assertEchoed(r: CallToolResult, message: string): void {
  assert.notEqual(r.isError, true, JSON.stringify(r));
  assert.deepEqual(r.content, [{ type: 'text', text: `Echo: ${message}` }]);
}
