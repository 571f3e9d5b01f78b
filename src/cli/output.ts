/**
 * CLI output and exit codes (DESIGN.md CLI contract): 0 success / verified, 1 verification
 * failed, 2 usage or input error, 3 I/O or environment error. Only cli/ writes to
 * stdout/stderr or exits.
 */
import { isAttestError, type ErrorCode } from '../errors.js';
import type { Check } from '../envelope/report.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_IO = 3;

const IO_CODES: readonly ErrorCode[] = ['ERR_STORE_IO', 'ERR_PUBLISH_CONFLICT', 'ERR_STORE_CORRUPT', 'ERR_HOME_MISSING', 'ERR_UPSTREAM', 'ERR_INPUT_NOT_REGULAR', 'ERR_INPUT_TOO_LARGE', 'ERR_KEY_EXPOSED', 'ERR_VERIFY_WORKER'];

/** Raised by command handlers to exit with a code after printing a message. */
export class CliExit extends Error {
  /** `code`: the error code printed with the message (default `ERR_USAGE` for exit 2, `ERR_STORE_IO` for exit 3). */
  constructor(readonly exitCode: number, message: string, readonly code?: ErrorCode) {
    super(message);
  }
}

/** Exit code for an error thrown by a command. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CliExit) return e.exitCode;
  if (isAttestError(e)) return IO_CODES.includes(e.code) ? EXIT_IO : EXIT_USAGE;
  const errno = (e as NodeJS.ErrnoException | null)?.code;
  return typeof errno === 'string' && /^E[A-Z]+$/.test(errno) ? EXIT_IO : EXIT_USAGE;
}

/** One line for an error, with its code. */
export function describeError(e: unknown): string {
  if (isAttestError(e)) return `${e.code}: ${e.message}`;
  // A command's own refusal: usage (exit 2) or I/O (exit 3), coded as any other error.
  if (e instanceof CliExit) return `${e.code !== undefined ? `${e.code}: ` : e.exitCode === EXIT_IO ? 'ERR_STORE_IO: ' : e.exitCode === EXIT_USAGE ? 'ERR_USAGE: ' : ''}${e.message}`;
  // The system's own (a port in use, a permission, not a directory): exit 3, ERR_STORE_IO.
  if (exitCodeOf(e) === EXIT_IO) return `ERR_STORE_IO: ${e instanceof Error ? e.message : String(e)}`;
  return e instanceof Error ? e.message : String(e);
}

/** Print to stdout. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Print to stderr. */
export function err(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
}

/** JSON replacer that prints bigints as decimal strings. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Print a value as indented JSON on stdout. */
export function outJson(value: unknown): void {
  out(JSON.stringify(value, jsonReplacer, 2));
}

const MARK = { pass: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;

/** Human lines for a list of checks: `ok   signature  ES256 <kid>`. */
export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => {
    let line = `  ${MARK[c.status]}  ${c.dimension.padEnd(17)} `;
    if (c.code) line += `${c.code}  `;
    if (c.message) line += c.message;
    if (c.status === 'fail' && c.expected !== undefined) line += `\n        expected: ${JSON.stringify(c.expected, jsonReplacer)}`;
    if (c.status === 'fail' && c.found !== undefined) line += `\n        found:    ${JSON.stringify(c.found, jsonReplacer)}`;
    return line;
  }).join('\n');
}

/** Commander argument parser for a repeatable option: appends each value (start: none). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
