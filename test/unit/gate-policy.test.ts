/**
 * The gatekeeper policy has two descriptions that must agree: `parseGatePolicy`
 * (src/gate/policy.ts) and the published JSON Schema (docs/gate-policy.schema.json, draft
 * 2020-12). Every document below goes to both: the valid ones (examples/policy.yaml among
 * them) are accepted by both, the invalid ones rejected by both, the parser with
 * `ERR_POLICY_INVALID` and a message naming the path, the schema at the matching JSON
 * Pointer. The schema sees what a strict YAML 1.2 loader makes of the text, so text a loader
 * refuses (a duplicate key, bad syntax) never reaches it: that counts as rejected.
 * Defaults are the ones docs/gate-policy.md documents; `loadGatePolicy` reads trust and
 * secret files relative to the policy file and names the file it could not use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { isAttestError } from '../../src/errors.js';
import { getAlgorithm, type AlgName } from '../../src/keys/algorithms.js';
import { exportPublicJwk, jwkThumbprint } from '../../src/keys/material.js';
import { loadGatePolicy, parseGatePolicy } from '../../src/gate/policy.js';

const root = new URL('../../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('docs/gate-policy.schema.json', root), 'utf8')) as Record<string, unknown>;
const guide = readFileSync(new URL('docs/gate-policy.md', root), 'utf8');
const example = readFileSync(new URL('examples/policy.yaml', root), 'utf8');

const schemaWarnings: unknown[] = [];
const ajv = new Ajv2020({ allErrors: true, logger: { log: () => undefined, warn: (...a: unknown[]) => schemaWarnings.push(a), error: (...a: unknown[]) => schemaWarnings.push(a) } });
const validate = ajv.compile(schema);

/** The schema's verdict on policy text: a strict YAML load, then validation. `pointers`: where each error is. */
function schemaCheck(text: string): { ok: boolean; pointers: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, strict: true });
  } catch {
    return { ok: false, pointers: [] };
  }
  const ok = validate(doc);
  return { ok, pointers: (validate.errors ?? []).map(pointerOf) };
}

/** The JSON Pointer an ajv error is about, down to a missing or unknown member. */
function pointerOf(e: ErrorObject): string {
  const p = e.params as { additionalProperty?: string; missingProperty?: string };
  const member = p.additionalProperty ?? p.missingProperty;
  return member === undefined ? e.instancePath : `${e.instancePath}/${member}`;
}

/** The parser's error, or null when it accepted the text. */
function parseError(text: string): Error | null {
  try {
    parseGatePolicy(text);
    return null;
  } catch (e) {
    return e as Error;
  }
}

const JWK = { EC: '{kty: EC, crv: P-256, x: AAAA, y: BBBB}', OKP: '{kty: OKP, crv: Ed25519, x: AAAA}', RSA: '{kty: RSA, n: AAAA, e: AQAB}' };

/** Accepted by both. */
const VALID: Array<{ name: string; text: string }> = [
  { name: 'examples/policy.yaml', text: example },
  { name: 'the smallest policy: unattested calls allowed', text: 'version: 1\nrequired: false\n' },
  { name: 'JSON, trusting one trust file', text: '{"version": 1, "trustFiles": ["agent-trust.json"]}' },
  { name: 'issuers present but empty (trusts nobody: every attested call key_unavailable)', text: 'version: 1\nissuers: []\n' },
  {
    name: 'JSON, every member, bounds at their limits',
    text: JSON.stringify({
      version: 1, required: true, acceptedAlgorithms: ['RS256', 'EdDSA'], maxTtlSeconds: 86400, clockSkewSeconds: 300,
      redacted: 'accept', requireLowS: true,
      issuers: [
        { iss: 'issuer://a', alg: 'ES256', keyId: 'k1', publicKeyJwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' } },
        { iss: 'issuer://b', alg: 'RS256', keyId: 'k2', publicKeyJwk: { kty: 'RSA', n: 'AAAA', e: 'AQAB' } },
        { iss: 'issuer://c', alg: 'EdDSA', keyId: 'k3', publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } },
        { iss: 'issuer://d', alg: 'HS256', keyId: 'v1', secretFile: 'd.secret' },
      ],
      trustFiles: ['one.json', 'sub/two.json'],
      tools: { rm: { deny: true }, write: { requireCapability: true }, drop: { requireCapability: ['db.admin', 'db.owner'], deny: false } },
      toolChanges: 'warn', responseReceipts: false, serverFingerprint: `sha256:${'ab'.repeat(32)}`, nonceStore: { maxEntries: 1 },
    }, null, 2),
  },
  { name: 'zero TTL and zero skew', text: 'version: 1\nrequired: false\nmaxTtlSeconds: 0\nclockSkewSeconds: 0\n' },
  { name: 'largest nonce store (2^53 - 1)', text: 'version: 1\nrequired: false\nnonceStore: {maxEntries: 9007199254740991}\n' },
  { name: 'an empty nonceStore and an empty tools map', text: 'version: 1\nrequired: false\nnonceStore: {}\ntools: {}\n' },
  { name: 'a rule {} (no rule)', text: 'version: 1\nrequired: false\ntools: {echo: {}}\n' },
  { name: 'deny: false beside a capability', text: 'version: 1\nrequired: false\ntools: {echo: {deny: false, requireCapability: [read]}}\n' },
  { name: 'YAML anchors and aliases', text: `version: 1\nissuers:\n  - &a {iss: issuer://a, alg: ES256, keyId: k1, publicKeyJwk: ${JWK.EC}}\ntools:\n  a: &deny {deny: true}\n  b: *deny\n` },
  { name: 'integral YAML numbers in other spellings (300.0, 0x1e, 3e2)', text: 'version: 1.0\nrequired: false\nmaxTtlSeconds: 300.0\nclockSkewSeconds: 0x1e\nnonceStore: {maxEntries: 3e2}\n' },
  { name: 'an HS256 issuer', text: 'version: 1\nissuers: [{iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ci.secret}]\n' },
  { name: 'an EdDSA issuer only, EdDSA only', text: `version: 1\nacceptedAlgorithms: [EdDSA]\nissuers: [{iss: issuer://e, alg: EdDSA, keyId: k, publicKeyJwk: ${JWK.OKP}}]\n` },
];

/** Rejected by both. `path`: in the parser's message; `pointer`: where the schema reports it (null: the YAML loader refuses the text). */
const INVALID: Array<{ name: string; text: string; path: string; pointer: string | null }> = [
  { name: 'unknown top-level member (a typo)', text: 'version: 1\nrequired: false\nrequire: true\n', path: '.require: unknown member', pointer: '/require' },
  { name: 'unknown issuer member', text: `version: 1\nissuers: [{iss: a, alg: ES256, keyId: k, kid: k, publicKeyJwk: ${JWK.EC}}]\n`, path: '.issuers[0].kid: unknown member', pointer: '/issuers/0/kid' },
  { name: 'unknown tool rule member', text: 'version: 1\nrequired: false\ntools: {echo: {allow: true}}\n', path: '.tools["echo"].allow: unknown member', pointer: '/tools/echo/allow' },
  { name: 'unknown nonceStore member', text: 'version: 1\nrequired: false\nnonceStore: {size: 5}\n', path: '.nonceStore.size: unknown member', pointer: '/nonceStore/size' },
  { name: 'YAML merge key (not YAML 1.2): an unknown member', text: 'version: 1\nrequired: false\ntools:\n  a: &r {deny: true}\n  b: {<<: *r}\n', path: '.tools["b"].<<: unknown member', pointer: '/tools/b/<<' },
  { name: 'issuer alg HS512', text: 'version: 1\nissuers: [{iss: a, alg: HS512, keyId: k, secretFile: s}]\n', path: '.issuers[0].alg', pointer: '/issuers/0/alg' },
  { name: 'issuer alg none', text: `version: 1\nissuers: [{iss: a, alg: none, keyId: k, publicKeyJwk: ${JWK.EC}}]\n`, path: '.issuers[0].alg', pointer: '/issuers/0/alg' },
  { name: 'issuer alg in lower case', text: `version: 1\nissuers: [{iss: a, alg: es256, keyId: k, publicKeyJwk: ${JWK.EC}}]\n`, path: '.issuers[0].alg', pointer: '/issuers/0/alg' },
  { name: 'acceptedAlgorithms naming none', text: 'version: 1\nrequired: false\nacceptedAlgorithms: [ES256, none]\n', path: '.acceptedAlgorithms', pointer: '/acceptedAlgorithms/1' },
  { name: 'acceptedAlgorithms a string', text: 'version: 1\nrequired: false\nacceptedAlgorithms: ES256\n', path: '.acceptedAlgorithms', pointer: '/acceptedAlgorithms' },
  { name: 'HS256 issuer without secretFile', text: 'version: 1\nissuers: [{iss: a, alg: HS256, keyId: v1}]\n', path: '.issuers[0].secretFile', pointer: '/issuers/0/secretFile' },
  { name: 'HS256 issuer with an empty secretFile', text: 'version: 1\nissuers: [{iss: a, alg: HS256, keyId: v1, secretFile: ""}]\n', path: '.issuers[0].secretFile', pointer: '/issuers/0/secretFile' },
  { name: 'ES256 issuer without publicKeyJwk', text: 'version: 1\nissuers: [{iss: a, alg: ES256, keyId: k}]\n', path: '.issuers[0].publicKeyJwk', pointer: '/issuers/0/publicKeyJwk' },
  { name: 'ES256 issuer with only a secretFile', text: 'version: 1\nissuers: [{iss: a, alg: ES256, keyId: k, secretFile: s}]\n', path: '.issuers[0].publicKeyJwk', pointer: '/issuers/0/publicKeyJwk' },
  { name: 'publicKeyJwk a PEM string', text: 'version: 1\nissuers: [{iss: a, alg: ES256, keyId: k, publicKeyJwk: "-----BEGIN PUBLIC KEY-----"}]\n', path: '.issuers[0].publicKeyJwk', pointer: '/issuers/0/publicKeyJwk' },
  { name: 'issuer without keyId', text: `version: 1\nissuers: [{iss: a, alg: ES256, publicKeyJwk: ${JWK.EC}}]\n`, path: '.issuers[0].keyId: missing', pointer: '/issuers/0/keyId' },
  { name: 'issuer with an empty iss', text: `version: 1\nissuers: [{iss: "", alg: ES256, keyId: k, publicKeyJwk: ${JWK.EC}}]\n`, path: '.issuers[0].iss', pointer: '/issuers/0/iss' },
  { name: 'issuers an object', text: 'version: 1\nissuers: {iss: a}\n', path: '.issuers', pointer: '/issuers' },
  { name: 'requireCapability false', text: 'version: 1\nrequired: false\ntools: {echo: {requireCapability: false}}\n', path: '.tools["echo"].requireCapability', pointer: '/tools/echo/requireCapability' },
  { name: 'requireCapability []', text: 'version: 1\nrequired: false\ntools: {echo: {requireCapability: []}}\n', path: '.tools["echo"].requireCapability', pointer: '/tools/echo/requireCapability' },
  { name: 'requireCapability [""]', text: 'version: 1\nrequired: false\ntools: {echo: {requireCapability: [""]}}\n', path: '.tools["echo"].requireCapability', pointer: '/tools/echo/requireCapability' },
  { name: 'requireCapability [1]', text: 'version: 1\nrequired: false\ntools: {echo: {requireCapability: [1]}}\n', path: '.tools["echo"].requireCapability', pointer: '/tools/echo/requireCapability' },
  { name: 'requireCapability a string', text: 'version: 1\nrequired: false\ntools: {echo: {requireCapability: admin}}\n', path: '.tools["echo"].requireCapability', pointer: '/tools/echo/requireCapability' },
  { name: 'a rule of only deny: false', text: 'version: 1\nrequired: false\ntools: {echo: {deny: false}}\n', path: '.tools["echo"]: an empty rule', pointer: '/tools/echo' },
  { name: 'deny: yes (a string in YAML 1.2)', text: 'version: 1\nrequired: false\ntools: {echo: {deny: yes}}\n', path: '.tools["echo"].deny', pointer: '/tools/echo/deny' },
  { name: 'a tool with no rule (null)', text: 'version: 1\nrequired: false\ntools:\n  echo:\n', path: '.tools["echo"]', pointer: '/tools/echo' },
  { name: 'maxTtlSeconds 90000', text: 'version: 1\nrequired: false\nmaxTtlSeconds: 90000\n', path: '.maxTtlSeconds: at most 86400', pointer: '/maxTtlSeconds' },
  { name: 'maxTtlSeconds negative', text: 'version: 1\nrequired: false\nmaxTtlSeconds: -5\n', path: '.maxTtlSeconds', pointer: '/maxTtlSeconds' },
  { name: 'maxTtlSeconds a fraction', text: 'version: 1\nrequired: false\nmaxTtlSeconds: 1.5\n', path: '.maxTtlSeconds', pointer: '/maxTtlSeconds' },
  { name: 'maxTtlSeconds .inf', text: 'version: 1\nrequired: false\nmaxTtlSeconds: .inf\n', path: '.maxTtlSeconds', pointer: '/maxTtlSeconds' },
  { name: 'maxTtlSeconds a string', text: 'version: 1\nrequired: false\nmaxTtlSeconds: "300"\n', path: '.maxTtlSeconds', pointer: '/maxTtlSeconds' },
  { name: 'clockSkewSeconds 301', text: 'version: 1\nrequired: false\nclockSkewSeconds: 301\n', path: '.clockSkewSeconds: at most 300', pointer: '/clockSkewSeconds' },
  { name: 'clockSkewSeconds negative', text: 'version: 1\nrequired: false\nclockSkewSeconds: -1\n', path: '.clockSkewSeconds', pointer: '/clockSkewSeconds' },
  { name: 'nonceStore.maxEntries 0', text: 'version: 1\nrequired: false\nnonceStore: {maxEntries: 0}\n', path: '.nonceStore.maxEntries: at least 1', pointer: '/nonceStore/maxEntries' },
  { name: 'nonceStore.maxEntries a fraction', text: 'version: 1\nrequired: false\nnonceStore: {maxEntries: 2.5}\n', path: '.nonceStore.maxEntries', pointer: '/nonceStore/maxEntries' },
  { name: 'nonceStore.maxEntries 2^53', text: 'version: 1\nrequired: false\nnonceStore: {maxEntries: 9007199254740992}\n', path: '.nonceStore.maxEntries', pointer: '/nonceStore/maxEntries' },
  { name: 'nonceStore empty (null)', text: 'version: 1\nrequired: false\nnonceStore:\n', path: '.nonceStore', pointer: '/nonceStore' },
  { name: 'version 2', text: 'version: 2\nrequired: false\n', path: '.version: must be 1', pointer: '/version' },
  { name: 'version "1"', text: 'version: "1"\nrequired: false\n', path: '.version', pointer: '/version' },
  { name: 'no version', text: 'required: false\n', path: '.version: missing', pointer: '/version' },
  { name: 'attestations required (default), no issuers nor trustFiles', text: 'version: 1\n', path: '.issuers: attestations are required', pointer: '/issuers' },
  { name: 'required: true, no issuers nor trustFiles', text: 'version: 1\nrequired: true\ntools: {echo: {deny: true}}\n', path: '.issuers: attestations are required', pointer: '/issuers' },
  { name: 'required: no (a string in YAML 1.2)', text: 'version: 1\nrequired: no\ntrustFiles: [a.json]\n', path: '.required', pointer: '/required' },
  { name: 'redacted: drop', text: 'version: 1\nrequired: false\nredacted: drop\n', path: '.redacted', pointer: '/redacted' },
  { name: 'toolChanges: ignore', text: 'version: 1\nrequired: false\ntoolChanges: ignore\n', path: '.toolChanges', pointer: '/toolChanges' },
  { name: 'responseReceipts: "true"', text: 'version: 1\nrequired: false\nresponseReceipts: "true"\n', path: '.responseReceipts', pointer: '/responseReceipts' },
  { name: 'requireLowS: 1', text: 'version: 1\nrequired: false\nrequireLowS: 1\n', path: '.requireLowS', pointer: '/requireLowS' },
  { name: 'trustFiles [""]', text: 'version: 1\ntrustFiles: [""]\n', path: '.trustFiles', pointer: '/trustFiles/0' },
  { name: 'trustFiles a string', text: 'version: 1\ntrustFiles: agent.json\n', path: '.trustFiles', pointer: '/trustFiles' },
  { name: 'serverFingerprint empty', text: 'version: 1\nrequired: false\nserverFingerprint: ""\n', path: '.serverFingerprint', pointer: '/serverFingerprint' },
  { name: 'serverFingerprint a number', text: 'version: 1\nrequired: false\nserverFingerprint: 123\n', path: '.serverFingerprint', pointer: '/serverFingerprint' },
  { name: 'a list, not a mapping', text: '- version: 1\n', path: '.: expected an object', pointer: '' },
  { name: 'an empty file', text: '', path: '.: expected an object', pointer: '' },
  { name: 'duplicate YAML key', text: 'version: 1\nrequired: false\nrequired: true\n', path: 'line 3', pointer: null },
  { name: 'duplicate key inside a tool rule', text: 'version: 1\nrequired: false\ntools:\n  echo: {deny: true, deny: false}\n', path: 'line 4', pointer: null },
  { name: 'duplicate JSON member', text: '{"version": 1, "required": false, "required": true}', path: 'line 1', pointer: null },
  { name: 'bad YAML (unclosed flow sequence)', text: 'version: 1\nrequired: false\ntools: {echo: [}\n', path: 'not valid YAML', pointer: null },
  { name: 'bad JSON (truncated)', text: '{"version": 1, "tools": ', path: 'not valid YAML', pointer: null },
  { name: 'two YAML documents', text: 'version: 1\nrequired: false\n---\nversion: 1\n', path: 'not valid YAML', pointer: null },
];

test('the schema compiles under ajv 2020 without warnings', () => {
  assert.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(schemaWarnings, []);
});

for (const c of VALID) {
  test(`valid for both: ${c.name}`, () => {
    assert.equal(parseError(c.text), null, String(parseError(c.text)?.message));
    const s = schemaCheck(c.text);
    assert.ok(s.ok, JSON.stringify(validate.errors));
  });
}

for (const c of INVALID) {
  test(`invalid for both: ${c.name}`, () => {
    const e = parseError(c.text);
    assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'), `parser accepted it or threw ${String(e)}`);
    assert.ok(e.message.includes(c.path), `"${c.path}" not in: ${e.message}`);
    const s = schemaCheck(c.text);
    assert.equal(s.ok, false, 'the schema accepted it');
    if (c.pointer !== null) assert.ok(s.pointers.includes(c.pointer), `${c.pointer} not in ${JSON.stringify(s.pointers)}`);
  });
}

test('every problem is listed at once, in the error message and in `found`', () => {
  const e = parseError('version: 2\nmaxTtlSeconds: -5\nissuers:\n  - {iss: x, alg: HS512, keyId: k}\ntools:\n  t: {requireCapability: false}\n');
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'));
  const found = e.found as string[];
  for (const path of ['.version', '.maxTtlSeconds', '.issuers[0].alg', '.tools["t"].requireCapability']) {
    assert.ok(found.some((f) => f.startsWith(path)), path);
    assert.ok(e.message.includes(path), path);
  }
});

test('the one known difference: -0 is refused by the parser and is 0 to JSON Schema', () => {
  // JSON Schema compares numbers mathematically, so no schema can refuse -0 and accept 0.
  const text = 'version: 1\nrequired: false\nmaxTtlSeconds: -0\n';
  assert.ok(isAttestError(parseError(text), 'ERR_POLICY_INVALID'));
  assert.equal(schemaCheck(text).ok, true);
});

test('defaults: what docs/gate-policy.md documents, and the schema\'s `default` annotations', () => {
  const p = parseGatePolicy('version: 1\nrequired: false\n');
  assert.deepEqual(p, {
    version: 1, required: false, acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], maxTtlSeconds: 300, clockSkewSeconds: 30,
    redacted: 'refuse', requireLowS: false, issuers: [], trustFiles: [], credentialIssuers: [], tools: {}, toolChanges: 'refuse', responseReceipts: true,
    serverFingerprint: null, nonceStore: { maxEntries: 1_000_000 },
  });
  assert.equal(parseGatePolicy('version: 1\ntrustFiles: [a.json]\n').required, true, 'attestations are required by default');
  const props = schema['properties'] as Record<string, { default?: unknown }>;
  const minimal = parseGatePolicy('version: 1\ntrustFiles: [a.json]\n') as unknown as Record<string, unknown>;
  const annotated = Object.entries(props).filter(([, s]) => 'default' in s);
  assert.ok(annotated.length >= 10);
  for (const [name, s] of annotated) assert.deepEqual(minimal[name], s.default, name);
});

test('given values are kept as written', () => {
  const p = parseGatePolicy(VALID[4]!.text);
  assert.deepEqual(p.acceptedAlgorithms, ['RS256', 'EdDSA']);
  assert.equal(p.maxTtlSeconds, 86400);
  assert.equal(p.clockSkewSeconds, 300);
  assert.equal(p.redacted, 'accept');
  assert.equal(p.requireLowS, true);
  assert.equal(p.issuers.length, 4);
  assert.deepEqual(p.tools['drop'], { requireCapability: ['db.admin', 'db.owner'], deny: false });
  assert.equal(p.toolChanges, 'warn');
  assert.equal(p.responseReceipts, false);
  assert.equal(p.serverFingerprint, `sha256:${'ab'.repeat(32)}`);
  assert.deepEqual(p.nonceStore, { maxEntries: 1 });
});

test('every schema member has a description, and the guide names every member', () => {
  const walk = (node: unknown, at: string): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const key of ['properties', '$defs']) {
      for (const [name, sub] of Object.entries((o[key] ?? {}) as Record<string, Record<string, unknown>>)) {
        assert.equal(typeof sub['description'], 'string', `${at}/${key}/${name} has no description`);
      }
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`);
  };
  walk(schema, '#');
  const names = new Set<string>();
  const collect = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const n of Object.keys((o['properties'] ?? {}) as object)) names.add(n);
    for (const v of Object.values(o)) collect(v);
  };
  collect(schema);
  // In a code span of the guide, alone or in a path (`nonceStore.maxEntries`).
  const spans = guide.match(/`[^`\n]+`/g) ?? [];
  for (const n of names) assert.ok(spans.some((s) => new RegExp(`\\b${n}\\b`).test(s)), `docs/gate-policy.md does not mention ${n}`);
});

// ---- loadGatePolicy: files relative to the policy file ----

/** A temporary directory, removed when the test ends. */
function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-gate-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh public key: its trust-policy issuer entry. */
async function issuerOf(alg: Exclude<AlgName, 'HS256'>, iss: string): Promise<{ iss: string; alg: AlgName; keyId: string; publicKeyJwk: object }> {
  const pair = await getAlgorithm(alg).generate() as CryptoKeyPair;
  const publicKeyJwk = await exportPublicJwk(pair.publicKey);
  return { iss, alg, keyId: jwkThumbprint(publicKeyJwk), publicKeyJwk };
}

/** A trust policy file as `mcp-attest trust export` writes it. */
function trustFile(issuers: object[]): string {
  return JSON.stringify({ version: 1, issuers, logs: [], witnesses: [], quorum: 0, acceptedAlgorithms: ['ES256', 'EdDSA', 'RS256', 'HS256'], clockSkewSeconds: 30 });
}

/** The error `loadGatePolicy(path)` rejects with (fails when it loads). */
async function loadError(path: string): Promise<Error> {
  try {
    await loadGatePolicy(path);
  } catch (e) {
    return e as Error;
  }
  assert.fail(`${path} loaded`);
}

test('loadGatePolicy reads trust files and secret files relative to the policy file, not the working directory', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'conf', 'trust'), { recursive: true });
  const agent = await issuerOf('ES256', 'issuer://agent');
  const inline = await issuerOf('EdDSA', 'issuer://inline');
  const secret = Buffer.alloc(32, 0x5a);
  writeFileSync(join(dir, 'conf', 'trust', 'agent.json'), trustFile([agent]));
  writeFileSync(join(dir, 'conf', 'ci.secret'), secret, { mode: 0o600 });
  const path = join(dir, 'conf', 'policy.yaml');
  writeFileSync(path, `version: 1\ntrustFiles: [trust/agent.json]\nissuers:\n  - ${JSON.stringify(inline)}\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ci.secret}\n`);
  assert.notEqual(process.cwd(), join(dir, 'conf'));
  const loaded = await loadGatePolicy(path);
  assert.deepEqual(loaded.issuers.map((i) => i.iss), ['issuer://inline', 'issuer://ci', 'issuer://agent']);
  assert.deepEqual(loaded.policy.trustFiles, ['trust/agent.json'], 'the policy keeps the names as written');
  for (const i of [agent, inline]) assert.ok(await loaded.keys({ iss: i.iss, alg: i.alg, keyId: i.keyId }), i.iss);
  assert.equal(await loaded.keys({ iss: 'issuer://agent', alg: 'ES256', keyId: inline.keyId }), null, 'only an exact (iss, alg, keyId) match');
  // The HS256 key is the secret file's bytes: a MAC made with them verifies under it.
  const key = await loaded.keys({ iss: 'issuer://ci', alg: 'HS256', keyId: 'v1' });
  assert.ok(key);
  const mac = createHmac('sha256', secret).update('probe').digest();
  assert.equal(await crypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode('probe')), true);
});

test('examples/policy.yaml loads beside the files it names', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'policy.yaml'), example);
  writeFileSync(join(dir, 'agent-trust.json'), trustFile([await issuerOf('ES256', 'issuer://agent')]));
  writeFileSync(join(dir, 'ci.secret'), Buffer.alloc(32, 7), { mode: 0o600 });
  const loaded = await loadGatePolicy(join(dir, 'policy.yaml'));
  assert.equal(loaded.issuers.length, 3);
  assert.equal(loaded.policy.required, true);
  assert.deepEqual(loaded.policy.tools['drop_database'], { deny: true });
});

test('loadGatePolicy: a missing policy file is ERR_STORE_IO, a missing trust or secret file it names ERR_POLICY_INVALID, each naming the file', async (t) => {
  const dir = tempDir(t);
  const missingPolicy = join(dir, 'nope.yaml');
  const e0 = await loadError(missingPolicy);
  assert.ok(isAttestError(e0, 'ERR_STORE_IO'), String(e0));
  assert.ok(e0.message.includes(missingPolicy), e0.message);

  const p1 = join(dir, 'p1.yaml');
  writeFileSync(p1, 'version: 1\ntrustFiles: [absent-trust.json]\n');
  const e1 = await loadError(p1);
  assert.ok(isAttestError(e1, 'ERR_POLICY_INVALID'));
  assert.ok(e1.message.includes(join(dir, 'absent-trust.json')), e1.message);

  const p2 = join(dir, 'p2.yaml');
  writeFileSync(p2, 'version: 1\nissuers: [{iss: issuer://ci, alg: HS256, keyId: v1, secretFile: keys/absent.secret}]\n');
  const e2 = await loadError(p2);
  assert.ok(isAttestError(e2, 'ERR_POLICY_INVALID'));
  assert.ok(e2.message.includes(join(dir, 'keys', 'absent.secret')), e2.message);
});

test('loadGatePolicy: a trust file that is not a trust policy is ERR_POLICY_INVALID naming it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bad.json'), '{"version": 1, "issuers": []}');
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\ntrustFiles: [bad.json]\n');
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.ok(e.message.includes(join(dir, 'bad.json')), e.message);
  assert.ok(e.message.includes('.logs: missing'), e.message);
});

test('loadGatePolicy: an unusable public key is ERR_POLICY_INVALID at load, naming the issuer', async (t) => {
  const dir = tempDir(t);
  const good = await issuerOf('ES256', 'issuer://bad-key');
  const broken = { ...good, publicKeyJwk: { ...good.publicKeyJwk, x: 'AAAA' } };
  writeFileSync(join(dir, 'p.yaml'), `version: 1\nissuers: [${JSON.stringify(broken)}]\n`);
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.ok(e.message.includes('issuer://bad-key') && e.message.includes(good.keyId), e.message);
  // An RSA key under an ES256 issuer is unusable too.
  const rsa = await issuerOf('RS256', 'issuer://mixed');
  writeFileSync(join(dir, 'q.yaml'), `version: 1\nissuers: [${JSON.stringify({ ...rsa, alg: 'ES256' })}]\n`);
  assert.ok(isAttestError(await loadError(join(dir, 'q.yaml')), 'ERR_POLICY_INVALID'));
});

test('loadGatePolicy: an HS256 issuer cannot come from a trust file (it has no secretFile)', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'hs.json'), trustFile([{ iss: 'issuer://ci', alg: 'HS256', keyId: 'v1' }]));
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\ntrustFiles: [hs.json]\n');
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.match(e.message, /issuer:\/\/ci has no secretFile/);
});

// ---- Loader errors name their file; HS256 secrets are per issuer. ----

test('loadGatePolicy: an unusable key from a trust file names that trust file', async (t) => {
  const dir = tempDir(t);
  const good = await issuerOf('ES256', 'issuer://agent');
  writeFileSync(join(dir, 'agent-trust.json'), trustFile([{ ...good, publicKeyJwk: { ...good.publicKeyJwk, x: 'AAAA' } }]));
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\ntrustFiles: [agent-trust.json]\n');
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'));
  assert.ok(e.message.includes(join(dir, 'agent-trust.json')), e.message);
});

test('loadGatePolicy: an HS256 secret file under 32 bytes is ERR_POLICY_INVALID naming the file', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'short.secret'), Buffer.alloc(16, 1), { mode: 0o600 });
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\nissuers: [{iss: issuer://ci, alg: HS256, keyId: v1, secretFile: short.secret}]\n');
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'), `${(e as { code?: string }).code}: ${e.message}`);
  assert.ok(e.message.includes(join(dir, 'short.secret')), e.message);
});

test('loadGatePolicy: two HS256 issuers with the same keyId keep their own secrets', async (t) => {
  const dir = tempDir(t);
  const a = Buffer.alloc(32, 0xaa);
  writeFileSync(join(dir, 'a.secret'), a, { mode: 0o600 });
  writeFileSync(join(dir, 'b.secret'), Buffer.alloc(32, 0xbb), { mode: 0o600 });
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\nissuers:\n  - {iss: issuer://a, alg: HS256, keyId: v1, secretFile: a.secret}\n  - {iss: issuer://b, alg: HS256, keyId: v1, secretFile: b.secret}\n');
  const loaded = await loadGatePolicy(join(dir, 'p.yaml'));
  const key = await loaded.keys({ iss: 'issuer://a', alg: 'HS256', keyId: 'v1' });
  assert.ok(key);
  // issuer://a's key must be a.secret: otherwise whoever holds b.secret can sign as issuer://a.
  const mac = createHmac('sha256', a).update('probe').digest();
  assert.equal(await crypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode('probe')), true);
});

test('one issuer and key id given two keys is refused, in one policy or across its trust files; the same key twice is one issuer', async (t) => {
  const dir = tempDir(t);
  const a = await issuerOf('ES256', 'issuer://agent');
  const other = await issuerOf('ES256', 'issuer://agent');
  // Same (iss, alg, keyId), another key: which one checks a signature would be the list's order.
  const b = { ...other, keyId: a.keyId };
  assert.throws(() => parseGatePolicy(`version: 1\nissuers: [${JSON.stringify(a)}, ${JSON.stringify(b)}]\n`),
    (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID') && e.message.includes('.issuers[1]: the issuer and key id of .issuers[0] with another key'));
  writeFileSync(join(dir, 'agent-trust.json'), trustFile([b]));
  writeFileSync(join(dir, 'p.yaml'), `version: 1\nissuers: [${JSON.stringify(a)}]\ntrustFiles: [agent-trust.json]\n`);
  const e = await loadError(join(dir, 'p.yaml'));
  assert.ok(isAttestError(e, 'ERR_POLICY_INVALID'), e.message);
  assert.ok(e.message.includes(join(dir, 'p.yaml')) && e.message.includes(join(dir, 'agent-trust.json')) && e.message.includes('two different keys'), e.message);
  // One secret file named two ways is one secret.
  writeFileSync(join(dir, 'ci.secret'), Buffer.alloc(32, 7), { mode: 0o600 });
  assert.equal(parseGatePolicy('version: 1\nissuers:\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ci.secret}\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ./ci.secret}\n').issuers.length, 2);
  assert.throws(() => parseGatePolicy('version: 1\nissuers:\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ci.secret}\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: other.secret}\n'), (e: Error) => isAttestError(e, 'ERR_POLICY_INVALID'));
  writeFileSync(join(dir, 'two-names.yaml'), 'version: 1\nissuers:\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ci.secret}\n  - {iss: issuer://ci, alg: HS256, keyId: v1, secretFile: ./ci.secret}\n');
  assert.ok(await (await loadGatePolicy(join(dir, 'two-names.yaml'))).keys({ iss: 'issuer://ci', alg: 'HS256', keyId: 'v1' }), 'and its key resolves');
  // The same issuer in the policy and its trust file is one issuer, and loads.
  writeFileSync(join(dir, 'agent-trust.json'), trustFile([a]));
  const loaded = await loadGatePolicy(join(dir, 'p.yaml'));
  assert.ok(await loaded.keys({ iss: a.iss, alg: 'ES256', keyId: a.keyId }));
});

test('a mapping key YAML reads as another type is refused (007 and 0x1F as numbers, true, a sequence): it would name another tool than the one written, or slip past the duplicate check', () => {
  for (const tools of ['007: {deny: true}', '0x1F: {deny: true}', '1: {deny: true}\n  "1": {requireCapability: true}', 'true: {deny: true}', '[a, b]: {deny: true}', '~: {deny: true}']) {
    const e = parseError(`version: 1\nrequired: false\ntools:\n  ${tools}\n`);
    assert.ok(isAttestError(e, 'ERR_POLICY_INVALID') && /a mapping key must be a string/.test(e.message), `${tools}: ${String(e?.message)}`);
  }
  // Quoted, the same names are tools like any other.
  assert.equal(parseError('version: 1\nrequired: false\ntools:\n  "007": {deny: true}\n  "true": {deny: true}\n'), null);
});
