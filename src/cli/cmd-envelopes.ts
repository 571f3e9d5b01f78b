/**
 * `mcp-attest attestation verify FILE` and `mcp-attest receipt verify FILE`: verify one
 * envelope offline and print a verdict per dimension. Exit 0 only when every checked
 * dimension passed, 1 when one failed, 2 on usage or unreadable input.
 */
import type { Command } from 'commander';
import { nowSeconds } from '../envelope/time.js';
import { canonicalBytes, parseJson } from '../jcs/index.js';
import { contentAddressedResolver, type RefResolver } from '../envelope/commitment.js';
import { verifyAttestation } from '../attestation/verify.js';
import { verifyReceipt } from '../receipt/verify.js';
import type { Check } from '../envelope/report.js';
import { keySource, MAX_VALUE_FILE_BYTES, readInput, type KeyOptions } from './keysource.js';
import { MAX_CONFIG_FILE_BYTES } from '../store/read-regular.js';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, err, formatChecks, out, outJson } from './output.js';

/** A JSON value file (`--args`, `--result`, `--attestation`), read as {@link readInput} reads, parsed strictly (up to its size). */
function readJson(path: string, what: string): unknown {
  return parseJson(readInput(path, MAX_VALUE_FILE_BYTES, what).toString('utf8'), { maxBytes: MAX_VALUE_FILE_BYTES });
}

/** An attestation or receipt file: at most 1 MiB is read (the verifier refuses one past its own, smaller, limit). */
const readEnvelope = (path: string, what: string): Uint8Array => new Uint8Array(readInput(path, MAX_CONFIG_FILE_BYTES, what));

/** `--ref URI=FILE` (repeatable; split at the last `=`, as URIs may contain one): collect into a map. */
function collectRef(value: string, map: Map<string, string>): Map<string, string> {
  const eq = value.lastIndexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new CliExit(EXIT_USAGE, '--ref takes URI=FILE');
  return map.set(value.slice(0, eq), value.slice(eq + 1));
}

/**
 * The CLI's reference resolver: the `--ref` files first (exact URI match; read now, so an
 * unreadable file is an I/O error, not an unresolved reference), then content-addressed
 * evidence URIs answered from the runtime value itself. No network.
 */
function cliResolver(refs: Map<string, string>, runtime: unknown): RefResolver {
  const contents = new Map([...refs].map(([uri, file]) => [uri, new Uint8Array(readInput(file, MAX_VALUE_FILE_BYTES, '--ref'))]));
  const inHand = runtime === undefined ? null : contentAddressedResolver([canonicalBytes(runtime)]);
  return async (uri) => contents.get(uri) ?? (inHand ? inHand(uri) : null);
}

function parseAt(at: string | undefined): number {
  if (at === undefined) return nowSeconds();
  if (!/^(0|[1-9][0-9]{0,15})$/.test(at)) throw new CliExit(EXIT_USAGE, '--at takes POSIX seconds (a non-negative integer)');
  return Number(at);
}

function report(kind: string, file: string, ok: boolean, checks: Check[], json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) outJson({ file, kind, verified: ok, ...extra, checks });
  else {
    const facts = Object.entries(extra).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    out(`${ok ? 'VERIFIED' : 'FAILED'}  ${kind} ${file}${facts ? `  (${facts})` : ''}\n${formatChecks(checks)}`);
  }
  process.exitCode = ok ? EXIT_OK : EXIT_FAILED;
}

interface AttestationFlags extends KeyOptions {
  at?: string; args?: string; server?: string; tool?: string; json?: boolean;
  ref: Map<string, string>; redacted: string; requireLowS?: boolean;
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
    .option('--ref <uri=file>', 'content behind a ref/argsRef URI (repeatable)', collectRef, new Map<string, string>())
    .option('--redacted <policy>', 'a redacted projection: accept (reported) or refuse', 'accept')
    .option('--require-low-s', 'refuse ES256 signatures with s > n/2')
    .action(async (file: string, o: AttestationFlags) => {
      if (o.redacted !== 'accept' && o.redacted !== 'refuse') throw new CliExit(EXIT_USAGE, '--redacted is accept or refuse');
      const ks = await keySource(o);
      const args = o.args ? readJson(o.args, '--args') : undefined;
      const v = await verifyAttestation(readEnvelope(file, 'attestation'), {
        keys: ks.keys, acceptedAlgs: ks.accepted, now: parseAt(o.at), skewSeconds: ks.policy?.clockSkewSeconds ?? 30,
        resolve: cliResolver(o.ref, args), redacted: o.redacted, requireLowS: o.requireLowS === true,
        ...(args === undefined ? {} : { args }), ...(o.server ? { serverFingerprint: o.server } : {}), ...(o.tool ? { toolName: o.tool } : {}),
      });
      report('attestation', file, v.ok, v.checks, o.json, { shape: v.shape, commitmentKind: v.commitmentKind, projectionMatch: v.projectionMatch });
      if (o.at === undefined && v.checks.some((c) => c.code === 'ERR_TTL_EXPIRED')) err('mcp-attest: note: checked at the current time; an attestation taken from a log is checked at the time it was used: --at <its iat, in POSIX seconds>');
    });
  const rec = program.command('receipt').description('execution receipts');
  keyOptions(rec.command('verify <file>').description('verify one receipt: schema, signature, back link, result commitment'))
    .option('--attestation <file>', 'the attestation it answers (checks the back link)')
    .option('--result <file>', 'the runtime result (JSON) to check the commitment against')
    .option('--ref <uri=file>', 'content behind a ref URI (repeatable)', collectRef, new Map<string, string>())
    .option('--require-low-s', 'refuse ES256 signatures with s > n/2')
    .action(async (file: string, o: KeyOptions & { attestation?: string; result?: string; json?: boolean; ref: Map<string, string>; requireLowS?: boolean }) => {
      const ks = await keySource(o);
      const result = o.result ? readJson(o.result, '--result') : undefined;
      const v = await verifyReceipt(readEnvelope(file, 'receipt'), {
        keys: ks.keys, acceptedAlgs: ks.accepted, resolve: cliResolver(o.ref, result), requireLowS: o.requireLowS === true,
        ...(o.attestation ? { attestation: readJson(o.attestation, '--attestation') } : {}), ...(result === undefined ? {} : { result }),
      });
      report('receipt', file, v.ok, v.checks, o.json);
    });
}
