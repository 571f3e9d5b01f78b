/**
 * `mcp-attest tools diff|accept|list`: review and accept tool definition changes recorded
 * in the data directory's `pins.db` (src/pins/tool-pins.ts). Tool names, paths and server
 * fingerprints come from servers, so they are printed JSON-quoted when they hold control,
 * invisible or bidirectional characters.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { nowSeconds } from '../envelope/time.js';
import { homePaths, resolveHome } from '../store/home.js';
import { jsonDiff, ToolPins, UNREADABLE, type DiffEntry, type PinChangeRecord, type PinRecord } from '../pins/tool-pins.js';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, out, outJson } from './output.js';

interface HomeOption { home?: string }
interface DiffOptions extends HomeOption { server?: string; tool?: string; all?: boolean; json?: boolean }

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
  try {
    const shown = pins.changes({ server: o.server, name: o.tool }).filter((c) => o.all || !c.accepted);
    const rows = shown.map((c) => ({ ...c, reverted: !c.accepted && pins.status(c.server, c.name) === 'pinned', diff: jsonDiff(c.pinned, c.seen) }));
    const unreadable = pins.pins({ server: o.server, name: o.tool }).filter((p) => p.lastDigest === UNREADABLE);
    if (o.json) {
      outJson([...rows.map((r) => ({ ...r, firstSeen: isoSeconds(r.firstSeen) })),
        ...unreadable.map((p) => ({ server: p.server, name: p.name, pinnedDigest: p.digest, seenDigest: UNREADABLE, lastSeen: isoSeconds(p.lastSeen), accepted: false }))]);
    } else if (rows.length + unreadable.length === 0) out(o.all ? 'no tool definition changes recorded' : 'no unaccepted tool definition changes');
    else out([...rows.map(formatChange), ...unreadable.map(formatUnreadable)].join('\n\n'));
    process.exitCode = unreadable.length > 0 || shown.some((c) => !c.accepted) ? EXIT_FAILED : EXIT_OK;
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

function acceptCommand(name: string, o: HomeOption & { server?: string }): void {
  const { pins, path } = openPins(o);
  if (pins === null) throw new CliExit(EXIT_USAGE, `nothing has been pinned yet (no ${path})`);
  try {
    const server = o.server ?? serverFor(pins, name);
    if (pins.pins({ server, name })[0]?.lastDigest === UNREADABLE) {
      throw new CliExit(EXIT_USAGE, `the last definition of tool ${safe(name)} listed by server ${safe(server)} could not be read: nothing to pin`);
    }
    if (!pins.accept(server, name, nowSeconds())) {
      throw new CliExit(EXIT_USAGE, `no change of tool ${safe(name)} on server ${safe(server)} to accept`);
    }
    const pin = pins.pins({ server, name })[0];
    out(`accepted tool ${safe(name)} on server ${safe(server)}: pinned ${pin?.digest ?? '?'}`);
  } finally {
    pins.close();
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
    if (o.json) return outJson(rows.map((r) => ({ ...r, pinnedAt: isoSeconds(r.pinnedAt), lastSeen: isoSeconds(r.lastSeen) })));
    out(['SERVER'.padEnd(34) + 'TOOL'.padEnd(26) + 'STATUS'.padEnd(9) + 'DIGEST']
      .concat(rows.map((r) => `${safe(r.server).padEnd(33)} ${safe(r.name).padEnd(25)} ${r.status.padEnd(8)} ${r.digest}`)).join('\n'));
  } finally {
    pins.close();
  }
}

/** Register `tools diff`, `tools accept`, `tools list`. */
export function registerToolsCommands(program: Command): void {
  const tools = program.command('tools').description('tool definition pins: review and accept changed tool definitions ("rug pulls")');
  tools.command('diff')
    .description('show recorded tool definition changes not yet accepted (exit 1 when there is one)')
    .option('--home <dir>', 'data directory')
    .option('--server <fp>', 'only this server (fingerprint)')
    .option('--tool <name>', 'only this tool')
    .option('--all', 'also show accepted changes')
    .option('--json', 'print as JSON')
    .action(diffCommand);
  tools.command('accept <name>')
    .description('pin the last seen definition of a changed tool')
    .option('--home <dir>', 'data directory')
    .option('--server <fp>', 'the server (fingerprint); needed when the tool changed on several')
    .action(acceptCommand);
  tools.command('list')
    .description('list every pinned tool: server, tool, status, digest')
    .option('--home <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(listCommand);
}
