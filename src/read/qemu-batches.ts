import { isAscii } from 'node:buffer';
import { closeSync, fstatSync } from 'node:fs';
import { bytes, checkText, emptyFile, openPlain, plainReads, type LineBatch } from './lines.js';
import { QemuByteParser, SKIP, SLOW, latin1 } from '../parse/qemu-bytes.js';

/**
 * A QEMU trace read as bytes and typed as it is split: each line is handed to the byte parser straight from
 * the read buffer. Well-formed events the consumer does not need are validated and dropped; wanted events
 * travel as numbers (typed arrays); only the lines the byte parser declines (other output, unknown events,
 * bad lines, non-ASCII text) go on as text for the string parser. A batch is plain data (typed arrays, and
 * the kept lines as bytes), so it crosses a thread boundary cheaply (read/pipeline.ts) or is used where it
 * was made.
 */

/** NVMEPROOF_NO_FAST_PATH=1 sends every line to the string parser (which then uses the Ohm grammars). */
const FAST = process.env.NVMEPROOF_NO_FAST_PATH !== '1';

export interface TypedBatch {
  /**
   * The kept lines: as ASCII bytes, one after another (a transferable buffer, decoded where the lines are
   * used), or as text when some line is not ASCII.
   */
  bytes?: Uint8Array<ArrayBuffer>;
  text?: string;
  /** Per kept line: where it starts and ends in bytes or text, its line number, and its event index (values in vals) or -1 (parse the text). */
  starts: Int32Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  lineNos: Int32Array<ArrayBuffer>;
  events: Int16Array<ArrayBuffer>;
  /** Values of the typed lines, in order, each in its template's field order (NaN: absent; text fields: indexes into strs). */
  vals: Float64Array<ArrayBuffer>;
  strs: string[];
  /** Well-formed unneeded events dropped from this batch. */
  skipped: number;
  lastLine: number;
  unterminated: boolean;
}

/** The kept lines of a typed batch as the line-batch the checker consumes. */
export function toLineBatch(t: TypedBatch): LineBatch {
  const n = t.lineNos.length;
  const lines = new Array<string>(n);
  const text = t.text ?? latin1(t.bytes!, 0, t.bytes!.length);
  for (let i = 0; i < n; i++) lines[i] = text.slice(t.starts[i], t.ends[i]);
  return { firstLine: n ? t.lineNos[0]! : t.lastLine, lines, lineNos: t.lineNos, skipped: t.skipped, lastLine: t.lastLine, unterminated: t.unterminated, pre: { events: t.events, vals: t.vals, strs: t.strs } };
}

/**
 * Types lines batch by batch, numbering them from lineNo. Work arrays are reused from batch to batch; each
 * batch leaves with copies of what it filled.
 */
export class LineTyper {
  readonly parser: QemuByteParser;
  /** Number of the next line. */
  lineNo = 1;
  private cap = 2048;
  private starts = new Int32Array(this.cap);
  private lineEnds = new Int32Array(this.cap);
  private lineNos = new Int32Array(this.cap);
  private events = new Int16Array(this.cap);
  private vals = new Float64Array(this.cap * 8);

  constructor(wanted?: Set<string>) {
    this.parser = new QemuByteParser({ wanted });
  }

  /**
   * Types the lines of buf: each ended by a newline, and the last one by the buffer's end when unterminated.
   * Returns the batch (none when no line was there) and where the first line it did not take starts.
   */
  batch(buf: Buffer, unterminated: boolean): { batch: TypedBatch | undefined; rest: number } {
    const parser = this.parser;
    const room = parser.width;
    const widths = parser.widths;
    let { starts, lineEnds, lineNos, events, vals } = this;
    let nv = 0;
    const strs: string[] = [];
    parser.beginBatch(strs);
    let kept = 0;
    let skipped = 0;
    let n = 0;
    let s = 0;
    const len = buf.length;
    for (;;) {
      const ls = s;
      let e: number;
      const nl = buf.indexOf(10, ls);
      if (nl !== -1) {
        s = nl + 1;
        e = nl;
      } else if (unterminated && ls < len) {
        s = len;
        e = len;
      } else break;
      // CRLF traces (serial consoles) lose their CR here.
      if (e > ls && buf[e - 1] === 13) e--;
      if (nv + room > vals.length) this.vals = vals = grow(vals, vals.length * 2);
      const r = FAST ? parser.line(buf, ls, e, vals, nv) : SLOW;
      n++;
      if (r === SKIP) {
        skipped++;
        continue;
      }
      if (kept === this.cap) {
        const cap = (this.cap *= 2);
        this.starts = starts = grow(starts, cap);
        this.lineEnds = lineEnds = grow(lineEnds, cap);
        this.lineNos = lineNos = grow(lineNos, cap);
        this.events = events = grow(events, cap);
      }
      starts[kept] = ls;
      lineEnds[kept] = e;
      lineNos[kept] = this.lineNo + n - 1;
      events[kept] = r;
      kept++;
      if (r >= 0) nv += widths[r]!;
    }
    if (n === 0) return { batch: undefined, rest: s };
    const lastLine = this.lineNo + n - 1;
    this.lineNo += n;
    const text = textOf(buf, starts, lineEnds, kept);
    return {
      batch: {
        bytes: text.bytes,
        text: text.text,
        starts: text.starts,
        ends: text.ends,
        lineNos: lineNos.slice(0, kept),
        events: events.slice(0, kept),
        vals: vals.slice(0, nv),
        strs,
        skipped,
        lastLine,
        unterminated: unterminated && s === len,
      },
      rest: s,
    };
  }
}

/**
 * opts.wanted: the events to type (others are validated and dropped; default: all). opts.blocking: read a
 * plain file with blocking reads into one reused buffer (for a thread that has nothing else to do meanwhile:
 * no stream machinery, no buffer per read).
 */
export async function* typedQemuBatches(name: string, opts: { wanted?: Set<string>; blocking?: boolean } = {}): AsyncGenerator<TypedBatch> {
  const display = name === '-' ? '<stdin>' : name;
  const typer = new LineTyper(opts.wanted);
  const fd = opts.blocking ? openPlain(name) : undefined;
  if (fd !== undefined) {
    try {
      const size = fstatSync(fd).size;
      if (size === 0) throw emptyFile(display);
      yield* fileBatches(fd, typer, display);
    } finally {
      closeSync(fd);
    }
    return;
  }
  let carry: Buffer | undefined;
  let sawAny = false;
  for await (const chunk of bytes(name)) {
    if (!sawAny) {
      sawAny = true;
      checkText(chunk, display);
    }
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    const { batch: b, rest } = typer.batch(buf, false);
    carry = rest < buf.length ? buf.subarray(rest) : undefined;
    if (b) yield b;
  }
  if (carry) {
    const { batch: b } = typer.batch(carry, true);
    if (b) yield b;
  }
  if (!sawAny) throw emptyFile(display);
}

/** Types a plain file with blocking reads (plainReads), one batch at a time. */
function* fileBatches(fd: number, typer: LineTyper, display: string): Generator<TypedBatch> {
  const reads = plainReads(fd);
  let first = true;
  for (let r = reads.next(); !r.done; ) {
    const { data, ended } = r.value;
    if (first && data.length > 0) {
      first = false;
      checkText(data, display);
    }
    const { batch: b, rest } = typer.batch(data, ended);
    if (b) yield b;
    if (ended) return;
    r = reads.next(rest);
  }
}

/** A typed array of the same kind, `cap` long, starting with a's contents. */
function grow<T extends Int16Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

/**
 * The kept lines, cut out of the chunk. An ASCII chunk (every real QEMU trace) gives the bytes from its first
 * kept line to its last in one copy, dropped lines included: one copy is cheaper than one per run of kept lines
 * (measured: the 10M-line check ~7% faster), and decoding them is the checking thread's work, which waits for
 * the reading thread on large files. Otherwise each kept line is decoded as UTF-8 on its own and they are
 * joined.
 */
function textOf(
  buf: Buffer,
  starts: Int32Array,
  ends: Int32Array,
  n: number,
): { bytes?: Uint8Array<ArrayBuffer>; text?: string; starts: Int32Array<ArrayBuffer>; ends: Int32Array<ArrayBuffer> } {
  if (n === 0) return { text: '', starts: starts.slice(0, 0), ends: ends.slice(0, 0) };
  const from = starts[0]!;
  const to = ends[n - 1]!;
  if (isAscii(buf.subarray(from, to))) {
    const s = new Int32Array(n);
    const e = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = starts[i]! - from;
      e[i] = ends[i]! - from;
    }
    // A copy (the read buffer is reused), with a buffer of its own (it may be transferred to another thread).
    return { bytes: new Uint8Array(buf.subarray(from, to)), starts: s, ends: e };
  }
  const parts: string[] = [];
  const s = new Int32Array(n);
  const e = new Int32Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const line = buf.toString('utf8', starts[i], ends[i]);
    parts.push(line);
    s[i] = at;
    e[i] = at + line.length;
    at += line.length + 1;
  }
  return { text: parts.join('\n'), starts: s, ends: e };
}
