/**
 * The one edit the relays make to a message they relay: add a member inside a nested
 * object (`params._meta.attestation`, `result._meta[...]`, an initialize result's
 * `capabilities.extensions[...]`), in place, never replacing anything already there. The
 * message is then re-serialized as a whole (docs/wire.md), so nothing else changes.
 */
import type { JsonValue } from '../jcs/index.js';

type Obj = Record<string, JsonValue>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Set `root[path[0]]...[path[n-1]][key] = value`, creating the objects of `path` that are
 * absent. Returns false, changing nothing, when `root` or an object on the way is not an
 * object, or `key` is already there.
 */
export function setNested(root: unknown, path: readonly string[], key: string, value: JsonValue): boolean {
  if (!isObj(root)) return false;
  let at: Obj = root;
  for (let i = 0; i < path.length; i++) {
    const next = Object.hasOwn(at, path[i]!) ? at[path[i]!] : undefined;
    if (next === undefined) {
      let nested: Obj = { [key]: value };
      for (let j = path.length - 1; j > i; j--) nested = { [path[j]!]: nested };
      defineMember(at, path[i]!, nested);
      return true;
    }
    if (!isObj(next)) return false;
    at = next;
  }
  if (Object.hasOwn(at, key)) return false;
  defineMember(at, key, value);
  return true;
}

/** An own enumerable data member, even for a name like `__proto__`. */
function defineMember(o: Obj, key: string, value: JsonValue): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
