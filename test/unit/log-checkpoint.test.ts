/**
 * C2SP tlog-checkpoint note text (src/log/checkpoint.ts) against
 * test/vectors/published/c2sp/checkpoint-body.json (transparency-dev/formats
 * log/checkpoint_test.go, Apache-2.0, plus derived strict cases), the C2SP spec examples,
 * and adversarial mutations of the cosigned checkpoint note (test/mangle.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBase64, toBase64, utf8 } from '../../src/bytes/index.js';
import { isAttestError, type ErrorCode } from '../../src/errors.js';
import { formatCheckpoint, noteOrigin, parseCheckpoint, type Checkpoint } from '../../src/log/checkpoint.js';
import { EMPTY_ROOT, leafHash } from '../../src/log/hash.js';
import { ed25519NoteVerifier, openNote, parseNote } from '../../src/log/note.js';
import { cosignatureVerifier, parseCosignature } from '../../src/log/cosignature.js';
import { costlyPicker, mutantCount, sweepNote } from '../mangle.js';
import { vectorUrl } from '../vectors.js';

const C2SP = vectorUrl('c2sp/');
const read = (name: string): string => readFileSync(new URL(name, C2SP), 'utf8');
const V = JSON.parse(read('checkpoint-body.json'));
const code = (c: ErrorCode) => (e: unknown) => isAttestError(e, c);
const malformed = code('ERR_CHECKPOINT_MALFORMED');
const ROOT32 = toBase64(leafHash(utf8('a 32-byte root')));

test('marshal cases: the layout matches; Go short fake hashes are rejected (strict32)', () => {
  for (const c of V.marshal) {
    const short: Checkpoint = { origin: c.origin, size: BigInt(c.size), rootHash: utf8(c.hashUtf8), extensions: [] };
    assert.throws(() => formatCheckpoint(short), malformed, 'non-32-byte root');
    assert.throws(() => parseCheckpoint(c.want), malformed);
    // Same case with a 32-byte root: identical layout to Go's output.
    const root = leafHash(utf8(c.hashUtf8));
    const want = c.want.replace(toBase64(utf8(c.hashUtf8)), toBase64(root));
    assert.equal(formatCheckpoint({ ...short, rootHash: root }), want);
  }
});

test('unmarshal cases: Go verdicts, made strict (32-byte roots, no empty extension lines)', () => {
  for (const c of V.unmarshal) {
    const lines = c.in.split('\n');
    const hashBytes = (() => {
      try {
        return fromBase64(lines[2] ?? '').length;
      } catch {
        return -1;
      }
    })();
    // Strict: rejected when Go rejects, when the root is not 32 bytes (`strict32`, and the
    // same 37-byte fake hash in other cases), and for empty extension lines (`c2spNote`).
    if (c.wantErr || c.strict32 || c.c2spNote || hashBytes !== 32) {
      assert.throws(() => parseCheckpoint(c.in), malformed, c.desc);
    }
    if (c.wantErr) continue;
    // Go accepted it: with a 32-byte root, the remaining fields parse as Go expects,
    // except empty extension lines, which C2SP forbids.
    const fixed = [lines[0], lines[1], ROOT32, ...lines.slice(3)].join('\n');
    if (c.c2spNote) {
      assert.throws(() => parseCheckpoint(fixed), malformed, c.desc);
      continue;
    }
    const cp = parseCheckpoint(fixed);
    assert.equal(cp.origin, c.wantOrigin, c.desc);
    assert.equal(cp.size, BigInt(c.wantSize), c.desc);
    assert.equal(cp.extensions.map((e) => e + '\n').join(''), c.wantRest, c.desc);
    assert.equal(formatCheckpoint(cp), fixed);
  }
});

test('additional strict cases (derived from the spec)', () => {
  for (const c of V.additionalStrictCasesDerived) {
    if (c.wantErr) assert.throws(() => parseCheckpoint(c.in), malformed, c.desc);
    else assert.equal(formatCheckpoint(parseCheckpoint(c.in)), c.in, c.desc);
  }
  const empty = parseCheckpoint('example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n');
  assert.deepEqual([empty.size, empty.rootHash], [0n, EMPTY_ROOT]);
});

test('strict parsing beyond the vectors', () => {
  const ok = `example.com/log\n18446744073709551615\n${ROOT32}\n`;
  assert.equal(parseCheckpoint(ok).size, (1n << 64n) - 1n);
  const bad = [
    `example.com/log\n18446744073709551616\n${ROOT32}\n`, // 2^64
    `example.com/log\n-0\n${ROOT32}\n`,
    `example.com/log\n 5\n${ROOT32}\n`,
    `example.com/log\n5 \n${ROOT32}\n`,
    `example.com/log\n5\n${ROOT32.replace('=', '')}\n`, // unpadded
    `example.com/log\n5\n${ROOT32}\n\n`, // empty extension
    `example.com/log\n5\n${ROOT32}\next\r\n`,
    `example.com/log\n5\n${ROOT32}`,
    `example.com/log\n5\n${ROOT32} \n`,
    `ex\tample.com/log\n5\n${ROOT32}\n`,
    `\ud800\n5\n${ROOT32}\n`,
    `example.com/log\n١٢\n${ROOT32}\n`, // non-ASCII digits
    `example.com/log\n5\n`,
    '',
    '\n',
  ];
  for (const text of bad) assert.throws(() => parseCheckpoint(text), malformed, JSON.stringify(text));
  const root = leafHash(utf8('x'));
  const fmtBad: Checkpoint[] = [
    { origin: '', size: 1n, rootHash: root, extensions: [] },
    { origin: 'a\nb', size: 1n, rootHash: root, extensions: [] },
    { origin: 'a', size: -1n, rootHash: root, extensions: [] },
    { origin: 'a', size: 1n << 64n, rootHash: root, extensions: [] },
    { origin: 'a', size: 0n, rootHash: root, extensions: [] },
    { origin: 'a', size: 1n, rootHash: root, extensions: [''] },
    { origin: 'a', size: 1n, rootHash: root, extensions: ['x\ny'] },
  ];
  for (const c of fmtBad) assert.throws(() => formatCheckpoint(c), malformed);
  const ext: Checkpoint = { origin: 'go.sum database tree', size: 7n, rootHash: root, extensions: ['e1', 'e 2'] };
  assert.deepEqual(parseCheckpoint(formatCheckpoint(ext)), ext);
});

test('spec examples parse (signatures cannot be verified: no published keys)', () => {
  for (const name of ['spec-examples/checkpoint.txt', 'spec-examples/cosigned-checkpoint.txt']) {
    const note = parseNote(read(name));
    const cp = parseCheckpoint(note.text);
    assert.equal(cp.origin, 'example.com/behind-the-sofa');
    assert.equal(cp.size, 20852163n);
    assert.equal(note.signatures[0]!.keyId, 0x033de0ae);
  }
  const cosigned = parseNote(read('spec-examples/cosigned-checkpoint.txt'));
  assert.equal(parseCosignature(cosigned.signatures[1]!.signature).timestamp, 1679315147n);
});

test('real sum.golang.org checkpoint: origin differs from the key name', async () => {
  const c = JSON.parse(read('signed-note.json')).verify.find((x: any) => x.id === 'sum.golang.org-real-checkpoint');
  const opened = await openNote(c.note, c.vkeys.map(ed25519NoteVerifier));
  const cp = parseCheckpoint(opened.text);
  assert.equal(cp.origin, 'go.sum database tree');
  assert.equal(cp.size, 30055305n);
  assert.equal(opened.verified[0]!.name, 'sum.golang.org');
});

// The single-key signed checkpoint sweep lives in mangle.test.ts (exhaustive, all 255 values).

test('adversarial: no mutation of the cosigned example keeps all three signatures valid', async (t) => {
  const d = JSON.parse(read('cosignature-v1.json')).derivedEndToEnd;
  const verifiers = [ed25519NoteVerifier(d.log.vkey), ...d.witnesses.map((w: any) => cosignatureVerifier(w.vkey))];
  const note = utf8(d.checkpoint);
  // Accepted only with all three signers; a renamed or re-keyed line is ignored (unknown
  // key), so the note then lacks a signer and counts as rejected.
  const c = await sweepNote(d.checkpoint, { verifiers, check: (o) => void parseCheckpoint(o.text), pick: costlyPicker });
  t.diagnostic(`cosigned checkpoint: ${note.length} bytes, tried ${c.tried}, rejected ${c.rejected}, ${c.ms} ms`);
  assert.equal(c.tried, mutantCount(note, costlyPicker));
  assert.equal(c.rejected, c.tried);
});

test('noteOrigin names a stored note\'s log only when its text is a checkpoint: no control character, at most 1,024 characters, never throwing', () => {
  const root = Buffer.alloc(32, 7).toString('base64');
  const note = (origin: string) => `${origin}\n5\n${root}\n\n\u2014 example.com/log AAAAAA==\n`;
  assert.equal(noteOrigin(note('example.com/log')), 'example.com/log');
  assert.equal(noteOrigin(note('\u001b]0;pwned\u0007example.com')), null);
  assert.equal(noteOrigin(note('a'.repeat(1025))), null);
  assert.equal(noteOrigin(note('a'.repeat(1024))), 'a'.repeat(1024));
  assert.equal(noteOrigin('example.com/log'), null, 'no blank line: no note');
  assert.equal(noteOrigin(`example.com/log\n5\nnot base64\n\n`), null);
});
