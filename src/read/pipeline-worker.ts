import { parentPort, workerData } from 'node:worker_threads';
import { openLines } from './lines.js';
import { QemuParser } from '../parse/qemu.js';
import { QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { UserError } from '../util/errors.js';

/** The reading half of read/pipeline.ts. */
const { file, inFlight } = workerData as { file: string; inFlight: number };
const port = parentPort!;
/** NVMEPROOF_PREPARSE=always parses every kept line here (the equivalence test uses it to cover that path). */
const ALWAYS_PREPARSE = process.env.NVMEPROOF_PREPARSE === 'always';
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
    const events: number[] = [];
    const vals: number[] = [];
    const strs: string[] = [];
    const strIndex = new Map<string, number>();
    let skipped = 0;
    const ls = b.lines;
    // Share the parsing with the checking thread: when it is behind (few batches acknowledged), parse the
    // kept lines here as well; when it is waiting for input, send text only and let it parse.
    const preparse = ALWAYS_PREPARSE || credits === 0;
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i]!;
      if (filter.skippable(l)) skipped++;
      else {
        keep.push(l);
        nos.push(b.firstLine + i);
        // Parse it here too, so the checking thread only rebuilds the record; anything unusual (a bad line,
        // an unknown event, serial output) is left for it to parse and report.
        if (!preparse) {
          events.push(-1);
          continue;
        }
        const r = filter.parse(l, b.firstLine + i);
        events.push(r === undefined ? -1 : filter.encode(r, vals, strs, strIndex));
      }
    }
    // The parser's own diagnostics and counts are the checking thread's business: it re-parses those lines.
    filter.diagnostics.length = 0;
    while (credits === 0) await new Promise<void>((r) => (waiting = r));
    credits--;
    const lineNos = Int32Array.from(nos);
    const ev = Int16Array.from(events);
    const fv = Float64Array.from(vals);
    // One joined string crosses the thread boundary much faster than thousands of small ones.
    port.postMessage(
      { batch: { text: keep.join('\n'), lineNos, skipped, lastLine: b.firstLine + ls.length - 1, unterminated: !!b.unterminated, pre: { events: ev, vals: fv, strs } } },
      [lineNos.buffer, ev.buffer, fv.buffer],
    );
  }
  port.postMessage({ done: true });
}

main().catch((err: unknown) => {
  const e = err as Error;
  port.postMessage({ error: { message: e.message, user: err instanceof UserError, details: err instanceof UserError ? err.details : [] } });
});
