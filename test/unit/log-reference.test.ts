/**
 * The optimized RFC 9162 §2.1 tree (src/log/tree.ts, memory-tree.ts, proof.ts and the
 * SQLite log of src/store/log-db.ts) checked against the naive reference of
 * test/reference/rfc9162.ts with fast-check properties over random tree sizes (0, 1, powers
 * of two and ±1 around them, uniform sizes; up to 4,097 for the trees, 2,049 for the
 * verifiers, 1,025 for SQLite) and random entries. The reference itself is first pinned to
 * the published vectors in test/vectors/published/merkle/ (provenance in its SOURCE.md), so the
 * two cannot agree on a misreading of the RFC.
 *
 * Runs are reproducible: every property uses the fixed seed {@link SEED}; a failure prints
 * the shrunk counterexample and the path to replay it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { fromBase64, fromHex, toHex } from '../../src/bytes/index.js';
import { leafHash } from '../../src/log/hash.js';
import { MemoryTree } from '../../src/log/memory-tree.js';
import { verifyConsistency, verifyInclusion } from '../../src/log/proof.js';
import { appendNodes, consistencyProof, inclusionProof, rootAt, rootFromLeafHashes, type NodeReader } from '../../src/log/tree.js';
import { LogDb } from '../../src/store/log-db.js';
import * as ref from '../reference/rfc9162.js';
import { vectorUrl } from '../vectors.js';

/** Fixed fast-check seed: the same cases on every run and every machine. */
const SEED = 9162;
const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns });

const hex = (list: Uint8Array[]): string[] => list.map(toHex);

// ---------------------------------------------------------------------------------------
// Random logs: a size and a seed from fast-check; the entries are derived from the seed so
// that a counterexample prints as three small fields, not thousands of byte arrays.

/** `distinct` entries start with their index; `random` ones may repeat; `repetitive` has 3 values. */
type Contents = 'distinct' | 'random' | 'repetitive';
interface LogSpec {
  size: number;
  seed: number;
  contents: Contents;
}

/** Sizes: 0 and 1, 2^e - 1, 2^e, 2^e + 1 for 1 <= e <= maxExp, and uniform in [0, 2^maxExp + 1]. */
function sizeArb(maxExp: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(0, 1),
    fc.tuple(fc.integer({ min: 1, max: maxExp }), fc.integer({ min: -1, max: 1 })).map(([e, d]) => 2 ** e + d),
    fc.integer({ min: 0, max: 2 ** maxExp + 1 }),
  );
}

/** Logs of at least `minSize` entries, sizes from {@link sizeArb}. */
function logArb(minSize: number, maxExp: number, contents: Contents[]): fc.Arbitrary<LogSpec> {
  return fc.record({
    size: sizeArb(maxExp).filter((n) => n >= minSize),
    seed: fc.integer({ min: 1, max: 0xffffffff }),
    contents: fc.constantFrom(...contents),
  });
}
const ALL_CONTENTS: Contents[] = ['distinct', 'random', 'repetitive'];

/** The entries of `spec`: 0-39 pseudo-random bytes each (xorshift32 from `spec.seed`). */
function entriesOf(spec: LogSpec): Uint8Array[] {
  let x = spec.seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13; // xorshift32
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return Array.from({ length: spec.size }, (_, i) => {
    if (spec.contents === 'repetitive') return next() % 3 === 0 ? new Uint8Array(0) : Uint8Array.of(next() & 1);
    const body = Uint8Array.from({ length: next() % 40 }, () => next() & 0xff);
    if (spec.contents === 'random') return body;
    const entry = new Uint8Array(4 + body.length);
    new DataView(entry.buffer).setUint32(0, i);
    entry.set(body, 4);
    return entry;
  });
}

/** A log of `log.size` entries and, within it, 1 <= size <= log.size, index < size, size1 <= size. */
interface Query {
  log: LogSpec;
  size: number;
  index: number;
  size1: number;
}
/** Queries over logs of at least one entry, biased (fast-check) towards the bounds. */
function queryArb(maxExp: number, contents: Contents[]): fc.Arbitrary<Query> {
  return logArb(1, maxExp, contents).chain((log) =>
    fc.integer({ min: 1, max: log.size }).chain((size) =>
      fc.record({
        log: fc.constant(log),
        size: fc.constant(size),
        index: fc.integer({ min: 0, max: size - 1 }),
        size1: fc.integer({ min: 1, max: size }),
      }),
    ),
  );
}

/** Every complete-subtree hash from appendNodes, in a Map (not MemoryTree's arrays). */
function appendAll(leaves: Uint8Array[]): NodeReader {
  const store = new Map<string, Uint8Array>();
  const read: NodeReader = (level, index) => {
    const hash = store.get(`${level}/${index}`);
    if (hash === undefined) throw new Error(`appendNodes read a node never stored: ${level}/${index}`);
    return hash;
  };
  leaves.forEach((leaf, i) => {
    for (const node of appendNodes(BigInt(i), leaf, read)) store.set(`${node.level}/${node.index}`, node.hash);
  });
  return read;
}

/** A MemoryTree with `entries` appended in order. */
function memoryTreeOf(entries: Uint8Array[]): MemoryTree {
  const tree = new MemoryTree();
  for (const entry of entries) tree.append(entry);
  return tree;
}

// ---------------------------------------------------------------------------------------
// The reference against published vectors.

const MERKLE = vectorUrl('merkle/');
const readJson = (url: URL): any => JSON.parse(readFileSync(url, 'utf8'));

test('reference: MTH reproduces reference-tree.json and the d130 roots; PATH and PROOF every d130 proof', () => {
  const tree = readJson(new URL('reference-tree.json', MERKLE));
  const d8: Uint8Array[] = tree.leafInputsHex.map(fromHex);
  tree.rootHashesBySizeHex.forEach((want: string, n: number) => assert.equal(toHex(ref.mth(d8.slice(0, n))), want, `MTH(D[${n}])`));
  const v = readJson(new URL('derived-rfc6962-d130.json', MERKLE));
  const d130 = Array.from({ length: 130 }, (_, i) => Uint8Array.of(i));
  v.rootsBySize.forEach((want: string, n: number) => assert.equal(toHex(ref.mth(d130.slice(0, n))), toHex(fromBase64(want))));
  assert.equal(v.inclusion.length, 1112);
  for (const c of v.inclusion) {
    const got = ref.path(c.leafIdx, d130.slice(0, c.treeSize));
    assert.deepEqual(hex(got), c.proof.map(fromBase64).map(toHex), `PATH(${c.leafIdx}, D[${c.treeSize}])`);
  }
  assert.equal(v.consistency.length, 637);
  for (const c of v.consistency) {
    const got = ref.proof(c.size1, d130.slice(0, c.size2));
    assert.deepEqual(hex(got), c.proof.map(fromBase64).map(toHex), `PROOF(${c.size1}, D[${c.size2}])`);
  }
});

/** Every transparency-dev probe of one kind; sizes kept as decimal strings. */
function probes(kind: 'inclusion' | 'consistency'): any[] {
  const walk = (dir: URL): URL[] =>
    readdirSync(dir).flatMap((name) =>
      statSync(new URL(name, dir)).isDirectory() ? walk(new URL(name + '/', dir)) : name.endsWith('.json') ? [new URL(name, dir)] : [],
    );
  // Sizes reach 2^64-1: keep them as strings so that unsafe ones can be told apart.
  const parse = (url: URL): any =>
    JSON.parse(readFileSync(url, 'utf8').replace(/("(?:leafIdx|treeSize|size1|size2)":\s*)(\d+)/g, '$1"$2"'));
  return walk(new URL(`transparency-dev-merkle/${kind}/`, MERKLE)).map(parse);
}
const safe = (...decimals: string[]): boolean => decimals.every((s) => Number.isSafeInteger(Number(s)));
const b64list = (list: string[] | null): Uint8Array[] => (list ?? []).map(fromBase64);

test('reference: verifyPath and verifyProof give every transparency-dev probe its verdict (safe-integer sizes)', () => {
  let checked = 0;
  for (const p of probes('inclusion').filter((p) => safe(p.leafIdx, p.treeSize))) {
    const ok = ref.verifyPath(Number(p.leafIdx), Number(p.treeSize), fromBase64(p.leafHash), b64list(p.proof), fromBase64(p.root));
    assert.equal(ok, !p.wantErr, `inclusion: ${p.desc}`);
    checked++;
  }
  for (const p of probes('consistency').filter((p) => safe(p.size1, p.size2))) {
    const ok = ref.verifyProof(Number(p.size1), Number(p.size2), fromBase64(p.root1), fromBase64(p.root2), b64list(p.proof));
    // The project's one documented deviation (log-proof.test.ts): 12-byte roots are rejected.
    const deviation = p.desc === 'sizes are equal (one) and proof is empty';
    assert.equal(ok, deviation ? false : !p.wantErr, `consistency: ${p.desc}`);
    checked++;
  }
  assert.equal(checked, 194); // 196 probes, 2 of them with sizes past 2^53
});

// ---------------------------------------------------------------------------------------
// Optimized roots and proofs equal the reference.

/** A log of any size (0 included) and an earlier size 0 <= size <= log.size. */
const rootArb = logArb(0, 12, ALL_CONTENTS).chain((log) =>
  fc.record({ log: fc.constant(log), size: fc.integer({ min: 0, max: log.size }) }),
);

test('property: MemoryTree, appendNodes + rootAt and rootFromLeafHashes give the reference MTH at every size', () => {
  fc.assert(
    fc.property(rootArb, ({ log, size }) => {
      const entries = entriesOf(log);
      const leaves = entries.map(leafHash);
      const tree = memoryTreeOf(entries);
      const read = appendAll(leaves);
      const n = BigInt(entries.length);
      const want = toHex(ref.mth(entries));
      assert.equal(tree.size, n);
      assert.equal(toHex(tree.root()), want, 'MemoryTree.root()');
      assert.equal(toHex(rootAt(n, read)), want, 'rootAt over appendNodes');
      assert.equal(toHex(rootFromLeafHashes(leaves)), want, 'rootFromLeafHashes');
      // An earlier size, from the nodes of the larger tree.
      const earlier = toHex(ref.mth(entries.slice(0, size)));
      assert.equal(toHex(tree.root(BigInt(size))), earlier, `MemoryTree.root(${size})`);
      assert.equal(toHex(rootAt(BigInt(size), read)), earlier, `rootAt(${size})`);
    }),
    runs(60),
  );
});

test('property: inclusionProof equals reference PATH for random (index, size)', () => {
  fc.assert(
    fc.property(queryArb(12, ALL_CONTENTS), ({ log, size, index }) => {
      const entries = entriesOf(log);
      const want = hex(ref.path(index, entries.slice(0, size)));
      assert.deepEqual(hex(memoryTreeOf(entries).inclusionProof(BigInt(index), BigInt(size))), want);
    }),
    runs(60),
  );
});

test('property: consistencyProof equals reference PROOF for random (size1, size2)', () => {
  fc.assert(
    fc.property(queryArb(12, ALL_CONTENTS), ({ log, size, size1 }) => {
      const entries = entriesOf(log);
      const want = hex(ref.proof(size1, entries.slice(0, size)));
      assert.deepEqual(hex(memoryTreeOf(entries).consistencyProof(BigInt(size1), BigInt(size))), want);
    }),
    runs(60),
  );
});

test('property: LogDb (SQLite) roots, inclusion and consistency proofs equal the reference', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-attest-reference-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let file = 0;
  fc.assert(
    fc.property(queryArb(10, ALL_CONTENTS), ({ log, size, index, size1 }) => {
      const entries = entriesOf(log);
      const db = new LogDb(join(dir, `log-${file++}.db`), 'normal');
      try {
        for (const entry of entries) db.append(() => entry);
        assert.equal(db.size(), BigInt(entries.length));
        assert.equal(toHex(db.root()), toHex(ref.mth(entries)), 'root()');
        const d = entries.slice(0, size);
        assert.equal(toHex(db.root(BigInt(size))), toHex(ref.mth(d)), `root(${size})`);
        assert.deepEqual(hex(db.inclusionProof(BigInt(index), BigInt(size))), hex(ref.path(index, d)), 'PATH');
        assert.deepEqual(hex(db.consistencyProof(BigInt(size1), BigInt(size))), hex(ref.proof(size1, d)), 'PROOF');
      } finally {
        db.close();
      }
    }),
    runs(15),
  );
});

// ---------------------------------------------------------------------------------------
// The optimized verifiers against reference proofs, intact and tampered with.

type Tamper =
  | { kind: 'flip'; where: 'first' | 'proof' | 'last'; target: number; byte: number; mask: number }
  | { kind: 'drop'; target: number }
  | { kind: 'add'; target: number; hash: Uint8Array };

/** Flip bits of one byte of any hash, drop a proof hash, or insert a random 32-byte one. */
const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    where: fc.constantFrom('first' as const, 'proof' as const, 'last' as const),
    target: fc.nat(),
    byte: fc.integer({ min: 0, max: 31 }),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('drop' as const), target: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), target: fc.nat(), hash: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
);

/** The hashes a verifier takes: leaf (or root1), the proof, root (or root2). */
interface Hashes {
  first: Uint8Array;
  proof: Uint8Array[];
  last: Uint8Array;
}

const flipped = (hash: Uint8Array, byte: number, mask: number): Uint8Array => {
  const copy = hash.slice();
  copy[byte] = copy[byte]! ^ mask;
  return copy;
};

/** `h` with `t` applied (the input is not changed); null when `t` needs a proof hash and there is none. */
function tamper(h: Hashes, t: Tamper): Hashes | null {
  if (t.kind === 'flip' && t.where === 'first') return { ...h, first: flipped(h.first, t.byte, t.mask) };
  if (t.kind === 'flip' && t.where === 'last') return { ...h, last: flipped(h.last, t.byte, t.mask) };
  if (t.kind === 'add') {
    const at = t.target % (h.proof.length + 1);
    return { ...h, proof: [...h.proof.slice(0, at), t.hash, ...h.proof.slice(at)] };
  }
  if (h.proof.length === 0) return null;
  const at = t.target % h.proof.length;
  return t.kind === 'drop'
    ? { ...h, proof: h.proof.filter((_, i) => i !== at) }
    : { ...h, proof: h.proof.map((x, i) => (i === at ? flipped(x, t.byte, t.mask) : x)) };
}

/** Which tamperings a property applied, by kind (flips by place): each must occur. */
class Applied {
  private readonly counts = new Map<string, number>();
  count(t: Tamper): void {
    const label = t.kind === 'flip' ? `flip ${t.where}` : t.kind;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  assertAll(): void {
    const labels = ['flip first', 'flip proof', 'flip last', 'drop', 'add'];
    assert.ok(labels.every((l) => (this.counts.get(l) ?? 0) > 0), JSON.stringify([...this.counts]));
  }
}

/** A different non-negative integer: v + delta upwards, or v - delta when that stays >= 0. */
const changed = (v: number, { delta, up }: Change): number => (up || v < delta ? v + delta : v - delta);
interface Change {
  delta: number;
  up: boolean;
}
/** Mostly small steps (neighbouring sizes), sometimes far. */
const changeArb: fc.Arbitrary<Change> = fc.record({
  delta: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5000 })),
  up: fc.boolean(),
});

/** Reference leaf hash, PATH(index, D[size]) and MTH(D[size]) for `q`. */
function inclusionOf(q: Query): Hashes {
  const d = entriesOf(q.log).slice(0, q.size);
  return { first: ref.leafHash(d[q.index]!), proof: ref.path(q.index, d), last: ref.mth(d) };
}

/** Reference MTH(D[size1]), PROOF(size1, D[size]) and MTH(D[size]) for `q`. */
function consistencyOf(q: Query): Hashes {
  const d = entriesOf(q.log).slice(0, q.size);
  return { first: ref.mth(d.slice(0, q.size1)), proof: ref.proof(q.size1, d), last: ref.mth(d) };
}

const VERIFY_EXP = 11; // sizes up to 2^11 + 1: the reference proofs are O(size) to build

test('property: verifyInclusion accepts reference PATH; rejects a flipped byte, a dropped or added hash, another index', () => {
  const applied = new Applied();
  fc.assert(
    fc.property(queryArb(VERIFY_EXP, ['distinct']), fc.array(tamperArb, { minLength: 1, maxLength: 4 }), changeArb, (q, tampers, change) => {
      const h = inclusionOf(q);
      const [index, size] = [BigInt(q.index), BigInt(q.size)];
      assert.equal(verifyInclusion(index, size, h.first, h.proof, h.last), true, 'intact');
      for (const t of tampers) {
        const x = tamper(h, t);
        if (x === null) continue;
        applied.count(t);
        assert.equal(verifyInclusion(index, size, x.first, x.proof, x.last), false, t.kind);
        assert.equal(ref.verifyPath(q.index, q.size, x.first, x.proof, x.last), false, `reference: ${t.kind}`);
      }
      // Entries are distinct, so no other index holds this leaf.
      const other = changed(q.index, change);
      assert.equal(verifyInclusion(BigInt(other), size, h.first, h.proof, h.last), false, `index ${other}`);
      assert.equal(ref.verifyPath(other, q.size, h.first, h.proof, h.last), false, `reference: index ${other}`);
    }),
    runs(100),
  );
  applied.assertAll();
});

test('property: verifyInclusion with another size agrees with the reference verifier', () => {
  const verdicts = { accepted: 0, rejected: 0 };
  fc.assert(
    fc.property(queryArb(VERIFY_EXP, ALL_CONTENTS), changeArb, (q, change) => {
      const h = inclusionOf(q);
      const size = changed(q.size, change);
      const want = ref.verifyPath(q.index, size, h.first, h.proof, h.last);
      assert.equal(verifyInclusion(BigInt(q.index), BigInt(size), h.first, h.proof, h.last), want, `size ${size}`);
      verdicts[want ? 'accepted' : 'rejected']++;
    }),
    runs(100),
  );
  // Both outcomes occur: a size with the same RFC path shape is accepted (see below).
  assert.ok(verdicts.accepted > 0 && verdicts.rejected > 0, JSON.stringify(verdicts));
});

test('property: verifyConsistency accepts reference PROOF; rejects a flipped byte, a dropped or added hash', () => {
  const applied = new Applied();
  fc.assert(
    fc.property(queryArb(VERIFY_EXP, ALL_CONTENTS), fc.array(tamperArb, { minLength: 1, maxLength: 4 }), (q, tampers) => {
      const h = consistencyOf(q);
      const [size1, size2] = [BigInt(q.size1), BigInt(q.size)];
      assert.equal(verifyConsistency(size1, size2, h.first, h.last, h.proof), true, 'intact');
      for (const t of tampers) {
        const x = tamper(h, t);
        if (x === null) continue;
        applied.count(t);
        assert.equal(verifyConsistency(size1, size2, x.first, x.last, x.proof), false, t.kind);
        assert.equal(ref.verifyProof(q.size1, q.size, x.first, x.last, x.proof), false, `reference: ${t.kind}`);
      }
    }),
    runs(100),
  );
  applied.assertAll();
});

test('property: verifyConsistency with another size1 or size2 agrees with the reference verifier', () => {
  const verdicts = { accepted: 0, rejected: 0 };
  fc.assert(
    fc.property(queryArb(VERIFY_EXP, ALL_CONTENTS), changeArb, fc.boolean(), (q, change, first) => {
      const h = consistencyOf(q);
      const [size1, size2] = first ? [changed(q.size1, change), q.size] : [q.size1, changed(q.size, change)];
      const want = ref.verifyProof(size1, size2, h.first, h.last, h.proof);
      assert.equal(verifyConsistency(BigInt(size1), BigInt(size2), h.first, h.last, h.proof), want, `${size1} -> ${size2}`);
      verdicts[want ? 'accepted' : 'rejected']++;
    }),
    runs(100),
  );
  assert.ok(verdicts.accepted > 0 && verdicts.rejected > 0, JSON.stringify(verdicts));
});

test('a proof binds its size only through the root: the same path shape under another size verifies', () => {
  // RFC 9162 verification recomputes a root; PATH(0, D[3]) and PATH(0, D[4]) have the same
  // shape, so the size-3 proof "verifies" against MTH(D[3]) claimed as a size-4 root. No
  // size-4 tree has that root (it would need a node hash equal to a leaf hash); a signed
  // checkpoint binds size and root together. The same holds for consistency 2 -> 3 vs 2 -> 4.
  const d = [0, 1, 2].map((i) => Uint8Array.of(i));
  const path = ref.path(0, d);
  assert.ok(verifyInclusion(0n, 4n, ref.leafHash(d[0]!), path, ref.mth(d)));
  assert.ok(ref.verifyPath(0, 4, ref.leafHash(d[0]!), path, ref.mth(d)));
  assert.ok(!verifyInclusion(0n, 5n, ref.leafHash(d[0]!), path, ref.mth(d)), 'PATH(0, D[5]) has 3 hashes');
  const proof = ref.proof(2, d);
  assert.ok(verifyConsistency(2n, 4n, ref.mth(d.slice(0, 2)), ref.mth(d), proof));
  assert.ok(ref.verifyProof(2, 4, ref.mth(d.slice(0, 2)), ref.mth(d), proof));
});
