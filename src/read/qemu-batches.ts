import { isAscii } from 'node:buffer';
import { closeSync, fstatSync } from 'node:fs';
import { bytes, checkText, displayName, emptyFile, openPlain, plainReads, type LineBatch, type LineTexts } from './lines.js';
import { QemuWasmTyper } from '../parse/qemu-wasm.js';
import type { EventDef } from '../parse/event-spec.js';
import { detach } from '../util/strings.js';

/**
 * A QEMU trace read as bytes and typed as it is split: each chunk goes to the WebAssembly typer straight from
 * the read buffer. Well-formed events the consumer does not need are validated and dropped; wanted events
 * travel as numbers (typed arrays); only the lines the typer declines (other output, unknown events, bad
 * lines, non-ASCII text) go on as text for the string parser. A batch is plain data (typed arrays, and the
 * kept lines as text, or as bytes for another thread), so it crosses a thread boundary cheaply
 * (read/pipeline.ts) or is used where it was made.
 */

/** NVMEPROOF_NO_FAST_PATH=1 sends every line to the string parser (which then uses the Ohm grammars). */
const FAST = process.env.NVMEPROOF_NO_FAST_PATH !== '1';

export interface TypedBatch {
  /**
   * The kept lines: as ASCII bytes, one after another (a transferable buffer, decoded where the lines are
   * used; with `views`, the read buffer itself), or as text when some line is not ASCII.
   */
  bytes?: Uint8Array<ArrayBuffer>;
  text?: string;
  /** Where bytes[0] is in the trace file, when the batch was read from a plain file as bytes. */
  offset?: number;
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

/**
 * The text of a typed batch's kept lines, cut out one line at a time and only when asked: most lines never
 * are (an event's text is for findings, and for the commands that keep it). Views of the typer's memory are
 * valid only while their batch is consumed, so the consumer retires it when done, and a line asked for later
 * is an error, not another line's text.
 */
export class KeptLines implements LineTexts {
  private live = true;
  /**
   * The bytes as a Buffer (a view, for bytes from another thread): its own latin1Slice costs ~56 ns a line
   * against ~73 ns for Buffer.prototype.latin1Slice.call (microbenchmark, 60-byte lines).
   */
  private readonly bytes: Latin1Bytes | undefined;

  constructor(private readonly t: TypedBatch) {
    const b = t.bytes;
    this.bytes = (b === undefined || Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)) as Latin1Bytes | undefined;
  }

  line(i: number): string {
    if (!this.live) throw new Error(`internal error: the text of line ${this.t.lineNos[i]} read after its batch was done`);
    const t = this.t;
    return t.text !== undefined ? t.text.slice(t.starts[i], t.ends[i]) : this.bytes!.latin1Slice(t.starts[i], t.ends[i]);
  }

  where(i: number): number {
    // (A batch has an offset only when its lines are bytes.)
    const t = this.t;
    return t.offset === undefined ? -1 : t.offset + t.starts[i]!;
  }

  byteLength(i: number): number {
    return this.t.ends[i]! - this.t.starts[i]!;
  }

  lasting(i: number): string {
    // A line decoded from bytes is a string of its own already; one cut from the batch text is copied.
    return this.t.text !== undefined ? detach(this.line(i)) : this.line(i);
  }

  retire(): void {
    this.live = false;
  }
}

/** Node's Buffer, by its (untyped) Latin-1 decoder. */
interface Latin1Bytes {
  latin1Slice(start: number, end: number): string;
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
 * Types lines batch by batch, numbering them from lineNo: the WebAssembly typer (parse/qemu-wasm.ts) splits and
 * types a chunk; text values become strings here, each distinct one made once. A batch leaves with copies of
 * what the typer filled, or with views of it for a consumer done with each batch before the next (`views`).
 */
export class LineTyper {
  private readonly typer: QemuWasmTyper;
  /** Number of the next line. */
  lineNo = 1;
  /** Whether the last batch stopped because the typer's outputs were full (call again with the rest). */
  full = false;
  private texts = new Map<number, TextEntry>();

  /**
   * defs: the QEMU event specs (default: specs/trace/qemu-events.yaml). transfer: batches will go to another
   * thread (the kept lines stay bytes, decoded there), rather than be used on this one (decoded at once).
   * views: a batch's arrays are views of the typer's memory, valid until the next batch is asked for (for a
   * consumer that is done with each batch before it asks for the next: no copies, no array per batch).
   */
  constructor(
    wanted?: Set<string>,
    defs?: Map<string, EventDef>,
    private readonly transfer = false,
    private readonly views = false,
  ) {
    // Without the fast path the typer knows no event: it only splits, and every line goes on as text.
    this.typer = new QemuWasmTyper({ wanted, defs: FAST ? defs : new Map() });
  }

  /**
   * Types the lines of buf: each ended by a newline, and the last one by the buffer's end when unterminated.
   * Returns the batch (none when no line was there) and where the first line it did not take starts.
   */
  batch(buf: Buffer, unterminated: boolean, offset?: number): { batch: TypedBatch | undefined; rest: number } {
    const c = this.typer.type(buf, unterminated, this.lineNo);
    const s = c.rest;
    this.full = c.full;
    if (c.lines === 0) return { batch: undefined, rest: s };
    const vals = this.views ? c.vals : c.vals.slice();
    const strs: string[] = [];
    const t = c.texts;
    for (let k = 0; k < t.length; k += 4) vals[t[k]!] = this.text(buf, t[k + 1]!, t[k + 2]!, t[k + 3]! >>> 0, strs);
    const lastLine = this.lineNo + c.lines - 1;
    this.lineNo += c.lines;
    const text = textOf(buf, c.starts, c.ends, c.kept, this.transfer, this.views);
    return {
      batch: {
        bytes: text.bytes,
        text: text.text,
        offset: text.bytes === undefined ? undefined : offset,
        starts: text.starts,
        ends: text.ends,
        lineNos: this.views ? c.lineNos : c.lineNos.slice(),
        events: this.views ? c.events : c.events.slice(),
        vals,
        strs,
        skipped: c.skipped,
        lastLine,
        unterminated: unterminated && s === buf.length,
      },
      rest: s,
    };
  }

  /** The batch index of the text b[s..e) (hash h): the same string object each time it recurs, made once. */
  private text(b: Buffer, s: number, e: number, h: number, strs: string[]): number {
    let t = this.texts.get(h);
    if (t === undefined || !sameBytes(t.bytes, b, s, e)) {
      if (this.texts.size >= TEXT_CACHE_MAX) this.texts = new Map();
      // A copy: the read buffer is reused.
      t = { bytes: Uint8Array.prototype.slice.call(b, s, e), str: latin1(b, s, e), strs: undefined, id: 0 };
      this.texts.set(h, t);
    }
    if (t.strs !== strs) {
      t.strs = strs;
      t.id = strs.length;
      strs.push(t.str);
    }
    return t.id;
  }
}

interface TextEntry {
  bytes: Uint8Array;
  str: string;
  /** The batch strings it was last put in, and its index there. */
  strs: string[] | undefined;
  id: number;
}

/** Distinct text values kept for reuse; a trace has a few dozen (command names, verbs). */
const TEXT_CACHE_MAX = 4096;

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  if (a.length !== e - s) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[s + i]) return false;
  return true;
}

/** ASCII text (the typer refused anything else) from a byte span. */
export function latin1(b: Uint8Array, s: number, e: number): string {
  return Buffer.prototype.latin1Slice.call(b, s, e) as string;
}

/** Where a line starts in a file, and its number: where one thread hands the rest of a file to another. */
export interface FilePoint {
  offset: number;
  lineNo: number;
}

export interface TypedBatchOptions {
  /** The events to type (others are validated and dropped; default: all). */
  wanted?: Set<string>;
  /**
   * Read a plain file with blocking reads into one reused buffer (for a thread that has nothing else to do
   * meanwhile: no stream machinery, no buffer per read).
   */
  blocking?: boolean;
  /** The batches go to another thread. */
  transfer?: boolean;
  /**
   * A batch's arrays are views of the typer's memory, valid until the next batch is asked for: for a consumer
   * that is done with each batch before it asks for the next (no copies).
   */
  views?: boolean;
  /**
   * Blocking reads only: asked once the typer is built and the file open, where to start (default: the first
   * line); undefined: nothing to read (another thread read it all).
   */
  from?: () => FilePoint | undefined;
  /**
   * Blocking reads only: told after each chunk where the next line starts; true: stop there (another thread
   * reads on from that point).
   */
  handoff?: (next: FilePoint) => boolean;
}

export async function* typedQemuBatches(name: string, opts: TypedBatchOptions = {}): AsyncGenerator<TypedBatch> {
  const display = displayName(name);
  const typer = new LineTyper(opts.wanted, undefined, opts.transfer, opts.views);
  const fd = opts.blocking ? openPlain(name) : undefined;
  if (fd !== undefined) {
    try {
      const start = opts.from ? opts.from() : { offset: 0, lineNo: 1 };
      if (start === undefined) return;
      if (start.offset === 0 && fstatSync(fd).size === 0) throw emptyFile(display);
      typer.lineNo = start.lineNo;
      yield* fileBatches(fd, typer, display, start.offset, opts.handoff);
    } finally {
      closeSync(fd);
    }
    return;
  }
  yield* typedChunkBatches(bytes(name), display, opts, typer);
}

/**
 * Types the lines of a stream of chunks (standard input, a named pipe, gzip: read once, each chunk a buffer of
 * its own), as typedQemuBatches does a file.
 */
export async function* typedChunkBatches(
  chunks: AsyncIterable<Buffer>,
  display: string,
  opts: TypedBatchOptions = {},
  typer = new LineTyper(opts.wanted, undefined, opts.transfer, opts.views),
): AsyncGenerator<TypedBatch> {
  let carry: Buffer | undefined;
  let sawAny = false;
  for await (const chunk of chunks) {
    if (!sawAny) {
      sawAny = true;
      checkText(chunk, display);
    }
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    const rest = yield* typeAll(typer, buf, false);
    carry = rest < buf.length ? buf.subarray(rest) : undefined;
  }
  if (carry) yield* typeAll(typer, carry, true);
  if (!sawAny) throw emptyFile(display);
}

/**
 * Every batch of buf (more than one only when the typer fills up); returns where the lines it took end.
 * offset: where buf is in the file, if it was read from a plain file.
 */
function* typeAll(typer: LineTyper, buf: Buffer, unterminated: boolean, offset?: number): Generator<TypedBatch, number> {
  let at = 0;
  for (;;) {
    const { batch: b, rest } = typer.batch(at === 0 ? buf : buf.subarray(at), unterminated, offset === undefined ? undefined : offset + at);
    at += rest;
    if (b) yield b;
    if (!typer.full) return at;
  }
}

/**
 * Types a plain file with blocking reads (plainReads) from byte `start` (a line's start), one batch at a time,
 * until it ends or `handoff` takes the rest.
 */
function* fileBatches(fd: number, typer: LineTyper, display: string, start: number, handoff?: (next: FilePoint) => boolean): Generator<TypedBatch> {
  const reads = plainReads(fd, start);
  // Binary junk is looked for at the start of a file, not where another thread handed over.
  let first = start === 0;
  for (let r = reads.next(); !r.done; ) {
    const { data, at, ended } = r.value;
    if (first && data.length > 0) {
      first = false;
      checkText(data, display);
    }
    const rest = yield* typeAll(typer, data, ended, at);
    if (ended || handoff?.({ offset: at + rest, lineNo: typer.lineNo })) return;
    r = reads.next(rest);
  }
}

/**
 * The kept lines, cut out of the chunk. An ASCII chunk (every real QEMU trace) gives the chunk up to its last
 * kept line in one piece, dropped lines included (one copy is cheaper than one per run of kept lines: the
 * 10M-line check ~7% faster), so line offsets stay the chunk's own: with views, as the read buffer itself, each
 * line decoded only if asked for (KeptLines); as a copy of the bytes for another thread (decoding them is the
 * checking thread's work, and the reading thread is the one the other waits for on large files); or decoded
 * at once. Only well-formed events are dropped, and those are ASCII, so the lines before the first kept one
 * never make a chunk non-ASCII. A chunk that is not ASCII has each kept line decoded as UTF-8 on its own, and
 * joined.
 */
function textOf(
  buf: Buffer,
  starts: Int32Array<ArrayBuffer>,
  ends: Int32Array<ArrayBuffer>,
  n: number,
  transfer: boolean,
  views = false,
): { bytes?: Uint8Array<ArrayBuffer>; text?: string; starts: Int32Array<ArrayBuffer>; ends: Int32Array<ArrayBuffer> } {
  if (n === 0) return { text: '', starts: new Int32Array(0), ends: new Int32Array(0) };
  const to = ends[n - 1]!;
  if (isAscii(buf.subarray(0, to))) {
    const s = views ? starts.subarray(0, n) : starts.slice(0, n);
    const e = views ? ends.subarray(0, n) : ends.slice(0, n);
    // (The read buffer is a plain ArrayBuffer's; views never cross to another thread.)
    if (views) return { bytes: buf.subarray(0, to) as Uint8Array<ArrayBuffer>, starts: s, ends: e };
    // Otherwise a copy: the read buffer is reused (and the bytes may be transferred to another thread).
    return transfer ? { bytes: new Uint8Array(buf.subarray(0, to)), starts: s, ends: e } : { text: latin1(buf, 0, to), starts: s, ends: e };
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
