import { Worker } from 'node:worker_threads';
import { UserError, type Located } from '../util/errors.js';
import { workerFile } from '../util/paths.js';
import { typedQemuBatches, type TypedBatch } from './qemu-batches.js';
import { QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { HANDOFF, type HandoffState } from './handoff.js';

/**
 * A two-thread reader for large QEMU traces: a worker reads and types the lines (read/qemu-batches.ts): it
 * drops the well-formed events the model does not need (about 60% of a real trace: map_addr, shadow
 * doorbells, callbacks, ...) and sends the values of the rest in typed arrays beside their text; the main
 * thread rebuilds those records without scanning them again, parses only what the worker left to it (bad
 * lines, unknown events, other output) and checks. Order is kept: each batch carries the line numbers of its
 * lines. At most a few batches are in flight, so memory stays bounded.
 *
 * The worker needs tens of milliseconds to boot. Meanwhile this thread types the head of the file itself, and
 * when the worker says it is ready, hands it the rest at the next line start (read/handoff.ts): the checking
 * thread never waits for the boot, and warms up on real lines while the worker starts.
 */

const IN_FLIGHT = 3;

interface Msg {
  batches?: TypedBatch[];
  error?: { message: string; user: boolean; details: Located[] };
  done?: boolean;
}

/**
 * Starts the reading thread at once (so it boots while the caller loads its specs); the batches come from
 * `batches`, and `close` stops the thread whether or not they were read.
 */
export function pipelinedBatches(file: string): { batches: AsyncGenerator<TypedBatch>; close: () => Promise<void> } {
  const ctl = HANDOFF.create();
  // The reader's live data is a few batches: a small heap keeps two threads' memory near one thread's.
  const worker = new Worker(workerFile('read/pipeline-worker.js'), { workerData: { file, inFlight: IN_FLIGHT, ctl }, resourceLimits: { maxOldGenerationSizeMb: 64 } });
  const queue: Msg[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: Msg) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  const stop = async (): Promise<void> => {
    // A worker still waiting to be handed the file gives up at once.
    HANDOFF.cancel(ctl);
    await worker.terminate();
  };
  async function* batches(): AsyncGenerator<TypedBatch> {
    try {
      let handed = false;
      // Each batch is checked before the next is asked for: views of the typer's memory will do.
      const head = typedQemuBatches(file, { wanted: QEMU_MODEL_EVENTS, blocking: true, views: true, handoff: (next) => (handed = HANDOFF.give(ctl, next)) });
      yield* head;
      if (!handed) return;
      for (;;) {
        while (queue.length === 0 && !failure) await new Promise<void>((r) => (wake = r));
        if (failure) throw failure;
        const m = queue.shift()!;
        if (m.error) throw m.error.user ? new UserError(m.error.message, m.error.details) : new Error(m.error.message);
        if (m.done) return;
        // Acknowledged on receipt: the reader may go on while these are checked.
        worker.postMessage('ack');
        yield* m.batches!;
      }
    } finally {
      await stop();
    }
  }
  return { batches: batches(), close: stop };
}
