/**
 * The upstream a proxy starts before its relay exists (src/proxy/early-upstream.ts): an exit or
 * an error that happened before anyone listened reaches a listener added later, once; a live
 * one reaches it once too; what the child wrote is kept for the relay even once it has exited;
 * `stop` ends a running child (SIGKILL when it ignores SIGTERM) and leaves an ended one alone.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import test from 'node:test';
import { EarlyUpstream } from '../../src/proxy/early-upstream.js';

const node = (script: string): string[] => [process.execPath, '-e', script];

/** Resolves once `cond` holds (polled every 10 ms), rejects after 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const turn = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('an exit before any listener reaches a listener added later, once, with its code', async () => {
  const up = new EarlyUpstream(node('process.exit(7)'));
  await until('the child to exit', () => up.ended);
  await turn(); // well past the child's own exit event
  const codes: Array<number | null> = [];
  up.on('exit', (code) => codes.push(code));
  await turn();
  assert.deepEqual(codes, [7]);
});

test('a command that cannot run is an error a later listener gets; nothing goes unhandled', async () => {
  const up = new EarlyUpstream(['/nonexistent/mcp-attest-upstream']);
  await turn(100); // the spawn error has been emitted by now, with no relay listening
  const errors: Error[] = [];
  up.on('error', (e) => errors.push(e));
  await turn();
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /ENOENT/);
  assert.equal(up.ended, true);
});

test('a listener added while the child runs gets its exit once', async () => {
  const up = new EarlyUpstream(node('process.stdin.once("data", () => process.exit(3))'));
  const codes: Array<number | null> = [];
  up.on('exit', (code) => codes.push(code));
  up.stdin!.write('go\n');
  await until('the exit', () => codes.length > 0);
  await turn();
  assert.deepEqual(codes, [3]);
});

test('what the child wrote before it exited is kept for the relay to read', async () => {
  const up = new EarlyUpstream(node('process.stdout.write("early\\n" + "x".repeat(60000) + "\\n", () => process.exit(0))'));
  await until('the child to exit', () => up.ended);
  await turn(200); // Node discards a child's unread output once it has exited
  const chunks: Buffer[] = [];
  up.stdout.on('data', (c: Buffer) => chunks.push(c));
  await once(up.stdout, 'end');
  const text = Buffer.concat(chunks).toString();
  assert.equal(text.length, 'early\n'.length + 60_001);
  assert.ok(text.startsWith('early\n'));
});

test('stop ends a child that ignores SIGTERM and the end of its input (SIGKILL after the grace)', async () => {
  const up = new EarlyUpstream(node('process.on("SIGTERM", () => {}); process.stdin.on("end", () => {}).resume(); setInterval(() => {}, 1000); console.log("ready")'));
  await once(up.stdout, 'data'); // its SIGTERM handler is in place
  const signals: Array<NodeJS.Signals | null> = [];
  up.on('exit', (_code: number | null, ...rest: unknown[]) => void signals.push(rest[0] as NodeJS.Signals | null));
  await up.stop(200);
  assert.equal(up.ended, true);
  await turn();
  assert.deepEqual(signals, ['SIGKILL']);
});

test('stop ends its input and SIGTERMs a running child; on an ended one it signals nothing', async () => {
  const up = new EarlyUpstream(node('process.on("SIGTERM", () => process.exit(9)); setInterval(() => {}, 1000); console.log("ready")'));
  await once(up.stdout, 'data');
  await up.stop(5000);
  assert.equal(up.exitCode, 9);
  const sent: Array<NodeJS.Signals | undefined> = [];
  up.kill = (signal?: NodeJS.Signals) => (sent.push(signal), true);
  await up.stop();
  assert.deepEqual(sent, []);
});
