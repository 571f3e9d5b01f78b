/**
 * The vector and mangling suites again, with Node's SHA-256 and signature verification
 * installed (src/platform/node.ts), so both implementations are held to the same verdicts:
 * every published and own vector, every mangled byte, every hostile log. The suites
 * themselves run on WebCrypto and @noble/hashes in their own files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeSha256, nodeVerify } from '../../src/platform/node.js';
import { sha256 } from '../../src/bytes/digest.js';
import { toHex } from '../../src/bytes/index.js';
import { getAlgorithm, verifierName, type AlgName } from '../../src/keys/algorithms.js';

test('the Node primitives are the ones installed', () => {
  assert.equal(verifierName(), 'node:crypto');
  assert.equal(toHex(sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.ok(!(nodeSha256(new Uint8Array(0)) instanceof Buffer), 'a plain Uint8Array');
});

test('a key is used only as WebCrypto would: another algorithm, a private key or a key without verify usage is false', async () => {
  const data = new TextEncoder().encode('signed');
  const ec = (await getAlgorithm('ES256').generate()) as CryptoKeyPair;
  const ed = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.privateKey, data));
  assert.equal(nodeVerify('ES256', ec.publicKey, data, sig), true);
  assert.equal(nodeVerify('EdDSA', ec.publicKey, data, sig), false, 'an ES256 key for EdDSA');
  assert.equal(nodeVerify('ES256', ed.publicKey, data, sig), false, 'an Ed25519 key for ES256');
  assert.equal(nodeVerify('ES256', ec.privateKey, data, sig), false, 'a private key');
  const jwk = await crypto.subtle.exportKey('jwk', ec.publicKey);
  const signOnly = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, []);
  assert.equal(nodeVerify('ES256', signOnly, data, sig), false, 'a key without the verify usage');
  for (const alg of ['ES256', 'EdDSA'] as AlgName[]) {
    const key = alg === 'ES256' ? ec.publicKey : ed.publicKey;
    assert.equal(await getAlgorithm(alg).verify(key, data, new Uint8Array(64)), false, `${alg}: zero signature`);
  }
});

await import('./mangle.test.js');
await import('./sep2787-vaara.test.js');
await import('./sep2787-pr2789.test.js');
await import('./receipt-vectors.test.js');
await import('./own-vectors.test.js');
await import('./attestation-issue.test.js');
await import('./log-reference.test.js');
await import('./log-tlog-proof.test.js');
await import('./log-note.test.js');
await import('./verify-hostile.test.js');
