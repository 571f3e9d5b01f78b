/**
 * YAML 1.2 (of which JSON is a subset) as our configuration files are read: one document,
 * duplicate keys refused, aliases capped, and every mapping key a string as written. A plain
 * key that YAML's core schema reads as another type (`007` and `0x1F` as numbers, `true` as a
 * boolean, `[a, b]` as a sequence) would be turned into some other string than the one
 * written (`"7"`, `"31"`), or collide with a quoted key that the duplicate check does not see
 * as equal (`1` and `"1"`): refused, so a key means what it says (quote it).
 */
import { isScalar, parseDocument, visit } from 'yaml';

/**
 * The value of `text`, or a thrown `Error` saying what is wrong (the caller wraps it in its
 * own code: `ERR_POLICY_INVALID`, `ERR_CONFIG_INVALID`). `maxAliasCount`: aliases resolved at
 * most (0: none allowed).
 */
export function parseStrictYaml(text: string, maxAliasCount: number): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) throw doc.errors[0]!;
  let bad: string | null = null;
  visit(doc, {
    Pair(_, pair) {
      if (bad === null && !(isScalar(pair.key) && typeof pair.key.value === 'string')) {
        bad = `a mapping key must be a string: ${String(pair.key).slice(0, 64)} is not (quote it)`;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (bad !== null) throw new Error(bad);
  return doc.toJS({ maxAliasCount });
}
