import fs from 'node:fs';
import zlib from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { UserError } from '../util/errors.js';

/**
 * Streams a trace as batches of lines, never holding the whole file. We split by hand
 * (indexOf on decoded chunks) because readline costs several times more per line.
 * Gzip is recognised by its magic bytes, so `trace.log.gz` and `cat x.gz | nvmeproof -` both work.
 */

export interface LineBatch {
  /** 1-based number of lines[0]. */
  firstLine: number;
  lines: string[];
  /** The last line had no newline: the input ended mid-line (a truncated trace, or a live stream cut off). */
  unterminated?: boolean;
  /** Set when lines were dropped upstream (see read/pipeline.ts): the line number of each kept line. */
  lineNos?: Int32Array;
  /** How many well-formed, unneeded events were dropped upstream from this batch. */
  skipped?: number;
  /** Number of the batch's last input line (kept or not). */
  lastLine?: number;
  /**
   * Records the reading thread already parsed (read/pipeline.ts): per kept line the event index, or -1 when
   * the line must be parsed here; the values of all parsed lines in order; the strings they refer to.
   */
  pre?: { events: Int16Array; vals: Float64Array; strs: string[] };
}

/** The text of a batch's lines, by index, while the batch is being consumed (read/qemu-batches.ts KeptLines). */
export interface LineTexts {
  line(i: number): string;
  /** The line as a string of its own, safe to keep after the batch (it pins no batch text). */
  lasting(i: number): string;
  /** Where the line is in the trace file (its length: byteLength), or -1 when that is not known. */
  where(i: number): number;
  byteLength(i: number): number;
}

/**
 * Lines of a plain trace file read back by where they are (LineTexts.where): a line kept beyond its batch (a
 * command's, cited when it completes) is kept as its place in the file, and its text read only when a finding
 * cites it. Typed lines are ASCII.
 */
export class TraceFileText {
  private fd: number | undefined;

  constructor(private readonly file: string) {}

  read(at: number, length: number): string {
    this.fd ??= fs.openSync(this.file, 'r');
    const b = Buffer.allocUnsafe(length);
    const n = fs.readSync(this.fd, b, 0, length, at);
    return b.toString('latin1', 0, n);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface LineSource {
  name: string; // file path, or '<stdin>'
  batches(): AsyncIterable<LineBatch>;
}

const GZIP_MAGIC0 = 0x1f;
const GZIP_MAGIC1 = 0x8b;

function openRaw(name: string): Readable {
  if (name === '-') return process.stdin;
  let st: fs.Stats;
  try {
    st = fs.statSync(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${name}: cannot read trace: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`);
  }
  if (st.isDirectory()) throw new UserError(`${name}: is a directory, not a trace file`);
  return fs.createReadStream(name, { highWaterMark: READ_SIZE });
}

/**
 * Whether a file can be read again from its start: a regular file, not a named pipe, a terminal or a process
 * substitution (`<(qemu ...)`), whose lines come once.
 */
export function isRegularFile(name: string): boolean {
  if (name === '-') return false;
  try {
    return fs.statSync(name).isFile();
  } catch {
    return false;
  }
}

/**
 * A plain (not gzip) trace file opened for blocking reads, or undefined (standard input, gzip, or a path the
 * stream reader should report on).
 */
export function openPlain(name: string): number | undefined {
  // Told by its name first: opening a named pipe only to close it would end its writer's output.
  if (!isRegularFile(name)) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(name, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(2);
    if (fs.fstatSync(fd).isFile() && fs.readSync(fd, head, 0, 2, 0) === 2 && !(head[0] === GZIP_MAGIC0 && head[1] === GZIP_MAGIC1)) return fd;
  } catch {
    // Reported by the stream reader.
  }
  fs.closeSync(fd);
  return undefined;
}

const READ_SIZE = 1 << 16;

/**
 * Blocking reads of a plain file, from byte `start`, into one reused buffer. Each step yields the data held
 * (what the consumer left unused last time, then what was read), the file offset of its first byte, and
 * whether the file has ended; the consumer answers, through next(), how much of it it used, and the rest moves
 * to the buffer's front (the buffer doubles for a rest as long as itself). A yielded view is valid until the
 * next step.
 */
export function* plainReads(fd: number, start = 0): Generator<{ data: Buffer; at: number; ended: boolean }, void, number> {
  let buf = Buffer.allocUnsafe(READ_SIZE);
  let have = 0;
  let at = start;
  for (;;) {
    if (have === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, have);
      buf = bigger;
    }
    const n = fs.readSync(fd, buf, have, buf.length - have, at + have);
    const used = yield { data: buf.subarray(0, have + n), at, ended: n === 0 };
    if (n === 0) return;
    buf.copy(buf, 0, used, have + n);
    have = have + n - used;
    at += used;
  }
}

/**
 * The first lines of a plain file, from one blocking read of its head (at least `min` whole lines, or the whole
 * file), for telling its format without a stream; undefined for standard input, gzip, a file that cannot be
 * read, or a head too short.
 */
export function headLines(name: string, min = 200): string[] | undefined {
  const fd = openPlain(name);
  if (fd === undefined) return undefined;
  try {
    const buf = Buffer.allocUnsafe(READ_SIZE);
    const n = fs.readSync(fd, buf, 0, READ_SIZE, 0);
    // A full read may have cut its last line.
    const lines = headOf(buf.toString('utf8', 0, n), n === READ_SIZE);
    if (lines.length < min && n === READ_SIZE) return undefined;
    return lines;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** A trace's first bytes must be text (see looksBinary). */
export function checkText(first: Buffer, display: string): void {
  if (looksBinary(first)) throw new UserError(`${display}: binary data, not a text trace (first bytes are not text)`);
}

export function emptyFile(display: string): UserError {
  return new UserError(`${display}: empty file, nothing to check`);
}

/**
 * Peeks at the first chunk to decide on gunzip, then yields raw Buffers. blocking: a plain file is read with
 * plainReads (each chunk is valid until the next is asked for).
 */
export async function* bytes(name: string, blocking = false): AsyncGenerator<Buffer> {
  const fd = blocking ? openPlain(name) : undefined;
  if (fd !== undefined) {
    try {
      const reads = plainReads(fd);
      for (let r = reads.next(); !r.done && !r.value.ended; r = reads.next(r.value.data.length)) yield r.value.data;
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  const raw = openRaw(name);
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await it.next();
  } catch (err) {
    throw new UserError(`${name}: cannot read trace: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (first.done) return;
  const head = first.value;
  if (head.length >= 2 && head[0] === GZIP_MAGIC0 && head[1] === GZIP_MAGIC1) {
    const gunzip = zlib.createGunzip();
    const feed = async (): Promise<void> => {
      try {
        gunzip.write(head);
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          if (!gunzip.write(r.value)) await new Promise((res) => gunzip.once('drain', res));
        }
        gunzip.end();
      } catch (err) {
        gunzip.destroy(err as Error);
      }
    };
    void feed();
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      throw new UserError(`${name}: corrupt or truncated gzip data: ${(err as Error).message}`);
    }
    return;
  }
  yield head;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    yield r.value;
  }
}

/**
 * "This is not a text trace": in the first 4 KiB, over 20% of the characters are undecodable UTF-8 or control
 * characters other than tab/CR/LF/ESC. A log with some garbage lines (serial consoles print anything) is still
 * text; an ELF file, an image or random bytes is not.
 */
export function looksBinary(buf: Buffer): boolean {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(0, 4096));
  if (text.length === 0) return false;
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) bad++;
  }
  return bad / text.length > 0.2;
}

/** blocking: see bytes() (for a thread that has nothing else to do meanwhile). */
export function openLines(name: string, blocking = false): LineSource {
  const display = displayName(name);
  return { name: display, batches: () => lineBatches(bytes(name, blocking), display) };
}

export function displayName(name: string): string {
  return name === '-' ? '<stdin>' : name;
}

/**
 * The head of an input read once (standard input, a named pipe): its first chunks, held until at least `min`
 * lines have come or the input ended, so that its format can be told from its first lines; `chunks` then gives
 * the held chunks again, and the rest of the input after them.
 */
export async function holdHead(name: string, min = 200): Promise<{ lines: string[]; chunks: () => AsyncGenerator<Buffer> }> {
  const display = displayName(name);
  const it = bytes(name)[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let newlines = 0;
  let ended = false;
  while (newlines < min) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    if (held.length === 0) checkText(r.value, display);
    held.push(r.value);
    for (let at = r.value.indexOf(10); at !== -1; at = r.value.indexOf(10, at + 1)) newlines++;
  }
  if (ended && held.length === 0) throw emptyFile(display);
  // Until the input ends, its last line may be cut; after its last newline, there is none.
  const text = Buffer.concat(held).toString('utf8');
  const lines = headOf(text, !ended || text.endsWith('\n'));
  async function* chunks(): AsyncGenerator<Buffer> {
    yield* held;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { lines: lines.slice(0, 400), chunks };
}

/** The lines of a trace's head, without CRs; dropLast: what follows the last newline is left out. */
function headOf(text: string, dropLast: boolean): string[] {
  const lines = text.split('\n');
  if (dropLast) lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** The lines of a stream of chunks, a batch per chunk. */
export async function* lineBatches(chunks: AsyncIterable<Buffer>, display: string): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let lineNo = 1;
  let sawAny = false;
  for await (const buf of chunks) {
    if (!sawAny) {
      sawAny = true;
      checkText(buf, display);
    }
    const text = carry + decoder.write(buf);
    const lines: string[] = [];
    let start = 0;
    let nl = text.indexOf('\n', start);
    while (nl !== -1) {
      // CRLF traces (serial consoles) lose their CR here.
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lines.push(text.slice(start, end));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    carry = text.slice(start);
    if (lines.length) {
      yield { firstLine: lineNo, lines };
      lineNo += lines.length;
    }
  }
  const tail = carry + decoder.end();
  if (tail.length) yield { firstLine: lineNo, lines: [tail.endsWith('\r') ? tail.slice(0, -1) : tail], unterminated: true };
  if (!sawAny) throw emptyFile(display);
}
