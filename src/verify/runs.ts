/**
 * Runs of log entries checked together, and the platform's way of checking a run (runtime
 * neutral: nothing here runs a check). The Node platform installs a {@link CheckRunner} that
 * gathers the run's signature verifications and runs them back to back
 * (platform/verify-batch.ts); without one, entries are checked one after another.
 */

/**
 * Runs the checks of one run of entries together and resolves with their results in order,
 * as `Promise.all` (rejecting with the first failure).
 */
export type CheckRunner = <T>(tasks: ReadonlyArray<() => Promise<T>>) => Promise<T[]>;

let installed: CheckRunner | null = null;

/** Install the platform's {@link CheckRunner} (platform/node.ts), or remove it (null). */
export function useCheckRunner(runner: CheckRunner | null): void {
  installed = runner;
}

/** The installed {@link CheckRunner}, or null when entries are checked one after another. */
export function checkRunner(): CheckRunner | null {
  return installed;
}

/** The most entries checked together (in one {@link CheckRunner} call) by {@link runs}. */
export const BATCH_ENTRIES = 256;
/**
 * The most bytes of entries checked together (an entry larger than that is checked alone): a
 * check holds its decoded entry until its signature is verified, and a hostile entry can
 * decode to ~140 times its size, so a batch's input is kept small (a typical entry is 1–2 KiB:
 * 128–256 of them per batch).
 */
export const BATCH_BYTES = 256 * 1024;

/**
 * `items` in order, in runs of at most `maxEntries` items and `maxBytes` bytes (`bytes(item)`);
 * an item larger than `maxBytes` runs alone. Lazy: reads `items` one item past the run it yields.
 */
export function* runs<T>(items: Iterable<T>, bytes: (item: T) => number, maxEntries = BATCH_ENTRIES, maxBytes = BATCH_BYTES): Generator<T[]> {
  let run: T[] = [];
  let total = 0;
  for (const item of items) {
    const n = bytes(item);
    if (run.length > 0 && (run.length >= maxEntries || total + n > maxBytes)) {
      yield run;
      run = [];
      total = 0;
    }
    run.push(item);
    total += n;
  }
  if (run.length > 0) yield run;
}
