/**
 * The SEP-text emission profile end to end: a real proxy in front of server-everything with
 * `--profile sep-text` logs SEP-text envelopes (no version, no top-level alg, an argsRef to
 * the content-addressed evidence), the log verifies, and `attestation verify` checks the
 * logged envelope against the call's arguments through the CLI, with the server and tool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, connectProxied, exportTrust, readLog, ROOT, scope, verify, waitCheckpointed } from './helpers.js';

test('proxy --profile sep-text: SEP-text envelopes in the log, verified by the log verifier and by attestation verify', async (t) => {
  const s = scope(t);
  const { client } = await connectProxied(s, undefined, ['--profile', 'sep-text']);
  await client.callTool({ name: 'echo', arguments: { message: 'sep text' } });
  await client.close();
  await waitCheckpointed(s.home, 2);
  const trust = exportTrust(s.home);
  assert.equal(verify(s.home, trust).status, 0);
  const record = readLog(s.home).entries[1] as { attestation: Record<string, any>; server: { fingerprint: string } };
  const att = record.attestation;
  assert.equal('version' in att || 'alg' in att, false);
  const call = att['payloadDerived'].toolCalls[0];
  assert.deepEqual(Object.keys(call).sort(), ['argsRef', 'name', 'serverFingerprint']);
  assert.match(call.argsRef.uri, /^mcp-attest:\/\/evidence\/sha256\/[0-9a-f]{64}$/);
  assert.match(call.argsRef.digest, /^[A-Za-z0-9_-]{43}$/);

  const file = join(s.dir, 'att.json');
  const args = join(s.dir, 'args.json');
  writeFileSync(file, JSON.stringify(att));
  writeFileSync(args, JSON.stringify({ message: 'sep text' }));
  const at = String(Math.floor(Date.now() / 1000));
  const base = ['attestation', 'verify', file, '--trust', trust, '--at', at, '--server', record.server.fingerprint, '--tool', 'echo', '--json'];
  const ok = cli([...base, '--args', args]);
  assert.equal(ok.status, 0, ok.stdout);
  const verdict = JSON.parse(ok.stdout) as { shape: string; commitmentKind: string; checks: Array<{ dimension: string; status: string }> };
  assert.equal(verdict.shape, 'sep-text');
  assert.equal(verdict.commitmentKind, 'ref');
  assert.ok(verdict.checks.every((c) => c.status === 'pass'));

  writeFileSync(args, JSON.stringify({ message: 'something else' }));
  const bad = cli([...base, '--args', args]);
  assert.equal(bad.status, 1);
  assert.ok(JSON.parse(bad.stdout).checks.some((c: { code?: string }) => c.code === 'ERR_ARGS_COMMITMENT_MISMATCH'));

  // Checked at the current time long after it was used, it has expired: the command says to give --at.
  const late = cli(base.map((a) => (a === at ? String(Number(at) + 3600) : a)));
  assert.equal(late.status, 1);
  assert.equal(late.stderr, '');
  const now = cli(base.filter((a, i) => a !== '--at' && base[i - 1] !== '--at'), 60_000, { preload: join(ROOT, 'test/fixtures/clock-plus-hour.cjs') });
  assert.equal(now.status, 1);
  assert.match(now.stderr, /note: checked at the current time; an attestation taken from a log is checked at the time it was used: --at <its iat, in POSIX seconds>/);
});

test('attestation verify: --ref supplies reference content; --redacted refuse fails a redacted projection', (t) => {
  const s = scope(t);
  const run = (name: string, extra: string[]): ReturnType<typeof cli> => {
    const v = JSON.parse(readFileSync(join(ROOT, 'test/vectors/attestation', `${name}.json`), 'utf8'));
    const file = (suffix: string, data: string | Buffer): string => {
      const path = join(s.dir, `${name}.${suffix}`);
      writeFileSync(path, data, { mode: 0o600 });
      return path;
    };
    return cli(['attestation', 'verify', file('json', JSON.stringify(v.envelope)), '--secret', file('secret', Buffer.from(v.verifier.keys[0].secretHex, 'hex')),
      '--at', String(v.verifier.at), '--args', file('args', JSON.stringify(v.verifier.runtime)), ...extra]);
  };
  const content = join(s.dir, 'content.json');
  writeFileSync(content, '{"path":"/archive/2024-Q3.md","recursive":false}');
  assert.equal(run('sep-text-args-ref-unresolvable', []).status, 1);
  assert.equal(run('sep-text-args-ref-unresolvable', ['--ref', `cid://blob/sha256/args-archive=${content}`]).status, 0);
  const redacted = run('sep-text-args-projection-redacted', []);
  assert.equal(redacted.status, 0, redacted.stdout);
  assert.match(redacted.stdout, /projectionMatch=false/);
  const refused = run('sep-text-args-projection-redacted', ['--redacted', 'refuse']);
  assert.equal(refused.status, 1);
  assert.match(refused.stdout, /ERR_ARGS_REDACTED/);
});
