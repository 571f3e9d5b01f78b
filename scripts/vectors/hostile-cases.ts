/**
 * Attestation cases about hostile bytes: JSON an I-JSON/JCS verifier must refuse before any
 * crypto, signatures in non-canonical encodings, Ed25519 keys of small order or in a
 * non-canonical encoding, and timestamps in any form but `YYYY-MM-DDTHH:MM:SSZ`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalize } from '../../src/jcs/index.js';
import { fromHex, toBase64Url, toHex } from '../../src/bytes/index.js';
import { T0, vectorBody, vectorCase, type CaseSpec } from './build.js';
import { ed25519Spki, highS, ISS, keyIdOf, signWith, toDer, type TestAlg } from './keys.js';
import { EDDSA, type VectorFile } from './model.js';

const signed = (alg: TestAlg, nonce: string, issuer: Record<string, unknown> = {}): Record<string, unknown> =>
  signWith(alg, vectorBody({ alg, nonce, issuer }));

/** A case whose text breaks strict parsing: only canonicalization is evaluated. */
function text(name: string, desc: string, envelopeText: string, code: `ERR_${string}`): VectorFile {
  return vectorCase('attestation', 'HS256', { name, desc, envelopeText, only: { canonicalization: code }, expected: { shape: null } });
}

function json(): VectorFile[] {
  const base = canonicalize(signed('HS256', 'nonce-text'));
  const swap = (from: string, to: string): string => {
    if (!base.includes(from)) throw new Error(`generator: ${from} not in base`);
    return base.replace(from, to);
  };
  const deep = `${'['.repeat(20)}${']'.repeat(20)}`;
  return [
    text('duplicate-key', 'issuerAsserted.nonce appears twice', swap('"nonce":"nonce-text"', '"nonce":"nonce-text","nonce":"nonce-other"'), 'ERR_JSON_DUPLICATE_KEY'),
    text('lone-surrogate', 'intent contains an unpaired \\ud800 escape', swap('"intent":"archive obsolete report"', '"intent":"archive \\ud800 report"'), 'ERR_JSON_LONE_SURROGATE'),
    text('negative-zero', 'expSeconds is -0', swap('"expSeconds":300', '"expSeconds":-0'), 'ERR_JSON_NUMBER'),
    text('nan-literal', 'expSeconds is the NaN literal (not JSON)', swap('"expSeconds":300', '"expSeconds":NaN'), 'ERR_JSON_SYNTAX'),
    text('infinity-literal', 'expSeconds is the Infinity literal (not JSON)', swap('"expSeconds":300', '"expSeconds":Infinity'), 'ERR_JSON_SYNTAX'),
    text('integer-beyond-2-53', 'expSeconds is 2^53 + 1, not exactly representable', swap('"expSeconds":300', '"expSeconds":9007199254740993'), 'ERR_JSON_NUMBER'),
    text('float-exponent-form', 'expSeconds written 3e2: every float form is refused (vector-shape rule)', swap('"expSeconds":300', '"expSeconds":3e2'), 'ERR_JSON_FLOAT'),
    text('float-integral-form', 'expSeconds written 300.0', swap('"expSeconds":300', '"expSeconds":300.0'), 'ERR_JSON_FLOAT'),
    text('nesting-beyond-limit', 'an extra member nested 20 arrays deep (limit 16)', swap('"plannerDeclared":{', `"plannerDeclared":{"x":${deep},`), 'ERR_JSON_TOO_DEEP'),
    text('size-beyond-limit', 'an intent of 70,000 characters: the envelope exceeds 64 KiB', swap('"intent":"archive obsolete report"', `"intent":"${'a'.repeat(70000)}"`), 'ERR_JSON_TOO_LARGE'),
    text('trailing-garbage', 'a second value after the envelope', `${base} {}`, 'ERR_JSON_SYNTAX'),
    text('byte-order-mark', 'a UTF-8 byte order mark before the envelope', `\ufeff${base}`, 'ERR_JSON_SYNTAX'),
    vectorCase('attestation', 'HS256', { name: 'not-an-object', desc: 'the envelope is a JSON string holding the envelope text', envelopeText: JSON.stringify(base), only: { canonicalization: 'pass', schema: 'ERR_SCHEMA' }, expected: { shape: null } }),
  ];
}

function encodings(): VectorFile[] {
  const hs = signed('HS256', 'nonce-enc');
  const es = signed('ES256', 'nonce-enc-es');
  const esSig = fromHex(String(es['signature']));
  const bad = (name: string, desc: string, envelope: unknown, fails: CaseSpec['fails'], alg: TestAlg = 'HS256', verifier: CaseSpec['verifier'] = {}): VectorFile =>
    vectorCase('attestation', alg, { name, desc, envelope, fails, verifier, expected: { shape: 'vector' } });
  const sig = { schema: 'ERR_SCHEMA', signature: 'ERR_SIGNATURE_INVALID' } as const;
  return [
    bad('signature-uppercase-hex', 'the HMAC in uppercase hex', { ...hs, signature: String(hs['signature']).toUpperCase() }, sig),
    bad('signature-odd-length-hex', 'the HMAC with its last hex digit dropped', { ...hs, signature: String(hs['signature']).slice(0, -1) }, sig),
    bad('signature-empty', 'an empty signature', { ...hs, signature: '' }, sig),
    bad('signature-base64url', 'the HMAC in base64url instead of hex', { ...hs, signature: toBase64Url(fromHex(String(hs['signature']))) }, sig),
    bad('signature-es256-der', 'the ES256 signature DER-encoded instead of raw r||s', { ...es, signature: toHex(toDer(esSig)) }, { signature: 'ERR_SIGNATURE_INVALID' }, 'ES256'),
    bad('signature-es256-high-s-accepted', 'the high-S twin (r, n - s) of a valid ES256 signature: valid ECDSA, accepted by default (a published vector is high-S)', { ...es, signature: toHex(highS(esSig)) }, {}, 'ES256'),
    bad('signature-es256-high-s-strict', 'the same high-S signature to a verifier requiring low-S', { ...es, signature: toHex(highS(esSig)) }, { signature: 'ERR_SIGNATURE_INVALID' }, 'ES256', { requireLowS: true }),
  ];
}

/** A point with a small y (< 19) on the curve, not of small order: y + p is its non-canonical encoding. */
function nonCanonicalEd25519(): Uint8Array {
  for (let y = 2; y < 19; y++) {
    const enc = new Uint8Array(32);
    enc[0] = y;
    try {
      if (ed25519.Point.fromBytes(enc, false).isSmallOrder()) continue;
    } catch {
      continue;
    }
    let v = (1n << 255n) - 19n + BigInt(y);
    for (let i = 0; i < 32; i++, v >>= 8n) enc[i] = Number(v & 0xffn);
    return enc;
  }
  throw new Error('generator: no point with y < 19');
}

function ed25519Keys(): VectorFile[] {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const forged = { ...vectorBody({ alg: 'EdDSA', nonce: 'nonce-small-order' }), signature: toHex(new Uint8Array([...identity, ...new Uint8Array(32)])) };
  const key = (raw: Uint8Array) => ({ iss: ISS, alg: 'EdDSA', secretVersion: keyIdOf('EdDSA'), publicKeyPem: ed25519Spki(raw) });
  const spec = { fails: { signature: 'ERR_KEY_UNAVAILABLE' } as const, expected: { shape: 'vector' as const, keys: ['ERR_KEY_INVALID'] }, uses: [EDDSA] };
  return [
    vectorCase('attestation', 'EdDSA', { name: 'ed25519-key-small-order', desc: 'the trusted key is the neutral point; with it (R = identity, S = 0) would verify any message. The key is refused', envelope: forged, verifier: { keys: [key(identity)], acceptedAlgs: ['EdDSA'] }, ...spec }),
    vectorCase('attestation', 'EdDSA', { name: 'ed25519-key-non-canonical', desc: 'the trusted key encodes y + p instead of y: refused', envelope: signed('EdDSA', 'nonce-noncanon'), verifier: { keys: [key(nonCanonicalEd25519())], acceptedAlgs: ['EdDSA'] }, ...spec }),
  ];
}

function timestamps(): VectorFile[] {
  const forms: Array<[string, unknown]> = [
    ['fractional-seconds', '2026-05-26T12:00:00.000Z'], ['offset-zero', '2026-05-26T12:00:00+00:00'], ['offset-nonzero', '2026-05-26T14:00:00+02:00'],
    ['lowercase-t-z', '2026-05-26t12:00:00z'], ['space-separator', '2026-05-26 12:00:00Z'], ['no-zone', '2026-05-26T12:00:00'],
    ['leap-second', '2026-06-30T23:59:60Z'], ['february-30', '2026-02-30T12:00:00Z'], ['date-only', '2026-05-26'],
    ['no-seconds', '2026-05-26T12:00Z'], ['epoch-number', T0], ['basic-format', '20260526T120000Z'],
  ];
  return forms.map(([name, iat]) => vectorCase('attestation', 'HS256', {
    name: `iat-${name}`, desc: `issuerAsserted.iat ${JSON.stringify(iat)}: only YYYY-MM-DDTHH:MM:SSZ is accepted`,
    envelope: signed('HS256', `nonce-iat-${name}`, { iat }), fails: { schema: 'ERR_SCHEMA', ttl: 'ERR_TIME_INVALID' }, expected: { shape: 'vector' },
  }));
}

/** Every hostile-input attestation case. */
export function hostileCases(): VectorFile[] {
  return [...json(), ...encodings(), ...ed25519Keys(), ...timestamps()];
}
