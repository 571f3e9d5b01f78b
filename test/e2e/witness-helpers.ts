/**
 * Helpers of the witness end-to-end tests: `mcp-attest witness serve` run as a real
 * process (port learned from its startup line), a test log (an Ed25519 key made here, an
 * in-memory tree, signed checkpoints and add-checkpoint bodies), and HTTP calls with fetch.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { sha256 } from '../../src/bytes/digest.js';
import { toHex, utf8 } from '../../src/bytes/index.js';
import { formatCheckpoint } from '../../src/log/checkpoint.js';
import { cosignatureVerifier, parseCosignature } from '../../src/log/cosignature.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { openNote } from '../../src/log/note.js';
import { ed25519NoteSigner, importEd25519Seed, signNote, type NoteSigner } from '../../src/log/note-sign.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/vkey.js';
import { formatAddCheckpointRequest } from '../../src/witness/protocol.js';
import { CLI, ROOT, waitFor, type Scope } from './helpers.js';

/** A running `witness serve` process. */
export interface WitnessProcess {
  proc: ChildProcessWithoutNullStreams;
  /** Base URL from the startup line, `http://127.0.0.1:<port>`. */
  url: string;
  name: string;
  vkey: string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal) once the process exited. */
  exited: Promise<number | null>;
}

const STARTUP = /^witness (\S+) listening on (http:\/\/\S+) vkey (\S+)$/m;

/**
 * Start `mcp-attest witness serve --home HOME --listen 127.0.0.1:0 --log ...` and wait for
 * its startup line. Killed (SIGKILL) when the test ends if still running.
 */
export async function startWitness(s: Scope, home: string, logs: string[], extra: string[] = []): Promise<WitnessProcess> {
  const args = [CLI, 'witness', 'serve', '--home', home, '--listen', '127.0.0.1:0', ...logs.flatMap((l) => ['--log', l]), ...extra];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  s.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  const m = await waitFor('the witness startup line', () => {
    assert.ok(proc.exitCode === null && proc.signalCode === null, `witness exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
    return STARTUP.exec(stdout);
  });
  return { proc, name: m[1]!, url: m[2]!, vkey: m[3]!, stderr: () => stderr, exited };
}

/** Send `signal` to the witness and wait until it has exited; returns the exit code. */
export async function stopWitness(w: WitnessProcess, signal: NodeJS.Signals): Promise<number | null> {
  w.proc.kill(signal);
  return w.exited;
}

/** An HTTP answer as the tests look at it. */
export interface Answer { status: number; contentType: string; body: string }

/** POST `body` to `<url>/add-checkpoint`. */
export async function post(url: string, body: string | Uint8Array): Promise<Answer> {
  const res = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: body as BodyInit });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** GET the monitoring endpoint `<url>/<hex SHA-256(origin)>/checkpoint`. */
export async function latest(url: string, origin: string): Promise<Answer> {
  const res = await fetch(`${url}/${toHex(sha256(utf8(origin)))}/checkpoint`);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** A fresh Ed25519 note signer (type 0x01) named `name`, and its vkey. */
export async function newLogKey(name: string): Promise<{ signer: NoteSigner; vkey: string }> {
  const { privateKey, publicKey } = await importEd25519Seed(crypto.getRandomValues(new Uint8Array(32)));
  return { signer: ed25519NoteSigner(name, privateKey, publicKey), vkey: formatVerifierKey(name, SIG_TYPE_ED25519, publicKey) };
}

/** One history of a log: entries `<tag>-<i>` in a tree, checkpoints signed by `signer`. */
export class TestLog {
  readonly tree = new MemoryTree();
  constructor(readonly origin: string, readonly signer: NoteSigner, readonly tag: string) {}

  /** Append entries until the tree has `size` leaves. */
  grow(size: number): this {
    while (this.tree.size < BigInt(size)) this.tree.append(utf8(`${this.tag}-${this.tree.size}`));
    return this;
  }

  /** The signed checkpoint note at `size`. */
  checkpoint(size: bigint): Promise<string> {
    return signNote(formatCheckpoint({ origin: this.origin, size, rootHash: this.tree.root(size), extensions: [] }), [this.signer]);
  }

  /** An add-checkpoint body old -> size with its consistency proof (or `proof`). */
  async request(old: bigint, size: bigint, proof?: Uint8Array[]): Promise<string> {
    const p = proof ?? (old === 0n || old === size ? [] : this.tree.consistencyProof(old, size));
    return formatAddCheckpointRequest({ oldSize: old, proof: p, checkpointNote: await this.checkpoint(size) });
  }
}

/** Assert a 200 whose body is a cosignature line that verifies on `note` with `vkey`, timestamp nonzero. */
export async function assertCosigned(a: Answer, note: string, vkey: string): Promise<void> {
  assert.equal(a.status, 200, a.body);
  const opened = await openNote(note + a.body, [cosignatureVerifier(vkey)]);
  assert.equal(opened.verified.length, 1);
  assert.ok(parseCosignature(opened.verified[0]!.signature).timestamp > 0n);
}
