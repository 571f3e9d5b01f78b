/**
 * Test helper: a data directory with `n` recorded calls (attestation + receipt each), made by
 * the real recorder, and the trust policy and key resolver that verify it.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { initHome, loadIdentity, type InitOptions } from '../../src/store/identity.js';
import { Recorder } from '../../src/proxy/recorder.js';
import { trustPolicyOf } from '../../src/store/identity.js';
import type { TrustPolicy } from '../../src/verify/policy.js';

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The file descriptors of this process open on `path` (Linux: /proc/self/fd); `readOnly`: only those opened read-only (WalSync's: SQLite's own are read-write). */
export function fdsOn(path: string, readOnly = false): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) return false;
      const flags = Number.parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      return !readOnly || (flags & 3) === 0; // O_ACCMODE: O_RDONLY
    } catch {
      return false; // closed meanwhile (readdir's own descriptor)
    }
  }).length;
}

/** Append `n` calls (tool `echo`, arguments `{i}`) to the log of `home`, checkpointed on close. */
export async function recordCalls(home: string, n: number, from = 0): Promise<void> {
  const r = await Recorder.open(home, { durability: 'normal', checkpointMs: 5 });
  for (let i = from; i < from + n; i++) {
    const { attestation, callId, index } = await r.attest({ tool: 'echo', args: { i }, intent: 'test', server: { name: 's', fingerprint: 'sha256:' + '11'.repeat(32) }, requestDigest: 'sha256:' + '22'.repeat(32) });
    await r.receipt({ callId, attestation, attestationIndex: index, status: 'executed', result: { i } });
  }
  await r.close();
}

/** An initialized data directory (in a temporary directory) and its own trust policy. */
export async function recordedHome(t: TestContext, calls: number, o: InitOptions = {}): Promise<{ home: string; policy: TrustPolicy }> {
  const home = join(tempDir(t), 'home');
  await initHome(home, o);
  await recordCalls(home, calls);
  return { home, policy: trustPolicyOf(loadIdentity(home)) };
}
