/**
 * Test helper: run an ES module script (TypeScript imports allowed) in a separate Node
 * process and read the JSON it writes to stdout. For races between real processes.
 */
import { spawn } from 'node:child_process';

/** Run `script` with `node --import tsx`; resolves with its stdout parsed as JSON, rejects on a non-zero exit. */
export function runScript<T>(script: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`exit ${code}`))));
  });
}
