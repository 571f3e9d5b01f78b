/**
 * `mcp-attest attestation verify FILE` and `mcp-attest receipt verify FILE`: verify one
 * envelope offline and print a verdict per dimension. Exit 0 only when every checked
 * dimension passed, 1 when one failed, 2 on usage or unreadable input.
 */
import type { Command } from 'commander';
import { parseJson } from '../jcs/index.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import type { Check } from '../envelope/report.js';
import { keySource, readInput, type KeyOptions } from './keysource.js';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatChecks, out, outJson } from './output.js';

function readJson(path: string): unknown {
  return parseJson(readInput(path).toString('utf8'));
}

function parseAt(at: string | undefined): number {
  if (at === undefined) return Math.floor(Date.now() / 1000);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(at)) throw new CliExit(EXIT_USAGE, '--at takes POSIX seconds (a non-negative integer)');
  return Number(at);
}

function report(kind: string, file: string, ok: boolean, checks: Check[], json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) outJson({ file, kind, verified: ok, ...extra, checks });
  else out(`${ok ? 'VERIFIED' : 'FAILED'}  ${kind} ${file}\n${formatChecks(checks)}`);
  process.exitCode = ok ? EXIT_OK : EXIT_FAILED;
}

const keyOptions = (c: Command): Command => c
  .option('--trust <file>', 'trust policy (JSON, from "mcp-attest trust export")')
  .option('--key <pem>', 'one public key (SPKI PEM); only its algorithm is accepted')
  .option('--secret <file>', 'HS256 shared secret (raw bytes)')
  .option('--json', 'print the verdict as JSON');

/** Register `attestation verify` and `receipt verify`. */
export function registerEnvelopeCommands(program: Command): void {
  const att = program.command('attestation').description('SEP-2787 request attestations');
  keyOptions(att.command('verify <file>').description('verify one attestation: schema, algorithm, signature, ttl, server, tool, arguments'))
    .option('--at <epochSeconds>', 'verification time (default: now)')
    .option('--args <file>', 'runtime arguments (JSON) to check the commitment against')
    .option('--server <fingerprint>', 'this server\'s fingerprint (selects the toolCalls entry)')
    .option('--tool <name>', 'the tools/call name')
    .action(async (file: string, o: KeyOptions & { at?: string; args?: string; server?: string; tool?: string; json?: boolean }) => {
      const ks = await keySource(o);
      const v = await verifyAttestation(new Uint8Array(readInput(file)), {
        keys: ks.keys, acceptedAlgs: ks.accepted, now: parseAt(o.at), skewSeconds: ks.policy?.clockSkewSeconds ?? 30,
        ...(o.args ? { args: readJson(o.args) } : {}), ...(o.server ? { serverFingerprint: o.server } : {}), ...(o.tool ? { toolName: o.tool } : {}),
      });
      report('attestation', file, v.ok, v.checks, o.json, { projectionMatch: v.projectionMatch });
    });
  const rec = program.command('receipt').description('execution receipts');
  keyOptions(rec.command('verify <file>').description('verify one receipt: schema, signature, back link, result commitment'))
    .option('--attestation <file>', 'the attestation it answers (checks the back link)')
    .option('--result <file>', 'the runtime result (JSON) to check the commitment against')
    .action(async (file: string, o: KeyOptions & { attestation?: string; result?: string; json?: boolean }) => {
      const ks = await keySource(o);
      const v = await verifyReceipt(readInput(file).toString('utf8'), {
        keys: ks.keys, acceptedAlgs: ks.accepted,
        ...(o.attestation ? { attestation: readJson(o.attestation) } : {}), ...(o.result ? { result: readJson(o.result) } : {}),
      });
      report('receipt', file, v.ok, v.checks, o.json);
    });
}
