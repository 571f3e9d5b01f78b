/**
 * The upstream a proxy starts before its relay exists (src/proxy/early-upstream.ts): an exit or
 * an error that happened before anyone listened reaches a listener added later, once; a live
 * one reaches it once too; `stop` ends a running child and leaves an exited one alone.
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

test('an exit before any listener reaches a listener added later, once, with its code', async () => {
  const up = new EarlyUpstream(node('process.exit(7)'));
  await until('the child to exit', () => up.exitCode !== null);
  await new Promise((r) => setImmediate(r)); // past the child's own exit event
  const codes: Array<number | null> = [];
  up.on('exit', (code) => codes.push(code));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(codes, [7]);
});

test('a command that cannot run is an error a later listener gets; nothing goes unhandled', async () => {
  const up = new EarlyUpstream(['/nonexistent/mcp-attest-upstream']);
  await new Promise((r) => setTimeout(r, 100)); // the spawn error has been emitted by now, with no relay listening
  const errors: Error[] = [];
  up.on('error', (e) => errors.push(e));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /ENOENT/);
});

test('a listener added while the child runs gets its exit once', async () => {
  const up = new EarlyUpstream(node('process.stdin.once("data", () => process.exit(3))'));
  const codes: Array<number | null> = [];
  up.on('exit', (code) => codes.push(code));
  up.stdin!.write('go\n');
  await until('the exit', () => codes.length > 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(codes, [3]);
});

test('stop ends a running child (SIGTERM); on an exited one it does nothing', async () => {
  const up = new EarlyUpstream(node('setInterval(() => {}, 1000)'));
  const exited = new Promise<number | null>((resolve) => up.on('exit', resolve));
  up.stop();
  assert.equal(await exited, null);
  up.stop();
  const done = new EarlyUpstream(node('process.exit(0)'));
  await until('the child to exit', () => done.exitCode !== null);
  done.stop();
  assert.equal(done.exitCode, 0);
});

test('what the child wrote before the relay reads it is kept for the relay', async () => {
  const up = new EarlyUpstream(node('process.stdout.write("early\\n"); process.stdin.resume()'));
  await new Promise((r) => setTimeout(r, 300));
  const [chunk] = (await once(up.stdout!, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'early\n');
  up.stop();
});
