/**
 * docs/verification-codes.md lists every stable code exactly once, and its SEP reason column
 * is what `sepReason` returns, so the published table cannot drift from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { sepReason } from '../../src/attestation/verify.js';
import { NOTE_CODES } from '../../src/verify/findings.js';

const SEP_REASONS = ['signature_invalid', 'nonce_replay', 'expired', 'tool_mismatch', 'server_mismatch', 'key_unavailable', 'attestation_required', 'args_commitment_mismatch'];
const doc = readFileSync(new URL('../../docs/verification-codes.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|[^|]*\|[^|]*\| `([a-z_]+)` \|$/gm)].map((m) => [m[1], m[2]] as const);

test('every code appears in the table exactly once, and nothing else does', () => {
  assert.deepEqual(rows.map(([c]) => c).sort(), [...ERROR_CODES].sort());
});

test('every notice code appears in the table exactly once, and nothing else does', () => {
  const notes = [...doc.matchAll(/^\| `(NOTE_[A-Z0-9_]+)` \|[^|]*\|[^|]*\| — \|$/gm)].map((m) => m[1]);
  assert.deepEqual(notes.sort(), [...NOTE_CODES].sort());
});

test('each row\'s SEP reason is sepReason(code), one of the eight SEP-2787 reasons', () => {
  for (const [code, reason] of rows) {
    assert.equal(reason, sepReason(code as ErrorCode), code);
    assert.ok(SEP_REASONS.includes(reason), reason);
  }
  assert.deepEqual([...new Set(rows.map(([, r]) => r))].sort(), [...SEP_REASONS].sort(), 'every SEP reason is reachable');
});
