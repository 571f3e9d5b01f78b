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
 * absent. Without `replace`, returns false, changing nothing, when `root` or an object on
 * the way is not an object, or `key` is already there. With `replace` (for a key that is
 * ours to set: a peer's value there is an impostor), a non-object on the way becomes an
 * object and `key` is overwritten; it returns false only when `root` is not an object.
 */
export function setNested(root: unknown, path: readonly string[], key: string, value: JsonValue, replace = false): boolean {
  if (!isObj(root)) return false;
  let at: Obj = root;
  for (const name of path) {
    let next = Object.hasOwn(at, name) ? at[name] : undefined;
    if (!isObj(next)) {
      if (next !== undefined && !replace) return false;
      next = {};
      defineMember(at, name, next);
    }
    at = next;
  }
  if (Object.hasOwn(at, key) && !replace) return false;
  defineMember(at, key, value);
  return true;
}

/** An own enumerable data member, even for a name like `__proto__`. */
function defineMember(o: Obj, key: string, value: JsonValue): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
