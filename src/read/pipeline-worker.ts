import { parentPort, workerData } from 'node:worker_threads';
import { typedQemuBatches, type TypedBatch } from './qemu-batches.js';
import { QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { UserError } from '../util/errors.js';
import { HANDOFF, type HandoffState } from './handoff.js';

/** The reading half of read/pipeline.ts: reads, types and drops here; the checking thread gets plain data. */
const { file, inFlight, ctl } = workerData as { file: string; inFlight: number; ctl: HandoffState };
const port = parentPort!;
/** Batches (64 KiB of trace each) per message: each message between threads costs tens of microseconds. */
const PER_MESSAGE = 8;
let credits = inFlight;
let waiting: (() => void) | undefined;
port.on('message', () => {
  credits++;
  waiting?.();
});

async function send(batches: TypedBatch[]): Promise<void> {
  while (credits === 0) await new Promise<void>((r) => (waiting = r));
  credits--;
  port.postMessage(
    { batches },
    batches.flatMap((b) => [b.starts.buffer, b.ends.buffer, b.lineNos.buffer, b.events.buffer, b.vals.buffer, ...(b.bytes ? [b.bytes.buffer] : [])]),
  );
}

async function main(): Promise<void> {
  let out: TypedBatch[] = [];
  let first = true;
  // Typing starts where the checking thread, which typed the head of the file while this one booted, hands over.
  for await (const b of typedQemuBatches(file, { wanted: QEMU_MODEL_EVENTS, blocking: true, transfer: true, from: () => HANDOFF.take(ctl) })) {
    out.push(b);
    // The first batch goes at once, so the checking thread starts early.
    if (out.length >= PER_MESSAGE || first) {
      first = false;
      await send(out);
      out = [];
    }
  }
  if (out.length) await send(out);
  port.postMessage({ done: true });
}

main().catch((err: unknown) => {
  const e = err as Error;
  port.postMessage({ error: { message: e.message, user: err instanceof UserError, details: err instanceof UserError ? err.details : [] } });
});
