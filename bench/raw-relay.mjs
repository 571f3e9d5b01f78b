#!/usr/bin/env node
/**
 * The bench's "raw line relay": the physical limit of a stdio relay on this machine.
 * `node bench/raw-relay.mjs COMMAND [ARGS...]` spawns COMMAND and copies its own stdin to
 * the child's stdin and the child's stdout to its own stdout, one newline-terminated line
 * at a time (split on LF, each complete line written as it arrives, no decoding, no
 * parsing, no logging). Whatever a proxy costs beyond this row is its own work.
 */
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('usage: raw-relay.mjs COMMAND [ARGS...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });

/** Copy complete lines from `from` to `to`; a final unterminated line is passed on at end. */
function relayLines(from, to, onEnd) {
  let pending = Buffer.alloc(0);
  from.on('data', (chunk) => {
    let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10)) {
      to.write(buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    pending = buf;
  });
  from.on('end', () => {
    if (pending.length > 0) to.write(pending);
    onEnd();
  });
}

// Writes after the other side went away are not this relay's concern.
for (const s of [child.stdin, process.stdout]) s.on('error', () => {});
relayLines(process.stdin, child.stdin, () => child.stdin.end());
relayLines(child.stdout, process.stdout, () => {});
child.on('error', (e) => {
  process.stderr.write(`raw-relay: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 1 : 128);
  process.stdin.destroy();
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
