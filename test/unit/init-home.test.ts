/**
 * Initializing a data directory (store/identity.ts `initHome`, `ensureHome`): processes
 * starting at once on a new directory end with one identity; keys a version without staging
 * left without an identity are set aside, not waited on forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHome, initHome, loadIdentity, loadIssuerSigner, loadLogKey } from '../../src/store/identity.js';
import { homePaths } from '../../src/store/home.js';
import { isAttestError } from '../../src/errors.js';

function tmpHome(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-init-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'home');
}

test('eight initializations at once on a new directory: one creates it, all get its identity, nothing is left staged', async (t) => {
  const home = tmpHome(t);
  const got = await Promise.all(Array.from({ length: 8 }, () => ensureHome(home)));
  assert.equal(got.filter((g) => g.created).length, 1);
  assert.deepEqual(new Set(got.map((g) => g.identity.iss)).size, 1);
  const p = homePaths(home);
  assert.equal(JSON.parse(readFileSync(p.identity, 'utf8')).iss, got[0]!.identity.iss);
  assert.deepEqual(readdirSync(home).sort(), ['identity.json', 'keys']);
  assert.deepEqual(readdirSync(p.keys).sort(), ['identity.json', 'issuer.pem', 'issuer.pub.pem', 'log.pem']);
  await assert.rejects(initHome(home), (e) => isAttestError(e, 'ERR_KEY_EXISTS'));
});

test('keys left without an identity are moved aside once 10 s old, with a notice, and the directory is initialized', async (t) => {
  const home = tmpHome(t);
  const p = homePaths(home);
  mkdirSync(p.keys, { recursive: true });
  writeFileSync(p.issuerKey, 'left by an interrupted init');
  const notices: string[] = [];
  // Younger than 10 s: another process may still be writing them.
  await assert.rejects(initHome(home, { notice: (m) => notices.push(m) }), (e) => isAttestError(e, 'ERR_KEY_EXISTS'));
  assert.equal(notices.length, 0);
  const old = new Date(Date.now() - 60_000);
  utimesSync(p.keys, old, old);
  const { identity, created } = await ensureHome(home, { notice: (m) => notices.push(m) });
  assert.equal(created, true);
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /unused keys were moved to .*keys\.unfinished$/);
  assert.equal(readFileSync(join(home, 'keys.unfinished', 'issuer.pem'), 'utf8'), 'left by an interrupted init');
  assert.notEqual(readFileSync(p.issuerKey, 'utf8'), 'left by an interrupted init');
  assert.equal(JSON.parse(readFileSync(p.identity, 'utf8')).iss, identity.iss);
});

test('keys without an identity are never set aside beside a log, nor over keys set aside before: a coded error at once', async (t) => {
  const home = tmpHome(t);
  const p = homePaths(home);
  mkdirSync(p.keys, { recursive: true });
  writeFileSync(p.issuerKey, 'in use');
  const old = new Date(Date.now() - 60_000);
  utimesSync(p.keys, old, old);
  writeFileSync(p.db, '');
  // The identity of a log was lost: its keys stay where they are.
  await assert.rejects(ensureHome(home), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /restore identity\.json/.test((e as Error).message));
  assert.equal(readFileSync(p.issuerKey, 'utf8'), 'in use');
  rmSync(p.db);
  mkdirSync(join(home, 'keys.unfinished'));
  writeFileSync(join(home, 'keys.unfinished', 'issuer.pem'), 'set aside before');
  await assert.rejects(ensureHome(home), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && /keys\.unfinished is taken/.test((e as Error).message));
  assert.equal(readFileSync(p.issuerKey, 'utf8'), 'in use');
  assert.equal(readFileSync(join(home, 'keys.unfinished', 'issuer.pem'), 'utf8'), 'set aside before');
});

test('staging directories an interrupted initialization left are removed once 10 min old, younger ones kept', async (t) => {
  const home = tmpHome(t);
  mkdirSync(join(home, '.keys-old'), { recursive: true });
  writeFileSync(join(home, '.keys-old', 'issuer.pem'), 'unused');
  const old = new Date(Date.now() - 11 * 60_000);
  utimesSync(join(home, '.keys-old'), old, old);
  mkdirSync(join(home, '.keys-young'));
  await initHome(home);
  assert.deepEqual(readdirSync(home).sort(), ['.keys-young', 'identity.json', 'keys']);
});

test('published keys whose identity was not linked yet are completed, not replaced', async (t) => {
  const home = tmpHome(t);
  const first = await initHome(home);
  const p = homePaths(home);
  rmSync(p.identity);
  assert.ok(existsSync(join(p.keys, 'identity.json')));
  const { identity, created } = await ensureHome(home);
  assert.equal(created, false);
  assert.deepEqual(identity, first);
});

test('keys that are not the ones identity.json names are refused before anything is signed (every algorithm, the log key)', async (t) => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'HS256'] as const) {
    const [a, b] = [tmpHome(t), tmpHome(t)];
    await initHome(a, { alg });
    await initHome(b, { alg });
    const [pa, pb] = [homePaths(a), homePaths(b)];
    const issuerFile = alg === 'HS256' ? 'issuerSecret' : 'issuerKey';
    assert.equal(loadIssuerSigner(a, loadIdentity(a)).keyId, loadIdentity(a).issuer.keyId);
    await loadLogKey(a, loadIdentity(a));
    copyFileSync(pb[issuerFile], pa[issuerFile]);
    assert.throws(() => loadIssuerSigner(a, loadIdentity(a)), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && (e as Error).message.includes(pa[issuerFile]));
    copyFileSync(pb.logKey, pa.logKey);
    await assert.rejects(loadLogKey(a, loadIdentity(a)), (e) => isAttestError(e, 'ERR_STORE_CORRUPT') && (e as Error).message.includes(pa.logKey));
    rmSync(pa.logKey);
    await assert.rejects(loadLogKey(a, loadIdentity(a)), (e) => isAttestError(e, 'ERR_STORE_IO'));
  }
});
