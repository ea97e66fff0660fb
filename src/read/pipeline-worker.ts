import { parentPort, workerData } from 'node:worker_threads';
import { openLines } from './lines.js';
import { QemuParser } from '../parse/qemu.js';
import { QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { UserError } from '../util/errors.js';

/** The reading half of read/pipeline.ts. */
const { file, inFlight } = workerData as { file: string; inFlight: number };
const port = parentPort!;
let credits = inFlight;
let waiting: (() => void) | undefined;
port.on('message', () => {
  credits++;
  waiting?.();
});

async function main(): Promise<void> {
  const filter = new QemuParser({ wanted: QEMU_MODEL_EVENTS });
  for await (const b of openLines(file).batches()) {
    const keep: string[] = [];
    const nos: number[] = [];
    let skipped = 0;
    const ls = b.lines;
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i]!;
      if (filter.skippable(l)) skipped++;
      else {
        keep.push(l);
        nos.push(b.firstLine + i);
      }
    }
    while (credits === 0) await new Promise<void>((r) => (waiting = r));
    credits--;
    const lineNos = Int32Array.from(nos);
    // One joined string crosses the thread boundary much faster than thousands of small ones.
    port.postMessage({ batch: { text: keep.join('\n'), lineNos, skipped, lastLine: b.firstLine + ls.length - 1, unterminated: !!b.unterminated } }, [lineNos.buffer]);
  }
  port.postMessage({ done: true });
}

main().catch((err: unknown) => {
  const e = err as Error;
  port.postMessage({ error: { message: e.message, user: err instanceof UserError, details: err instanceof UserError ? err.details : [] } });
});
