/**
 * The proxy's own renewal of its credential (src/proxy/credential-file.ts, `proxy
 * --credential FILE --renew-home DIR`): once two thirds of the lifetime have passed, the
 * renewal runs in the background and says so when it lands; a failure that will not pass
 * (`ERR_CREDENTIAL_*`) is reported once and not tried again; any other is tried again after
 * 5 s, then 10, 20… The renewer is the proxy's seam (a function), given failures here. A
 * call outside the credential's tools or window is warned about once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCredential } from '../../src/store/agent-credentials.js';
import { issuerAndAgent } from './identity-helper.js';
import { CredentialFile } from '../../src/proxy/credential-file.js';
import { AttestError } from '../../src/errors.js';
import type { Credential } from '../../src/identity/credential.js';
import { showTime } from '../../src/envelope/time.js';

async function world(t: { after: (fn: () => void) => void }, tools?: string[]) {
  const { dir, idp, key } = await issuerAndAgent(t, 'mcp-attest-credfile-');
  const issue = async (): Promise<Credential> => (await issueCredential(idp, { subject: 'agent:acme/a', key, ttl: 3600, ...(tools ? { tools } : {}) })).credential;
  const first = await issue();
  const path = join(dir, 'cred.json');
  writeFileSync(path, JSON.stringify(first));
  return { path, first, keyId: key.keyId, issue };
}

/** Let the background renewal settle (it writes the file, then reports). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

test('a renewal that fails for good is reported once and not tried again; another failure is tried again after 5, then 10 s', async (t) => {
  const w = await world(t);
  const due = w.first.notAfter - 60;
  const said: string[] = [];
  let tries = 0;
  let failure: Error = new AttestError('ERR_CREDENTIAL_REVOKED', `credential ${w.first.id} is revoked`);
  const file = new CredentialFile(w.path, w.keyId, (m) => said.push(m), async () => {
    tries++;
    throw failure;
  });
  assert.equal(file.credential(w.first.notBefore + 10).id, w.first.id);
  await settle();
  assert.equal(tries, 0, 'not due before two thirds of the lifetime');
  for (const now of [due, due + 5, due + 600]) {
    file.credential(now);
    await settle();
  }
  assert.equal(tries, 1);
  assert.deepEqual(said, [`credential ${w.first.id} not renewed, and not tried again: ERR_CREDENTIAL_REVOKED: credential ${w.first.id} is revoked`]);

  // A new credential in the file (renewed by hand): its renewal is tried; a store error backs off.
  const second = await w.issue();
  writeFileSync(w.path, JSON.stringify(second));
  failure = new Error('database is locked');
  said.length = 0;
  const start = second.notAfter - 60;
  for (const now of [start, start + 4, start + 5, start + 14, start + 15]) {
    file.credential(now);
    await settle();
  }
  assert.equal(tries, 1 + 3, 'at the start, 5 s later, then 10 s after that');
  assert.deepEqual(said.map((m) => /trying again in (\d+) s/.exec(m)?.[1]), ['5', '10', '20']);
});

test('a renewal that lands is written to the file, read at the next call, and said', async (t) => {
  const w = await world(t);
  const said: string[] = [];
  let next: Credential | null = null;
  const file = new CredentialFile(w.path, w.keyId, (m) => said.push(m), async () => (next = await w.issue()));
  file.credential(w.first.notAfter - 60);
  for (let i = 0; i < 40 && said.length === 0; i++) await settle();
  assert.ok(next !== null);
  const renewed = next as Credential;
  assert.equal((JSON.parse(readFileSync(w.path, 'utf8')) as Credential).id, renewed.id);
  assert.equal(file.credential().id, renewed.id);
  assert.deepEqual(said, [`credential ${w.first.id} renewed: ${renewed.id}, valid until ${showTime(renewed.notAfter)}`]);
});

test('a call outside the credential\'s tools, or outside its window, is warned about once: the gatekeeper will refuse it', async (t) => {
  const w = await world(t, ['crm.*', 'mail.send']);
  const said: string[] = [];
  const file = new CredentialFile(w.path, w.keyId, (m) => said.push(m));
  const now = w.first.notBefore + 10;
  for (const tool of ['crm.read', 'mail.send', 'drop_db', 'drop_db', 'crm.write']) assert.equal(file.forCall(tool, now).id, w.first.id);
  assert.deepEqual(said, [`warning: tool "drop_db" is outside the tools of credential ${w.first.id} (crm.*, mail.send): the gatekeeper will refuse it`]);
  said.length = 0;
  file.forCall('crm.read', w.first.notAfter + 1);
  file.forCall('crm.read', w.first.notAfter + 2);
  assert.deepEqual(said, [`warning: credential ${w.first.id} expired at ${showTime(w.first.notAfter)}: the gatekeeper will refuse every call under it (mcp-attest agent renew, or --renew-home)`]);
});

test('another credential written into the file starts without the old one\'s back-off; a successor whose file could not be written is written, not issued again', async (t) => {
  const w = await world(t);
  const said: string[] = [];
  let [attempts, issued, fail] = [0, 0, true];
  const file = new CredentialFile(w.path, w.keyId, (m) => said.push(m), async () => {
    attempts++;
    if (fail) throw new Error('database is locked');
    issued++;
    return w.issue();
  });
  const t0 = w.first.notAfter - 60;
  file.credential(t0);
  await settle();
  assert.equal(attempts, 1);
  // Renewed by hand meanwhile: tried at once, not 5 s later.
  const second = await w.issue();
  writeFileSync(w.path, JSON.stringify(second));
  assert.equal(file.credential(t0 + 1).id, second.id);
  await settle();
  assert.equal(attempts, 2, 'the new credential\'s renewal did not wait out the old one\'s back-off');
  // Its file cannot be written now (a directory in its way): the successor is issued once, and kept.
  fail = false;
  rmSync(w.path);
  mkdirSync(w.path);
  file.credential(t0 + 6);
  await settle();
  assert.equal(issued, 1);
  assert.match(said.at(-1)!, /credential \S+ not renewed, trying again in 10 s/);
  // Writable again: the same successor is written, no second one issued.
  rmSync(w.path, { recursive: true });
  file.credential(t0 + 16);
  for (let i = 0; i < 40 && !said.at(-1)!.includes('renewed:'); i++) await settle();
  assert.equal(issued, 1);
  const written = JSON.parse(readFileSync(w.path, 'utf8')) as Credential;
  assert.equal(said.at(-1), `credential ${second.id} renewed: ${written.id}, valid until ${showTime(written.notAfter)}`);
});
