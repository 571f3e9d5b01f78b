/**
 * Vectors of log format v2 entries (docs/log-format.md "Format v2", docs/vectors.md "Entry
 * cases"): the parameters entry, the salted commitment of a record, an opening that does not
 * open its entry, and the form every entry of a log must have. Expected bytes are computed
 * here with node:crypto directly, not with the library under test; verdicts are by hand.
 */
import { createHash } from 'node:crypto';

/** One entry case. `input`: the entry (hex), and/or an opening (salt hex, record text); `log` the format of the log it sits in, at `position`. */
export interface EntryVector {
  name: string;
  desc: string;
  kind: 'entry';
  log: 'private' | 'public' | 'v1';
  position: number;
  input: { entryHex?: string; salt?: string; record?: string };
  expected: { verdict: 'accept' | 'reject'; code?: string; entryHex?: string; leafHash?: string };
}

const sha256 = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const commitment = (salt: Buffer, record: string): Buffer => Buffer.concat([Buffer.from([1]), sha256(salt, Buffer.from(record, 'utf8'))]);
const leaf = (entry: Buffer): string => sha256(Buffer.from([0]), entry).toString('hex');

const SALT_A = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const SALT_B = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');
const RECORD = '{"code":"ERR_JSON_DUPLICATE_KEY","digest":"sha256:5d1c6c3a3f0b0c2b0f9c5b1f8e0d4b2a6c7e9f1a3b5c7d9e1f2a4b6c8d0e2f4a","direction":"client","id":7,"index":"4","server":{"fingerprint":"sha256:59da602f1e3c5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d","name":"filesystem"},"size":131,"suppressed":0,"time":1796210000,"type":"mcp-attest/refused-input@1"}';
const PARAMS_PRIVATE = '{"entries":"private","index":"0","type":"mcp-attest/log@2"}';
const PARAMS_PUBLIC = '{"entries":"public","index":"0","type":"mcp-attest/log@2"}';

function opened(name: string, desc: string, salt: Buffer, record: string): EntryVector {
  const entry = commitment(salt, record);
  return { name, desc, kind: 'entry', log: 'private', position: 4, input: { salt: salt.toString('hex'), record }, expected: { verdict: 'accept', entryHex: entry.toString('hex'), leafHash: leaf(entry) } };
}

/** Every entry case. */
export function entryCases(): EntryVector[] {
  const a = commitment(SALT_A, RECORD);
  const clear = Buffer.from(RECORD, 'utf8');
  return [
    { name: 'parameters-private', desc: 'entry 0 of a private log, in clear: its leaf hash', kind: 'entry', log: 'private', position: 0, input: { entryHex: Buffer.from(PARAMS_PRIVATE).toString('hex') }, expected: { verdict: 'accept', entryHex: Buffer.from(PARAMS_PRIVATE).toString('hex'), leafHash: leaf(Buffer.from(PARAMS_PRIVATE)) } },
    { name: 'parameters-public', desc: 'entry 0 of a public log, in clear: its leaf hash', kind: 'entry', log: 'public', position: 0, input: { entryHex: Buffer.from(PARAMS_PUBLIC).toString('hex') }, expected: { verdict: 'accept', entryHex: Buffer.from(PARAMS_PUBLIC).toString('hex'), leafHash: leaf(Buffer.from(PARAMS_PUBLIC)) } },
    opened('commitment-salt-a', 'a record committed under salt A: entry = 0x01 || SHA-256(salt || record)', SALT_A, RECORD),
    opened('commitment-salt-b', 'the same record under salt B: another entry, nothing in common with salt A\'s', SALT_B, RECORD),
    { name: 'opening-matches', desc: 'salt A and the record open the commitment made of them', kind: 'entry', log: 'private', position: 4, input: { entryHex: a.toString('hex'), salt: SALT_A.toString('hex'), record: RECORD }, expected: { verdict: 'accept', entryHex: a.toString('hex'), leafHash: leaf(a) } },
    { name: 'opening-wrong-salt', desc: 'salt B does not open the commitment made with salt A', kind: 'entry', log: 'private', position: 4, input: { entryHex: a.toString('hex'), salt: SALT_B.toString('hex'), record: RECORD }, expected: { verdict: 'reject', code: 'ERR_INCLUSION_INVALID' } },
    { name: 'opening-record-changed', desc: 'one byte of the record changed: the opening fails', kind: 'entry', log: 'private', position: 4, input: { entryHex: a.toString('hex'), salt: SALT_A.toString('hex'), record: RECORD.replace('"size":131', '"size":132') }, expected: { verdict: 'reject', code: 'ERR_INCLUSION_INVALID' } },
    { name: 'private-sealed', desc: 'a commitment without its opening in a private log: sealed, accepted (its record is not checked)', kind: 'entry', log: 'private', position: 4, input: { entryHex: a.toString('hex') }, expected: { verdict: 'accept', entryHex: a.toString('hex'), leafHash: leaf(a) } },
    { name: 'private-record-in-clear', desc: 'a record in clear after entry 0 of a private log', kind: 'entry', log: 'private', position: 4, input: { entryHex: clear.toString('hex') }, expected: { verdict: 'reject', code: 'ERR_ENTRY_MALFORMED' } },
    { name: 'public-commitment', desc: 'a commitment in a public log', kind: 'entry', log: 'public', position: 4, input: { entryHex: a.toString('hex') }, expected: { verdict: 'reject', code: 'ERR_ENTRY_MALFORMED' } },
    { name: 'v1-commitment', desc: 'a commitment in a v1 log (entry 0 is not a parameters entry)', kind: 'entry', log: 'v1', position: 4, input: { entryHex: a.toString('hex') }, expected: { verdict: 'reject', code: 'ERR_ENTRY_MALFORMED' } },
    { name: 'second-parameters', desc: 'a parameters entry after entry 0', kind: 'entry', log: 'private', position: 4, input: { entryHex: Buffer.from(PARAMS_PRIVATE).toString('hex') }, expected: { verdict: 'reject', code: 'ERR_ENTRY_MALFORMED' } },
    { name: 'commitment-short', desc: 'a commitment of 32 bytes (one short)', kind: 'entry', log: 'private', position: 4, input: { entryHex: a.subarray(0, 32).toString('hex') }, expected: { verdict: 'reject', code: 'ERR_ENTRY_MALFORMED' } },
  ];
}
