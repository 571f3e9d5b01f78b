/**
 * DPoP proof ids (src/gateway/dpop.ts, RFC 9449 §11.1) are recorded in a replay store, not
 * in memory: a proof is refused by a second checker over the same `nonces.db` (a restart, a
 * reload), one key's ids never meet another key's or an attestation issuer's nonces, and a
 * store that is full or cannot be written refuses the proof (fails closed).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DpopChecker, dpopReplayIssuer } from '../../src/gateway/dpop.js';
import { NonceStore } from '../../src/store/nonce-store.js';
import { AttestError } from '../../src/errors.js';

const URL_ = 'https://gw.example/ev/mcp';
const TOKEN = 'access-token';

async function prover(): Promise<{ proof: (jti?: string) => Promise<string>; jkt: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const ath = createHash('sha256').update(TOKEN).digest('base64url');
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    proof: (jti = randomUUID()) => new SignJWT({ htm: 'POST', htu: URL_, ath }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().setJti(jti).sign(privateKey),
  };
}

function storePath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-dpop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nonces.db');
}

test('a proof is accepted once, also across checkers over the same store (a restart); ids are per key', async (t) => {
  const path = storePath(t);
  const first = new NonceStore(path, { durability: 'normal' });
  const a = await prover();
  const b = await prover();
  const proof = await a.proof('jti-1');
  assert.deepEqual(await new DpopChecker(first).check(proof, 'POST', URL_, TOKEN), { jkt: a.jkt });
  assert.deepEqual(await new DpopChecker(first).check(proof, 'POST', URL_, TOKEN), { refused: 'the DPoP proof was used before' });
  first.close();
  const reopened = new NonceStore(path, { durability: 'normal' });
  t.after(() => reopened.close());
  const checker = new DpopChecker(reopened);
  assert.deepEqual(await checker.check(proof, 'POST', URL_, TOKEN), { refused: 'the DPoP proof was used before' }, 'after reopening');
  assert.deepEqual(await checker.check(await b.proof('jti-1'), 'POST', URL_, TOKEN), { jkt: b.jkt }, 'another key, the same jti');
  // An attestation nonce of the same text is another pair: proof ids live under their own issuer name.
  const now = Math.floor(Date.now() / 1000);
  assert.equal(reopened.record('issuer://x', 'jti-1', now + 60, now), 'recorded');
  assert.equal(reopened.record(dpopReplayIssuer(a.jkt), 'jti-1', now + 60, now), 'replay');
});

test('a proof refused before its id is recorded leaves no id behind', async (t) => {
  const store = new NonceStore(storePath(t), { durability: 'normal' });
  t.after(() => store.close());
  const a = await prover();
  const proof = await a.proof();
  assert.deepEqual(await new DpopChecker(store).check(proof, 'POST', 'https://gw.example/other/mcp', TOKEN), { refused: 'the DPoP proof is for another URL' });
  assert.equal(store.size(), 0);
  assert.deepEqual(await new DpopChecker(store).check(proof, 'POST', URL_, TOKEN), { jkt: a.jkt });
});

test('a full store, or one that cannot be written, refuses the proof', async () => {
  const a = await prover();
  const full = new DpopChecker({ record: () => 'full' });
  assert.deepEqual(await full.check(await a.proof(), 'POST', URL_, TOKEN), { refused: 'too many DPoP proofs are live: try again later' });
  const down = new DpopChecker({ record: () => Promise.reject(new AttestError('ERR_STORE_IO', 'cannot record nonce: connection refused')) });
  assert.deepEqual(await down.check(await a.proof(), 'POST', URL_, TOKEN), { refused: "the DPoP proof's id cannot be recorded: cannot record nonce: connection refused" });
});
