import type { LineBatch } from '../read/lines.js';
import type { LineParser, TraceRecord } from './record.js';
import { QemuParser } from './qemu.js';

/**
 * The records of a batch of lines, in order: lines the WebAssembly typer already typed (read/qemu-batches.ts) are
 * rebuilt from their values; every other line is parsed here as text (which also counts, reports and
 * explains what is not a well-formed event).
 */
export function recordsOf(b: LineBatch, parser: LineParser, onRecord: (r: TraceRecord) => void): void {
  const ls = b.lines;
  const nos = b.lineNos;
  if (b.pre !== undefined && nos !== undefined && parser instanceof QemuParser) {
    const { events, vals, strs } = b.pre;
    let at = 0;
    for (let i = 0; i < ls.length; i++) {
      const e = events[i]!;
      if (e >= 0) {
        onRecord(parser.decode(e, vals, at, strs, ls[i]!, nos[i]!));
        at += parser.width(e);
      } else {
        const r = parser.parse(ls[i]!, nos[i]!);
        if (r !== undefined) onRecord(r);
      }
    }
    return;
  }
  for (let i = 0; i < ls.length; i++) {
    const r = parser.parse(ls[i]!, nos === undefined ? b.firstLine + i : nos[i]!);
    if (r !== undefined) onRecord(r);
  }
}
