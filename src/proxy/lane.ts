/**
 * One direction of a relay: frames a readable stream ({@link FrameReader}; an object-mode
 * stream gives its frames ready-made), handles the
 * frames one at a time in order, and applies backpressure both ways so a peer can never
 * grow the relay's memory: the source is paused while more than `maxQueued` bytes of frames
 * wait, and after each frame the lane waits while an output it writes to holds more than
 * `maxQueued` bytes unread, until it drains (a reader that stops reading stops the lane,
 * which stops its source; one that reads late, as a simple script may, is not held to a
 * pipe's 64 KiB). See docs/wire.md §1.
 */
import type { Readable, Writable } from 'node:stream';
import { FrameReader, type Frame } from './frames.js';

/** The bytes a frame holds while it waits. */
function heldBytes(f: Frame): number {
  return 'line' in f ? f.line.length : 0;
}

/** Waiters to wake at shutdown, registered and removed per wait (nothing accumulates on the release promise). */
class Release {
  released = false;
  private readonly waiters = new Set<() => void>();

  constructor(release: Promise<void>) {
    void release.then(() => {
      this.released = true;
      for (const w of this.waiters) w();
      this.waiters.clear();
    });
  }

  add(fn: () => void): void {
    this.waiters.add(fn);
  }

  delete(fn: () => void): void {
    this.waiters.delete(fn);
  }
}

/** Resolves at once when `w` holds at most `limit` bytes, else once it has drained, closed or failed, or the relay is released. */
function drained(w: Writable, limit: number, release: Release): Promise<void> {
  if (w.writableLength <= limit || !w.writableNeedDrain || w.destroyed || release.released) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done).off('close', done).off('error', done);
      release.delete(done);
      resolve();
    };
    w.on('drain', done).on('close', done).on('error', done);
    release.add(done);
  });
}

/** A direction of the relay: its source, its handler, the outputs it must not outrun. */
export class Lane {
  /** Resolves when every frame queued so far has been handled. */
  chain: Promise<void> = Promise.resolve();
  /** Resolves once the source has ended, closed or failed: every frame it gave is queued by then. */
  readonly ended: Promise<void>;
  private queued = 0;
  private stopped = false;
  private readonly release: Release;

  /**
   * `maxFrame`: the frame cap (bytes); `maxQueued`: bytes of frames waiting before the
   * source is paused; `outputs()`: the streams handlers write to, each with the bytes it may hold unread before the lane waits; `release`: resolves at
   * shutdown, when no output is waited for any more. `handle` must not throw (a rejection
   * is passed to `onError`).
   */
  constructor(
    private readonly source: Readable,
    maxFrame: number,
    private readonly maxQueued: number,
    private readonly handle: (f: Frame) => Promise<void>,
    private readonly outputs: () => Array<[Writable, number]>,
    release: Promise<void>,
    onError: (e: unknown) => void,
    onEnd?: () => void,
  ) {
    this.release = new Release(release);
    const frames = new FrameReader(maxFrame);
    // A byte stream is framed here; an object stream (an HTTP upstream) gives frames already.
    source.on('data', (chunk: Buffer | Frame) => {
      if (!Buffer.isBuffer(chunk)) this.enqueue(chunk, onError);
      else for (const f of frames.push(chunk)) this.enqueue(f, onError);
      if (this.queued > this.maxQueued) source.pause();
    });
    // A source may also just close or fail (a socket reset, as some clients' stdio gives):
    // that ends it too, once.
    let ended = false;
    let resolveEnded!: () => void;
    this.ended = new Promise((r) => (resolveEnded = r));
    const end = (): void => {
      if (ended) return;
      ended = true;
      const tail = frames.flush();
      if (tail !== null) this.enqueue(tail, onError);
      resolveEnded();
      onEnd?.();
    };
    source.on('end', end).on('close', end).on('error', end);
  }

  /** Queue a task on this lane (in order with its frames). */
  run(task: () => Promise<void>, onError: (e: unknown) => void): void {
    this.chain = this.chain.then(task).catch(onError);
  }

  /** Stop taking frames (at shutdown): the source is paused, frames that arrive later are dropped. */
  stop(): void {
    this.stopped = true;
    this.source.pause();
  }

  private enqueue(f: Frame, onError: (e: unknown) => void): void {
    if (this.stopped) return;
    const size = heldBytes(f);
    this.queued += size;
    this.run(async () => {
      try {
        await this.handle(f);
        for (const [w, limit] of this.outputs()) await drained(w, limit, this.release);
      } finally {
        this.queued -= size;
        if (this.queued <= this.maxQueued && this.source.isPaused()) this.source.resume();
      }
    }, onError);
  }
}
