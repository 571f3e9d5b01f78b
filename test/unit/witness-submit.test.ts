/**
 * The log side of the witness protocol against witnesses that misbehave (an HTTP server in
 * the test plays the hostile witness; the real one cannot be made to lie): a planted
 * cosignature over a shifted text, an answer too large, a redirect, a 409 beyond our tree; a
 * refusal's text kept with its control characters written out.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { utf8 } from '../../src/bytes/index.js';
import { getAlgorithm } from '../../src/keys/algorithms.js';
import { exportEd25519Public } from '../../src/keys/ed25519.js';
import { cosignatureSigner } from '../../src/log/cosignature-sign.js';
import { ed25519NoteSigner, signNote } from '../../src/log/note-sign.js';
import { formatSignatureLine } from '../../src/log/note.js';
import { formatCheckpoint } from '../../src/log/checkpoint.js';
import { EMPTY_ROOT } from '../../src/log/hash.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/log/vkey.js';
import { submitCheckpoint } from '../../src/witness/submit.js';

async function keyPair(): Promise<{ privateKey: CryptoKey; pub: Uint8Array }> {
  const pair = (await getAlgorithm('EdDSA').generate()) as CryptoKeyPair;
  return { privateKey: pair.privateKey, pub: await exportEd25519Public(pair.publicKey) };
}

async function hostile(t: TestContext, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a witness answer that shifts the note separator, is too large, redirects, or claims a larger tree is never stored as a cosignature', async (t) => {
  const log = await keyPair();
  const w = await keyPair();
  const name = 'evil.example/w';
  const vkey = formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, w.pub);
  const note = await signNote(formatCheckpoint({ origin: 'example.com/log', size: 0n, rootHash: EMPTY_ROOT, extensions: [] }), [ed25519NoteSigner('example.com/log', log.privateKey, log.pub)]);
  const signer = cosignatureSigner(name, w.privateKey, w.pub);
  // Signed over the note text *and* the log's signature line: valid if the separator moves.
  // With an empty line first, the note's last empty line moves: the "text" becomes the whole note.
  const planted = '\n' + formatSignatureLine(name, signer.keyId, await signer.sign(utf8(note)));
  const honest = formatSignatureLine(name, signer.keyId, await signer.sign(utf8(note.slice(0, note.indexOf('\n\n') + 1))));
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, string]> = [
    ['planted', (_q, res) => res.end(planted), 'ERR_WITNESS_REFUSED'],
    ['too large', (_q, res) => res.end(honest + 'x'.repeat(200_000)), 'ERR_WITNESS_UNREACHABLE'],
    ['redirect', (_q, res) => { res.writeHead(307, { location: 'http://127.0.0.1:1/add-checkpoint' }); res.end(); }, 'ERR_WITNESS_UNREACHABLE'],
    ['larger tree', (_q, res) => { res.writeHead(409, { 'content-type': 'text/x.tlog.size' }); res.end('7\n'); }, 'ERR_WITNESS_CONFLICT'],
  ];
  for (const [what, answer, code] of cases) {
    const url = await hostile(t, answer);
    const out = await submitCheckpoint({ name, vkey, url }, note, 0n, 0n, () => [], { timeoutMs: 5000 });
    assert.equal(out.ok, false, what);
    assert.equal(!out.ok && out.code, code, what);
  }
  // A refusal's words are kept for the operator, with nothing a terminal would act on.
  const refusal = await submitCheckpoint({ name, vkey, url: await hostile(t, (_q, res) => { res.writeHead(400); res.end('\u001b[2J\u001b[32mwitness OK\u0007\u202e'); }) }, note, 0n, 0n, () => []);
  assert.ok(!refusal.ok);
  assert.equal(refusal.message, `${name}: HTTP 400 \\u001b[2J\\u001b[32mwitness OK\\u0007\\u202e`);
  const url = await hostile(t, (_q, res) => res.end(honest));
  const out = await submitCheckpoint({ name, vkey, url }, note, 0n, 0n, () => []);
  assert.ok(out.ok && out.line === honest, 'the honest answer is kept');
});
