/**
 * The tlog-witness add-checkpoint wire format (src/witness/protocol.ts) against the C2SP
 * spec examples in test/vectors/published/c2sp/spec-examples/ (parse only, the
 * examples come without public keys), a format -> parse round trip, the 409 body, and the
 * malformed bodies a witness answers with 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBase64, toBase64 } from '../../src/bytes/index.js';
import { isAttestError } from '../../src/errors.js';
import { parseNote } from '../../src/log/note.js';
import {
  formatAddCheckpointRequest,
  formatConflictBody,
  MAX_WITNESS_PROOF_LINES,
  parseAddCheckpointRequest,
  parseConflictBody,
} from '../../src/witness/protocol.js';
import { vectorUrl } from '../vectors.js';

const EXAMPLES = vectorUrl('c2sp/spec-examples/');
const read = (name: string): string => readFileSync(new URL(name, EXAMPLES), 'utf8');
const REQUEST = read('add-checkpoint-request.txt');
const RESPONSE = read('add-checkpoint-response.txt');
const CHECKPOINT = read('checkpoint.txt');
const malformed = (e: unknown): boolean => isAttestError(e, 'ERR_WITNESS_REQUEST_MALFORMED');

test('spec example request: old 20852014, 4 proof hashes, the checkpoint note with 2 signatures', () => {
  const r = parseAddCheckpointRequest(REQUEST);
  assert.equal(r.oldSize, 20852014n);
  assert.equal(r.proof.length, 4);
  assert.ok(r.proof.every((h) => h.length === 32));
  assert.equal(toBase64(r.proof[0]!), 'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=');
  assert.equal(toBase64(r.proof[3]!), '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=');
  const note = parseNote(r.checkpointNote);
  assert.equal(note.text, 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
  assert.equal(note.signatures.length, 2);
  assert.ok(r.checkpointNote.startsWith(CHECKPOINT.slice(0, CHECKPOINT.lastIndexOf('\n', CHECKPOINT.length - 2))));
});

test('spec example response: 3 valid note signature lines from 2 cosigner names', () => {
  assert.ok(RESPONSE.endsWith('\n'));
  const lines = RESPONSE.slice(0, -1).split('\n');
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const sig = parseNote(`x\n\n${line}\n`).signatures;
    assert.equal(sig.length, 1, line);
    assert.equal(sig[0]!.signature.length, 72, 'cosignature/v1 payload: u64 timestamp || 64-byte signature');
  }
  // Appended to a checkpoint, as a client does, the whole response parses as signature lines.
  const all = parseNote(CHECKPOINT + RESPONSE).signatures;
  assert.equal(all.length, 4);
  assert.deepEqual([...new Set(all.slice(1).map((s) => s.name))], ['witness.example/w1', 'witness.example/w2']);
});

test('format -> parse round trip, and formatting the parsed example gives it back byte for byte', () => {
  const parsed = parseAddCheckpointRequest(REQUEST);
  assert.equal(formatAddCheckpointRequest(parsed), REQUEST);
  const fresh = { oldSize: 0n, proof: [], checkpointNote: CHECKPOINT };
  assert.deepEqual(parseAddCheckpointRequest(formatAddCheckpointRequest(fresh)), fresh);
  const big = { oldSize: (1n << 64n) - 1n, proof: [new Uint8Array(32).fill(7)], checkpointNote: CHECKPOINT };
  assert.deepEqual(parseAddCheckpointRequest(formatAddCheckpointRequest(big)), big);
});

test('formatting refuses more than 63 hashes or a hash that is not 32 bytes', () => {
  const proof = Array.from({ length: MAX_WITNESS_PROOF_LINES + 1 }, () => new Uint8Array(32));
  assert.throws(() => formatAddCheckpointRequest({ oldSize: 1n, proof, checkpointNote: CHECKPOINT }), malformed);
  assert.throws(() => formatAddCheckpointRequest({ oldSize: 1n, proof: [new Uint8Array(31)], checkpointNote: CHECKPOINT }), malformed);
});

test('409 body: "<size>\\n" both ways; anything else is not a size', () => {
  assert.equal(formatConflictBody(20852014n), '20852014\n');
  assert.equal(parseConflictBody('20852014\n'), 20852014n);
  assert.equal(parseConflictBody('0\n'), 0n);
  for (const bad of ['20852014', '020\n', '-1\n', '1 \n', '18446744073709551616\n', '']) assert.equal(parseConflictBody(bad), null, bad);
});

test('63 proof lines are accepted', () => {
  const proof = Array.from({ length: 63 }, () => `${toBase64(new Uint8Array(32))}\n`).join('');
  assert.equal(parseAddCheckpointRequest(`old 5\n${proof}\n${CHECKPOINT}`).proof.length, 63);
});

test('malformed bodies are rejected with ERR_WITNESS_REQUEST_MALFORMED', () => {
  const hash = 'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=';
  const short = toBase64(new Uint8Array(31));
  const nonCanonical = hash.slice(0, -2) + 'x='; // same length, non-zero trailing bits
  assert.throws(() => fromBase64(nonCanonical));
  const cases: Record<string, string> = {
    'no old line': `${hash}\n\n${CHECKPOINT}`,
    'empty head': `\n${CHECKPOINT}`,
    'old with a leading zero': `old 012\n\n${CHECKPOINT}`,
    'old with a sign': `old +12\n\n${CHECKPOINT}`,
    'old with two spaces': `old  12\n\n${CHECKPOINT}`,
    'old above 2^64-1': `old 18446744073709551616\n\n${CHECKPOINT}`,
    'OLD in capitals': `OLD 12\n\n${CHECKPOINT}`,
    '64 proof lines': `old 12\n${`${hash}\n`.repeat(64)}\n${CHECKPOINT}`,
    'short hash': `old 12\n${short}\n\n${CHECKPOINT}`,
    'non-canonical base64': `old 12\n${nonCanonical}\n\n${CHECKPOINT}`,
    'base64url hash': `old 12\n${'5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8='.replaceAll('+', '-').replaceAll('/', '_')}\n\n${CHECKPOINT}`,
    'missing blank line': `old 0\n${CHECKPOINT}`,
    'CRLF lines': `old 0\r\n\r\n${CHECKPOINT}`,
    'note without signatures': 'old 0\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    'note not LF-terminated': `old 0\n\n${CHECKPOINT.slice(0, -1)}`,
    'note with a control character': `old 0\n\n${CHECKPOINT.replace('20852163', '2085\t2163')}`,
    'bad note signature line': `old 0\n\n${CHECKPOINT.replace('\u2014 ', '- ')}`,
  };
  for (const [name, body] of Object.entries(cases)) {
    assert.throws(() => parseAddCheckpointRequest(body), malformed, name);
  }
});
