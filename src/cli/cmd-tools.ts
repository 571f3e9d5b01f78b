/**
 * `mcp-attest tools diff|accept|list`: review and accept tool definition changes, and
 * changes of the server fingerprint an upstream advertises, recorded in the data
 * directory's `pins.db` (src/pins/tool-pins.ts). Servers are named by their pin key (fixed by
 * the proxy's configuration). Tool names, paths and advertised fingerprints come from
 * servers, so they are printed JSON-quoted when they hold control, invisible or
 * bidirectional characters.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { nowSeconds } from '../envelope/time.js';
import { homePaths, resolveHome } from '../store/home.js';
import { isFleetStore } from '../store/log-store.js';
import {
  jsonDiff, ToolPins, UNREADABLE, type SharedPin, type DiffEntry, type FingerprintChangeRecord, type PinChangeRecord, type PinRecord,
} from '../pins/tool-pins.js';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, out, outJson } from './output.js';

interface HomeOption { home?: string }
interface DiffOptions extends HomeOption { server?: string; tool?: string; fingerprint?: boolean; all?: boolean; json?: boolean }
interface AcceptOptions extends HomeOption { server?: string; fingerprint?: boolean; store?: string; digest?: string }

// C0/C1 controls, zero-width and bidirectional formatting characters, line/paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;

const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');

/** Every unsafe character of `text` as a `\uXXXX` escape (valid inside a JSON string). */
function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `text` as is, or JSON-quoted with `\u` escapes when a terminal could be misled by it. */
function safe(text: string): string {
  return UNSAFE.test(text) ? escapeUnsafe(JSON.stringify(text)) : text;
}

/** A JSON value on one line, unsafe characters escaped. */
function value(v: unknown): string {
  return escapeUnsafe(JSON.stringify(v) ?? 'null');
}

/** `2026-01-02T03:04:05Z` for POSIX seconds. */
function isoSeconds(s: number): string {
  return new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `~ /path: before -> after`, `+ /path: after`, `- /path: before`. */
function formatDiffEntry(d: DiffEntry): string {
  const path = safe(d.path === '' ? '(whole definition)' : d.path);
  if (!('before' in d)) return `+ ${path}: ${value(d.after)}`;
  if (!('after' in d)) return `- ${path}: ${value(d.before)}`;
  return `~ ${path}: ${value(d.before)} -> ${value(d.after)}`;
}

/** Open `pins.db` of the home, or null when nothing has been pinned there yet. */
function openPins(o: HomeOption): { pins: ToolPins | null; path: string } {
  const path = homePaths(resolveHome(o.home)).pins;
  return { pins: existsSync(path) ? new ToolPins(path) : null, path };
}

function diffCommand(o: DiffOptions): void {
  const { pins, path } = openPins(o);
  if (pins === null) {
    if (o.json) outJson([]);
    else out(`nothing has been pinned yet (no ${path})`);
    process.exitCode = EXIT_OK;
    return;
  }
  if (o.tool !== undefined && o.fingerprint) throw new CliExit(EXIT_USAGE, '--tool and --fingerprint exclude each other');
  try {
    if (o.tool !== undefined && pins.pins({ server: o.server, name: o.tool }).length === 0) throw new CliExit(EXIT_USAGE, `no tool ${o.tool} is pinned${o.server === undefined ? '' : ` for server ${o.server}`} ("mcp-attest tools list" shows the pinned ones)`);
    // A server named wrongly must not read as one without changes.
    if (o.server !== undefined && pins.pins({ server: o.server }).length === 0 && pins.fingerprints({ server: o.server }).length === 0) throw new CliExit(EXIT_USAGE, `no server ${safe(o.server)} is pinned ("mcp-attest tools list" shows the pinned ones)`);
    const toolsShown = !o.fingerprint;
    const shown = toolsShown ? pins.changes({ server: o.server, name: o.tool }).filter((c) => o.all || !c.accepted) : [];
    const rows = shown.map((c) => ({ ...c, reverted: !c.accepted && pins.status(c.server, c.name) === 'pinned', diff: jsonDiff(c.pinned, c.seen) }));
    const unreadable = toolsShown ? pins.pins({ server: o.server, name: o.tool }).filter((p) => p.lastDigest === UNREADABLE) : [];
    // Fingerprint changes are not a tool's: --tool leaves them out.
    const fps = o.tool !== undefined ? [] : pins.fingerprintChanges({ server: o.server }).filter((c) => o.all || !c.accepted)
      .map((c) => ({ ...c, reverted: !c.accepted && pins.fingerprintStatus(c.server) === 'pinned' }));
    if (o.json) {
      outJson([
        ...fps.map((c) => ({ kind: 'serverFingerprint', server: c.server, pinned: c.pinned, seen: c.seen, firstSeen: isoSeconds(c.firstSeen), accepted: c.accepted, reverted: c.reverted })),
        ...rows.map((r) => ({ kind: 'tool', ...r, firstSeen: isoSeconds(r.firstSeen) })),
        ...unreadable.map((p) => ({ kind: 'tool', server: p.server, name: p.name, pinnedDigest: p.digest, seenDigest: UNREADABLE, lastSeen: isoSeconds(p.lastSeen), accepted: false })),
      ]);
    } else if (fps.length + rows.length + unreadable.length === 0) {
      const what = o.fingerprint ? 'server fingerprint changes' : o.tool !== undefined ? 'tool definition changes' : 'tool definition or server fingerprint changes';
      out(o.all ? `no ${what} recorded` : `no unaccepted ${what}`);
    } else out([...fps.map(formatFingerprintChange), ...rows.map(formatChange), ...unreadable.map(formatUnreadable)].join('\n\n'));
    const open = unreadable.length > 0 || shown.some((c) => !c.accepted) || fps.some((c) => !c.accepted);
    process.exitCode = open ? EXIT_FAILED : EXIT_OK;
  } finally {
    pins.close();
  }
}

function formatChange(c: PinChangeRecord & { reverted: boolean; diff: DiffEntry[] }): string {
  const state = c.accepted ? 'ACCEPTED' : c.reverted ? 'CHANGED (reverted: the server lists the pinned definition again)' : 'CHANGED';
  return [
    `${state}  tool ${safe(c.name)}  server ${safe(c.server)}`,
    `  ${c.pinnedDigest} -> ${c.seenDigest}`,
    `  first seen ${isoSeconds(c.firstSeen)}`,
    ...c.diff.map((d) => `  ${formatDiffEntry(d)}`),
  ].join('\n');
}

function formatFingerprintChange(c: FingerprintChangeRecord & { reverted: boolean }): string {
  const state = c.accepted ? 'ACCEPTED' : c.reverted ? 'CHANGED (reverted: the server advertises the pinned fingerprint again)' : 'CHANGED';
  return [
    `${state}  server fingerprint  server ${safe(c.server)}`,
    `  pinned ${safe(c.pinned)} -> advertised ${safe(c.seen)}`,
    `  first seen ${isoSeconds(c.firstSeen)}`,
  ].join('\n');
}

function formatUnreadable(p: PinRecord): string {
  return [
    `UNREADABLE  tool ${safe(p.name)}  server ${safe(p.server)}`,
    `  pinned ${p.digest}`,
    `  last listed ${isoSeconds(p.lastSeen)} with a definition that could not be read (malformed or over a limit; docs/tool-pinning.md)`,
  ].join('\n');
}

/** The one server on which `name` has something to accept, or a usage error. */
function serverFor(pins: ToolPins, name: string): string {
  const servers = new Set(pins.changes({ name }).filter((c) => !c.accepted).map((c) => c.server));
  for (const p of pins.pins({ name })) if (p.status === 'changed') servers.add(p.server);
  const list = [...servers].sort();
  if (list.length === 1) return list[0]!;
  if (list.length === 0) throw new CliExit(EXIT_USAGE, `no change of tool ${safe(name)} to accept`);
  throw new CliExit(EXIT_USAGE, `tool ${safe(name)} changed on ${list.length} servers; pass --server (one of: ${list.map(safe).join(', ')})`);
}

/** The one server (pin key) whose advertised fingerprint has something to accept, or a usage error. */
function fingerprintServerFor(pins: ToolPins): string {
  const servers = new Set(pins.fingerprintChanges().filter((c) => !c.accepted).map((c) => c.server));
  for (const p of pins.fingerprints()) if (p.status === 'changed') servers.add(p.server);
  const list = [...servers].sort();
  if (list.length === 1) return list[0]!;
  if (list.length === 0) throw new CliExit(EXIT_USAGE, 'no server fingerprint change to accept');
  throw new CliExit(EXIT_USAGE, `the advertised fingerprint changed on ${list.length} servers; pass --server (one of: ${list.map(safe).join(', ')})`);
}

function acceptFingerprint(pins: ToolPins, o: AcceptOptions): void {
  const server = o.server ?? fingerprintServerFor(pins);
  if (!pins.acceptFingerprint(server, nowSeconds())) throw new CliExit(EXIT_USAGE, `no server fingerprint change on server ${safe(server)} to accept`);
  const pin = pins.fingerprints({ server })[0];
  out(`accepted the server fingerprint of server ${safe(server)}: pinned ${pin === undefined ? '?' : safe(pin.fingerprint)}`);
}

async function acceptCommand(name: string | undefined, o: AcceptOptions): Promise<void> {
  if ((name === undefined) === !o.fingerprint) throw new CliExit(EXIT_USAGE, 'tools accept takes a tool NAME or --fingerprint (one of them)');
  if (o.digest !== undefined && (name === undefined || !/^sha256:[0-9a-f]{64}$/.test(o.digest))) throw new CliExit(EXIT_USAGE, '--digest is a tool definition\'s sha256:<64 hex>, as tools diff shows it');
  const url = o.store ?? process.env['MCP_ATTEST_STORE'] ?? '';
  if (url !== '' && !isFleetStore(url)) throw new CliExit(EXIT_USAGE, 'a fleet\'s log is named by --store postgres://… or $MCP_ATTEST_STORE');
  const { pins, path } = openPins(o);
  if (pins === null) throw new CliExit(EXIT_USAGE, `nothing has been pinned yet (no ${path})`);
  try {
    if (name === undefined) return acceptFingerprint(pins, o);
    const server = o.server ?? serverFor(pins, name);
    if (pins.pins({ server, name })[0]?.lastDigest === UNREADABLE) {
      throw new CliExit(EXIT_USAGE, `the last definition of tool ${safe(name)} listed by server ${safe(server)} could not be read: nothing to pin`);
    }
    if (!pins.accept(server, name, nowSeconds(), o.digest)) {
      throw new CliExit(EXIT_USAGE, `no change of tool ${safe(name)} on server ${safe(server)} to accept`);
    }
    const pin = pins.sharedPin(server, name);
    out(`accepted tool ${safe(name)} on server ${safe(server)}: pinned ${pin?.digest ?? '?'}`);
    if (url !== '' && pin !== null) await acceptForFleet(url, server, pin);
  } finally {
    pins.close();
  }
}

/** Make an accepted pin the fleet's (store/pg-pins.ts): every process of the fleet adopts it at its next `tools/list`. */
async function acceptForFleet(url: string, server: string, pin: SharedPin): Promise<void> {
  const [{ PgLog }, { FleetPins }] = await Promise.all([import('../store/pg-log.js'), import('../store/pg-pins.js')]);
  const log = await PgLog.open(url, { max: 1 });
  try {
    await new FleetPins(log.pool).accept(server, pin);
    out(`the fleet's pin of tool ${safe(pin.name)} on server ${safe(server)} is now ${pin.digest}`);
  } finally {
    await log.close();
  }
}

function listCommand(o: HomeOption & { json?: boolean }): void {
  const { pins, path } = openPins(o);
  if (pins === null) {
    if (o.json) outJson([]);
    else out(`nothing has been pinned yet (no ${path})`);
    return;
  }
  try {
    const rows = pins.pins();
    const fps = pins.fingerprints();
    if (o.json) {
      return outJson([
        ...fps.map((r) => ({ kind: 'serverFingerprint', ...r, pinnedAt: isoSeconds(r.pinnedAt), lastSeen: isoSeconds(r.lastSeen) })),
        ...rows.map((r) => ({ kind: 'tool', ...r, pinnedAt: isoSeconds(r.pinnedAt), lastSeen: isoSeconds(r.lastSeen) })),
      ]);
    }
    // Columns as wide as their longest value (a server's pin key can be long), at least as before.
    const width = (values: string[], min: number): number => Math.max(min, ...values.map((v) => v.length));
    const sw = width([...rows, ...fps].map((r) => safe(r.server)), 33);
    const tw = width(rows.map((r) => safe(r.name)), 25);
    const tools = [`${'SERVER'.padEnd(sw)} ${'TOOL'.padEnd(tw)} ${'STATUS'.padEnd(8)} DIGEST`]
      .concat(rows.map((r) => `${safe(r.server).padEnd(sw)} ${safe(r.name).padEnd(tw)} ${r.status.padEnd(8)} ${r.digest}`));
    const servers = fps.length === 0 ? [] : ['', `${'SERVER'.padEnd(sw)} ${'STATUS'.padEnd(8)} ADVERTISED FINGERPRINT (pinned)`]
      .concat(fps.map((r) => `${safe(r.server).padEnd(sw)} ${r.status.padEnd(8)} ${safe(r.fingerprint)}`
        + (r.status === 'changed' ? `  (last advertised ${safe(r.lastFingerprint)})` : '')));
    out(tools.concat(servers).join('\n'));
  } finally {
    pins.close();
  }
}

/** Register `tools diff`, `tools accept`, `tools list`. */
export function registerToolsCommands(program: Command): void {
  const tools = program.command('tools').description('tool definition pins: review and accept changed tool definitions ("rug pulls") and advertised server fingerprints');
  tools.command('diff')
    .description('show recorded tool definition and server fingerprint changes not yet accepted (exit 1 when there is one)')
    .option('--home <dir>', 'data directory')
    .option('--server <key>', 'only this server (its pin key)')
    .option('--tool <name>', 'only this tool (no server fingerprint changes)')
    .option('--fingerprint', 'only server fingerprint changes')
    .option('--all', 'also show accepted changes')
    .option('--json', 'print as JSON')
    .action(diffCommand);
  tools.command('accept [name]')
    .description('pin the last seen definition of a changed tool, or (--fingerprint) the last advertised server fingerprint')
    .option('--home <dir>', 'data directory')
    .option('--server <key>', 'the server (its pin key); needed when the change is on several')
    .option('--fingerprint', 'accept the server fingerprint the upstream last advertised instead of a tool')
    .option('--digest <sha256>', 'pin only this definition (its digest, as tools diff shows it): refused when the last seen is another')
    .option('--store <url>', 'also make it the pin of a fleet\'s log (postgres://…; default $MCP_ATTEST_STORE): every process of the fleet adopts it (docs/fleet.md)')
    .action(acceptCommand);
  tools.command('list')
    .description('list every pinned tool (server, tool, status, digest) and pinned server fingerprint (server, status, fingerprint)')
    .option('--home <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(listCommand);
}
