import { parentPort, workerData } from 'node:worker_threads';
import { typedQemuBatches } from './qemu-batches.js';
import { QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { UserError } from '../util/errors.js';

/** The reading half of read/pipeline.ts: reads, types and drops here; the checking thread gets plain data. */
const { file, inFlight } = workerData as { file: string; inFlight: number };
const port = parentPort!;
let credits = inFlight;
let waiting: (() => void) | undefined;
port.on('message', () => {
  credits++;
  waiting?.();
});

async function main(): Promise<void> {
  for await (const b of typedQemuBatches(file, { wanted: QEMU_MODEL_EVENTS })) {
    while (credits === 0) await new Promise<void>((r) => (waiting = r));
    credits--;
    port.postMessage({ batch: b }, [b.starts.buffer, b.ends.buffer, b.lineNos.buffer, b.events.buffer, b.vals.buffer]);
  }
  port.postMessage({ done: true });
}

main().catch((err: unknown) => {
  const e = err as Error;
  port.postMessage({ error: { message: e.message, user: err instanceof UserError, details: err instanceof UserError ? err.details : [] } });
});
