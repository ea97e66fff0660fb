import type { FilePoint } from './qemu-batches.js';

/**
 * Handing the rest of a file from the thread that types its head to the reading thread (read/pipeline.ts),
 * through three shared 64-bit words: the state, and the offset and number of the line to start at. The
 * reading thread says it is ready and sleeps; the typing thread, between two chunks, gives it the point after
 * its last whole line; either may find the other gone (the head thread read the whole file, or stopped).
 */
export type HandoffState = BigInt64Array<SharedArrayBuffer>;

const STATE = 0;
const OFFSET = 1;
const LINE = 2;
const BOOTING = 0n;
const READY = 1n;
const GIVEN = 2n;
const CANCELLED = 3n;

export const HANDOFF = {
  /** A fresh state, for one file. */
  create(): HandoffState {
    return new BigInt64Array(new SharedArrayBuffer(3 * 8));
  },

  /** The reading thread, booted: waits to be given a start point; undefined when the head thread needs none. */
  take(ctl: HandoffState): FilePoint | undefined {
    if (Atomics.compareExchange(ctl, STATE, BOOTING, READY) !== BOOTING) return undefined;
    Atomics.wait(ctl, STATE, READY);
    if (Atomics.load(ctl, STATE) !== GIVEN) return undefined;
    return { offset: Number(Atomics.load(ctl, OFFSET)), lineNo: Number(Atomics.load(ctl, LINE)) };
  },

  /** The head thread, between chunks: hands over at `next` if the reading thread is waiting (then true). */
  give(ctl: HandoffState, next: FilePoint): boolean {
    if (Atomics.load(ctl, STATE) !== READY) return false;
    Atomics.store(ctl, OFFSET, BigInt(next.offset));
    Atomics.store(ctl, LINE, BigInt(next.lineNo));
    Atomics.store(ctl, STATE, GIVEN);
    Atomics.notify(ctl, STATE);
    return true;
  },

  /** The head thread is done without handing over (or stops early): a booting or waiting reader gives up. */
  cancel(ctl: HandoffState): void {
    for (;;) {
      const s = Atomics.load(ctl, STATE);
      if (s === GIVEN || s === CANCELLED) return;
      if (Atomics.compareExchange(ctl, STATE, s, CANCELLED) === s) break;
    }
    Atomics.notify(ctl, STATE);
  },
};
