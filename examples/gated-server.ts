/**
 * A tiny MCP server gated in-process by mcp-attest (docs/middleware.md), over stdio:
 *
 *   node --import tsx examples/gated-server.ts [policy.yaml [nonces.db]]
 *
 * Without a policy file the gate runs under `required: false`: unattested calls pass,
 * attested ones are still verified (against no trusted issuer, so they are refused
 * `key_unavailable`). Response receipts are signed with a fresh Ed25519 key, printed to
 * stderr as a trust-policy issuer; the server fingerprint is that key's RFC 7638 thumbprint
 * as `sha256:<hex>`, as `mcp-attest proxy --role server` derives it. SIGHUP reloads the
 * policy file; with `nonces.db` accepted nonces survive restarts.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { webCryptoSign, type Signer } from '../src/envelope/sign.js';
import { getAlgorithm } from '../src/keys/algorithms.js';
import { exportPublicJwk, jwkThumbprint } from '../src/keys/material.js';
import { loadGatePolicy, parseGatePolicy, type LoadedGatePolicy } from '../src/gate/policy.js';
import { withAttestationGate } from '../src/gate/middleware.js';
import { keyFingerprint } from '../src/gate/wire.js';
import { NonceStore } from '../src/store/nonce-store.js';

const [policyPath, noncePath] = process.argv.slice(2);

async function policy(): Promise<Pick<LoadedGatePolicy, 'policy' | 'keys'>> {
  if (policyPath !== undefined) return loadGatePolicy(policyPath);
  return { policy: parseGatePolicy('version: 1\nrequired: false\n'), keys: async () => null };
}

/** A fresh Ed25519 receipt signer; its key id is the JWK thumbprint. */
async function receiptSigner(): Promise<{ signer: Signer; fingerprint: string }> {
  const pair = await getAlgorithm('EdDSA').generate() as CryptoKeyPair;
  const jwk = await exportPublicJwk(pair.publicKey);
  const keyId = jwkThumbprint(jwk);
  process.stderr.write(`receipt key: ${JSON.stringify({ iss: 'server://gated-example', alg: 'EdDSA', keyId, publicKeyJwk: jwk })}\n`);
  const signer: Signer = { iss: 'server://gated-example', sub: 'gated-example', alg: 'EdDSA', keyId, sign: webCryptoSign('EdDSA', pair.privateKey) };
  return { signer, fingerprint: keyFingerprint(keyId) };
}

const server = new McpServer({ name: 'gated-example', version: '1.0.0' });
const { signer, fingerprint } = await receiptSigner();
const loaded = await policy();
const gate = withAttestationGate(server, {
  ...loaded,
  serverFingerprint: loaded.policy.serverFingerprint ?? fingerprint,
  signer,
  ...(noncePath === undefined ? {} : { replay: new NonceStore(noncePath, { maxEntries: loaded.policy.nonceStore.maxEntries }) }),
  onDecision: ({ tool, decision }) => process.stderr.write(`${tool}: ${decision.allowed ? 'allowed' : `refused ${decision.reason} (${decision.code})`}\n`),
});
server.registerTool('echo', { description: 'Echo a text back', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
process.on('SIGHUP', () => {
  if (policyPath !== undefined) policy().then((p) => gate.reload(p.policy, p.keys), (e: unknown) => process.stderr.write(`policy not reloaded: ${(e as Error).message}\n`));
});
process.stderr.write(`gated-example: server fingerprint ${fingerprint}\n`);
await server.connect(new StdioServerTransport());
