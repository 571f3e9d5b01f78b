/**
 * Structural diff of two JSON values, for showing a person what changed in a pinned tool
 * definition. Paths are RFC 6901 JSON Pointers; the order is deterministic: object members
 * sorted by their names as UTF-16 code units (the order of RFC 8785 §3.2.3), array
 * elements by ascending index. Runtime-neutral.
 */
import { AttestError } from '../errors.js';
import { MAX_CANONICAL_DEPTH } from '../jcs/index.js';

/**
 * One difference. `path` is an RFC 6901 JSON Pointer (`''` is the whole value,
 * `/inputSchema/properties/a~1b` names member `a/b`). `before` absent: the member or
 * element was added; `after` absent: it was removed; both present: it was replaced (a
 * scalar changed, or the type changed, e.g. object -> array).
 */
export interface DiffEntry {
  path: string;
  before?: unknown;
  after?: unknown;
}

/** One reference token of a JSON Pointer: `~` -> `~0`, `/` -> `~1` (RFC 6901 §3). */
export function pointerToken(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Compare `a` and `b` at `path`, appending the differences to `out`. */
function walk(a: unknown, b: unknown, path: string, depth: number, out: DiffEntry[]): void {
  if (depth > MAX_CANONICAL_DEPTH) throw new AttestError('ERR_JSON_TOO_DEEP', `nesting deeper than ${MAX_CANONICAL_DEPTH}`, { path });
  if (isObject(a) && isObject(b)) {
    const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of names) {
      const at = `${path}/${pointerToken(k)}`;
      if (!own(b, k)) out.push({ path: at, before: a[k] });
      else if (!own(a, k)) out.push({ path: at, after: b[k] });
      else walk(a[k], b[k], at, depth + 1, out);
    }
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const at = `${path}/${i}`;
      if (i >= b.length) out.push({ path: at, before: a[i] });
      else if (i >= a.length) out.push({ path: at, after: b[i] });
      else walk(a[i], b[i], at, depth + 1, out);
    }
  } else if (a !== b) {
    out.push({ path, before: a, after: b });
  }
}

/**
 * Structural diff of two JSON values (as `JSON.parse` returns them): every member or
 * element added, removed or replaced, as {@link DiffEntry} values in a deterministic
 * order (sorted member names, ascending indices, depth first). Equal values give `[]`.
 * Arrays are compared index by index (an insertion shows as replacements plus one
 * addition). Numbers compare with `===` (so `0` equals `-0`, as in RFC 8785). Raises
 * `ERR_JSON_TOO_DEEP` past {@link MAX_CANONICAL_DEPTH} levels of nesting (and so on cycles).
 */
export function jsonDiff(a: unknown, b: unknown): DiffEntry[] {
  const out: DiffEntry[] = [];
  walk(a, b, '', 0, out);
  return out;
}
