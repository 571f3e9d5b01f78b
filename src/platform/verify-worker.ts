/**
 * A worker thread of {@link workerFacts}: computes the {@link EntryFacts} of batches of log
 * entries under the trust policy it was started with (`workerData`: the policy and the HS256
 * secret's raw bytes or null), with the Node primitives. Messages in: `{ id, positions,
 * bytes, ends, salts, published, salted }` (the batch's entries concatenated, `ends[k]` the
 * end offset of entry `k`, checked at `positions[k]`; when `salted[k]` is 1 or 2, entry k is
 * a record opened by the salt at `salts[16k..16k+16)`, and when 2, the entry its store
 * publishes is at `published[33k..33k+33)`); out: `{ id, facts, leaves }` (`leaves`: the 32-byte leaf
 * hashes concatenated, each fact's `leaf` emptied to be cut from it), or `{ id, error }`.
 */
import './node.js';
import { parentPort, workerData } from 'node:worker_threads';
import type { EntryFacts } from '../verify/entry-facts.js';
import { localFacts, type EntryInput } from '../verify/log.js';
import { hs256Secrets, policyKeyResolver, type TrustPolicy } from '../verify/policy.js';
import { importSecret } from '../keys/material.js';
import { COMMITMENT_BYTES, SALT_BYTES } from '../log/opening.js';

const { policy, secret } = workerData as { policy: TrustPolicy; secret: Uint8Array | null };
const key = secret === null ? null : await importSecret(secret);
const keys = policyKeyResolver(policy, hs256Secrets(policy, key));

/** The batch's facts, in order: checked on this thread as any verification is ({@link localFacts}: runs whose signatures are verified back to back). */
async function batch(m: Message): Promise<{ facts: EntryFacts[]; leaves: Uint8Array }> {
  const { positions, bytes, ends, salts, published, salted } = m;
  function* entries(): Generator<EntryInput> {
    for (let k = 0; k < ends.length; k++) {
      const position = BigInt.asUintN(64, positions[k]!);
      const entry = bytes.subarray(k === 0 ? 0 : ends[k - 1], ends[k]);
      const salt = salts.subarray(SALT_BYTES * k, SALT_BYTES * (k + 1));
      if (salted[k] === 0) yield [position, entry];
      else if (salted[k] === 1) yield [position, entry, salt];
      else yield [position, entry, salt, published.subarray(COMMITMENT_BYTES * k, COMMITMENT_BYTES * (k + 1))];
    }
  }
  const facts: EntryFacts[] = [];
  for await (const f of localFacts(entries(), policy, keys)) facts.push(f);
  const leaves = new Uint8Array(32 * ends.length);
  facts.forEach((f, k) => {
    leaves.set(f.leaf, 32 * k);
    f.leaf = new Uint8Array(0);
  });
  return { facts, leaves };
}

interface Message { id: number; positions: BigInt64Array; bytes: Uint8Array; ends: Uint32Array; salts: Uint8Array; published: Uint8Array; salted: Uint8Array }

// One batch at a time, in the order sent (a second one waits: at most one batch's checks in
// memory). Every batch is answered, and the chain never rejects: a reply that cannot be sent
// becomes an error reply; when even that fails, the worker exits (its Lane then fails).
let previous: Promise<void> = Promise.resolve();
parentPort!.on('message', (m: Message) => {
  previous = previous.then(async () => {
    try {
      const { facts, leaves } = await batch(m);
      parentPort!.postMessage({ id: m.id, facts, leaves }, [leaves.buffer as ArrayBuffer]);
    } catch (e) {
      try {
        parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
      } catch {
        process.exit(1);
      }
    }
  });
});
