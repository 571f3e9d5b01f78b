/**
 * The whole witnessing loop with real processes on loopback: proxies appending to a log,
 * `log serve` serving it as tlog-tiles and submitting checkpoints, two `witness serve`
 * processes cosigning; bundles made and verified offline with a quorum. Faults: a witness
 * killed, restarted, answering slowly (SIGSTOP), the log server restarted between rounds;
 * a forked log (same origin and key, two histories) refused by the witnesses and rejected by
 * a verifier that keeps state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI, ROOT, RawPeer, cli, rawServer, scope, waitFor, waitCheckpointed, logShow, type Scope } from './helpers.js';
import { startWitness, stopWitness, type WitnessProcess } from './witness-helpers.js';
import { tilesFor } from '../../src/store/tiles.js';
import { entriesPath, tilePath } from '../../src/log/tiles.js';

interface LogServer { url: string; stderr(): string; stop(): Promise<void> }

/** Start `log serve` on a free port with a fast witnessing round. */
async function startLogServer(s: Scope, home: string): Promise<LogServer> {
  const proc = spawn(process.execPath, [CLI, 'log', 'serve', '--home', home, '--listen', '127.0.0.1:0', '--witness-interval', '0.2', '--witness-timeout', '1500'], { cwd: ROOT, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise((r) => proc.on('exit', r));
  s.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  const m = await waitFor('the log server startup line', () => {
    assert.ok(proc.exitCode === null, `log serve exited: ${stderr}`);
    return /serving (http:\/\/\S+)/.exec(stdout);
  });
  return { url: m[1]!, stderr: () => stderr, stop: async () => { proc.kill('SIGTERM'); await exited; } };
}

/** Record `n` calls through a real proxy process into `home`, then wait for its final checkpoint. */
async function calls(s: Scope, home: string, n: number): Promise<void> {
  const peer = RawPeer.proxy({ ...s, home }, rawServer(s).argv);
  for (let i = 0; i < n; i++) {
    peer.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'meta', arguments: { i } } });
    await peer.response(i);
  }
  peer.proc.stdin.end();
  assert.equal(await peer.exited, 0);
  await waitCheckpointed(home);
}

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The served checkpoint once it covers `size` entries with `k` cosignature lines (polled, 20 s at most). */
async function cosigned(url: string, size: number, k: number): Promise<string> {
  let last = '';
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    last = await (await fetch(`${url}/checkpoint`)).text();
    if (last.split('\n')[1] === String(size) && last.split('\n\u2014 ').length - 2 >= k) return last;
  }
  throw new Error(`no checkpoint of size ${size} with ${k} cosignatures; last served:\n${last}`);
}

/** Verify FILE with a trust policy of quorum `q`; returns exit status and report. */
function verifyWith(home: string, target: string, q: number, extra: string[] = []): { status: number; report: any } {
  const trust = join(dirname(home), `trust-q${q}.json`);
  writeFileSync(trust, ok(['trust', 'export', '--home', home, '--quorum', String(q)]));
  const r = cli(['verify', target, '--trust', trust, '--json', ...extra]);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return { status: r.status, report: JSON.parse(r.stdout) };
}

async function setup(s: Scope): Promise<{ home: string; w: WitnessProcess[]; origin: string; vkey: string; server: LogServer }> {
  const home = join(s.dir, 'log');
  ok(['init', '--home', home]);
  const id = JSON.parse(readFileSync(join(home, 'identity.json'), 'utf8'));
  const w = await Promise.all(['w1', 'w2'].map((n) => startWitness(s, join(s.dir, n), [`${id.log.origin}=${id.log.vkey}`])));
  for (const x of w) ok(['log', 'witnesses', 'add', '--home', home, '--url', x.url, '--vkey', x.vkey]);
  const server = await startLogServer(s, home);
  return { home, w, origin: id.log.origin, vkey: id.log.vkey, server };
}

test('proxies append, the log server gets two witnesses to cosign, a bundle verifies offline with quorum 2; the served tiles are the export', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { home, server } = await setup(s);
  await calls(s, home, 3);
  const note = await cosigned(server.url, 7, 2);
  const call = logShow(home)[1]!.call_id;
  const bundle = join(s.dir, 'call.bundle.json');
  ok(['bundle', '--home', home, '--call', call, '--out', bundle]);
  const v = verifyWith(home, bundle, 2);
  assert.equal(v.status, 0, JSON.stringify(v.report.findings));
  assert.deepEqual([v.report.entries, v.report.calls, v.report.witnesses.length], [3, 1, 2]);
  // Mirror the served log over HTTP; it is byte for byte what `log export` writes.
  const mirror = join(s.dir, 'mirror');
  const exported = join(s.dir, 'export');
  ok(['log', 'export', '--home', home, '--out', exported]);
  const paths = ['checkpoint', ...tilesFor(7n).flatMap(([l, n, w]) => (l === 0 ? [tilePath(l, n, w), entriesPath(n, w)] : [tilePath(l, n, w)]))];
  for (const p of paths) {
    const res = await fetch(`${server.url}/${p}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200, p);
    const body = Buffer.from(await res.arrayBuffer());
    mkdirSync(dirname(join(mirror, p)), { recursive: true });
    writeFileSync(join(mirror, p), body);
    assert.deepEqual(body, readFileSync(join(exported, p)), p);
    assert.equal(res.headers.get('cache-control'), p === 'checkpoint' ? 'no-cache' : 'public, max-age=31536000, immutable');
  }
  assert.equal(readFileSync(join(mirror, 'checkpoint'), 'utf8'), note);
  assert.equal(verifyWith(home, mirror, 2).status, 0);
  // On the wire (fetch would decompress): entry bundles are gzip-compressed when accepted.
  const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
    get(`${server.url}/${entriesPath(0n, 7)}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.equal(raw.encoding, 'gzip');
  assert.deepEqual(gunzipSync(raw.body), readFileSync(join(exported, entriesPath(0n, 7))));
  assert.equal((await fetch(`${server.url}/${tilePath(0, 0n, 8)}`)).status, 404, 'beyond the checkpoint');
  // gzip refused with q=0 is not sent gzip'd (RFC 9110 §12.5.3).
  const refused = await new Promise<string | undefined>((resolve, reject) => {
    get(`${server.url}/${entriesPath(0n, 7)}`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } }, (res) => { res.resume(); resolve(res.headers['content-encoding']); }).on('error', reject);
  });
  assert.equal(refused, undefined);
  const post = await fetch(`${server.url}/checkpoint`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD', 'a 405 names the methods allowed (RFC 9110 §15.5.6)');
});

test('bundle asks the configured witnesses to cosign first: made right after a call, with no log server, it verifies with a quorum; --no-witness does not ask', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'log');
  ok(['init', '--home', home]);
  const id = JSON.parse(readFileSync(join(home, 'identity.json'), 'utf8'));
  const w = await startWitness(s, join(s.dir, 'w1'), [`${id.log.origin}=${id.log.vkey}`]);
  ok(['log', 'witnesses', 'add', '--home', home, '--url', w.url, '--vkey', w.vkey]);
  await calls(s, home, 1);
  const call = logShow(home)[0]!.call_id;
  const plain = join(s.dir, 'plain.bundle.json');
  const unasked = cli(['bundle', '--home', home, '--call', call, '--out', plain, '--no-witness']);
  assert.equal(unasked.status, 0, unasked.stderr);
  assert.match(unasked.stderr, /warning: the checkpoint is cosigned by 0 of the 1 witnesses configured: a counterparty whose trust policy asks a majority \(1, trust export's default\) will refuse this bundle \(ERR_QUORUM_NOT_MET\)/);
  assert.equal(verifyWith(home, plain, 1).report.findings.some((f: { code: string }) => f.code === 'ERR_QUORUM_NOT_MET'), true, 'not asked: not cosigned');
  const bundle = join(s.dir, 'call.bundle.json');
  const asked = cli(['bundle', '--home', home, '--call', call, '--out', bundle]);
  assert.equal(asked.status, 0, asked.stderr);
  assert.doesNotMatch(asked.stderr, /warning/, 'cosigned: nothing to warn of');
  const v = verifyWith(home, bundle, 1);
  assert.equal(v.status, 0, JSON.stringify(v.report.findings));
  assert.equal(v.report.witnesses.length, 1);
  // The text report names the root a counterparty keeps, and when each witness vouched.
  const text = cli(['verify', bundle, '--trust', join(s.dir, 'trust-q1.json')]).stdout;
  assert.ok(text.includes(`\n  root ${v.report.checkpoint.rootHash}; ${w.vkey.split('+')[0]} at ${new Date(Number(v.report.witnesses[0].timestamp) * 1000).toISOString().replace('.000Z', 'Z')}\n`), text);
});

test('faults: a witness killed, slow, restarted; the log server restarted; the log never stops and state is never lost', { timeout: 180_000 }, async (t) => {
  const s = scope(t);
  const started = await setup(s);
  const { home, w, origin, vkey } = started;
  let server = started.server;
  await calls(s, home, 1);
  await cosigned(server.url, 3, 2);
  // w2 killed: the log carries on with w1; quorum 2 is not met for the new checkpoint, 1 is.
  await stopWitness(w[1]!, 'SIGKILL');
  await calls(s, home, 1);
  await cosigned(server.url, 5, 1);
  ok(['bundle', '--home', home, '--range', '3..4', '--out', join(s.dir, 'b.json')]);
  assert.deepEqual(verifyWith(home, join(s.dir, 'b.json'), 2).report.findings.map((f: any) => f.code), ['ERR_QUORUM_NOT_MET']);
  assert.equal(verifyWith(home, join(s.dir, 'b.json'), 1).status, 0);
  const events = JSON.parse(ok(['log', 'witnesses', 'list', '--home', home, '--json'])).events;
  assert.ok(events.some((e: any) => e.witness === w[1]!.name && e.code === 'ERR_WITNESS_UNREACHABLE'));
  // w1 slow (stopped, so the connection is accepted and never answered) while the log
  // server restarts; w2 comes back on its port with its state.
  w[0]!.proc.kill('SIGSTOP');
  await server.stop();
  const port = new URL(w[1]!.url).port;
  const w2 = await startWitness(s, join(s.dir, 'w2'), [`${origin}=${vkey}`], ['--listen', `127.0.0.1:${port}`]);
  server = await startLogServer(s, home);
  await calls(s, home, 1);
  await cosigned(server.url, 7, 1);
  await waitFor('w1 reported unreachable', () => server.stderr().includes(`witness ${w[0]!.name}`));
  w[0]!.proc.kill('SIGCONT');
  const both = await cosigned(server.url, 7, 2);
  assert.ok(both.includes(w2.name) && both.includes(w[0]!.name));
  const all = join(s.dir, 'all.json');
  ok(['bundle', '--home', home, '--range', '1..6', '--out', all]);
  assert.equal(verifyWith(home, all, 2).status, 0);
});

test('a forked log (same origin and key, another history) is refused by the witnesses, raises an alarm, and fails a verifier keeping state', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const { home, server } = await setup(s);
  await calls(s, home, 1);
  await cosigned(server.url, 3, 2);
  await server.stop();
  const twin = join(s.dir, 'twin');
  cpSync(home, twin, { recursive: true });
  await calls(s, home, 1);
  await calls(s, twin, 1);
  const state = join(s.dir, 'verifier-state');
  const round = cli(['log', 'witness', '--home', home]);
  assert.equal(round.status, 0, round.stdout + round.stderr);
  assert.equal(verifyWith(home, home, 2, ['--state', state]).status, 0);
  const forked = cli(['log', 'witness', '--home', twin, '--json']);
  assert.equal(forked.status, 1, forked.stdout + forked.stderr);
  const results = JSON.parse(forked.stdout) as Array<{ status: string }>;
  assert.deepEqual(results.map((r) => r.status), ['ERR_WITNESS_CONFLICT', 'ERR_WITNESS_CONFLICT']);
  assert.equal(forked.stderr.split('\n').filter((l) => l.startsWith('ALARM witness ')).length, 2, 'each conflict an alarm on stderr');
  const v = verifyWith(home, twin, 0, ['--state', state]);
  assert.equal(v.status, 1);
  assert.deepEqual(v.report.findings.filter((f: any) => f.severity === 'error').map((f: any) => f.code), ['ERR_CHECKPOINT_INCONSISTENT']);
  const twinBundle = join(s.dir, 'twin.json');
  ok(['bundle', '--home', twin, '--range', '1..4', '--out', twinBundle]);
  assert.deepEqual(verifyWith(home, twinBundle, 0, ['--state', state]).report.findings.filter((f: any) => f.severity === 'error').map((f: any) => f.code), ['ERR_CHECKPOINT_INCONSISTENT']);
});

test('log serve: an unreadable witnesses.json is a startup error, nothing served; one broken while serving is a warning each round and the log serves on; a witness that is down is asked again only after a pause', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const home = join(s.dir, 'log');
  ok(['init', '--home', home]);
  await calls(s, home, 1);
  const id = JSON.parse(readFileSync(join(home, 'identity.json'), 'utf8')) as { log: { origin: string; vkey: string } };
  writeFileSync(join(home, 'witnesses.json'), '[{"name": ');
  const bad = cli(['log', 'serve', '--home', home, '--listen', '127.0.0.1:0'], 20_000);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /mcp-attest: .*\(?ERR_STORE_CORRUPT\)?/);
  assert.doesNotMatch(bad.stdout, /serving/);
  // A witness nobody answers at (a closed port): asked at 0.2 s, then after pauses of 0.4, 0.8, 1.6 s...
  writeFileSync(join(home, 'witnesses.json'), '[]');
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
  ok(['log', 'witnesses', 'add', '--home', home, '--url', `http://127.0.0.1:${closed}`, '--vkey', (await startWitness(s, join(s.dir, 'w'), [`${id.log.origin}=${id.log.vkey}`])).vkey]);
  const server = await startLogServer(s, home);
  await new Promise((r) => setTimeout(r, 3000));
  const warnings = server.stderr().split('\n').filter((l) => l.includes('ERR_WITNESS_UNREACHABLE') || l.includes('unreachable')).length;
  assert.ok(warnings >= 1 && warnings <= 6, `${warnings} warnings in 3 s of 0.2 s rounds:\n${server.stderr()}`);
  writeFileSync(join(home, 'witnesses.json'), '{');
  await waitFor('the warning', () => server.stderr().includes('warning: witnessing round failed'));
  assert.equal((await fetch(`${server.url}/checkpoint`)).status, 200, 'still serving');
  await server.stop();
});
